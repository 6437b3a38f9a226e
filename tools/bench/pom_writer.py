"""Bench workload for tools/bench/pom.py: write M numbered lines as fast as possible, then idle.

Usage: python pom_writer.py M [ready]

With POM_BENCH_GO set to a path, the writer waits until that file exists before writing (so the
benchmark can measure the supervisor's memory before any line arrives).
"""

from __future__ import annotations

import os
import sys
import time

go = os.environ.get("POM_BENCH_GO")
while go and not os.path.exists(go):
    time.sleep(0.005)
count = int(sys.argv[1])
out = sys.stdout.buffer
step = 10_000
for start in range(0, count, step):
    out.write(b"".join(b"line %d of the benchmark workload\n" % i for i in range(start, min(start + step, count))))
out.flush()
if len(sys.argv) > 2:
    out.write(b"ready\n")
    out.flush()
time.sleep(3600)

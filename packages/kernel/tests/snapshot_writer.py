"""Rewrite one snapshot forever, alternating two payloads: `python snapshot_writer.py PATH SIZE`.

Prints "ready" after the first complete write so the test knows the target exists.
"""

from __future__ import annotations

import sys

from toolkit_kernel.snapshot import write_snapshot


def main() -> None:
    path, size = sys.argv[1], int(sys.argv[2])
    payloads = [b"a" * size, b"b" * (size // 2)]
    i = 0
    while True:
        write_snapshot(path, payloads[i % 2], kind="crash.test", version=1)
        if i == 0:
            print("ready", flush=True)
        i += 1


if __name__ == "__main__":
    main()

"""Polls the API and logs the schema version (example only)."""

from __future__ import annotations

import json
import os
import time
import urllib.request

url = f"http://127.0.0.1:{os.environ['API_PORT']}/version"
name = os.environ.get("POM_PROCESS_NAME", "worker")
print(f"{name}: worker ready", flush=True)
while True:
    with urllib.request.urlopen(url, timeout=2) as resp:
        print(f"{name}: api says {json.load(resp)}", flush=True)
    time.sleep(2)

"""Smoke tests of plasmite's anchors: the real CLI and plasmite's own Python binding run here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from toolkit.testing_peers import require_peer

pytestmark = pytest.mark.interop


def test_real_plasmite_prints_its_version_and_creates_a_pool(tmp_path: Path) -> None:
    plasmite = require_peer("plasmite")
    version = subprocess.run([str(plasmite.path), "--version"], capture_output=True, text=True, check=True).stdout
    assert version.split()[:2] == ["plasmite", plasmite.version]
    pools = tmp_path / "pools"
    out = subprocess.run(
        [str(plasmite.path), "--dir", str(pools), "pool", "create", "smoke"], capture_output=True, text=True, check=True
    ).stdout
    created = json.loads(out)["created"][0]
    assert created["name"] == "smoke"
    assert Path(created["path"]) == pools / "smoke.plasmite"
    assert (pools / "smoke.plasmite").stat().st_size == created["file_size"]


def test_plasmite_python_binding_appends_and_reads_with_the_real_library(tmp_path: Path) -> None:
    binding = require_peer("plasmite-python")
    plasmite = require_peer("plasmite")
    pools = tmp_path / "pools"
    pools.mkdir()
    script = (
        "import sys, json, plasmite\n"
        "client = plasmite.Client(sys.argv[1])\n"
        "pool = client.create_pool('smoke', 1024 * 1024)\n"
        "message = pool.append({'hello': 'binding'}, ['t1'])\n"
        "again = pool.get(message.seq)\n"
        "print(json.dumps({'seq': message.seq, 'data': again.data, 'tags': list(again.tags)}))\n"
    )
    env = {**os.environ, **binding.extra.get("env", {})}
    assert env["PLASMITE_LIB_DIR"] == str(plasmite.lib_dir)
    out = subprocess.run(
        [str(binding.python), "-c", script, str(pools)], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out) == {"seq": 1, "data": {"hello": "binding"}, "tags": ["t1"]}
    # The real CLI reads what the binding wrote: one pool file, one format.
    fetched = subprocess.run(
        [str(plasmite.path), "--dir", str(pools), "fetch", "smoke", "1"], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(fetched)["data"] == {"hello": "binding"}


OVERSIZE = """
import json, sys, tempfile
import {module} as plasmite
pool = plasmite.Client(tempfile.mkdtemp()).create_pool("o", 64 * 1024)
out = []
for size in (40_000, 70_000, 5_000_000):
    try:
        out.append([size, "ok", pool.append({{"x": "a" * size}}, []).seq])
    except plasmite.PlasmiteError as err:
        out.append([size, type(err).__name__, int(err.kind), isinstance(err, RuntimeError)])
out.append(["next", pool.append({{"small": True}}, []).seq])  # the failed appends took no seq
print(json.dumps(out))
"""


def test_oversize_records_fail_alike_in_the_binding_and_ours() -> None:
    binding = require_peer("plasmite-python")
    env = {**os.environ, **binding.extra.get("env", {})}
    real = subprocess.run(
        [str(binding.python), "-c", OVERSIZE.format(module="plasmite")],
        env=env, capture_output=True, text=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    ours = subprocess.run(
        [sys.executable, "-c", OVERSIZE.format(module="toolkit_plasmite")],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    assert json.loads(ours) == json.loads(real)
    assert json.loads(ours)[1][1:] == ["UsageError", 2, True]
    assert json.loads(ours)[-1] == ["next", 2]

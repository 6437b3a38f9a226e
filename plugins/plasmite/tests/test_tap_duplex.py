"""`tap` (process capture) and `duplex` (feed + follow) as real subprocesses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from toolkit_plasmite.core.client import LocalClient
from toolkit_plasmite.core.tail import retained

CHILD = r"""
import sys, os
sys.stdout.write("out one\n"); sys.stdout.flush()
sys.stderr.write("err one\r\n"); sys.stderr.flush()
os.write(1, b"bad \xff\xfe bytes\n")
for i in range(500):
    sys.stdout.write(f"line {i}\n")
sys.stdout.flush()
sys.exit(3)
"""

SLEEPER = r"""
import sys, time
print("sleeping", flush=True)
time.sleep(60)
"""


def _messages(pool_dir: Path, name: str) -> list[tuple[dict[str, Any], list[str]]]:
    with LocalClient(pool_dir).open_pool(name) as pool:
        return [(m[2], m[3]) for m in retained(pool)]


def test_tap_records_lifecycle_lines_and_status(plasmite_argv, sub_env, pool_dir: Path) -> None:
    res = subprocess.run(
        [
            *plasmite_argv,
            "tap",
            "cap",
            "--create",
            "--create-size",
            "1M",
            "--tag",
            "job",
            "--",
            sys.executable,
            "-c",
            CHILD,
        ],
        capture_output=True,
        env=sub_env,
        timeout=60,
        check=False,
    )
    assert res.returncode == 3
    assert b"out one" in res.stdout  # passed through
    assert b"bad \xff\xfe bytes" in res.stdout
    assert b"err one" in res.stderr
    msgs = _messages(pool_dir, "cap")
    assert msgs[0] == ({"kind": "start", "cmd": [sys.executable, "-c", CHILD]}, ["lifecycle"])
    assert msgs[-1][0]["kind"] == "exit"
    assert msgs[-1][0]["code"] == 3
    assert msgs[-1][1] == ["lifecycle"]
    lines = [m for m, tags in msgs if m["kind"] == "line"]
    assert all(tags == ["job"] for m, tags in msgs if m["kind"] == "line")
    assert {"kind": "line", "stream": "stderr", "line": "err one"} in lines
    lossy = [m for m in lines if m.get("lossy")]
    assert lossy
    assert lossy[0]["line"].startswith("bad ")
    assert len([m for m in lines if m["stream"] == "stdout"]) == 502  # drained before the exit message


def test_tap_forwards_sigterm(plasmite_argv, sub_env, pool_dir: Path) -> None:
    proc = subprocess.Popen(
        [*plasmite_argv, "tap", "sig", "--create", "-q", "--", sys.executable, "-c", SLEEPER],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=sub_env,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if (pool_dir / "sig.plasmite").exists() and any(
                m.get("line") == "sleeping" for m, _ in _messages(pool_dir, "sig")
            ):
                break
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGTERM)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 128 + signal.SIGTERM
    last = _messages(pool_dir, "sig")[-1][0]
    assert last["kind"] == "exit"
    assert last["signal"] == "SIGTERM"
    assert last["elapsed_ms"] >= 0


def test_tap_missing_command_is_usage(cli) -> None:
    res = cli("plasmite", "tap", "t", "--create", "--", "/definitely/not/here")
    assert res.exit_code == 2
    assert "cannot run" in json.loads(res.stderr)["error"]["message"]


def test_duplex_pipes_stdin_hides_self_and_ends_at_end_of_input(cli, pool_dir: Path) -> None:
    cli("plasmite", "pool", "create", "room", "--size", "64K").assert_success()
    stdin = '{"from":"alice","msg":"mine"}\n{"from":"bob","msg":"theirs"}\n'
    res = cli("plasmite", "duplex", "room", "--me", "alice", "--jsonl", input=stdin)
    assert res.exit_code == 0, res.stderr  # piped input ended: so does duplex (no --timeout needed)
    shown = [json.loads(x)["data"] for x in res.stdout.splitlines()]
    assert shown == [{"from": "bob", "msg": "theirs"}]
    res = cli(
        "plasmite",
        "duplex",
        "room",
        "--me",
        "alice",
        "--tail",
        "5",
        "--echo-self",
        "--jsonl",
        input="",
    )
    assert res.exit_code == 0, res.stderr
    assert [json.loads(x)["data"]["from"] for x in res.stdout.splitlines()] == ["alice", "bob"]
    for flag in (["--create"], ["--since", "2999-01-01T00:00:00Z"]):
        res = cli("plasmite", "duplex", "http://127.0.0.1:1/room", *flag, input="")
        assert res.exit_code == 2
        assert f"does not support {flag[0]}" in json.loads(res.stderr)["error"]["message"]
    res = cli("plasmite", "duplex", "missing", "--since", "2999-01-01T00:00:00Z", input="")
    assert (res.exit_code, json.loads(res.stderr)["error"]["kind"]) == (3, "NotFound")

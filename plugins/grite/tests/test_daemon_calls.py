"""The daemon's core-call protocol: the client's frame codec, its socket path, and request checking."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit_grite.core.calls import CALLS, check_args, resolve
from toolkit_grite.daemon import wire
from toolkit_grite.daemon.client import spec_for
from toolkit_grite.errors import InvalidArgs
from toolkit_grite.testing import GRITE, grite
from toolkit_kernel.errors import ToolkitError
from toolkit_kernel.hashing import canonical_cbor, decode_cbor
from toolkit_kernel.ipc.client import IpcClient
from toolkit_kernel.paths import socket_path

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.text()
    | st.binary()
    | st.floats(allow_nan=False)
)
VALUES = st.recursive(
    _SCALARS, lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5), max_leaves=30
)


@given(st.dictionaries(st.text(), VALUES, max_size=6))
@settings(deadline=None)
def test_the_codec_reads_what_the_kernel_writes_and_the_kernel_reads_what_it_writes(value: dict[str, Any]) -> None:
    assert wire.decode(canonical_cbor(value)) == value
    assert decode_cbor(wire.encode(value)) == value


@given(st.binary(max_size=64))
@settings(deadline=None)
def test_garbage_is_a_protocol_error_and_nothing_else(data: bytes) -> None:
    with contextlib.suppress(wire.ProtocolError):
        wire.decode(data)


def test_duplicate_keys_and_tags_are_refused() -> None:
    with pytest.raises(wire.ProtocolError):
        wire.decode(bytes.fromhex("a2616101616102"))  # {"a": 1, "a": 2}
    with pytest.raises(wire.ProtocolError):
        wire.decode(bytes.fromhex("c11a514b67b0"))  # tag 1 (epoch time)


@pytest.mark.parametrize("variable", ["TOOLKIT_RUNTIME_DIR", "XDG_RUNTIME_DIR", None])
def test_socket_path_is_the_kernels(variable: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    short = tempfile.mkdtemp(prefix="gs-", dir="/tmp")  # sun_path is short: no pytest tmp_path here
    try:
        monkeypatch.setenv("TOOLKIT_RUNTIME_DIR", "")
        monkeypatch.setenv("XDG_RUNTIME_DIR", "")
        if variable is not None:
            monkeypatch.setenv(variable, short)
        key = "/some/repo/.git"
        assert wire.socket_path("grite", key) == str(socket_path("grite", key))
    finally:
        shutil.rmtree(short, ignore_errors=True)


def test_every_call_resolves_and_its_arguments_are_checkable() -> None:
    for name in CALLS:
        _fn, params, hints = resolve(name)
        for key in params:
            for probe in (None, "x", 1, True, ["x"], 1.5):
                # raises TypeError for an annotation the checker does not know
                with contextlib.suppress(InvalidArgs):
                    check_args(name, {key: probe})
            assert key in hints


@pytest.mark.parametrize(
    ("name", "args", "message"),
    [
        ("issue.nope", {}, "unknown call"),
        ("issue.create", {}, "needs title"),
        ("issue.create", {"title": 5}, "argument 'title'"),
        ("issue.create", {"title": "t", "labels": "not-a-list"}, "argument 'labels'"),
        ("issue.create", {"title": "t", "bogus": 1}, "no argument 'bogus'"),
        ("issue.list", {"limit": True}, "argument 'limit'"),
    ],
)
def test_malformed_call_arguments_are_invalid_args(name: str, args: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgs, match=message):
        check_args(name, args)


def test_the_daemon_refuses_malformed_requests_and_keeps_serving(repo: Path, tmp_path: Path) -> None:
    assert grite(repo, "init", "--no-agents-md").code == 0
    assert grite(repo, "daemon", "start", "--json").data["running"] is True
    other = tmp_path / "other"
    other.mkdir()
    subprocess.run(["git", "init", "-q", str(other)], check=True)
    good: dict[str, Any] = {
        "op": "call",
        "call": "issue.create",
        "args": {"title": "ok"},
        "cwd": str(repo),
    }
    bad: list[dict[str, Any]] = [
        {"op": "run", "argv": ["issue", "list"], "cwd": str(repo)},
        {**good, "call": 7},
        {**good, "args": {"title": 5}},
        {**good, "args": {"title": "t", "extra": 1}},
        {**good, "env": {"PATH": "/evil"}},
        {**good, "env": {"GRITE_ACTOR": 5}},
        {**good, "actor": 12},
        {**good, "cwd": str(other)},  # another repository: not this daemon's
    ]
    try:
        path = spec_for(os.path.realpath(repo / ".git")).socket_path
        for request in bad:
            with IpcClient(path, timeout=60, retries=0) as client, pytest.raises(ToolkitError) as caught:
                client.call(request)
            assert caught.value.kind == "usage", (request, caught.value)
        with IpcClient(path, timeout=60, retries=0) as client:
            result = client.call(good)
        assert set(result) == {"json", "warnings"}
        assert set(json.loads(result["json"])) == {"issue_id", "event_id", "wal_head"}
    finally:
        grite(repo, "daemon", "stop", "--json")
    titles = [i["title"] for i in grite(repo, "issue", "list", "--json", "--no-daemon").data["issues"]]
    assert titles == ["ok"]  # only the well-formed request changed anything


def test_output_closed_early_is_not_an_error(repo: Path) -> None:
    from toolkit_grite.core import ops
    from toolkit_grite.core.grite import Grite

    assert grite(repo, "init", "--no-agents-md").code == 0
    g = Grite()
    for i in range(400):  # ~100 KB of JSON: more than a pipe holds
        ops.create_issue(g, f"issue {i}", "body")
    g.close()
    with subprocess.Popen(
        [*GRITE, "issue", "list", "--json"], cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as proc:
        assert proc.stdout is not None
        assert proc.stderr is not None
        assert proc.stdout.read(10) == b'{"data":{"'
        proc.stdout.close()  # as `| head -c 10` does
        err = proc.stderr.read()
        assert proc.wait(timeout=120) == 0, err
    assert b"Traceback" not in err


def test_the_fast_path_prints_what_the_click_commands_print(repo: Path) -> None:
    """`grite issue ...` (parsed without click) against `toolkit grite issue ...` (the click commands)."""
    toolkit = [sys.executable, "-m", "toolkit"]
    assert grite(repo, "init", "--no-agents-md").code == 0
    made = grite(repo, "issue", "create", "--title", "t\x1b[2Jx", "--body", "b\rody", "--label", "l", "--json")
    iid = made.data["issue_id"]
    grite(repo, "issue", "comment", iid, "--body", "c1")
    lines = [
        ("issue", "list"),
        ("issue", "list", "--json"),
        ("issue", "list", "--state", "open", "--label", "l", "--limit", "1", "--json"),
        ("issue", "list", "--state", "bogus"),
        ("issue", "list", "--state", "bogus", "--json"),
        ("issue", "show", iid),
        ("issue", "show", iid[:8], "--json"),
        ("issue", "show", "ffff"),
        ("issue", "show", "zz", "--json"),
        ("issue", "comment", "ffff", "--body", "x"),
        ("issue", "close", "ffff", "--json"),
        ("issue", "update", iid, "-q"),
    ]
    for line in lines:
        fast = grite(repo, *line)
        click = subprocess.run([*toolkit, "grite", *line], cwd=repo, capture_output=True, text=True, check=False)
        assert (fast.code, fast.out, fast.err) == (click.returncode, click.stdout, click.stderr), line

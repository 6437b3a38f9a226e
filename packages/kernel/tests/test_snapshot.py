"""Atomic writes and the snapshot container (format: specs/kernel/snapshot.md)."""

from __future__ import annotations

import os
import signal
import stat
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit_kernel.errors import IoFailure, NotFound, SnapshotCorrupt, UsageError
from toolkit_kernel.hashing import blake2b_256
from toolkit_kernel.snapshot import (
    MAGIC,
    atomic_write_bytes,
    atomic_write_text,
    pack_snapshot,
    read_snapshot,
    unpack_snapshot,
    write_snapshot,
)

WRITER = Path(__file__).with_name("snapshot_writer.py")


def test_layout_matches_spec():
    blob = pack_snapshot(b"hello", kind="grite.view", version=7)
    kind = b"grite.view"
    header = MAGIC + bytes([1, len(kind)]) + kind + struct.pack(">I", 7) + struct.pack(">Q", 5)
    assert blob == header + b"hello" + blake2b_256(header + b"hello")
    assert len(blob) == 4 + 1 + 1 + len(kind) + 4 + 8 + 5 + 32


@settings(max_examples=80, deadline=None)
@given(
    payload=st.binary(max_size=2048),
    kind=st.text(min_size=1, max_size=40).filter(lambda k: len(k.encode()) <= 255),
    version=st.integers(0, 2**32 - 1),
)
def test_round_trip(payload, kind, version):
    blob = pack_snapshot(payload, kind=kind, version=version)
    assert unpack_snapshot(blob, kind=kind, versions={version}) == (version, payload)


def test_every_flip_and_truncation_is_refused():
    blob = pack_snapshot(b"payload bytes", kind="k", version=2)
    for i in range(len(blob)):
        for bit in (0x01, 0x80):
            damaged = bytearray(blob)
            damaged[i] ^= bit
            with pytest.raises(SnapshotCorrupt):
                unpack_snapshot(bytes(damaged), kind="k", versions={2})
    for n in range(len(blob)):
        with pytest.raises(SnapshotCorrupt):
            unpack_snapshot(blob[:n], kind="k", versions={2})
    with pytest.raises(SnapshotCorrupt, match="extra bytes"):
        unpack_snapshot(blob + b"\0", kind="k", versions={2})


def test_clear_messages_for_kind_version_and_damage():
    blob = pack_snapshot(b"x", kind="pom.logs", version=3)
    with pytest.raises(SnapshotCorrupt, match=r"holds 'pom\.logs', expected 'grite\.view'") as info:
        unpack_snapshot(blob, kind="grite.view", versions={3})
    assert info.value.hint
    with pytest.raises(SnapshotCorrupt, match="version 3 is not supported") as info:
        unpack_snapshot(blob, kind="pom.logs", versions={1, 2})
    assert "upgrade" in str(info.value.hint)
    assert info.value.details == {"kind": "pom.logs", "version": 3}
    with pytest.raises(SnapshotCorrupt, match="bad magic"):
        unpack_snapshot(b"PK\x03\x04" + blob[4:], kind="pom.logs", versions={3})
    with pytest.raises(SnapshotCorrupt, match="container format 9"):
        unpack_snapshot(blob[:4] + b"\x09" + blob[5:], kind="pom.logs", versions={3})
    damaged = blob[:-33] + bytes([blob[-33] ^ 1]) + blob[-32:]  # the last payload byte
    with pytest.raises(SnapshotCorrupt, match="checksum mismatch"):
        unpack_snapshot(damaged, kind="pom.logs", versions={3})
    assert isinstance(SnapshotCorrupt("x"), SnapshotCorrupt)
    with pytest.raises(UsageError):
        pack_snapshot(b"", kind="", version=1)
    with pytest.raises(UsageError):
        pack_snapshot(b"", kind="k" * 256, version=1)
    with pytest.raises(UsageError):
        pack_snapshot(b"", kind="k", version=2**32)


def test_read_and_write_snapshot_files(tmp_path):
    path = tmp_path / "view.snap"
    with pytest.raises(NotFound):
        read_snapshot(path, kind="k", versions={1})
    write_snapshot(path, b"data", kind="k", version=1)
    assert read_snapshot(path, kind="k", versions={1}) == (1, b"data")
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(SnapshotCorrupt) as info:
        read_snapshot(path, kind="k", versions={1})
    assert str(path) in info.value.message
    assert info.value.details["path"] == str(path)


def test_atomic_write_keeps_mode_and_cleans_up(tmp_path):
    tmp_path = tmp_path / "w"
    tmp_path.mkdir()
    old_umask = os.umask(0o077)
    try:
        target = tmp_path / "f.txt"
        atomic_write_text(target, "héllo", mode=0o644)
    finally:
        os.umask(old_umask)
    assert target.read_text("utf-8") == "héllo"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    atomic_write_bytes(target, b"second", mode=0o600)
    assert target.read_bytes() == b"second"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.txt"]

    # replacing fails (the target is a non-empty directory): nothing changes, no temp file left
    blocker = tmp_path / "dir"
    blocker.mkdir()
    (blocker / "inside").write_text("x")
    with pytest.raises(IoFailure) as info:
        atomic_write_bytes(blocker, b"data")
    assert info.value.hint
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir", "f.txt"]
    with pytest.raises(IoFailure, match="cannot create"):
        atomic_write_bytes(tmp_path / "missing" / "x", b"data")


def test_temp_file_removed_on_interrupt(tmp_path, monkeypatch):
    tmp_path = tmp_path / "w"
    tmp_path.mkdir()
    calls = []

    def failing_fsync(fd):
        calls.append(fd)
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_bytes(tmp_path / "x", b"data")
    monkeypatch.undo()
    assert calls
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_kill9_mid_write_never_leaves_a_partial_target(tmp_path):
    tmp_path = tmp_path / "w"
    tmp_path.mkdir()
    target = tmp_path / "state.snap"
    size = 2 * 1024 * 1024
    for round_no in range(6):
        proc = subprocess.Popen(
            [sys.executable, str(WRITER), str(target), str(size)], stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None
        try:
            assert proc.stdout.readline().strip() == "ready"
            time.sleep(0.05 + 0.037 * round_no)
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            proc.stdout.close()
        version, payload = read_snapshot(target, kind="crash.test", versions={1})
        assert version == 1
        assert payload in (b"a" * size, b"b" * (size // 2))
    # orphaned temp files from the killed writer may remain; the target never is one of them
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "state.snap"]
    assert all(name.startswith(".state.snap.tmp-") for name in leftovers)

"""The error tree and the path helpers."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from toolkit_kernel import errors, paths
from toolkit_kernel.errors import (
    Busy,
    ConfigError,
    Corrupt,
    IoFailure,
    LockTimeout,
    NotFound,
    SnapshotCorrupt,
    ToolkitError,
    UsageError,
    error_from_dict,
)


def test_error_tree_kinds_and_payloads():
    assert issubclass(ConfigError, UsageError)
    assert issubclass(LockTimeout, Busy)
    assert issubclass(SnapshotCorrupt, Corrupt)
    classes = (getattr(errors, name) for name in errors.__all__)
    kinds = {cls.kind for cls in classes if isinstance(cls, type) and issubclass(cls, ToolkitError)}
    assert kinds == {
        "internal", "usage", "config", "not_found", "conflict", "busy", "lock_timeout", "io", "corrupt",
        "snapshot_corrupt", "ipc",
    }  # fmt: skip
    err = NotFound("issue 1a2b not found", hint="run list", details={"id": "1a2b"})
    assert str(err) == "issue 1a2b not found"
    assert err.to_dict() == {
        "kind": "not_found",
        "message": "issue 1a2b not found",
        "hint": "run list",
        "details": {"id": "1a2b"},
    }
    assert err.json_payload() == {"error": err.to_dict()}
    assert ToolkitError("bare").to_dict() == {"kind": "internal", "message": "bare"}
    assert ToolkitError.exit_code is None


@pytest.mark.parametrize("name", [n for n in errors.__all__ if n[0].isupper()])
def test_every_error_round_trips_through_dict(name):
    cls = getattr(errors, name)
    original = cls("msg", hint="h", details={"a": [1, 2]})
    again = error_from_dict(original.to_dict())
    assert type(again) is (errors.Internal if cls is ToolkitError else cls)  # kind "internal" is Internal
    assert again.to_dict() == original.to_dict()


def test_toolkit_home(monkeypatch, tmp_path):
    monkeypatch.setenv("TOOLKIT_HOME", str(tmp_path / "home"))
    assert paths.toolkit_home() == tmp_path / "home"
    monkeypatch.delenv("TOOLKIT_HOME")
    assert paths.toolkit_home().parts[-3:] == (".local", "share", "toolkit")


def test_runtime_dir_sources_and_privacy(monkeypatch, rundir):
    monkeypatch.delenv("TOOLKIT_RUNTIME_DIR")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(rundir / "xdg"))
    assert paths.runtime_dir() == rundir / "xdg" / "toolkit"
    assert stat.S_IMODE((rundir / "xdg" / "toolkit").stat().st_mode) == 0o700  # created private
    monkeypatch.setenv("TOOLKIT_RUNTIME_DIR", str(rundir / "new" / "deeper"))
    assert paths.runtime_dir() == rundir / "new" / "deeper"
    assert stat.S_IMODE((rundir / "new" / "deeper").stat().st_mode) == 0o700


@pytest.mark.parametrize("mode", [0o755, 0o770, 0o1777, 0o701])
def test_runtime_dir_never_changes_a_directory_it_did_not_create(monkeypatch, rundir, mode):
    shared = rundir / "shared"
    shared.mkdir()
    os.chmod(shared, mode)
    monkeypatch.setenv("TOOLKIT_RUNTIME_DIR", str(shared))
    with pytest.raises(IoFailure, match=f"mode {mode:04o}") as info:
        paths.runtime_dir()
    assert stat.S_IMODE(shared.stat().st_mode) == mode  # untouched
    assert "TOOLKIT_RUNTIME_DIR" in str(info.value.hint)
    assert info.value.details == {"path": str(shared), "mode": f"{mode:04o}"}
    with pytest.raises(IoFailure):
        paths.socket_path("grite", "/repo")  # servers refuse too, before creating anything
    assert list(shared.iterdir()) == []


def test_runtime_dir_accepts_an_existing_private_directory_and_refuses_a_file(monkeypatch, rundir):
    mine = rundir / "mine"
    mine.mkdir(mode=0o700)
    monkeypatch.setenv("TOOLKIT_RUNTIME_DIR", str(mine))
    assert paths.runtime_dir() == mine
    afile = rundir / "file"
    afile.write_text("")
    monkeypatch.setenv("TOOLKIT_RUNTIME_DIR", str(afile))
    with pytest.raises(IoFailure, match=r"not a directory|cannot create"):
        paths.runtime_dir()


def test_runtime_dir_refuses_a_directory_of_another_user(monkeypatch, rundir):
    if os.getuid() == 0:  # root can hand a private directory to somebody else
        theirs = rundir / "theirs"
        theirs.mkdir(mode=0o700)
        os.chown(theirs, 65534, 65534)
        owner = 65534
    else:  # anyone else finds one owned by root
        theirs, owner = Path("/"), 0
    monkeypatch.setenv("TOOLKIT_RUNTIME_DIR", str(theirs))
    with pytest.raises(IoFailure, match=f"owned by uid {owner}, not by you"):
        paths.runtime_dir()


def test_socket_path_too_long(monkeypatch, tmp_path):
    monkeypatch.setenv("TOOLKIT_RUNTIME_DIR", str(tmp_path / ("x" * 90)))
    with pytest.raises(IoFailure, match="too long") as info:
        paths.socket_path("grite", "/repo")
    assert "TOOLKIT_RUNTIME_DIR" in str(info.value.hint)


@pytest.mark.parametrize("suffix", ["", "/", "//"])
def test_socket_file_is_socket_path_as_a_string(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, suffix: str) -> None:
    base = tmp_path / "run"
    monkeypatch.setenv("TOOLKIT_RUNTIME_DIR", str(base) + suffix)
    as_text = paths.socket_file("pom", "/some/project")
    assert Path(as_text) == paths.socket_path("pom", "/some/project")
    assert Path(as_text).parent == base
    assert stat.S_IMODE(base.stat().st_mode) == 0o700  # created private, trailing slashes or not
    assert paths.socket_file("pom", "/other") != as_text

from __future__ import annotations

import os

from toolkit_grite.core.refsfs import read_refs
from toolkit_grite.core.repo import discover
from toolkit_grite.daemon.client import spec_for
from toolkit_grite.testing import git


def test_daemon_spec_lives_in_the_grite_dir_and_uses_the_kernel_socket_path(repo):
    from toolkit_kernel.paths import socket_path

    paths = discover()
    spec = spec_for(paths.common_dir)
    assert spec.lock_path == paths.grite_dir / "daemon.lock"
    assert spec.state_path.parent == paths.grite_dir
    assert spec.socket_path == socket_path("grite", str(paths.common_dir))
    assert spec_for(str(paths.common_dir)) == spec


def test_refs_are_read_from_loose_and_packed_storage(repo, g):
    g("issue", "create", "--title", "one")
    head = git(repo, "rev-parse", "refs/grite/wal").strip()
    git(repo, "update-ref", "refs/remotes/origin/grite/wal", head)
    common = str(repo / ".git")
    assert read_refs(common, ("refs/grite/wal", "refs/remotes/")) == {
        "refs/grite/wal": head,
        "refs/remotes/origin/grite/wal": head,
    }
    git(repo, "pack-refs", "--all")
    assert not os.path.exists(repo / ".git" / "refs" / "grite" / "wal")
    assert read_refs(common, ("refs/grite/wal",)) == {"refs/grite/wal": head}
    # after packing, the view still follows new appends (loose ref shadows the packed one)
    g("issue", "create", "--title", "two")
    assert g("issue", "list")["total"] == 2
    assert (read_refs(common, ("refs/grite/wal",)) or {})["refs/grite/wal"] != head

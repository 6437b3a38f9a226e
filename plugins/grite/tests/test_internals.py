from __future__ import annotations

import os

from grite_testutil import git

from toolkit_grite.client import STATE_FILE, spec_for
from toolkit_grite.refsfs import read_refs
from toolkit_grite.repo import discover


def test_client_reads_the_kernel_state_file(repo):
    paths = discover()
    assert spec_for(paths).state_path == paths.common_dir.joinpath(*STATE_FILE)


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
    assert read_refs(common, ("refs/grite/wal",))["refs/grite/wal"] != head


def test_minicbor_matches_cbor2():
    import cbor2
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from toolkit_grite import minicbor

    leaves = st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.text() | st.binary()
    values = st.recursive(
        leaves, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4)
    )

    @settings(max_examples=200, deadline=None)
    @given(values)
    def check(value):
        data = minicbor.dumps(value)
        assert data == cbor2.dumps(value, canonical=True)
        assert minicbor.loads(data) == value
        assert minicbor.loads(cbor2.dumps(value)) == value

    check()
    assert minicbor.loads(cbor2.dumps({"f": 1.5, "g": 1e300})) == {"f": 1.5, "g": 1e300}

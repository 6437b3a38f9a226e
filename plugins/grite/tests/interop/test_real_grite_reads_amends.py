"""After our comment edit and issue removal, the real grite 0.5.3 still reads the repository.

grite 0.5.3 refuses WAL commits with event kinds it does not know, so both features are written
with kinds it has (specs/grite/events.md, "Comment edits and removed issues"); this checks the
real binary reads them, sees what the spec says it sees, and can itself undo a removal.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from toolkit_grite.core import amend
from toolkit_grite.testing import Ours, Real, event_ids, kind_names, make_repo

pytestmark = pytest.mark.interop


def test_real_grite_reads_our_edits_and_removals(tmp_path: Path) -> None:
    real, ours = Real(), Ours()
    repo = make_repo(tmp_path / "r")
    real(repo, "init", "--no-agents-md")
    kept = ours(repo, "issue", "create", "--title", "kept")["issue_id"]
    gone = ours(repo, "issue", "create", "--title", "gone")["issue_id"]
    comment = ours(repo, "issue", "comment", kept, "--body", "frist")["event_id"]
    ours(repo, "issue", "edit-comment", kept, comment, "--body", "first")
    ours(repo, "issue", "remove", gone)

    total = real.refresh(repo)
    assert total == 6  # 2 created, 1 comment, 1 edit, 1 label + 1 close: every event ingested
    assert real(repo, "db", "check")["corrupt_count"] == 0
    listed = {i["issue_id"]: i for i in real(repo, "issue", "list")["issues"]}
    assert set(listed) == {kept, gone}
    assert (listed[gone]["state"], listed[gone]["labels"]) == ("closed", [amend.REMOVED_LABEL])
    theirs = real(repo, "issue", "show", kept)
    assert event_ids(theirs) == event_ids(ours(repo, "issue", "show", kept))
    assert kind_names(theirs) == ["CommentAdded", "CommentAdded", "IssueCreated"]
    assert kind_names(real(repo, "issue", "show", gone)) == ["IssueCreated", "LabelAdded", "StateChanged"]
    events = sorted(theirs["events"], key=lambda e: e["ts_unix_ms"])
    real_comments = [e["kind"]["CommentAdded"]["body"] for e in events if "CommentAdded" in e["kind"]]
    assert real_comments == ["frist", amend.edit_body(comment, "first")]
    assert [c["body"] for c in ours(repo, "issue", "show", kept)["issue"]["comments"]] == ["first"]

    # The real grite restores the issue by removing the label; ours follows.
    real(repo, "issue", "label", "remove", gone, "--label", amend.REMOVED_LABEL)
    assert ours(repo, "issue", "show", gone)["issue"]["labels"] == []
    assert {i["issue_id"] for i in ours(repo, "issue", "list")["issues"]} == {kept, gone}


def test_an_edit_written_by_the_real_grite_is_an_edit_for_us(tmp_path: Path) -> None:
    real, ours = Real(), Ours()
    repo = make_repo(tmp_path / "r")
    real(repo, "init", "--no-agents-md")
    iid = real(repo, "issue", "create", "--title", "t")["issue_id"]
    comment = real(repo, "issue", "comment", iid, "--body", "wrnog")["event_id"]
    real(repo, "issue", "comment", iid, "--body", amend.edit_body(comment, "wrong"))  # by hand, same actor
    shown = ours(repo, "issue", "show", iid)["issue"]
    assert [(c["event_id"], c["body"], c.get("edited")) for c in shown["comments"]] == [(comment, "wrong", True)]
    assert shown["comment_count"] == 1

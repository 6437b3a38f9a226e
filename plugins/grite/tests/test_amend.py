"""Comment edits and issue removal (git-bug's `comment edit` and `rm`) written as events 0.5.3 knows."""

from __future__ import annotations

import json
import os
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit_grite.core import amend, projection
from toolkit_grite.core.model import Event, make_event


def error_of(res: Any) -> dict[str, Any]:
    error: dict[str, Any] = json.loads(res.stderr.strip().splitlines()[-1])["error"]
    return error


def test_edit_comment_replaces_the_text_and_keeps_the_count(repo, g, cli):
    iid = g("issue", "create", "--title", "t")["issue_id"]
    first = g("issue", "comment", iid, "--body", "typo hree")["event_id"]
    g("issue", "comment", iid, "--body", "second")
    edited = g("issue", "edit-comment", iid[:6], first[:6], "--body", "typo here")
    assert edited["comment_id"] == first
    again = g("issue", "edit-comment", iid, first, "--body", "typo here, twice")
    shown = g("issue", "show", iid)
    comments = shown["issue"]["comments"]
    assert [(c["event_id"], c["body"], c.get("edited", False)) for c in comments] == [
        (first, "typo here, twice", True),
        (comments[1]["event_id"], "second", False),
    ]
    # Stored as plain CommentAdded events naming the target: what grite 0.5.3 reads.
    raw = [e for e in shown["events"] if e["event_id"] == again["event_id"]]
    assert raw[0]["kind"] == {"CommentAdded": {"body": amend.edit_body(first, "typo here, twice")}}
    listed = g("issue", "list", "twice")
    assert [(s["issue_id"], s["comment_count"]) for s in listed["issues"]] == [(iid, 2)]


def test_edit_comment_refusals_change_nothing(repo, g, cli):
    iid = g("issue", "create", "--title", "t")["issue_id"]
    mine = g("issue", "comment", iid, "--body", "mine")["event_id"]
    other = g("actor", "init", "--label", "other")["actor_id"]
    theirs = g("--actor", other, "issue", "comment", iid, "--body", "theirs")["event_id"]
    before = g("issue", "show", iid)
    cases = [
        ((iid, theirs, "--body", "rewritten"), "only a comment's author can edit it"),
        ((iid, "ffff", "--body", "x"), "matches no comment"),
        ((iid, "ab", "--body", "x"), "matches no comment"),  # under 4 hex digits
        ((iid, mine, "--body", "  "), "must not be empty"),
        ((iid, mine), "give --body or --body-file"),
    ]
    for args, message in cases:
        res = cli("grite", "issue", "edit-comment", *args, "--json")
        assert res.exit_code == 2, res.output
        assert message in error_of(res)["message"]
    assert g("issue", "show", iid) == before


def test_an_edit_of_someone_elses_comment_stays_an_ordinary_comment(repo, g):
    iid = g("issue", "create", "--title", "t")["issue_id"]
    target = g("issue", "comment", iid, "--body", "original")["event_id"]
    other = g("actor", "init", "--label", "other")["actor_id"]
    spoof = amend.edit_body(target, "words put in your mouth")
    g("--actor", other, "issue", "comment", iid, "--body", spoof)  # as a 0.5.3 user could write it
    shown = g("issue", "show", iid)["issue"]
    assert [c["body"] for c in shown["comments"]] == ["original", spoof]
    assert shown["comment_count"] == 2
    assert g("issue", "list")["issues"][0]["comment_count"] == 2


def test_remove_hides_the_issue_and_restore_brings_it_back(repo, g, cli):
    keep = g("issue", "create", "--title", "keep")["issue_id"]
    gone = g("issue", "create", "--title", "gone", "--label", "bug")["issue_id"]
    removed = g("issue", "remove", gone[:8])
    assert removed["removed"] is True
    assert len(removed["event_ids"]) == 2  # LabelAdded + StateChanged, one commit
    assert [s["issue_id"] for s in g("issue", "list")["issues"]] == [keep]
    assert g("issue", "list", "label:bug")["issues"] == []
    assert [s["issue_id"] for s in g("issue", "list", "label:grite:removed")["issues"]] == [gone]
    for args in (("show", gone), ("comment", gone, "--body", "x"), ("close", gone)):
        res = cli("grite", "issue", *args, "--json")
        assert res.exit_code == 3, res.output
        assert error_of(res)["message"] == f"issue {gone} was removed"
    again = cli("grite", "issue", "remove", gone, "--json")
    assert again.exit_code == 2
    assert "already removed" in error_of(again)["message"]

    assert g("issue", "restore", gone)["removed"] is False
    shown = g("issue", "show", gone)["issue"]
    assert (shown["state"], shown["labels"]) == ("closed", ["bug"])
    assert sorted(s["issue_id"] for s in g("issue", "list")["issues"]) == sorted([keep, gone])
    not_removed = cli("grite", "issue", "restore", keep, "--json")
    assert not_removed.exit_code == 2
    assert "is not removed" in error_of(not_removed)["message"]


def test_removed_issues_count_in_no_label_and_no_dependency_list(repo, g):
    keep = g("issue", "create", "--title", "keep", "--label", "bug")["issue_id"]
    gone = g("issue", "create", "--title", "gone", "--label", "bug", "--label", "only-gone")["issue_id"]
    g("issue", "dep", "add", keep, "--target", gone, "--type", "blocks")
    g("issue", "dep", "add", gone, "--target", keep, "--type", "related_to")
    assert [d["issue_id"] for d in g("issue", "dep", "list", keep)["deps"]] == [gone]
    g("issue", "remove", gone)
    assert g("issue", "label", "list")["labels"] == [{"label": "bug", "open": 1, "issues": 1}]
    assert g("issue", "dep", "list", keep)["deps"] == []
    assert g("issue", "dep", "list", keep, "--reverse")["deps"] == []
    g("issue", "restore", gone)
    labels = {row["label"]: row for row in g("issue", "label", "list")["labels"]}
    assert labels["bug"] == {"label": "bug", "open": 1, "issues": 2}
    assert [d["issue_id"] for d in g("issue", "dep", "list", keep)["deps"]] == [gone]
    assert [d["issue_id"] for d in g("issue", "dep", "list", keep, "--reverse")["deps"]] == [gone]


ACTORS = [os.urandom(16) for _ in range(2)]
ISSUE = os.urandom(16)


@settings(max_examples=60, deadline=None)
@given(
    edits=st.lists(st.tuples(st.integers(0, 1), st.integers(0, 2), st.text(max_size=8)), max_size=6),
    order=st.randoms(use_true_random=False),
)
def test_edits_fold_to_the_same_issue_in_any_order(edits: list[tuple[int, int, str]], order: Any) -> None:
    """Comment edits are part of the order-independent projection: every arrival order, one result."""
    events = [make_event(ISSUE, ACTORS[0], 1, 1, ["t", "", []])]
    comments = [make_event(ISSUE, ACTORS[n % 2], 10 + n, 3, [f"c{n}"]) for n in range(2)]
    events += comments
    targets = [c.event_id.hex() for c in comments] + ["00" * 32]  # the last one names no comment
    for ts, (actor, target, text) in enumerate(edits, 100):
        events.append(make_event(ISSUE, ACTORS[actor], ts, 3, [amend.edit_body(targets[target], text)]))

    def fold(sequence: list[Event]) -> dict[str, Any]:
        state = projection.new_state(ISSUE.hex())
        for ev in sequence:
            projection.apply(state, ev)
        return projection.full(state)

    expected = fold(events)
    shuffled = list(events)
    order.shuffle(shuffled)
    assert fold(shuffled) == expected
    for n, comment in enumerate(c for c in expected["comments"] if c["event_id"] in targets[:2]):
        own = [text for actor, target, text in edits if target == n and actor == n % 2]
        assert comment["body"] == (own[-1] if own else f"c{n}")
    assert len(expected["comments"]) == 2 + sum(1 for actor, target, _ in edits if target == 2 or actor != target % 2)
    assert expected["comment_count"] == len(expected["comments"])


def test_edit_and_remove_through_the_daemon_match_local_runs(repo):
    from toolkit_grite.testing import grite

    daemon = {"GRITE_NO_DAEMON": ""}
    assert grite(repo, "init", "--no-agents-md").code == 0
    try:
        iid = grite(repo, "issue", "create", "--title", "t", "--json", env=daemon).data["issue_id"]
        cid = grite(repo, "issue", "comment", iid, "--body", "helo", "--json", env=daemon).data["event_id"]
        before = grite(repo, "daemon", "status", "--json").data["requests"]
        edited = grite(repo, "issue", "edit-comment", iid, cid[:8], "--body", "hello", "--json", env=daemon)
        assert edited.data["comment_id"] == cid
        assert grite(repo, "issue", "remove", iid, "--json", env=daemon).data["removed"] is True
        assert grite(repo, "daemon", "status", "--json").data["requests"] >= before + 2
        for args in (("issue", "show", iid, "--json"), ("issue", "show", iid), ("issue", "remove", iid, "--json")):
            via, local = grite(repo, *args, env=daemon), grite(repo, *args, "--no-daemon")
            assert (via.code, via.out, via.err) == (local.code, local.out, local.err), args
        assert grite(repo, "issue", "restore", iid, "--json", env=daemon).data["removed"] is False
        shown = grite(repo, "issue", "show", iid, "--json", "--no-daemon").data["issue"]
        assert [(c["body"], c["edited"]) for c in shown["comments"]] == [("hello", True)]
    finally:
        grite(repo, "daemon", "stop", "--json")

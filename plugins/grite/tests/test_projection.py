from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit_grite.core import projection
from toolkit_grite.core.model import Event, make_event

ISSUE = bytes(range(16))
ACTORS = [bytes([i]) * 16 for i in range(1, 4)]
OTHER = bytes([9]) * 16


@st.composite
def histories(draw):
    evs = [make_event(ISSUE, ACTORS[0], 1000, 1, ["t0", "b0", ["a"]])]
    n = draw(st.integers(0, 25))
    for _ in range(n):
        kind = draw(st.sampled_from([2, 3, 4, 5, 6, 7, 8, 9, 11, 12]))
        actor = draw(st.sampled_from(ACTORS))
        ts = draw(st.integers(900, 1100))  # includes timestamps before the IssueCreated
        word = draw(st.sampled_from(["a", "b", "c"]))
        payload = {
            2: [draw(st.none() | st.just(f"t{word}")), draw(st.none() | st.just(f"b{word}"))],
            3: [word],
            4: [word],
            5: [word],
            6: [draw(st.sampled_from(["open", "closed"]))],
            7: [f"https://{word}", None],
            8: [word],
            9: [word],
            11: [OTHER, "blocks"],
            12: [OTHER, "blocks"],
        }[kind]
        evs.append(make_event(ISSUE, actor, ts, kind, payload))
    return evs


def project(evs: list[Event]) -> dict[str, Any]:
    state = projection.new_state(ISSUE.hex())
    for ev in evs:
        projection.apply(state, ev)
    snapshot: dict[str, Any] = json.loads(json.dumps(state))
    return snapshot


@settings(max_examples=150, deadline=None)
@given(histories(), st.randoms(use_true_random=False))
def test_projection_is_order_independent(evs, rnd):
    base = project(evs)
    shuffled = list(evs)
    rnd.shuffle(shuffled)
    other = project(shuffled)
    assert projection.full(other) == projection.full(base)
    assert projection.visible(other)


def test_lww_and_sets():
    a, b = ACTORS[0], ACTORS[1]
    evs = [
        make_event(ISSUE, a, 1000, 1, ["title", "body", ["x"]]),
        make_event(ISSUE, a, 2000, 5, ["x"]),
        make_event(ISSUE, b, 1500, 4, ["x"]),  # older than the removal: removal wins
        make_event(ISSUE, b, 3000, 4, ["y"]),
        make_event(ISSUE, a, 2500, 2, ["new", None]),
        make_event(ISSUE, b, 2400, 2, ["older", "b2"]),
        make_event(ISSUE, a, 2600, 6, ["closed"]),
        make_event(ISSUE, b, 1200, 3, ["first comment"]),
        make_event(ISSUE, a, 1100, 3, ["earliest comment"]),
    ]
    full = projection.full(project(evs))
    assert full["title"] == "new"
    assert full["body"] == "b2"
    assert full["state"] == "closed"
    assert full["labels"] == ["y"]
    assert [c["body"] for c in full["comments"]] == ["earliest comment", "first comment"]
    assert full["updated_ts"] == 3000


def test_event_before_created_is_kept():
    comment = make_event(ISSUE, ACTORS[1], 500, 3, ["early"])
    created = make_event(ISSUE, ACTORS[0], 1000, 1, ["t", "b", []])
    state = projection.new_state(ISSUE.hex())
    projection.apply(state, comment)
    assert not projection.visible(state)
    projection.apply(state, created)
    assert projection.visible(state)
    assert projection.full(state)["comments"][0]["body"] == "early"


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.text(max_size=12),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
            lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
            max_leaves=12,
        ),
        max_size=10,
    )
)
def test_summary_text_is_the_canonical_json(doc):
    """The view's summary JSON (a C encoder made once) is byte for byte `json.dumps` with sorted keys."""
    from toolkit_grite.core.view import summary_text

    assert summary_text(doc) == json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@settings(max_examples=60, deadline=None)
@given(
    st.text(max_size=8),
    st.text(max_size=8),
    st.lists(st.sampled_from(["a", "b", "bug", "\u00e9t\u00e9"]), max_size=5),
    st.integers(0, (1 << 64) - 1),
)
def test_created_builds_what_apply_builds(title, body, labels, ts):
    """The IssueCreated fast path gives the same state as `apply` on a new state, byte for byte
    once marshalled (repeated labels included: a chunk from elsewhere may repeat them)."""
    import marshal

    ev = Event(bytes(32), ISSUE, ACTORS[0], ts, None, 1, (title, body, labels), None)
    slow = projection.new_state(ISSUE.hex())
    projection.apply(slow, ev)
    fast = projection.created(ev)
    assert fast == slow
    assert list(fast) == list(slow)
    assert marshal.dumps(fast, 4) == marshal.dumps(slow, 4)


@settings(max_examples=60, deadline=None)
@given(histories())
def test_summary_record_fast_path_matches_the_general_one(evs):
    """An issue without comments takes a shorter way to its search text: the same record bytes
    as the general way (forced here by an empty edits table, which changes nothing else)."""
    from toolkit_grite.core.view import summary_record

    state = projection.new_state(ISSUE.hex())
    for ev in evs:
        projection.apply(state, ev)
    general = dict(state, comment_edits=state.get("comment_edits", {}))
    assert summary_record(state) == summary_record(general)
    bare = dict(state, comments=[])
    bare.pop("comment_edits", None)
    assert summary_record(bare) == summary_record(dict(bare, comment_edits={}))

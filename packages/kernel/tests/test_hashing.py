"""Canonical CBOR, BLAKE2b-256 and grite's event-id vectors (shared/reference/grite-hash-vectors.md)."""

from __future__ import annotations

import random
import subprocess
import sys

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit_kernel.hashing import blake2b_256, canonical_cbor, decode_cbor, grite_event_id, grite_event_preimage

ISSUE = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
ACTOR = bytes.fromhex("101112131415161718191a1b1c1d1e1f")
PARENT = bytes.fromhex("202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f")
HEAD = "870150000102030405060708090a0b0c0d0e0f50101112131415161718191a1b1c1d1e1f"

# (kind, tag, ts, parent, payload, preimage hex, event id hex) -- all ten vectors, verbatim
VECTORS = [
    ("IssueCreated", 1, 1700000000000, None, ["Test", "Body", ["bug", "p0"]],
     HEAD + "1b0000018bcfe56800f60183645465737464426f64798263627567627030",
     "9c2aee7924bf7482dd3842c6ec32fd5103883b9d2354f63df2075ac61fe3d827"),
    ("IssueUpdated", 2, 1700000000000, None, ["Title 2", None],
     HEAD + "1b0000018bcfe56800f60282675469746c652032f6",
     "5227efec6ae3d41725827edb3e62d00a595784d7adec58fb4e1b787c44c4b333"),
    ("CommentAdded", 3, 1700000001000, PARENT, ["Looks good"],
     HEAD + "1b0000018bcfe56be85820202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
     "03816a4c6f6f6b7320676f6f64",
     "fca597420160df9f7230b28384a27dc86656b206520e5c8085e78cbb02a46e27"),
    ("LabelAdded", 4, 1700000002000, None, ["bug"],
     HEAD + "1b0000018bcfe56fd0f6048163627567",
     "d742a0d9c83f17176e30511d62045686b491ddf55f8d1dfe7a74921787bdd436"),
    ("LabelRemoved", 5, 1700000003000, None, ["wip"],
     HEAD + "1b0000018bcfe573b8f6058163776970",
     "f23e9c69c3fa4cd2889e57fe1c547630afa132052197a5fe449e6d5acf22c40c"),
    ("StateChanged", 6, 1700000004000, None, ["closed"],
     HEAD + "1b0000018bcfe577a0f6068166636c6f736564",
     "839ae6d0898f48efcc7a41fdbb9631e64ba1f05a6c1725fc196971bfd1645b2b"),
    ("LinkAdded", 7, 1700000005000, None, ["https://example.com", "ref"],
     HEAD + "1b0000018bcfe57b88f607827368747470733a2f2f6578616d706c652e636f6d63726566",
     "b8af76be8b7a40244bb8e731130ed52969a77b87532dadf9a00a352eeb00e3b5"),
    ("AssigneeAdded", 8, 1700000006000, None, ["alice"],
     HEAD + "1b0000018bcfe57f70f6088165616c696365",
     "42f329d826d34d425dd67080d91f6c909bc56411c9add54389fbec5d457b14e4"),
    ("AssigneeRemoved", 9, 1700000007000, None, ["alice"],
     HEAD + "1b0000018bcfe58358f6098165616c696365",
     "bfb0fdfed0f0ee36f31107963317dd904143f37d9ef8792f64272cf2f07f6a1e"),
    ("AttachmentAdded", 10, 1700000008000, None,
     ["log.txt", bytes.fromhex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"), "text/plain"],
     HEAD + "1b0000018bcfe58740f60a83676c6f672e7478745820000102030405060708090a0b0c0d0e0f"
     "101112131415161718191a1b1c1d1e1f6a746578742f706c61696e",
     "dc83946d33437f0b73d8b04c63f7b0b85b9e9a24e790fee3ca129d3d8b870749"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "tag", "ts", "parent", "payload", "preimage_hex", "event_id_hex"), VECTORS, ids=[v[0] for v in VECTORS]
)
def test_grite_vectors(kind, tag, ts, parent, payload, preimage_hex, event_id_hex):
    preimage = grite_event_preimage(ISSUE, ACTOR, ts, parent, tag, payload)
    assert preimage.hex() == preimage_hex
    assert grite_event_id(ISSUE, ACTOR, ts, parent, tag, payload).hex() == event_id_hex
    assert blake2b_256(preimage).hex() == event_id_hex


def test_ten_vectors():
    assert len(VECTORS) == 10
    assert [v[1] for v in VECTORS] == list(range(1, 11))


def test_preimage_argument_checks():
    with pytest.raises(ValueError, match="issue_id must be 16 bytes"):
        grite_event_preimage(b"short", ACTOR, 0, None, 1, [])
    with pytest.raises(ValueError, match="actor"):
        grite_event_preimage(ISSUE, b"x" * 17, 0, None, 1, [])
    with pytest.raises(ValueError, match="parent"):
        grite_event_preimage(ISSUE, ACTOR, 0, b"x" * 31, 1, [])
    with pytest.raises(ValueError, match="ts_unix_ms"):
        grite_event_preimage(ISSUE, ACTOR, -1, None, 1, [])


def test_blake2b_256_is_not_truncated_512():
    import hashlib

    assert len(blake2b_256(b"")) == 32
    assert blake2b_256(b"abc") != hashlib.blake2b(b"abc").digest()[:32]
    assert blake2b_256(b"abc") == hashlib.blake2b(b"abc", digest_size=32).digest()


scalars = st.none() | st.booleans() | st.integers(-(2**64), 2**64 - 1) | st.text(max_size=10) | st.binary(max_size=10)
values = st.recursive(
    scalars | st.floats(allow_nan=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=5),
    max_leaves=25,
)


def _reorder(value: object, rnd: random.Random) -> object:
    if isinstance(value, dict):
        items = [(k, _reorder(v, rnd)) for k, v in value.items()]
        rnd.shuffle(items)
        return dict(items)
    if isinstance(value, list):
        return [_reorder(v, rnd) for v in value]
    return value


@settings(max_examples=200, deadline=None)
@given(value=values, rnd=st.randoms(use_true_random=False))
def test_canonical_cbor_ignores_insertion_order(value, rnd):
    encoded = canonical_cbor(value)
    assert canonical_cbor(_reorder(value, rnd)) == encoded
    assert decode_cbor(encoded) == value


@settings(max_examples=100, deadline=None)
@given(keys=st.lists(st.text(max_size=6) | st.integers(-1000, 1000), unique=True, max_size=8))
def test_canonical_key_order_is_length_first(keys):
    mapping = dict.fromkeys(keys, 0)
    encoded_keys = sorted((cbor2.dumps(k) for k in keys), key=lambda b: (len(b), b))
    assert canonical_cbor(mapping) == bytes([0xA0 + len(keys)]) + b"".join(k + b"\x00" for k in encoded_keys)


def test_canonical_examples():
    assert canonical_cbor({"b": 1, "a": [1, None]}).hex() == "a261618201f6616201"
    assert canonical_cbor(1.5).hex() == "f93e00"
    assert canonical_cbor({"aa": 1, "b": 2}) == bytes.fromhex("a2616202626161" + "01")


def test_decode_rejects_duplicate_keys():
    duplicate = bytes.fromhex("a2616101616102")  # {"a": 1, "a": 2}
    assert cbor2.loads(duplicate) == {"a": 2}  # what a lax decoder does
    with pytest.raises(Exception, match=r"(?i)duplicate"):
        decode_cbor(duplicate)
    nested = bytes.fromhex("a1617882a16101a2616201616202")  # {"x": [{"a":1}, {"b":1,"b":2}]}
    with pytest.raises(Exception, match=r"(?i)duplicate"):
        decode_cbor(nested)


#: Prints True when `decode_cbor` refuses a map with a repeated key, as it must with either codec.
REFUSES_DUPLICATES = (
    "try:\n"
    "    hashing.decode_cbor(bytes.fromhex('a2616101616102'))\n"
    "except Exception as exc:\n"
    "    print('duplicate' in str(exc).lower())"
)


def _run(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    return result.stdout.strip()


def test_the_codec_loads_without_typing_and_is_the_one_cbor2_reexports() -> None:
    out = _run(
        "import sys; before = set(sys.modules)\n"
        "from toolkit_kernel import hashing\n"
        "added = set(sys.modules) - before\n"
        "print(hashing.cbor2.__name__, sorted(added & {'typing', 're', 'cbor2'}))\n"
        "import cbor2\n"
        "print(cbor2.loads is hashing.cbor2.loads, cbor2.CBORTag is hashing.cbor2.CBORTag)\n"
        "print(hashing.canonical_cbor({'b': 1, 'a': [1, None]}).hex())"
    )
    assert out.splitlines() == ["cbor2._cbor2 []", "True True", "a261618201f6616201"]
    refused = _run("from toolkit_kernel import hashing\n" + REFUSES_DUPLICATES)
    assert refused == "True"


@pytest.mark.parametrize(
    "setup",
    [
        "import cbor2",  # imported already: that package is used
        "import importlib.machinery as m; m.EXTENSION_SUFFIXES[:] = ['.none']",  # no loadable codec file
    ],
)
def test_the_codec_falls_back_to_the_cbor2_package(setup: str) -> None:
    out = _run(
        f"{setup}\n"
        "from toolkit_kernel import hashing\n"
        "print(hashing.cbor2.__name__, hashing.canonical_cbor({'b': 1, 'a': [1, None]}).hex())\n" + REFUSES_DUPLICATES
    )
    assert out.splitlines() == ["cbor2 a261618201f6616201", "True"]

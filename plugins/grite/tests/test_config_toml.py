"""grite's configuration files: any text a user gives (labels, actor ids) is written as valid TOML."""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit_grite.core.repo import read_toml, toml_string, write_toml
from toolkit_grite.errors import InvalidArgs

#: Every character class the writer must escape, weighted so hypothesis hits them often.
CONTROL = st.characters(min_codepoint=0, max_codepoint=0x1F) | st.sampled_from(['"', "\\", "\x7f", "\u2028"])
TEXT = st.text(alphabet=CONTROL | st.characters(codec="utf-8"))


@settings(max_examples=300, deadline=None)
@given(
    label=TEXT,
    extra=st.dictionaries(
        st.from_regex(r"[a-z_]{1,8}", fullmatch=True), TEXT | st.integers(-(2**63), 2**63 - 1) | st.booleans()
    ),
)
def test_any_value_round_trips_through_tomllib_and_our_reader(label: str, extra: dict[str, object]) -> None:
    import tempfile

    data = {**extra, "label": label}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.toml"
        write_toml(path, data)
        assert tomllib.loads(path.read_text(encoding="utf-8")) == data
        assert read_toml(path) == data


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("a\x01b", r'"a\u0001b"'),
        ("del\x7f", r'"del\u007f"'),
        ('q"\\', r'"q\"\\"'),
        ("\b\t\n\f\r", r'"\b\t\n\f\r"'),
        ("\x00\x1f", r'"\u0000\u001f"'),
        ("é 😀 \u2028", '"é 😀 \u2028"'),  # not control characters in TOML: written as they are
    ],
)
def test_escapes_are_toml_basic_string_escapes(text: str, written: str) -> None:
    assert toml_string(text) == written


def test_a_lone_surrogate_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    path = tmp_path / "grite" / "config.toml"
    write_toml(path, {"label": "before"})
    with pytest.raises(InvalidArgs, match="not valid Unicode"):
        write_toml(path, {"label": "bad \udcff bytes"})
    assert read_toml(path) == {"label": "before"}
    assert os.listdir(path.parent) == ["config.toml"]


def test_actor_label_with_control_characters_through_the_cli(repo: Path, g, cli) -> None:
    g("init", "--no-agents-md")
    label = 'tab\there "quoted" back\\slash \x01\x7f'
    made = g("actor", "init", "--label", label)
    config = Path(made["data_dir"]) / "config.toml"
    assert tomllib.loads(config.read_text(encoding="utf-8"))["label"] == label
    assert [a["label"] for a in g("actor", "list")["actors"] if a["actor_id"] == made["actor_id"]] == [label]
    assert g("actor", "show", made["actor_id"])["actor"]["label"] == label
    # The repository config written after it (`actor use`) stays readable too.
    assert g("actor", "use", label)["default_actor"] == made["actor_id"]
    assert g("actor", "current")["source"] == "repo_default"


def test_an_undecodable_label_is_a_clear_error_and_creates_no_actor(repo: Path, g, cli) -> None:
    g("init", "--no-agents-md")
    actors = sorted((repo / ".git/grite/actors").iterdir())
    res = cli("grite", "actor", "init", "--label", "bad \udcff", "--json")
    assert res.exit_code == 2, (res.output, res.stderr)
    assert json.loads(res.stderr)["error"]["code"] == "invalid_args"
    assert "Traceback" not in res.stderr
    assert sorted((repo / ".git/grite/actors").iterdir()) == actors


# -- the tomllib-free reader: same table as tomllib, or None (then tomllib decides) ----------------

_KEY = st.from_regex(r"[A-Za-z0-9_-]{1,6}", fullmatch=True)
_VALUE = TEXT.map(toml_string) | st.integers(-(2**70), 2**70).map(str) | st.sampled_from(["true", "false"])
_SPACE = st.sampled_from(["", " ", "\t", "  "])
#: Lines grite's files hold, spaced and commented in every way, next to arbitrary TOML-ish fragments.
_GOOD = st.tuples(_SPACE, _KEY, _SPACE, _SPACE, _VALUE, _SPACE, st.sampled_from(["", "# note", "#"]))
_LINE = (
    _GOOD.map(lambda t: f"{t[0]}{t[1]}{t[2]}={t[3]}{t[4]}{t[5]}{t[6]}")
    | st.sampled_from(["", "# comment", "[table]", 'a = """x"""', "a = 'lit'", "a = 1_000", "a = 0x1f", "a = 01"])
    | st.sampled_from(["a = 1.5", "a = [1]", "a = 1979-05-27", 'a = "\\ud800"', 'a = "\\e"', "a", "= 1", "a = "])
    | st.text(alphabet=st.sampled_from('ab=" #\\\t\r01-+uU_[]'), max_size=12)
)


@settings(max_examples=500, deadline=None)
@given(lines=st.lists(_LINE, max_size=6), end=st.sampled_from(["", "\n", "\r\n"]))
def test_the_flat_reader_agrees_with_tomllib_or_defers(lines: list[str], end: str) -> None:
    from toolkit_grite.core.tomlflat import loads

    text = "\n".join(lines) + end
    ours = loads(text)
    try:
        expected = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        assert ours is None, text
        return
    assert ours is None or ours == expected, text


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(_GOOD, max_size=8, unique_by=lambda t: t[1]), end=st.sampled_from(["", "\n"]))
def test_the_flat_reader_reads_every_flat_file_itself(rows: list[tuple[str, ...]], end: str) -> None:
    from toolkit_grite.core.tomlflat import loads

    text = "\n".join(f"{t[0]}{t[1]}{t[2]}={t[3]}{t[4]}{t[5]}{t[6]}" for t in rows) + end
    assert loads(text) == tomllib.loads(text), text


def test_the_flat_reader_reads_what_the_real_grite_writes() -> None:
    from toolkit_grite.core.tomlflat import loads

    real = 'actor_id = "60a07da4d3de13ce4b1786411921457c"\ncreated_ts = 1796514104943\n'
    assert loads(real) == {"actor_id": "60a07da4d3de13ce4b1786411921457c", "created_ts": 1796514104943}
    assert loads('default_actor = "ab"  # mine\nlock_policy = "warn"\n\n') == {
        "default_actor": "ab",
        "lock_policy": "warn",
    }


def test_invalid_files_are_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    for content in (b'a = "x\x01"\n', b"a = 1\na = 2\n", b'a = "\xff"\n', b"[t\n"):
        path.write_bytes(content)
        with pytest.raises(InvalidArgs, match="invalid TOML"):
            read_toml(path)

"""`feed` YAML input (specs/plasmite/cli.md, "YAML input"): framing, values, refusals, through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from toolkit_plasmite import Client
from toolkit_plasmite.core.yaml_input import YamlParser, load_document, starts_marked
from toolkit_plasmite.errors import UsageError


def _parse(text: str, explicit: bool = False, chunk: int = 7) -> tuple[list[object], str | None]:
    """Documents and the failure message, feeding `text` in small chunks (documents span chunks)."""
    parser = YamlParser(explicit)
    raw = text.encode()
    records = []
    for i in range(0, len(raw), chunk):
        records += parser.feed(raw[i : i + chunk])
    records += parser.finish()
    return [r.data if r.error is None else r.error for r in records], (
        parser.failure.message if parser.failure else None
    )


def test_marked_documents_and_the_framing_errors() -> None:
    assert _parse("\n---\na: 1\n...\n\n---\nb: [x, y]\n...\n") == ([{"a": 1}, {"b": ["x", "y"]}], None)
    assert _parse("---\na: 1\n...\n---\nb: 2\n") == ([{"a": 1}], "YAML document is missing its ... end marker")
    assert _parse("---\na: 1\n---\nb: 2\n...\n") == ([], "YAML messages require explicit document boundaries")
    assert _parse("---\na: 1\n...\n{}\n") == ([{"a": 1}], "YAML messages require a --- start marker")
    assert _parse("--- {a: 1}\n...\n") == ([], "YAML messages require explicit document boundaries")
    assert _parse("---\n5\n...\n") == (["data must be object"], None)
    assert _parse("") == ([], None)


def test_explicit_yaml_takes_one_unmarked_document() -> None:
    assert _parse("a: 1\nb:\n  - 2\n", explicit=True) == ([{"a": 1, "b": [2]}], None)
    assert _parse("a: 1\n---\nb: 2\n", explicit=True) == ([], "YAML messages require explicit document boundaries")
    assert _parse("a: 1\n...\n", explicit=True) == ([], "YAML messages require explicit document boundaries")
    assert _parse("---\na: 1\n...\n", explicit=True) == ([{"a": 1}], None)


def test_auto_recognises_only_a_marked_start() -> None:
    assert starts_marked(b"\n  \n---\na: 1\n")
    assert starts_marked(b"--- {a: 1}\n")
    assert not starts_marked(b'{"a": 1}\n---\n')
    assert not starts_marked(b"a: 1\n")


def test_values_follow_yaml_1_2_as_plasmite_reads_them() -> None:
    doc = load_document(
        "t: true\nT: TRUE\nyes: yes\nn: null\nt2: ~\ne:\nhex: 0x10\noct: 0o10\nbin: -0b101\nlead: 010\n"
        "p: +12\nf: 1e3\nz: -0.0\nd: 2001-01-01\nb: !!binary aGVsbG8=\ns: |\n  x\n"
    )
    assert doc == {
        "t": True, "T": True, "yes": "yes", "n": None, "t2": None, "e": None, "hex": 16, "oct": 8, "bin": -5,
        "lead": "010", "p": 12, "f": 1000.0, "z": -0.0, "d": "2001-01-01", "b": "aGVsbG8=", "s": "x\n",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: &x {k: 1}\nb: *x\n", "invalid or unsupported YAML message"),
        ("a: 1\na: 2\n", "invalid or unsupported YAML message"),
        ("a: .inf\n", "invalid or unsupported YAML message"),
        ("a: -.Inf\n", "invalid or unsupported YAML message"),
        ("a: .nan\n", "invalid or unsupported YAML message"),
        ("a: 1e999\n", "invalid or unsupported YAML message"),
        ("a: [1, 2\n", "invalid or unsupported YAML message"),
        ("a: !!python/object:os.system x\n", "invalid or unsupported YAML message"),
        ("1: a\n", "YAML object keys must be strings"),
        ("? [a]\n: 1\n", "YAML object keys must be strings"),
    ],
)
def test_refusals(text: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        load_document(text)
    assert info.value.message == message


def test_feed_appends_documents_until_a_framing_error(cli, tmp_path: Path) -> None:
    pools = str(tmp_path / "pools")
    base = ("plasmite", "--dir", pools)
    cli(*base, "pool", "create", "y").assert_success()
    ok = cli(*base, "feed", "y", "--tag", "t", input="---\na: 1\n...\n---\ndata: {k: 2}\nmeta: {tags: [m]}\n...\n")
    ok.assert_success()
    assert [json.loads(line)["seq"] for line in ok.stdout.splitlines()] == [1, 2]
    bad = cli(*base, "feed", "y", input="---\nb: 3\n...\n---\nc: 4\n")
    assert bad.exit_code == 2
    assert json.loads(bad.stderr)["error"] == {
        "kind": "Usage",
        "message": "YAML document is missing its ... end marker",
    }
    assert cli(*base, "feed", "y", "-i", "yaml", input="d: 5\n").exit_code == 0
    assert cli(*base, "feed", "y", "-i", "yaml", input="").exit_code == 0  # nothing to append, as plasmite
    with Client(pools) as client, client.open_pool("y") as pool:
        got = [(m.data, m.tags) for m in (pool.get(seq) for seq in range(1, 5))]
    # A document shaped like an envelope but not a complete message is data, as plasmite.
    assert got == [
        ({"a": 1}, ["t"]),
        ({"data": {"k": 2}, "meta": {"tags": ["m"]}}, ["t"]),
        ({"b": 3}, []),
        ({"d": 5}, []),
    ]

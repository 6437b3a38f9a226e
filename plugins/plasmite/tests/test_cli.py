"""The CLI end to end: `toolkit plasmite ...` in-process and `plasmite` as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest


def lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_pool_lifecycle_json(cli, pool_dir: Path) -> None:
    res = cli("plasmite", "pool", "create", "a", "b", "--size", "64K").assert_success()
    created = res.json()["created"]
    assert [p["name"] for p in created] == ["a", "b"]
    assert created[0]["bounds"] == {}
    assert list(created[0]) == sorted(created[0])  # sorted keys
    dup = cli("plasmite", "pool", "create", "c", "a")
    assert dup.exit_code == 4
    assert json.loads(dup.stderr)["error"]["kind"] == "AlreadyExists"
    assert (pool_dir / "c.plasmite").exists()  # pools created before the failure stay
    info = cli("plasmite", "pool", "info", "a").assert_success().json()
    assert info["ring_offset"] == 4096 + 16 * info["index_capacity"]
    listed = cli("plasmite", "pool", "list").assert_success().json()["pools"]
    assert [p["name"] for p in listed] == ["a", "b", "c"]
    deleted = cli("plasmite", "pool", "delete", "a", "zzz")
    assert deleted.exit_code == 3
    body = deleted.json()
    assert body["deleted"][0]["pool"] == "a"
    assert body["failed"][0]["error"]["kind"] == "NotFound"


def test_feed_formats_and_receipts(cli) -> None:
    cli("plasmite", "pool", "create", "p", "--size", "64K").assert_success()
    res = cli("plasmite", "feed", "p", '{"x":1}', "--tag", "a", "--tag", "b").assert_success()
    receipt = res.json()
    assert receipt["seq"] == 1
    assert receipt["meta"] == {"tags": ["a", "b"]}
    assert receipt["data"] == {"x": 1}  # the complete message, as plasmite 1.2.1 prints it
    assert receipt["time"].endswith("Z")
    # JSONL with a value spanning lines
    res = cli("plasmite", "feed", "p", input='{"n":2}\n{"n":\n 3}\n\n{"n":4}\n').assert_success()
    assert [r["seq"] for r in lines(res.stdout)] == [2, 3, 4]
    # JSON-seq
    res = cli("plasmite", "feed", "p", input='\x1e{"n":5}\n\x1e{"n":6}\n').assert_success()
    assert [r["seq"] for r in lines(res.stdout)] == [5, 6]
    # SSE
    res = cli("plasmite", "feed", "p", input='event: x\ndata: {"n":\ndata: 7}\n\n: comment\ndata: {"n":8}\n\n')
    res.assert_success()
    assert [r["seq"] for r in lines(res.stdout)] == [7, 8]
    # one JSON document (array)
    res = cli("plasmite", "feed", "p", "-i", "json", input='[{"n":9},{"n":10}]').assert_success()
    assert [r["seq"] for r in lines(res.stdout)] == [9, 10]
    # jq output stream
    res = cli("plasmite", "feed", "p", "-i", "jq", input='{"n":11}{"n":12}\n{\n"n":13}').assert_success()
    assert [r["seq"] for r in lines(res.stdout)] == [11, 12, 13]
    got = [cli("plasmite", "fetch", "p", str(s)).json()["data"]["n"] for s in (3, 7, 13)]
    assert got == [3, 7, 13]


def test_feed_errors(cli) -> None:
    cli("plasmite", "pool", "create", "p", "--size", "64K").assert_success()
    res = cli("plasmite", "feed", "p", "[1,2]")
    assert res.exit_code == 2
    assert "data must be object" in json.loads(res.stderr)["error"]["message"]
    res = cli("plasmite", "feed", "p", input='{"a":1}\n{bad\n{"a":2}\n')
    assert res.exit_code == 2
    assert [r["seq"] for r in lines(res.stdout)] == [1]  # stop: records before the bad one are kept
    res = cli("plasmite", "feed", "p", "-e", "skip", input='{"a":1}\n{bad\n"str"\n{"a":2}\n')
    assert res.exit_code == 1
    assert len(lines(res.stdout)) == 2
    notices = lines(res.stderr)
    assert [n["notice"]["kind"] for n in notices] == ["ingest_skip", "ingest_skip", "ingest_summary"]
    assert notices[-1]["notice"]["details"] == {"total": 4, "ok": 2, "failed": 2}
    assert cli("plasmite", "feed", "p", "-i", "jq", "-e", "skip", input="{}").exit_code == 2
    assert cli("plasmite", "feed", "p", input="").exit_code == 2  # zero records
    assert cli("plasmite", "feed", "missing", "{}").exit_code == 3
    res = cli("plasmite", "feed", "new", "{}", "--create", "--create-size", "64K").assert_success()
    assert res.json()["seq"] == 1
    assert cli("plasmite", "feed", "ftp://x/y", "{}").exit_code == 2
    assert cli("plasmite", "feed", "http://127.0.0.1/p", "{}").exit_code == 2  # no port
    assert cli("plasmite", "feed", "p", "{}", "--token", "x").exit_code == 2  # remote flag on a local pool


def test_fetch_and_follow_tail_where(cli) -> None:
    cli("plasmite", "pool", "create", "p", "--size", "64K").assert_success()
    for i in range(6):
        tag = ["--tag", "odd"] if i % 2 else []
        cli("plasmite", "feed", "p", json.dumps({"i": i, "level": "error" if i > 3 else "info"}), *tag).assert_success()
    env = cli("plasmite", "fetch", "p", "2").assert_success().json()
    assert env["data"] == {"i": 1, "level": "info"}
    assert list(env) == ["data", "meta", "seq", "time"]
    assert cli("plasmite", "fetch", "p", "99").exit_code == 3
    res = cli("plasmite", "follow", "p", "--tail", "2", "--jsonl", "--timeout", "100ms")
    assert res.exit_code == 124
    assert [e["seq"] for e in lines(res.stdout)] == [5, 6]
    res = cli("plasmite", "follow", "p", "--tail", "9", "--tag", "odd", "--jsonl", "--timeout", "50ms")
    assert [e["data"]["i"] for e in lines(res.stdout)] == [1, 3, 5]
    res = cli(
        "plasmite",
        "follow",
        "p",
        "--tail",
        "9",
        "--where",
        '.data.level == "error"',
        "--where",
        ".seq > 5",
        "--data-only",
        "--jsonl",
        "--timeout",
        "50ms",
    )
    assert lines(res.stdout) == [{"i": 5, "level": "error"}]
    res = cli("plasmite", "follow", "p", "--tail", "2", "--one", "--jsonl")
    assert res.exit_code == 0
    assert [e["seq"] for e in lines(res.stdout)] == [5]  # the first match of the history (plasmite 1.2.1)
    # --tail counts retained messages before the filters (plasmite 1.2.1): of the last 3 (i = 3, 4, 5)
    # two are odd; of the last 1 (i = 5) one; the last 2 hold no error before i = 4.
    res = cli("plasmite", "follow", "p", "--tail", "3", "--tag", "odd", "--jsonl", "--no-follow")
    assert [e["data"]["i"] for e in lines(res.stdout)] == [3, 5]
    res = cli("plasmite", "follow", "p", "--tail", "2", "--where", ".data.i < 4", "--jsonl", "--no-follow")
    assert (res.exit_code, res.stdout) == (0, "")
    res = cli("plasmite", "follow", "p", "--tail", "4", "--tag", "odd", "--one", "--jsonl")
    assert [e["data"]["i"] for e in lines(res.stdout)] == [3]
    res = cli("plasmite", "follow", "p", "--tail", "1", "--timeout", "50ms")  # compact in a pipe (plasmite 1.2.1)
    assert lines(res.stdout)[0]["seq"] == 6
    assert res.stdout.count("\n") == 1
    for pretty in (["follow", "p", "--format", "pretty"], ["--format", "pretty", "follow", "p"]):
        res = cli("plasmite", *pretty, "--tail", "1", "--timeout", "50ms")
        assert res.stdout.startswith("{\n  ")
    res = cli("plasmite", "follow", "p", "--tail", "1", "--format", "json", "--timeout", "50ms")
    assert lines(res.stdout)[0]["seq"] == 6
    res = cli("plasmite", "follow", "p", "--tail", "1", "--where", ".data")
    assert res.exit_code == 2
    assert cli("plasmite", "follow", "p", "--where", "(((").exit_code == 2
    assert cli("plasmite", "follow", "p", "--jsonl", "--format", "jsonl").exit_code == 2
    assert cli("plasmite", "follow", "p", "--replay", "1").exit_code == 2
    assert cli("plasmite", "follow", "p", "--since", "1h", "--tail", "1").exit_code == 2
    res = cli("plasmite", "follow", "p", "--since", "1h", "--jsonl", "--timeout", "50ms")
    assert len(lines(res.stdout)) == 6
    res = cli("plasmite", "follow", "p", "--since", "2999-01-01T00:00:00Z")
    assert res.exit_code == 0
    assert res.stdout == ""
    start = time.monotonic()
    res = cli("plasmite", "follow", "p", "--tail", "3", "--replay", "0", "--jsonl")
    assert res.exit_code == 0
    assert len(lines(res.stdout)) == 3
    assert time.monotonic() - start < 5


def test_follow_live_in_subprocess(sub_env, cli, plasmite_argv: list[str]) -> None:
    cli("plasmite", "pool", "create", "live", "--size", "64K").assert_success()
    proc = subprocess.Popen(
        [*plasmite_argv, "follow", "live", "--jsonl", "--where", ".data.go == true", "--one", "--timeout", "20s"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=sub_env,
    )
    try:
        deadline = time.monotonic() + 30
        out = None
        while time.monotonic() < deadline:
            cli("plasmite", "feed", "live", '{"go": false}').assert_success()
            cli("plasmite", "feed", "live", '{"go": true}').assert_success()
            try:
                out, _err = proc.communicate(timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                continue
        assert proc.returncode == 0, out
        assert json.loads(out or "")["data"] == {"go": True}
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_follow_reports_drops(cli, pool_dir: Path) -> None:
    from toolkit_plasmite.core.codec import encode_payload
    from toolkit_plasmite.core.pool import PoolFile
    from toolkit_plasmite.core.tail import follow

    cli("plasmite", "pool", "create", "small", "--size", "8K").assert_success()
    with PoolFile(pool_dir / "small.plasmite") as pool:
        pool.append(encode_payload({"i": 0}))
        gaps: list[Any] = []
        stream = follow(pool, since_seq=1, timeout=0.2, on_gap=gaps.append)
        assert next(stream)[0] == 1
        for i in range(200):
            pool.append(encode_payload({"i": i}))
        rest = [m[0] for m in stream]
        assert gaps
        assert gaps[0].expected == 2
        assert rest[0] == gaps[0].resumed_at
        assert rest == list(range(rest[0], 202))


def test_unsupported_version_message(cli, pool_dir: Path) -> None:
    cli("plasmite", "pool", "create", "old", "--size", "64K").assert_success()
    path = pool_dir / "old.plasmite"
    raw = bytearray(path.read_bytes())
    raw[4:8] = (7).to_bytes(4, "little")
    path.write_bytes(bytes(raw))
    res = cli("plasmite", "fetch", "old", "1")
    assert res.exit_code == 2
    err = json.loads(res.stderr)["error"]
    assert err["message"] == "unsupported pool format version 7 (supported: 3, 100)"
    assert "plasmite" in err["hint"]
    res = cli("plasmite", "doctor", "old")
    assert res.exit_code == 7
    assert res.json()["reports"][0]["issues"][0]["code"] == "format"


def test_doctor_finds_damage(cli, pool_dir: Path) -> None:
    cli("plasmite", "pool", "create", "d", "--size", "64K", "--format-version", "100").assert_success()
    for i in range(5):
        cli("plasmite", "feed", "d", json.dumps({"i": i})).assert_success()
    assert cli("plasmite", "doctor", "d").assert_success().json()["reports"][0]["status"] == "ok"
    path = pool_dir / "d.plasmite"
    info = cli("plasmite", "pool", "info", "d").json()
    raw = bytearray(path.read_bytes())
    raw[info["ring_offset"] + 3 * 80 + 70] ^= 0xFF  # inside the payload of a middle frame
    path.write_bytes(bytes(raw))
    res = cli("plasmite", "doctor", "d")
    assert res.exit_code == 7
    report = res.json()["reports"][0]
    assert report["status"] == "corrupt"
    assert report["issues"][0]["code"] == "frame"
    assert report["remediation_hints"]
    assert cli("plasmite", "doctor", "--all").exit_code == 7
    assert cli("plasmite", "doctor").exit_code == 2


def test_errors_on_terminal_are_human(cli) -> None:
    res = cli("plasmite", "--color", "always", "pool", "info", "nope")
    assert res.exit_code == 3
    assert res.stderr.startswith("error: not found")
    assert "hint: Create it first: plasmite pool create nope" in res.stderr


def test_errors_follow_format_in_a_pipe_too(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As plasmite 1.2.1: `--format pretty` human lines, `json` one line, `yaml` a document, before or after."""
    import yaml

    monkeypatch.chdir(tmp_path)
    here = ["plasmite", "--dir", str(tmp_path / "pools")]
    for args in ([*here, "--format", "pretty", "fetch", "nope", "1"], [*here, "follow", "nope", "--format", "pretty"]):
        res = cli(*args)
        assert res.exit_code == 3
        lines = res.stderr.splitlines()
        assert lines[0].startswith("error: ")
        assert "path: ./pools/nope.plasmite" in lines, res.stderr
    res = cli(*here, "fetch", "nope", "1", "--format", "yaml")
    assert res.exit_code == 3
    assert res.stderr.startswith("---\nerror:\n")
    assert res.stderr.endswith("\n...\n")
    doc = yaml.safe_load(res.stderr.replace("\n...\n", "\n"))
    assert doc["error"]["kind"] == "NotFound"
    assert doc["error"]["path"] == str(tmp_path / "pools" / "nope.plasmite")  # absolute, as in JSON
    for args in ([*here, "fetch", "nope", "1", "--format", "json"], [*here, "--json", "fetch", "nope", "1"]):
        assert json.loads(cli(*args).stderr)["error"]["kind"] == "NotFound"
    usage = cli(*here, "fetch", "nope", "abc", "--format", "yaml")
    assert usage.exit_code == 2
    assert yaml.safe_load(usage.stderr.replace("\n...\n", "\n"))["error"]["kind"] == "Usage"
    outside = cli("plasmite", "--dir", "/nonexistent-pools", "--format", "pretty", "fetch", "nope", "1")
    assert "path: /nonexistent-pools/nope.plasmite" in outside.stderr.splitlines()


def test_version_completion_and_script(plasmite_argv: list[str], sub_env, cli) -> None:
    out = subprocess.run([*plasmite_argv, "version"], capture_output=True, text=True, check=True, env=sub_env)
    assert json.loads(out.stdout)["name"] == "plasmite"
    assert "_PLASMITE_COMPLETE" in cli("plasmite", "completion", "bash").assert_success().stdout
    bad = subprocess.run([*plasmite_argv, "follow"], capture_output=True, text=True, env=sub_env, check=False)
    assert bad.returncode == 2
    assert "Traceback" not in bad.stderr


@pytest.mark.slow
def test_feed_stream_from_live_pipe(sub_env, cli, plasmite_argv: list[str]) -> None:
    """A record is appended as soon as its line arrives, not at EOF."""
    cli("plasmite", "pool", "create", "pipe", "--size", "64K").assert_success()
    proc = subprocess.Popen(
        [*plasmite_argv, "feed", "pipe"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=sub_env
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    proc.stdin.write('{"first": true}\n')
    proc.stdin.flush()
    receipt = json.loads(proc.stdout.readline())
    assert receipt["seq"] == 1
    assert cli("plasmite", "fetch", "pipe", "1").json()["data"] == {"first": True}
    proc.stdin.close()
    assert proc.wait(timeout=30) == 0
    proc.stdout.close()


def test_plugin_registers_group_and_service(plugin_manager, cli) -> None:
    from toolkit_plasmite import plugin

    plugins = plugin_manager(plugin)
    assert "plasmite" in plugins.commands()
    services = plugins.services()
    assert services[0].name == "plasmite"
    assert services[0].readiness.target.endswith("/healthz")
    assert cli("plasmite", "version").assert_success().json()["name"] == "plasmite"


def test_create_size_and_index_rules(cli) -> None:
    assert cli("plasmite", "pool", "create", "tiny", "--size", "1K").exit_code == 2
    assert cli("plasmite", "pool", "create", "odd", "--size", "65537").exit_code == 2
    assert cli("plasmite", "pool", "create", "idx", "--size", "64K", "--index-capacity", "4096").exit_code == 2
    info = cli("plasmite", "pool", "create", "noidx", "--size", "64K", "--index-capacity", "0").assert_success().json()
    assert info["created"][0]["index_capacity"] == 0
    assert cli("plasmite", "pool", "create", "bad", "--size", "12Q").exit_code == 2


def test_retry_delay_without_retry_is_a_usage_error(cli) -> None:
    cli("plasmite", "pool", "create", "r", "--size", "64K").assert_success()
    res = cli("plasmite", "feed", "r", '{"a": 1}', "--retry-delay", "10ms")
    assert res.exit_code == 2
    assert json.loads(res.stderr)["error"]["message"] == "--retry-delay requires --retry"
    assert cli("plasmite", "feed", "r", '{"a": 1}', "--retry", "2", "--retry-delay", "10ms").exit_code == 0


def test_help_subcommand_prints_the_named_commands_help(plasmite_argv: list[str], sub_env) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*plasmite_argv, *args], capture_output=True, text=True, check=False, env=sub_env)

    nested = run("help", "pool", "create")
    assert nested.returncode == 0
    assert nested.stdout.startswith("Usage: plasmite pool create")
    assert "--index-capacity" in nested.stdout
    top = run("help")
    assert top.returncode == 0
    assert "Commands:" in top.stdout
    assert "follow" in top.stdout
    unknown = run("help", "nope")
    assert unknown.returncode == 2
    assert json.loads(unknown.stderr)["error"]["kind"] == "Usage"
    assert unknown.stdout == ""


def test_pls_is_the_same_program_as_plasmite(sub_env) -> None:
    pls = Path(sys.executable).parent / "pls"
    out = subprocess.run([str(pls), "--version"], capture_output=True, text=True, check=True, env=sub_env).stdout
    assert out.startswith("plasmite ")
    created = subprocess.run(
        [str(pls), "pool", "create", "short", "--json"], capture_output=True, text=True, check=True, env=sub_env
    ).stdout
    assert json.loads(created)["created"][0]["name"] == "short"


def test_follow_no_follow_prints_history_and_exits(cli) -> None:
    cli("plasmite", "pool", "create", "hist").assert_success()
    for i in (1, 2, 3):
        cli("plasmite", "feed", "hist", json.dumps({"i": i})).assert_success()
    every = cli("plasmite", "follow", "hist", "--no-follow", "--jsonl").assert_success()
    assert [json.loads(line)["data"]["i"] for line in every.stdout.splitlines()] == [1, 2, 3]
    last = cli("plasmite", "follow", "hist", "--no-follow", "--tail", "1", "--jsonl").assert_success()
    assert [json.loads(line)["seq"] for line in last.stdout.splitlines()] == [3]


def test_terminal_renderings_and_format_anywhere(cli, pool_dir: Path) -> None:
    # --color always renders as on a terminal; --format pretty into a pipe is the plain layout (below)
    created = cli("plasmite", "--color", "always", "pool", "create", "demo", "--size", "64K").assert_success()
    assert created.stdout.splitlines() == ["Created demo (64K, 256 index slots)", "  path: demo.plasmite"]
    info = cli("plasmite", "pool", "info", "demo", "--color", "always").assert_success().stdout.splitlines()
    assert info[:4] == ["demo", "  path:      demo.plasmite", "  size:      64K (0 used, 0.00%)", "  messages:  empty"]
    assert info[-2:] == ["  index:     256 slots (4K)", "  ring:      56K"]
    fed = cli("plasmite", "feed", "demo", '{"a":1}', "--format", "pretty").assert_success()
    assert json.loads(fed.stdout)["data"] == {"a": 1}
    assert fed.stdout.startswith("{\n  ")
    info = cli("plasmite", "pool", "info", "demo", "--color", "always").assert_success().stdout.splitlines()
    assert info[3] == "  messages:  1 (seq 1..1)"
    assert info[5].startswith("  newest:    ")
    assert info[5].endswith("Z)")
    table = cli("plasmite", "pool", "list", "--color", "always").assert_success().stdout.splitlines()
    assert table[0].split() == ["NAME", "SIZE", "MSGS", "MODIFIED", "PATH"]
    assert table[1].split()[:3] == ["demo", "64K", "1"]
    assert table[1].split()[-1] == "demo.plasmite"
    machine = cli("plasmite", "--format", "pretty", "pool", "info", "demo", "--format", "json").assert_success()
    assert machine.json()["metrics"]["age"]["newest_time"] == cli("plasmite", "fetch", "demo", "1").json()["time"]
    doctor = cli("plasmite", "doctor", "demo", "--color", "always").assert_success().stdout.splitlines()
    assert doctor == ["demo: healthy", "  messages:  1 (seq 1..1)", "  checked:   header, index, ring — 0 issues"]
    every = cli("plasmite", "doctor", "--all", "--color", "always").assert_success().stdout.splitlines()
    assert every == ["All 1 pools healthy.", "", "  demo   1 messages   0 issues"]
    deleted = cli("plasmite", "pool", "delete", "demo", "--color", "always").assert_success()
    assert deleted.stdout.strip() == 'Deleted pool "demo".'
    assert cli("plasmite", "feed", "x", "{}", "--format", "lite3-raw").exit_code == 2
    plain = cli("plasmite", "pool", "create", "p", "--size", "64K", "--format", "pretty").assert_success()
    assert plain.stdout.splitlines() == ["NAME  SIZE   INDEX  PATH      ", "p     65536  256    p.plasmite"]
    assert cli("plasmite", "doctor", "p", "--format", "pretty").assert_success().stdout == "OK: p\n"


def test_feed_copies_complete_messages_unless_data(cli) -> None:
    cli("plasmite", "pool", "create", "a", "b", "--size", "64K").assert_success()
    cli("plasmite", "feed", "a", '{"x":1}', "--tag", "t1").assert_success()
    cli("plasmite", "feed", "a", '{"x":2}').assert_success()
    copied = cli("plasmite", "follow", "a", "--no-follow", "--format", "json").assert_success().stdout
    fed = lines(cli("plasmite", "feed", "b", input=copied).assert_success().stdout)
    assert [(m["data"], m["meta"]["tags"]) for m in fed] == [({"x": 1}, ["t1"]), ({"x": 2}, [])]
    assert [m["seq"] for m in fed] == [1, 2]  # new seqs and times in the destination
    literal = cli("plasmite", "feed", "b", "--data", input=copied.splitlines()[0]).assert_success().json()
    assert set(literal["data"]) == {"data", "meta", "seq", "time"}
    clash = cli("plasmite", "feed", "b", "--tag", "x", input=copied.splitlines()[0])
    assert clash.exit_code == 2
    assert "complete messages supply their own tags" in json.loads(clash.stderr)["error"]["message"]
    bad = cli("plasmite", "feed", "b", '{"data":{"x":1},"meta":{"tags":["t"]},"seq":"a","time":"x"}')
    assert bad.exit_code == 2
    assert "invalid complete message" in json.loads(bad.stderr)["error"]["message"]
    other = cli("plasmite", "feed", "b", '{"data":{"x":1},"meta":{"tags":[],"k":1},"seq":1,"time":"x"}')
    assert other.assert_success().json()["data"]["meta"] == {"tags": [], "k": 1}  # not a message: plain data
    assert cli("plasmite", "fetch", "b", "4").json()["data"]["meta"]["k"] == 1


def test_dir_after_the_command(cli, tmp_path: Path) -> None:
    elsewhere = str(tmp_path / "elsewhere")
    cli("plasmite", "pool", "create", "p", "--size", "64K", "--dir", elsewhere).assert_success()
    assert (tmp_path / "elsewhere" / "p.plasmite").exists()
    cli("plasmite", "feed", "p", '{"n":1}', "--dir", elsewhere).assert_success()
    res = cli("plasmite", "follow", "p", "--dir", elsewhere, "--tail", "10", "--no-follow").assert_success()
    assert lines(res.stdout)[0]["data"] == {"n": 1}
    assert cli("plasmite", "fetch", "p", "1", "--dir", elsewhere).json()["seq"] == 1
    assert cli("plasmite", "fetch", "p", "1").exit_code == 3  # the default directory has no such pool
    shown = cli("plasmite", "pool", "info", "p", "--dir", elsewhere, "--color", "always").assert_success().stdout
    assert shown.splitlines()[0] == "p"  # --color always after the command: the terminal layout, piped


def test_format_yaml_prints_yaml_documents(cli) -> None:
    cli("plasmite", "pool", "create", "demo", "--size", "64K").assert_success()
    fed = cli("plasmite", "feed", "demo", '{"n": 1}', "--format", "yaml").assert_success()
    assert fed.stdout.startswith('---\ndata:\n  "n": 1\nmeta:\n  tags: []\nseq: 1\n')
    assert fed.stdout.endswith("\n...\n")
    followed = cli("plasmite", "--format", "yaml", "follow", "demo", "--no-follow").assert_success()
    assert followed.stdout == fed.stdout  # one marked document per message
    assert cli("plasmite", "pool", "info", "demo", "--format", "lite3").exit_code == 2
    framed = cli("plasmite", "fetch", "demo", "1", "--format", "lite3").assert_success()
    assert framed.stdout.startswith("PLS1")

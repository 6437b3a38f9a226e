"""End to end through the CLI: `graveyar serve` in a subprocess, commands via `toolkit graveyar ...`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from toolkit_graveyar.client import GraveyarClient
from toolkit_graveyar.core.errors import Unauthenticated


@pytest.fixture
def srv(proc_server: Any, tmp_path: Path) -> Any:
    return proc_server("--data-dir", str(tmp_path / "data"), "--bind", "127.0.0.1:0")


def run(cli: Any, srv: Any, *args: str, input: str | None = None) -> Any:
    return cli("graveyar", "--server", srv.address, *args, input=input)


def test_append_read_flow_json(cli: Any, srv: Any) -> None:
    r = run(
        cli,
        srv,
        "--json",
        "append",
        "order-1",
        "--type",
        "Placed",
        "--data",
        '{"n":1}',
        "--meta",
        "k=v",
        "--expected",
        "no_stream",
    ).assert_success()
    assert r.json() == {
        "duplicate": False,
        "first_position": 1,
        "first_version": 1,
        "position": 1,
        "stream": "order-1",
        "version": 1,
    }
    lines = '{"type": "Paid", "data": {"amount": 3}}\n{"type": "Shipped", "data": "box"}\n'
    r = run(cli, srv, "--json", "append", "order-1", "--events", "-", "--expected", "1", input=lines).assert_success()
    assert r.json()["version"] == 3
    events = run(cli, srv, "--json", "read", "order-1").assert_success().json()
    assert [e["event_type"] for e in events] == ["Placed", "Paid", "Shipped"]
    assert events[0]["metadata"] == {"k": "v"}
    assert events[1]["data"] == '{"amount":3}'
    back = run(cli, srv, "--json", "read-all", "--backward", "--limit", "1").assert_success().json()
    assert [e["position"] for e in back] == [3]
    human = run(cli, srv, "read", "order-1", "--from", "3").assert_success()
    assert human.stdout.strip() == "3\torder-1@3\tShipped\tbox"
    streams = run(cli, srv, "--json", "streams").assert_success().json()
    assert [s["stream"] for s in streams] == ["order-1"]


def test_errors_and_exit_codes(cli: Any, srv: Any) -> None:
    run(cli, srv, "append", "s", "--type", "T").assert_success()
    r = run(cli, srv, "--json", "append", "s", "--type", "T", "--expected", "0")
    assert r.exit_code == 4
    err = json.loads(r.stderr)["error"]
    assert err["kind"] == "conflict"
    assert err["details"] == {"actual": 1, "expected": "0", "stream": "s"}
    r = run(cli, srv, "read", "missing")
    assert r.exit_code == 3
    assert "not found" in r.stderr
    assert "Traceback" not in r.stderr
    run(cli, srv, "append", "s", "--type", "T", "--expected", "-1").assert_success()  # graveyar_db's "any"
    r = run(cli, srv, "append", "s", "--type", "T", "--expected", "-2")
    assert r.exit_code == 2
    r = run(cli, srv, "append", "s", "--type", "T", "--expected", "maybe")
    assert r.exit_code == 2
    assert "hint:" in r.stderr
    r = run(cli, srv, "append", "s", "--events", "-", input="not json\n")
    assert r.exit_code == 2
    r = cli("graveyar", "--server", "127.0.0.1:1", "--timeout", "1", "streams")
    assert r.exit_code == 6
    assert "graveyar serve" in r.stderr


def test_subscribe_snapshot_schema_delete_metadata(cli: Any, srv: Any, tmp_path: Path) -> None:
    for i in range(3):
        run(cli, srv, "append", f"a-{i}", "--type", "T", "--data", str(i)).assert_success()
    r = run(cli, srv, "--json", "subscribe", "--until-caught-up").assert_success()
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert [x["event"]["position"] for x in lines[:-1]] == [1, 2, 3]
    assert lines[-1] == {"caught_up": 3}
    r = run(cli, srv, "--json", "subscribe", "--after", "1", "--count", "1").assert_success()
    assert json.loads(r.stdout.splitlines()[0])["event"]["position"] == 2
    run(cli, srv, "snapshot", "save", "a-0", "1", "--payload", "state").assert_success()
    snap = run(cli, srv, "--json", "snapshot", "get", "a-0").assert_success().json()
    assert (snap["version"], snap["payload"]) == (1, "state")
    assert run(cli, srv, "snapshot", "save", "a-0", "5", "--payload", "x").exit_code == 2
    schema_file = tmp_path / "schema.json"
    schema_file.write_text(json.dumps({"name": "T", "fields": {"x": {"field_type": {"primitive": "STRING"}}}}))
    run(cli, srv, "schema", "upsert", str(schema_file)).assert_success()
    got = run(cli, srv, "--json", "schema", "get", "T").assert_success().json()
    assert got["fields"]["x"]["field_type"] == {"primitive": "STRING"}
    assert run(cli, srv, "schema", "get", "nope").exit_code == 3
    # The schema's history ($schema:T) is in $all; --exclude-prefix '$' hides it, in reads and subscriptions.
    every = run(cli, srv, "--json", "read-all").assert_success().json()
    assert [e["stream"] for e in every] == ["a-0", "a-1", "a-2", "$schema:T"]
    run(cli, srv, "append", "a-3", "--type", "T", "--data", '{"x": "3"}').assert_success()
    mine = run(cli, srv, "--json", "read-all", "--exclude-prefix", "$").assert_success().json()
    assert [e["stream"] for e in mine] == ["a-0", "a-1", "a-2", "a-3"]
    mine = run(cli, srv, "--json", "read-all", "--exclude-prefix", "$", "--backward", "--limit", "2").assert_success()
    assert [e["stream"] for e in mine.json()] == ["a-3", "a-2"]
    r = run(cli, srv, "--json", "subscribe", "--exclude-prefix", "$", "--count", "4").assert_success()
    assert [json.loads(x)["event"]["stream"] for x in r.stdout.splitlines() if '"event"' in x] == [
        "a-0",
        "a-1",
        "a-2",
        "a-3",
    ]
    assert run(cli, srv, "read-all", "--exclude-prefix", "$").exit_code == 0
    info = run(cli, srv, "--json", "metadata", "a-1", "--max-count", "5").assert_success().json()
    assert info["metadata"] == {"max_age": None, "max_count": 5}
    # A rule not given keeps its value; `none` removes one.
    info = run(cli, srv, "--json", "metadata", "a-1", "--max-age", "60").assert_success().json()
    assert info["metadata"] == {"max_age": 60, "max_count": 5}
    info = run(cli, srv, "--json", "metadata", "a-1", "--max-count", "none").assert_success().json()
    assert info["metadata"] == {"max_age": 60, "max_count": None}
    assert run(cli, srv, "metadata", "a-1", "--max-age", "-3").exit_code == 2
    assert run(cli, srv, "--json", "delete", "a-1").assert_success().json() == {"stream": "a-1", "version": 1}
    assert run(cli, srv, "read", "a-1").exit_code == 3


def test_console_script_and_graceful_sigterm(srv: Any) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from toolkit_graveyar.cli import main; main()",
            "--server",
            srv.address,
            "--json",
            "append",
            "x",
            "--type",
            "T",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert json.loads(out.stdout)["version"] == 1
    assert srv.terminate() == 0


def test_serve_refuses_bad_config(cli: Any, tmp_path: Path) -> None:
    r = cli("graveyar", "serve", "--data-dir", str(tmp_path), "--bind", "0.0.0.0:0")
    assert r.exit_code == 2
    assert "token" in r.stderr
    r = cli("graveyar", "serve", "--data-dir", str(tmp_path), "--bind", "127.0.0.1:99999")
    assert r.exit_code == 2
    assert "65535" in r.stderr
    # graveyar_db's operator environment: REQUIRE_TLS / REQUIRE_AUTH refuse an insecure start.
    r = cli("graveyar", "serve", "--data-dir", str(tmp_path), env={"REQUIRE_TLS": "true"})
    assert r.exit_code == 2
    assert "REQUIRE_TLS" in r.stderr
    r = cli("graveyar", "serve", "--data-dir", str(tmp_path), env={"REQUIRE_AUTH": "true"})
    assert r.exit_code == 2
    assert "REQUIRE_AUTH" in r.stderr
    r = cli("graveyar", "serve", "--data-dir", str(tmp_path), env={"PORT": "99999"})
    assert r.exit_code == 2
    assert "99999" in r.stderr
    r = cli("graveyar", "serve", "--backend", "postgres")
    assert r.exit_code == 2
    assert "--dsn" in r.stderr


def test_serve_honours_graveyar_db_environment(proc_server: Any, tmp_path: Path) -> None:
    env = {"PORT": "0", "DB_PATH": str(tmp_path / "db"), "AUTH_TOKEN": "s3cret"}
    srv = proc_server(env=env)
    assert srv.address.startswith("127.0.0.1:")
    assert (tmp_path / "db").is_dir()
    with GraveyarClient(srv.address, token="s3cret") as c:
        assert c.list_streams() == []
    with GraveyarClient(srv.address, retries=0) as c, pytest.raises(Unauthenticated):
        c.list_streams()


def test_second_server_on_same_data_dir_is_refused(proc_server: Any, tmp_path: Path) -> None:
    proc_server("--data-dir", str(tmp_path / "d"), "--bind", "127.0.0.1:0")
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from toolkit_graveyar.cli import main; main()",
            "serve",
            "--data-dir",
            str(tmp_path / "d"),
            "--bind",
            "127.0.0.1:0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 5
    assert "in use" in out.stderr


def test_serve_reports_busy_port_and_dead_postgres(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        out = subprocess.run(
            [sys.executable, "-c", "from toolkit_graveyar.cli import main; main()", "serve", "--data-dir",
             str(tmp_path / "d"), "--bind", f"127.0.0.1:{port}"],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    assert out.returncode == 5
    assert "cannot listen" in out.stderr
    assert "Traceback" not in out.stderr
    out = subprocess.run(
        [sys.executable, "-c", "from toolkit_graveyar.cli import main; main()", "serve", "--backend", "postgres",
         "--dsn", f"postgresql://nobody@127.0.0.1:{port}/x", "--bind", "127.0.0.1:0"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert out.returncode == 6
    assert "cannot use PostgreSQL" in out.stderr


def test_corrupted_lmdb_file_is_reported(tmp_path: Path) -> None:
    env = tmp_path / "d" / "lmdb"
    env.mkdir(parents=True)
    (env / "data.mdb").write_bytes(b"this is not an lmdb file" * 1000)
    out = subprocess.run(
        [sys.executable, "-c", "from toolkit_graveyar.cli import main; main()", "serve", "--data-dir",
         str(tmp_path / "d"), "--bind", "127.0.0.1:0"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert out.returncode == 7, out.stderr
    assert "not a readable graveyar LMDB environment" in out.stderr
    assert "Traceback" not in out.stderr

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest

from toolkit_pom.core.config import load_config
from toolkit_pom.errors import PomConfigError
from toolkit_pom.testing import write_project


def test_full_toml(tmp_path: Path) -> None:
    (tmp_path / "web").mkdir()
    cfg_path = write_project(
        tmp_path,
        """
        [project]
        name = "demo"
        env = { SHARED = "1" }
        log_max_bytes = "1MiB"

        [processes.db]
        argv = ["python", "-c", "print(1)"]
        readiness = { tcp = "127.0.0.1:5432", period = 0.5 }

        [processes.web]
        command = "python -m http.server $PORT"
        cwd = "web"
        env = { PORT = "8000" }
        depends_on = { db = "healthy" }
        liveness = { http = "http://127.0.0.1:800${POM_REPLICA}/", failure_threshold = 2 }
        restart = "on_failure"
        max_restarts = 3
        shutdown_signal = "INT"
        replicas = 2
        """,
        {".env": "FROM_DOTENV=yes\n"},
    )
    cfg = load_config(cfg_path)
    assert cfg.name == "demo"
    web = cfg.processes["web"]
    assert web.argv == ("/bin/sh", "-c", "python -m http.server $PORT")
    assert web.cwd == tmp_path / "web"
    assert web.env["SHARED"] == "1"
    assert web.env["FROM_DOTENV"] == "yes"
    assert web.env["PORT"] == "8000"
    assert web.depends_on == {"db": "healthy"}
    assert web.shutdown_signal == signal.SIGINT
    assert web.instance_names() == ["web.1", "web.2"]
    assert web.log_max_bytes == 1024 * 1024
    assert cfg.processes["db"].readiness is not None
    assert cfg.processes["db"].readiness.period == 0.5


@pytest.mark.parametrize(
    ("body", "key", "needle"),
    [
        ('[processes.a]\ncommand = "x"\nrestrat = "no"\n', "processes.a.restrat", "did you mean 'restart'"),
        ('[processes.a]\ncommand = "x"\nrestart = "sometimes"\n', "processes.a.restart", "on_failure"),
        ('[processes.a]\ncommand = "x"\nreplicas = 0\n', "processes.a.replicas", "between 1 and 64"),
        ('[processes.a]\ncommand = "x"\nshutdown_timeout = "soon"\n', "processes.a.shutdown_timeout", "number"),
        ('[processes.a]\ncommand = "x"\ndepends_on = { b = "started" }\n', "processes.a.depends_on.b", "processes"),
        (
            '[processes.a]\ncommand = "x"\n[processes.b]\ncommand = "y"\ndepends_on = { a = "healthy" }\n',
            "processes.b.depends_on.a",
            "readiness",
        ),
        ('[processes.a]\ncommand = "x"\ndepends_on = { a = "bogus" }\n', "processes.a.depends_on.a", "completed"),
        ('[processes.a]\ncommand = "x"\nreadiness = { tcp = "nope" }\n', "processes.a.readiness.tcp", "host:port"),
        ('[processes.a]\ncommand = "x"\nreadiness = { log = "(" }\n', "processes.a.readiness.log", "regular"),
        ('[processes.a]\ncommand = "x"\nargv = ["y"]\n', "processes.a", "exactly one"),
        ('[processes.a]\nservice = "no-such-service"\n', "processes.a.service", "available services"),
        ('[processes.a]\ncommand = "x"\nshutdown_signal = "SIGNOPE"\n', "processes.a.shutdown_signal", "SIGINT"),
        ('[project]\nnmae = "x"\n[processes.a]\ncommand = "x"\n', "project.nmae", "did you mean 'name'"),
        ('[processes.a]\ncommand = "x"\ndisabled = "yes"\n', "processes.a.disabled", "true or false"),
        ('[processes.a]\ncommand = "x"\nreplicas = true\n', "processes.a.replicas", "number"),
        ('[processes.a]\ncommand = "x"\nreadiness = { period = 1 }\n', "processes.a.readiness", "exactly one of"),
        ('[processes.a]\ncommand = "x"\nliveness = { log = "up" }\n', "processes.a.liveness.log", "exec, http"),
        (
            '[processes.a]\ncommand = "x"\ndepends_on = { b = { when = "x" } }\n',
            "processes.a.depends_on.b.when",
            "condition",
        ),
    ],
)
def test_bad_values_name_file_key_and_hint(tmp_path: Path, body: str, key: str, needle: str) -> None:
    path = tmp_path / "pom.toml"
    path.write_text(body)
    with pytest.raises(PomConfigError) as info:
        load_config(path)
    err = info.value
    assert err.details["file"] == str(path)
    assert err.details["key"] == key
    assert needle in (err.hint or "") + err.message


def test_cycle_is_rejected(tmp_path: Path) -> None:
    path = write_project(
        tmp_path,
        """
        [processes.a]
        command = "x"
        depends_on = ["b"]
        [processes.b]
        command = "y"
        depends_on = ["a"]
        """,
    )
    with pytest.raises(PomConfigError, match="cycle"):
        load_config(path)


def test_toml_syntax_error(tmp_path: Path) -> None:
    path = tmp_path / "pom.toml"
    path.write_text("[processes.a\ncommand = 1")
    with pytest.raises(PomConfigError, match="not valid TOML"):
        load_config(path)


def test_procfile_ports_formation_and_dotenv(tmp_path: Path) -> None:
    (tmp_path / "Procfile").write_text("# comment\nweb: python app.py\n\nworker: python worker.py\nclock: sleep 1\n")
    (tmp_path / ".env").write_text("export A=1\nB=\"two words\"\nC='lit $X'\n# c\nD=plain # trailing\n")
    cfg = load_config(tmp_path / "Procfile", formation="web=2,clock=0")
    web, worker, clock = cfg.processes["web"], cfg.processes["worker"], cfg.processes["clock"]
    assert web.instance_names() == ["web.1", "web.2"]
    assert web.port == 5000
    assert worker.port == 5100
    assert clock.port == 5200
    assert clock.disabled
    assert worker.instance_names() == ["worker"]
    assert web.env == {"A": "1", "B": "two words", "C": "lit $X", "D": "plain"}
    assert web.argv == ("/bin/sh", "-c", "python app.py")


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("web python app.py\n", "expected 'name: command'"),
        ("web: a\nweb: b\n", "duplicate"),
        ("bad name: x\n", "name: command"),
    ],
)
def test_bad_procfile(tmp_path: Path, text: str, needle: str) -> None:
    (tmp_path / "Procfile").write_text(text)
    with pytest.raises(PomConfigError, match=needle) as info:
        load_config(tmp_path / "Procfile")
    assert info.value.details["file"].endswith("Procfile")
    assert info.value.details["line"] >= 1


def test_bad_dotenv_line(tmp_path: Path) -> None:
    (tmp_path / "Procfile").write_text("web: x\n")
    (tmp_path / ".env").write_text("OK=1\nthis is not an assignment\n")
    with pytest.raises(PomConfigError, match=r"\.env:2"):
        load_config(tmp_path / "Procfile")


def test_unknown_formation_name(tmp_path: Path) -> None:
    (tmp_path / "Procfile").write_text("web: x\n")
    with pytest.raises(PomConfigError, match="unknown processes: api"):
        load_config(tmp_path / "Procfile", formation="api=2")


def test_check_command_exit_codes(tmp_path: Path, cli: Any) -> None:
    good = write_project(tmp_path / "good", '[processes.a]\ncommand = "echo hi"\n')
    result = cli("pom", "check", "-f", str(good), "--json")
    result.assert_success()
    assert result.json()["processes"][0]["name"] == "a"
    bad = write_project(tmp_path / "bad", '[processes.a]\ncommand = "x"\nbogus = 1\n')
    result = cli("pom", "check", "-f", str(bad), "--json")
    assert result.exit_code == 2
    assert "Traceback" not in result.output + result.stderr
    import json

    err = json.loads(result.stderr)["error"]
    assert err["kind"] == "config"
    assert err["details"]["key"] == "processes.a.bogus"


def test_discovery_walks_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_project(tmp_path, '[processes.a]\ncommand = "x"\n')
    sub = tmp_path / "deep" / "er"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    assert load_config().file == tmp_path / "pom.toml"
    monkeypatch.chdir("/")
    with pytest.raises(PomConfigError, match=r"no pom\.toml, process-compose\.yaml or Procfile"):
        load_config()


def test_check_accepts_honcho_style_env_lists(tmp_path: Path, cli: Any) -> None:
    (tmp_path / "Procfile").write_text("web: x\n")
    (tmp_path / "a.env").write_text("A=1\nB=1\n")
    (tmp_path / "b.env").write_text("B=2\n")
    result = cli(
        "pom", "check", "-f", str(tmp_path / "Procfile"), "-e", f"{tmp_path / 'a.env'},{tmp_path / 'b.env'}", "--json"
    )
    result.assert_success()
    assert load_config(tmp_path / "Procfile", env_files=[tmp_path / "a.env", tmp_path / "b.env"]).processes[
        "web"
    ].env == {
        "A": "1",
        "B": "2",
    }


def test_replicas_sharing_one_probe_target_is_a_config_error(tmp_path: Path) -> None:
    toml = '[processes.web]\ncommand = "x"\nreplicas = 2\nreadiness = { tcp = "127.0.0.1:8000" }\n'
    with pytest.raises(PomConfigError, match="2 replicas would all probe") as info:
        load_config(write_project(tmp_path, toml))
    assert info.value.details["key"] == "processes.web.readiness"

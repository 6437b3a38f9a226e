"""process-compose files: loading, merging, templates, errors, and how a run ends (specs/pom/process-compose.md)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from toolkit_pom.core.config import load_config
from toolkit_pom.core.envsubst import expand
from toolkit_pom.core.gotemplate import TemplateError, render
from toolkit_pom.errors import PomConfigError


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def pom_up(directory: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "toolkit_pom", "up", "--headless", "--no-http", *args]
    return subprocess.run(argv, cwd=directory, capture_output=True, text=True, timeout=timeout, check=False)


def test_discovers_compose_file_and_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "process-compose.yaml", "processes:\n  web:\n    command: echo base\n    namespace: a\n")
    write(tmp_path / "process-compose.override.yaml", "processes:\n  web:\n    command: echo over\n")
    monkeypatch.chdir(tmp_path)
    config = load_config()
    assert config.kind == "compose"
    web = config.processes["web"]
    assert web.argv[-1] == "echo over"
    assert web.namespace == "a"
    assert config.files == (tmp_path / "process-compose.yaml", tmp_path / "process-compose.override.yaml")


def test_several_files_merge_in_order(tmp_path: Path) -> None:
    a = write(
        tmp_path / "a.yaml",
        """
        environment: ["X=1", "Y=1"]
        processes:
          web:
            command: echo a
            environment: ["P=a"]
            availability: {restart: on_failure, max_restarts: 2}
        """,
    )
    b = write(
        tmp_path / "b.yml",
        """
        environment: ["Y=2"]
        processes:
          web:
            environment: ["Q=b"]
            availability: {max_restarts: 5}
          worker:
            command: echo w
        """,
    )
    config = load_config([a, b])
    web = config.processes["web"]
    assert web.argv[-1] == "echo a"
    assert web.restart == "on_failure"
    assert web.max_restarts == 5
    assert {k: web.env[k] for k in ("X", "Y", "P", "Q")} == {"X": "1", "Y": "2", "P": "a", "Q": "b"}
    assert list(config.processes) == ["web", "worker"]


def test_extends_loads_the_base_first_with_its_directory(tmp_path: Path) -> None:
    write(tmp_path / "base" / "pc.yaml", "processes:\n  db:\n    command: echo db\n  web:\n    command: echo old\n")
    top = write(tmp_path / "app" / "pc.yaml", "extends: ../base/pc.yaml\nprocesses:\n  web:\n    command: echo new\n")
    config = load_config([top])
    assert config.processes["db"].cwd == (tmp_path / "base").resolve()
    assert config.processes["web"].argv[-1] == "echo new"
    assert config.files[0] == (tmp_path / "base" / "pc.yaml").resolve()


def test_extending_itself_is_an_error(tmp_path: Path) -> None:
    top = write(tmp_path / "pc.yaml", "extends: pc.yaml\nprocesses:\n  a:\n    command: x\n")
    with pytest.raises(PomConfigError, match="already being loaded") as info:
        load_config([top])
    assert info.value.details["key"] == "extends"


def test_templates_render_per_replica(tmp_path: Path) -> None:
    f = write(
        tmp_path / "process-compose.yaml",
        """
        vars: {BASE: "80"}
        processes:
          srv:
            command: "serve {{.BASE}}{{.PC_REPLICA_NUM}} {{ or .MISSING \\"dflt\\" }}"
            replicas: 11
            readiness_probe:
              http_get: {port: "{{.BASE}}{{.PC_REPLICA_NUM}}", path: /health}
        """,
    )
    spec = load_config([f]).processes["srv"]
    names = spec.instance_names()
    assert names[0] == "srv-00"
    assert names[-1] == "srv-10"
    assert len(names) == 11
    third = spec.for_replica(3)
    assert third.argv[-1] == "serve 802 dflt"
    assert third.readiness is not None
    assert third.readiness.target == "http://127.0.0.1:802/health"
    assert third.env["PC_REPLICA_NUM"] == "2"


def test_env_expansion_and_dollar_escape(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PCT_SET", "yes")
    write(tmp_path / ".env", "FROM_DOTENV=dot\n")
    f = write(
        tmp_path / "pc.yaml",
        'processes:\n  a:\n    command: "echo ${PCT_SET} ${FROM_DOTENV} ${NOPE:-d} $$HOME $KEEP"\n',
    )
    assert load_config([f]).processes["a"].argv[-1] == "echo yes dot d $HOME $KEEP"


def test_yaml_no_is_a_string_and_bools_read_as_text(tmp_path: Path) -> None:
    f = write(
        tmp_path / "pc.yaml",
        "processes:\n  a:\n    command: x\n    availability: {restart: no}\n"
        "    readiness_probe: {exec: {command: false}}\n",
    )
    spec = load_config([f]).processes["a"]
    assert spec.restart == "no"
    assert spec.readiness is not None
    assert spec.readiness.target == "false"


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ("processes:\n  a:\n    command: x\n    bogus: 1\n", "processes.a.bogus"),
        (
            "processes:\n  a:\n    command: x\n    availability: {restart: sometimes}\n",
            "processes.a.availability.restart",
        ),
        ("processes:\n  a:\n    command: x\n    replicas: many\n", "processes.a.replicas"),
        (
            "processes:\n  a:\n    command: x\n    depends_on: {b: {condition: whenever}}\n  b:\n    command: y\n",
            "processes.a.depends_on.b.condition",
        ),
        ("processes:\n  a:\n    command: x\n    depends_on: {ghost: {}}\n", "processes.a.depends_on.ghost"),
        ("nonsense: 1\nprocesses:\n  a:\n    command: x\n", "nonsense"),
    ],
)
def test_errors_name_file_path_and_key(tmp_path: Path, body: str, key: str) -> None:
    f = write(tmp_path / "pc.yaml", body)
    with pytest.raises(PomConfigError) as info:
        load_config([f])
    assert info.value.details == {"file": str(f), "key": key}
    assert str(f) in str(info.value)
    assert key in str(info.value)


def test_x_extension_keys_are_allowed(tmp_path: Path) -> None:
    f = write(tmp_path / "pc.yaml", "x-common: &c {command: x}\nprocesses:\n  a:\n    x-note: hi\n    command: x\n")
    assert "a" in load_config([f]).processes


def test_check_cli_reports_error_json(tmp_path: Path) -> None:
    f = write(tmp_path / "pc.yaml", "processes:\n  a:\n    comand: x\n")
    result = subprocess.run(
        [sys.executable, "-m", "toolkit_pom", "check", "--json", "-f", str(f)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    err = json.loads(result.stderr)["error"]
    assert err["details"] == {"file": str(f), "key": "processes.a.comand"}
    assert "Traceback" not in result.stderr


def test_gotemplate_subset() -> None:
    data = {"A": "x", "N": 0, "T": True}
    assert render("{{.A}}-{{ .N }}-{{.Missing}}", data) == "x-0-<no value>"
    assert render("{{if .T}}yes{{else}}no{{end}} {{if .N}}a{{else if .A}}b{{end}}", data) == "yes b"
    assert render('{{ "{{.Inner}}" }} {{printf "%s/%d" .A 3}} {{ .A | printf "<%s>" }}', data) == "{{.Inner}} x/3 <x>"
    assert render("a  {{- .A -}}  b", data) == "axb"
    with pytest.raises(TemplateError):
        render("{{range .A}}{{end}}", data)
    with pytest.raises(TemplateError):
        render("{{if .A}}", data)


def test_envsubst_forms() -> None:
    env = {"A": "1", "E": ""}
    assert expand("${A} ${B:-d} ${E:-d} ${E=d} ${B=d} ${B:=x} $A", env.get) == "1 d d  d x $A"


def test_run_ends_like_process_compose(tmp_path: Path) -> None:
    write(
        tmp_path / "process-compose.yaml",
        """
        processes:
          fails:
            command: "exit 3"
          needs_success:
            command: "echo never"
            depends_on: {fails: {condition: process_completed_successfully}}
          after_any:
            command: "echo after"
            depends_on: {fails: {condition: process_completed}}
          chained:
            command: "echo chained"
            depends_on: {needs_success: {condition: process_completed_successfully}}
        """,
    )
    result = pom_up(tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert re.search(r"needs_success +\| \[pom\] skipped: fails did not complete successfully", out)
    assert re.search(r"chained +\| \[pom\] skipped", out)
    assert not re.search(r"chained +\| chained", out)
    assert re.search(r"after_any +\| after", out)
    assert "never" not in out.replace("echo never", "")


def test_exit_on_end_and_exit_on_skipped_set_the_exit_code(tmp_path: Path) -> None:
    write(
        tmp_path / "process-compose.yaml",
        """
        processes:
          main:
            command: "exit 7"
            availability: {exit_on_end: true}
          forever:
            command: "sleep 60"
        """,
    )
    assert pom_up(tmp_path).returncode == 7
    write(
        tmp_path / "process-compose.yaml",
        """
        processes:
          bad:
            command: "exit 1"
          dependent:
            command: "sleep 60"
            availability: {exit_on_skipped: true}
            depends_on: {bad: {condition: process_completed_successfully}}
        """,
    )
    assert pom_up(tmp_path).returncode == 1


def test_disabled_dependency_is_not_waited_for(tmp_path: Path) -> None:
    write(
        tmp_path / "process-compose.yaml",
        """
        processes:
          off:
            command: "echo off"
            disabled: true
          web:
            command: "echo web ran"
            depends_on: {off: {condition: process_completed_successfully}}
        """,
    )
    result = pom_up(tmp_path, timeout=30)
    assert result.returncode == 0
    assert "dependency off is disabled; not waiting for it" in result.stdout
    assert re.search(r"web +\| web ran", result.stdout)


def test_shutdown_command_daemon_and_ready_log_line(tmp_path: Path) -> None:
    """is_daemon: the launcher exits 0, the daemon runs until pom stops it with shutdown.command."""
    write(
        tmp_path / "process-compose.yaml",
        """
        processes:
          daemon:
            command: "sh -c 'echo $$$$ > daemon.pid; exec sleep 300' > /dev/null 2>&1 & echo launched"
            is_daemon: true
            shutdown:
              command: "kill $(cat daemon.pid) && echo shutdown ran"
              timeout_seconds: 5
          logger:
            command: "echo warming; echo server is up now; exec sleep 300"
            ready_log_line: "is up"
          after:
            # The pause lets the daemon's launcher exit (and pom note it) before exit_on_end stops all.
            command: "sleep 1; echo after ran"
            depends_on:
              logger: {condition: process_log_ready}
            availability: {exit_on_end: true}
        """,
    )
    result = pom_up(tmp_path, timeout=90)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert re.search(r"daemon +\| \[pom\] daemon launched", out)
    assert re.search(r"after +\| after ran", out)
    assert re.search(r"daemon +\| shutdown ran", out)
    pid = int((tmp_path / "daemon.pid").read_text())
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split(")")[1][:3]


def test_is_interactive_is_pom_toml_interactive(tmp_path: Path) -> None:
    yaml_config = load_config(
        write(
            tmp_path / "process-compose.yaml",
            "processes:\n  repl:\n    command: sh\n    is_interactive: true\n  b:\n    command: x\n",
        )
    )
    assert yaml_config.processes["repl"].interactive
    assert not yaml_config.processes["b"].interactive
    toml_config = load_config(write(tmp_path / "pom.toml", '[processes.repl]\ncommand = "sh"\ninteractive = true\n'))
    assert toml_config.processes["repl"].interactive
    with pytest.raises(PomConfigError, match="interactive"):
        load_config(write(tmp_path / "bad.toml", '[processes.repl]\ncommand = "sh"\ninteractive = "maybe"\n'))

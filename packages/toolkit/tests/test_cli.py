from __future__ import annotations

import json
import subprocess
import sys

import pytest

from toolkit import __version__


def test_version(cli):
    result = cli("--version").assert_success()
    assert result.stdout.strip() == f"toolkit {__version__}"


def test_plugin_command_runs_with_human_and_json_output(cli, plugin_manager, make_plugin):
    plugin_manager(make_plugin("hello"))
    assert cli("hello", "greet", "you").assert_success().stdout == "hello you\n"
    assert cli("hello", "greet", "--json").assert_success().json() == {"greeting": "hello world"}
    # --json on the root applies to the whole chain
    assert cli("--json", "hello", "greet").assert_success().json() == {"greeting": "hello world"}


def test_plugins_lists_commands_and_services(cli, plugin_manager, make_plugin):
    plugin_manager(make_plugin("hello", service=True), make_plugin("other"))
    data = cli("plugins", "--json").assert_success().json()
    names = {p["name"]: p for p in data["plugins"]}
    assert set(names) == {"fake_hello", "fake_other"}
    assert names["fake_hello"]["commands"] == ["hello"]
    assert names["fake_hello"]["services"] == ["hello"]
    assert data["broken"] == []
    human = cli("plugins").assert_success().stdout
    assert "commands: hello" in human


def test_services_json(cli, plugin_manager, make_plugin):
    plugin_manager(make_plugin("hello", service=True))
    data = cli("services", "--json").assert_success().json()
    assert data["services"][0]["readiness"] == {"kind": "tcp", "target": "127.0.0.1:9999"}
    assert data["services"][0]["argv"] == ["toolkit", "hello", "serve"]


def test_toolkit_error_maps_to_exit_code_without_traceback(cli, plugin_manager, make_plugin):
    plugin_manager(make_plugin("hello"))
    result = cli("hello", "find", "thing")
    assert result.exit_code == 3
    assert "error: no thing here" in result.stderr
    assert "hint: try `greet`" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert cli("hello", "clash").exit_code == 4


def test_json_errors_go_to_stderr_as_json(cli, plugin_manager, make_plugin):
    plugin_manager(make_plugin("hello"))
    result = cli("--json", "hello", "find", "thing")
    assert result.exit_code == 3
    assert result.stdout == ""
    payload = json.loads(result.stderr)
    assert payload == {
        "error": {"kind": "not_found", "message": "no thing here", "hint": "try `greet`", "details": {"what": "thing"}}
    }


def test_unexpected_exception_is_reported_as_internal(cli, plugin_manager, make_plugin):
    plugin_manager(make_plugin("hello"))
    result = cli("hello", "crash")
    assert result.exit_code == 1
    assert "internal error: RuntimeError: boom" in result.stderr
    assert "TOOLKIT_DEBUG" in result.stderr


def test_ctrl_c_exits_130_quietly(cli, plugin_manager, make_plugin):
    plugin_manager(make_plugin("hello"))
    result = cli("hello", "interrupted")
    assert result.exit_code == 130
    assert "Traceback" not in result.stderr


def test_duplicate_command_names_are_refused(cli, plugin_manager, make_plugin):
    plugin_manager(make_plugin("one", "same"), make_plugin("two", "same"))
    result = cli("same", "greet")
    assert result.exit_code == 4
    assert "both provide the command 'same'" in result.stderr


def test_plugin_may_not_take_a_host_command(cli, plugin_manager, make_plugin):
    plugin_manager(make_plugin("evil", "plugins"))
    result = cli("plugins")
    assert result.exit_code == 4
    assert "the toolkit host" in result.stderr


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_script(cli, shell):
    script = cli("completion", shell).assert_success().stdout
    assert "_TOOLKIT_COMPLETE" in script


def test_completion_answers_for_real(tmp_path):
    env = {"_TOOLKIT_COMPLETE": "bash_complete", "COMP_WORDS": "toolkit pl", "COMP_CWORD": "1", "PATH": ""}
    out = subprocess.run(
        [sys.executable, "-m", "toolkit"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert "plugins" in out.stdout


def test_unknown_command_is_a_usage_error(cli):
    result = cli("no-such-system")
    assert result.exit_code == 2
    assert "No such command" in result.stderr

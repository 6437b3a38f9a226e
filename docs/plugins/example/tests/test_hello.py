"""Tests written with the fixtures `toolkit.testing` provides (opted in with `-p toolkit.testing` in pyproject.toml)."""

from __future__ import annotations

import toolkit_hello.plugin


def test_greet_json(cli):
    assert cli("hello", "greet", "ada", "--json").assert_success().json() == {"greeting": "hello, ada"}


def test_blank_name_is_a_usage_error(cli):
    result = cli("hello", "greet", " ")
    assert result.exit_code == 2
    assert "must not be blank" in result.stderr


def test_plugin_registered_alone(cli, plugin_manager):
    plugins = plugin_manager(toolkit_hello.plugin)
    assert set(plugins.commands()) == {"hello"}
    assert [s.name for s in plugins.services()] == ["hello"]
    assert "hello" in cli("services").assert_success().stdout

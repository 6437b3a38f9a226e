"""Entry-point discovery for real: a temporary distribution on sys.path, `toolkit` in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

GOOD = '''
from __future__ import annotations
import click
from toolkit import hookimpl

@click.group("good")
def good():
    """A good plugin."""

@good.command()
def ping():
    click.echo("pong")

@hookimpl
def toolkit_commands():
    return [good]
'''

BROKEN = "raise ImportError('this plugin is broken on purpose')\n"


def _install(site: Path, dist: str, module: str, source: str) -> None:
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{dist.replace('-', '_')}-1.2.3.dist-info"  # dist-info dir names use underscores
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text(f"[toolkit]\n{module.removeprefix('tk_')} = {module}\n")


@pytest.fixture
def site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    site.mkdir()
    _install(site, "tk-good", "tk_good", GOOD)
    _install(site, "tk-broken", "tk_broken", BROKEN)
    return site


def _toolkit(site: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    # Only the two test plugins: whatever else is installed in this venv must not interfere.
    env.setdefault("TOOLKIT_LOAD_PLUGINS", "good,broken")
    full_env = {**os.environ, "PYTHONPATH": str(site), **env}
    for var in ("TOOLKIT_DISABLE_PLUGINS", "TOOLKIT_LOAD_PLUGINS", "TOOLKIT_STRICT_PLUGINS"):
        if var not in env:
            full_env.pop(var, None)
    return subprocess.run(
        [sys.executable, "-m", "toolkit", *args], env=full_env, capture_output=True, text=True, timeout=120, check=False
    )


def test_broken_plugin_is_reported_and_skipped(site):
    out = _toolkit(site, "good", "ping")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "pong\n"
    assert "plugin 'broken' skipped" in out.stderr
    listing = json.loads(_toolkit(site, "plugins", "--json").stdout)
    good = next(p for p in listing["plugins"] if p["name"] == "good")
    assert good["distribution"] == "tk-good"
    assert good["version"] == "1.2.3"
    assert good["module"] == "tk_good"
    assert any(b["name"] == "broken" and "broken on purpose" in b["error"] for b in listing["broken"])


def test_strict_mode_turns_a_broken_plugin_into_an_error(site):
    out = _toolkit(site, "plugins", TOOLKIT_STRICT_PLUGINS="1")
    assert out.returncode == 1
    assert "plugin 'broken' failed" in out.stderr
    assert "Traceback" not in out.stderr


def test_disable_and_allowlist(site):
    out = _toolkit(site, "plugins", "--json", TOOLKIT_DISABLE_PLUGINS="broken", TOOLKIT_STRICT_PLUGINS="1")
    assert out.returncode == 0, out.stderr
    assert "good" in {p["name"] for p in json.loads(out.stdout)["plugins"]}
    out = _toolkit(site, "plugins", "--json", TOOLKIT_LOAD_PLUGINS="good")
    assert [p["name"] for p in json.loads(out.stdout)["plugins"]] == ["good"]
    out = _toolkit(site, "good", "ping", TOOLKIT_LOAD_PLUGINS="")
    assert out.returncode == 2  # nothing loaded: `good` is an unknown command


def test_strict_failure_during_help_has_no_traceback(site):
    out = _toolkit(site, "--help", TOOLKIT_STRICT_PLUGINS="1")
    assert out.returncode == 1
    assert "plugin 'broken' failed" in out.stderr
    assert "Traceback" not in out.stderr

"""The entry-point index and the help fast path, on real distributions in a temporary site dir."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from toolkit.plugins import ToolkitPlugins
from toolkit_kernel import __version__
from toolkit_kernel.paths import toolkit_cache

PLUGIN = '''
from __future__ import annotations
import click
from toolkit import hookimpl

@click.group("{name}")
def group():
    """{help}"""

@group.command()
def ping():
    click.echo("pong from {name}")

def main():
    group.main(prog_name="{name}")

@hookimpl
def toolkit_commands():
    return [group]
'''

PROBE = """
import json, sys
sys.argv = [sys.argv[1], *sys.argv[2:]]
import toolkit.scripts
try:
    getattr(toolkit.scripts, sys.argv[0])()
except SystemExit:
    pass
sys.stdout.flush()
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def _install(site: Path, name: str, help_text: str) -> None:
    (site / f"tk_{name}.py").write_text(textwrap.dedent(PLUGIN.format(name=name, help=help_text)))
    info = site / f"tk_{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: tk-{name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        f"[toolkit]\n{name} = tk_{name}\n\n[toolkit.scripts]\n{name} = tk_{name}:main\n"
    )


@pytest.fixture
def site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    site.mkdir()
    _install(site, "alpha", "The alpha system.")
    _install(site, "beta", "The beta system.")
    return site


def _run(site: Path, prog: str, *args: str, **env: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run the console-script launcher `prog` as an installed script would, and see what it imported."""
    full = {**os.environ, "PYTHONPATH": str(site), "TOOLKIT_LOAD_PLUGINS": "alpha,beta", "COLUMNS": "80", **env}
    for var in ("TOOLKIT_STRICT_PLUGINS", "TOOLKIT_DISABLE_PLUGINS"):
        if var not in env:
            full.pop(var, None)
    if env.get("TOOLKIT_LOAD_PLUGINS") == "<unset>":
        full.pop("TOOLKIT_LOAD_PLUGINS")
    out = subprocess.run(
        [sys.executable, "-c", PROBE, prog, *args], env=full, capture_output=True, text=True, timeout=120, check=False
    )
    modules = set(json.loads(out.stderr.strip().splitlines()[-1]))
    return out, modules


def _index_files() -> list[Path]:
    return sorted(toolkit_cache().glob("entry-points-*.marshal"))


def test_help_comes_from_the_index_without_importing_plugins_click_or_pluggy(site):
    unset = {"TOOLKIT_LOAD_PLUGINS": "<unset>"}  # filters would (rightly) disable the fast path
    first, first_modules = _run(site, "toolkit", "--help", **unset)
    assert first.returncode == 0, first.stderr
    assert {"tk_alpha", "tk_beta", "pluggy"} <= first_modules  # no index yet: a full load, which writes it
    assert len(_index_files()) == 1
    again, modules = _run(site, "toolkit", "--help", **unset)
    assert again.stdout == first.stdout
    assert re.search(r"^  alpha +The alpha system\.$", again.stdout, re.M)
    assert not {"tk_alpha", "tk_beta", "pluggy", "click", "importlib.metadata"} & modules
    strict, _ = _run(site, "toolkit", "--help", TOOLKIT_STRICT_PLUGINS="1", **unset)
    assert strict.stdout == again.stdout  # the stored text is what click prints
    script, modules = _run(site, "alpha", "--help", **unset)
    assert script.stdout.startswith("Usage: alpha [OPTIONS] COMMAND [ARGS]...")
    assert "--version" in script.stdout
    assert not {"tk_alpha", "click"} & modules
    version, modules = _run(site, "toolkit", "--version", **unset)
    assert (version.stdout, "click" in modules) == (f"toolkit {__version__}\n", False)


def test_a_command_loads_only_the_plugin_that_owns_it(site):
    unset = {"TOOLKIT_LOAD_PLUGINS": "<unset>"}
    _run(site, "toolkit", "plugins", **unset)  # a full load (no filters) writes the index
    out, modules = _run(site, "toolkit", "alpha", "ping", **unset)
    assert (out.returncode, out.stdout) == (0, "pong from alpha\n")
    assert "tk_alpha" in modules
    assert "tk_beta" not in modules
    script, modules = _run(site, "beta", "ping", **unset)
    assert (script.returncode, script.stdout) == (0, "pong from beta\n")


def test_index_is_rebuilt_when_a_plugin_changes_or_is_installed(site):
    unset = {"TOOLKIT_LOAD_PLUGINS": "<unset>"}
    _run(site, "toolkit", "--help", **unset)
    time.sleep(0.01)
    module = site / "tk_alpha.py"
    module.write_text(module.read_text().replace("The alpha system.", "Alpha, edited."))
    out, modules = _run(site, "toolkit", "--help", **unset)
    assert "Alpha, edited." in out.stdout
    assert "tk_alpha" in modules  # stale index: a full load again
    _install(site, "gamma", "The gamma system.")
    out, _ = _run(site, "toolkit", "--help", **unset)
    assert re.search(r"^  gamma +The gamma system\.$", out.stdout, re.M)


def test_another_width_or_filters_bypass_the_stored_help(site):
    unset = {"TOOLKIT_LOAD_PLUGINS": "<unset>"}
    _run(site, "toolkit", "--help", **unset)
    narrow, modules = _run(site, "toolkit", "--help", COLUMNS="60", **unset)
    assert "click" in modules  # not the stored 78-column text
    assert max(len(line) for line in narrow.stdout.splitlines()) <= 58
    only_beta, _ = _run(site, "toolkit", "--help", TOOLKIT_LOAD_PLUGINS="beta")
    assert "beta" in only_beta.stdout
    assert "alpha" not in only_beta.stdout


def test_hooks_are_called_through_pm_hook_for_every_plugin_and_the_host(make_plugin):
    plugins = ToolkitPlugins([make_plugin("hello")], load_entry_points=False)
    calls: list[tuple[str, list[str]]] = []

    def before(hook_name, impls, kwargs):
        calls.append((hook_name, sorted(plugins.pm.get_name(impl.plugin) or "?" for impl in impls)))

    plugins.pm.add_hookcall_monitoring(before, lambda *args: None)
    assert set(plugins.commands()) == {"completion", "mcp", "plugins", "services", "hello"}
    assert calls == [("toolkit_commands", ["toolkit"]), ("toolkit_commands", ["fake_hello"])]
    assert "toolkit" not in plugins.infos  # the built-in plugin is the host, not an installed plugin


def _keep_times(*paths: Path) -> list[tuple[Path, int, int]]:
    return [(p, p.stat().st_atime_ns, p.stat().st_mtime_ns) for p in paths]


def _restore_times(saved: list[tuple[Path, int, int]]) -> None:
    for path, atime, mtime in saved:
        os.utime(path, ns=(atime, mtime))


def test_a_stale_entry_behind_a_trusted_index_is_rebuilt_and_retried(site):
    """A plugin moved to another module while every time the index checks stayed the same."""
    unset = {"TOOLKIT_LOAD_PLUGINS": "<unset>"}
    _run(site, "toolkit", "plugins", **unset)  # writes the index: alpha lives in tk_alpha
    old_module = site / "tk_alpha.py"
    saved = _keep_times(site, old_module)
    source = old_module.read_text()
    (site / "tk_alpha_v2.py").write_text(source.replace("pong from", "v2 pong from"))
    old_module.write_text(source.replace("return [group]", "return []").replace("def main():", "def old_main():"))
    entry_points = site / "tk_alpha-1.0.dist-info" / "entry_points.txt"
    entry_points.write_text(entry_points.read_text().replace("tk_alpha", "tk_alpha_v2"))
    _restore_times(saved)

    out, modules = _run(site, "toolkit", "alpha", "ping", **unset)
    assert (out.returncode, out.stdout) == (0, "v2 pong from alpha\n"), out.stderr
    assert {"tk_alpha", "tk_alpha_v2"} <= modules  # the index's entry first, then the full load
    assert "warning: plugin" not in out.stderr
    again, modules = _run(site, "toolkit", "alpha", "ping", **unset)
    assert again.stdout == "v2 pong from alpha\n"
    assert "tk_alpha" not in modules  # the rewritten index names tk_alpha_v2 only

    _run(site, "toolkit", "plugins", **unset)
    saved = _keep_times(site, site / "tk_alpha_v2.py")
    (site / "tk_alpha_v3.py").write_text(source.replace("pong from", "v3 pong from"))
    (site / "tk_alpha_v2.py").write_text(source.replace("def main():", "def old_main():"))
    entry_points.write_text(entry_points.read_text().replace("tk_alpha_v2", "tk_alpha_v3"))
    _restore_times(saved)
    script, _ = _run(site, "alpha", "ping", **unset)  # the console script: the index's main is gone
    assert (script.returncode, script.stdout) == (0, "v3 pong from alpha\n"), script.stderr


def test_a_console_script_the_index_does_not_know_rebuilds_it(site):
    """A script added to an installed distribution's entry points: no name or time the index checks changed."""
    unset = {"TOOLKIT_LOAD_PLUGINS": "<unset>"}
    _run(site, "toolkit", "plugins", **unset)
    entry_points = site / "tk_alpha-1.0.dist-info" / "entry_points.txt"
    entry_points.write_text(entry_points.read_text() + "gamma = tk_alpha:main\n")  # the [toolkit.scripts] section
    assert _indexed_scripts(site) == ["alpha", "beta"]  # trusted, and it misses gamma
    out, _ = _run(site, "gamma", "ping", **unset)
    assert (out.returncode, out.stdout) == (0, "pong from alpha\n"), out.stderr
    assert _indexed_scripts(site) == ["alpha", "beta", "gamma"]  # the miss rebuilt it


def _indexed_scripts(site: Path) -> list[str]:
    """Return the console scripts in the index the launcher at `site` trusts (none: no trusted index)."""
    probe = "from toolkit.fastpath import load_raw; d = load_raw(); print(' '.join(sorted(d['scripts'])) if d else '')"
    env = {**os.environ, "PYTHONPATH": str(site), "COLUMNS": "80"}
    for var in ("TOOLKIT_LOAD_PLUGINS", "TOOLKIT_STRICT_PLUGINS", "TOOLKIT_DISABLE_PLUGINS"):
        env.pop(var, None)
    argv = [sys.executable, "-c", probe]
    scripts = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=True).stdout.split()
    return [name for name in scripts if name in ("alpha", "beta", "gamma")]  # the venv's own scripts aside


def test_a_console_script_nobody_provides_is_a_clear_error(site):
    unset = {"TOOLKIT_LOAD_PLUGINS": "<unset>"}
    _run(site, "toolkit", "plugins", **unset)
    out, _ = _run(site, "nosuch", "ping", **unset)  # (the probe turns the exit status into its own 0)
    assert "error: no installed plugin provides the command 'nosuch'" in out.stderr
    assert "Traceback" not in out.stderr

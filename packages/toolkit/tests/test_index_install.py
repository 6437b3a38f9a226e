"""Installing and removing a real plugin distribution with `uv pip` never needs a manual step.

A fresh venv gets toolkit-host and, later, the example plugin (docs/plugins/example) with
`uv pip install`. After each install the venv's site-packages gets its old modification time
back, as installers that keep times and filesystems with coarse times leave it: the entry-point
index must still notice the change (by the distributions' names) and never serve a stale answer.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
#: What the `toolkit` script's index holds (its sys.path starts with the script's folder, not -c's "").
PROBE = """
import sys
sys.path[0] = sys.argv[1]
from toolkit.index import load_index
index = load_index()
print("no index" if index is None else ",".join(index.commands))
"""


def _uv() -> str:
    uv = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
    if not Path(uv).exists():
        pytest.fail("these tests install with uv: put it on PATH (README command 1 installs it)")
    return uv


class Venv:
    def __init__(self, path: Path, cache: Path) -> None:
        self.path = path
        self.python = path / "bin" / "python"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("TOOLKIT_")}
        self.env.update(TOOLKIT_CACHE_DIR=str(cache), COLUMNS="80")
        subprocess.run([_uv(), "venv", "-q", "--python", sys.executable, str(path)], check=True, timeout=300)
        self.site = Path(
            subprocess.run(
                [str(self.python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                capture_output=True, text=True, check=True, timeout=60,
            ).stdout.strip()
        )  # fmt: skip
        # The dependencies (click, pluggy, the kernel, ...) come from the test environment: no network needed.
        # addsitedir, not a plain path line: the test environment's own .pth files (editable
        # installs of the kernel and plugins) must be processed too.
        lines = [f"import site; site.addsitedir({path!r})" for path in site.getsitepackages()]
        (self.site / "test-environment.pth").write_text("\n".join(lines) + "\n")
        self.uv_pip("install", "--no-deps", "-e", str(ROOT / "packages" / "toolkit"))

    def uv_pip(self, *args: str, keep_mtime: bool = False) -> None:
        before = self.site.stat()
        argv = [_uv(), "pip", *args, "--python", str(self.python)]
        if args[0] == "install":
            argv.append("--offline")
        subprocess.run(argv, check=True, capture_output=True, timeout=300, env=self.env)
        if keep_mtime:
            os.utime(self.site, ns=(before.st_atime_ns, before.st_mtime_ns))

    def toolkit(self, *args: str) -> subprocess.CompletedProcess[str]:
        argv = [str(self.path / "bin" / "toolkit"), *args]
        return subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=300, check=False)

    def indexed_commands(self) -> str:
        argv = [str(self.python), "-c", PROBE, str(self.path / "bin")]
        out = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=60, check=True)
        assert out.stdout.strip() != "no index", "the index is missing or not trusted"
        return out.stdout.strip()


@pytest.fixture
def venv(tmp_path: Path) -> Venv:
    return Venv(tmp_path / "venv", tmp_path / "cache")


def test_a_plugin_installed_while_every_time_stays_the_same_is_listed_and_runs(venv: Venv) -> None:
    first = venv.toolkit("--help")
    assert first.returncode == 0, first.stderr
    assert "hello" not in venv.indexed_commands().split(",")
    venv.uv_pip("install", "--no-deps", str(ROOT / "docs" / "plugins" / "example"), keep_mtime=True)
    listed = venv.toolkit("--help")  # the new distribution's name, not a time, made the index stale
    assert any(line.split()[:1] == ["hello"] for line in listed.stdout.splitlines()), listed.stdout
    greet = venv.toolkit("hello", "greet", "ada", "--json")
    assert greet.returncode == 0, greet.stderr
    assert "ada" in greet.stdout
    assert "hello" in venv.indexed_commands().split(",")


def test_a_removed_plugin_is_an_unknown_command_not_a_traceback(venv: Venv) -> None:
    venv.uv_pip("install", "--no-deps", str(ROOT / "docs" / "plugins" / "example"))
    assert venv.toolkit("hello", "greet", "ada").returncode == 0
    assert "hello" in venv.indexed_commands().split(",")
    venv.uv_pip("uninstall", "toolkit-hello", keep_mtime=True)
    gone = venv.toolkit("hello", "greet", "ada")
    assert gone.returncode == 2
    assert "No such command 'hello'" in gone.stderr
    assert "Traceback" not in gone.stderr
    assert "warning" not in gone.stderr
    assert "hello" not in venv.indexed_commands().split(",")
    listed = venv.toolkit("--help")
    assert not any(line.split()[:1] == ["hello"] for line in listed.stdout.splitlines())

"""README command 1, verbatim, under a Python marked EXTERNALLY-MANAGED (PEP 668), as on Debian/Ubuntu."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

MARKER = "[externally-managed]\nError=This Python is managed by the system; use a venv.\n"


def _stdlib_of(python: str) -> Path:
    out = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('stdlib'))"],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return Path(out.stdout.strip())


def _externally_managed_python(tmp_path: Path) -> Path:
    """Debian's /usr/bin/python3 when it carries the marker, else a copy of this Python given one."""
    system = Path("/usr/bin/python3")
    if system.exists() and (_stdlib_of(str(system)) / "EXTERNALLY-MANAGED").exists():
        return system
    copy = tmp_path / "marked-python"
    shutil.copytree(sys.base_prefix, copy, symlinks=True, ignore=shutil.ignore_patterns("site-packages"))
    stdlib = copy / Path(sysconfig.get_path("stdlib")).relative_to(sys.base_prefix)
    (stdlib / "site-packages").mkdir(exist_ok=True)
    (stdlib / "EXTERNALLY-MANAGED").write_text(MARKER)
    return copy / "bin" / "python3"


def _readme_run_command(root: Path) -> str:
    blocks: list[str] = re.findall(r"```(?:sh|bash)\n(.*?)```", (root / "README.md").read_text(), re.S)
    return blocks[0].strip()


def _checkout_copy(root: Path, dest: Path) -> Path:
    """The files a fresh clone of this working tree would have (tracked and new, not ignored)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root, capture_output=True, check=True, timeout=60,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        source = root / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


def test_readme_command_1_works_on_an_externally_managed_python(root, tmp_path):
    python = _externally_managed_python(tmp_path)
    # The marker is in force: pip refuses to touch this interpreter (the bug README command 1 had).
    refused = subprocess.run(
        [str(python), "-m", "pip", "install", "--dry-run", "uv"], capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    assert refused.returncode != 0
    assert "externally-managed-environment" in refused.stdout + refused.stderr

    checkout = _checkout_copy(root, tmp_path / "checkout")
    # The user's environment (certificates, proxies, caches), but only the marked Python on PATH.
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "UV_PROJECT_ENVIRONMENT")}
    env["PATH"] = f"{python.parent}:/usr/bin:/bin"
    command = _readme_run_command(root)
    out = subprocess.run(
        ["bash", "-c", command], cwd=checkout, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "stopped cleanly" in out.stderr

    venv = checkout / ".venv"
    bins = {p.name for p in (venv / "bin").iterdir()}
    assert {"toolkit", "grite", "plasmite", "pom", "graveyar"} <= bins
    assert not {"ruff", "mypy", "nox", "pytest"} & bins  # the run environment has no dev tools
    version = subprocess.run([str(venv / "bin" / "toolkit"), "--version"], capture_output=True, text=True, check=True)
    from toolkit_kernel import __version__

    assert version.stdout.strip() == f"toolkit {__version__}"
    # the system interpreter itself was never changed
    assert not (_stdlib_of(str(python)).parent / "site-packages" / "uv").exists()

"""Every public module of every member imports cleanly with warnings as errors."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import pytest

PACKAGES = ("toolkit_kernel", "toolkit", "toolkit_grite", "toolkit_plasmite", "toolkit_pom", "toolkit_graveyar")


def _modules(package: str) -> list[str]:
    module = __import__(package)
    names = [package]
    for info in pkgutil.walk_packages(module.__path__, prefix=f"{package}."):
        if ".__main__" in info.name or info.name.endswith("._proto") or "_pb2" in info.name:
            continue
        names.append(info.name)
    return names


@pytest.mark.parametrize("package", PACKAGES)
def test_modules_import_under_warnings_as_errors(package):
    names = _modules(package)
    code = "import importlib, sys\nfor n in sys.argv[1:]: importlib.import_module(n)"
    out = subprocess.run(
        [sys.executable, "-W", "error", "-c", code, *names], capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0, out.stderr


def test_kernel_imports_no_click_pluggy_or_host():
    code = "import sys, toolkit_kernel, pkgutil, importlib\n"
    code += "for m in pkgutil.walk_packages(toolkit_kernel.__path__, 'toolkit_kernel.'):\n"
    code += "    importlib.import_module(m.name)\n"
    code += "print(sorted(m for m in sys.modules if m.split('.')[0] in ('click', 'pluggy', 'toolkit')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("plugin", ["grite", "plasmite", "pom", "graveyar"])
def test_plugins_never_import_each_other(root, plugin):
    others = {"grite", "plasmite", "pom", "graveyar"} - {plugin}
    for path in (root / "plugins" / plugin / "src").rglob("*.py"):
        text = path.read_text()
        for other in others:
            assert f"toolkit_{other}" not in text, f"{path} mentions toolkit_{other}"

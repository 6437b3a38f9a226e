"""Distribution metadata: free names, one version, no Python cap, licence, URLs, user READMEs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from toolkit_kernel import __version__

ROOT = Path(__file__).resolve().parent.parent
MEMBERS = sorted(p.parent for p in ROOT.glob("*/*/pyproject.toml") if p.parent.parent.name in ("packages", "plugins"))
#: Chosen after looking each name up in PyPI's list of names: all free (`toolkit` itself is taken).
NAMES = {
    "kernel": "toolkit-kernel", "toolkit": "toolkit-host", "suite": "toolkit-suite", "grite": "toolkit-grite",
    "plasmite": "toolkit-plasmite", "pom": "toolkit-pom", "graveyar": "toolkit-graveyar",
}  # fmt: skip
KERNEL_INIT = ROOT / "packages" / "kernel" / "src" / "toolkit_kernel" / "__init__.py"


def _project(member: Path) -> dict[str, Any]:
    return tomllib.loads((member / "pyproject.toml").read_text())


def test_every_member_has_its_chosen_name():
    assert {m.name: _project(m)["project"]["name"] for m in MEMBERS} == NAMES


@pytest.mark.parametrize("member", MEMBERS, ids=lambda m: m.name)
def test_metadata_is_complete(member):
    data = _project(member)
    project = data["project"]
    assert project["requires-python"] == ">=3.11"  # no upper cap
    assert "version" not in project
    assert "version" in project["dynamic"]
    version_file = (member / data["tool"]["hatch"]["version"]["path"]).resolve()
    assert version_file == KERNEL_INIT  # one version source for every distribution
    assert project["license"] == "MIT"
    assert project["license-files"] == ["LICENSE"]
    assert (member / "LICENSE").read_text() == (ROOT / "LICENSE").read_text()
    assert project["authors"]
    assert project["keywords"]
    # No public home, tracker or docs site exists yet: no distribution may point at a made-up one.
    assert "urls" not in project, f"{member.name} claims project URLs; the project has no public home yet"
    classifiers = project["classifiers"]
    for minor in (11, 12, 13):
        assert f"Programming Language :: Python :: 3.{minor}" in classifiers
    assert not [c for c in classifiers if c.startswith("License ::")]  # the SPDX expression says it


@pytest.mark.parametrize("member", MEMBERS, ids=lambda m: m.name)
def test_readme_is_for_users_and_has_no_repo_relative_links(member):
    readme = (member / _project(member)["project"]["readme"]).read_text()
    links = re.findall(r"\]\(([^)]+)\)", readme)
    relative = [link for link in links if not link.startswith(("https://", "http://", "#"))]
    assert relative == [], f"{member.name}/README.md links {relative}"
    assert "no public home" in " ".join(readme.split()), f"{member.name}/README.md must say where its docs are"
    assert "pip install" in readme


def test_the_version_is_set_once_and_listed_in_the_changelog():
    assert re.fullmatch(r"\d+\.\d+\.\d+", __version__)
    for path in ROOT.glob("*/*/src/*/__init__.py"):
        text = path.read_text()
        if path != KERNEL_INIT:
            assert not re.search(r"^__version__ = ", text, re.M), f"{path} sets its own version"
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert f"({__version__})" in changelog or f"## {__version__}" in changelog


def test_the_meta_distribution_pins_every_system_to_its_version(tmp_path):
    import shutil
    import zipfile

    uv = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
    subprocess.run(
        [uv, "build", "--package", "toolkit-suite", "--wheel", "--out-dir", str(tmp_path), "--quiet"],
        cwd=ROOT, check=True, timeout=300, env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"},
    )  # fmt: skip
    (wheel,) = tmp_path.glob("toolkit_suite-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        metadata = zf.read(f"toolkit_suite-{__version__}.dist-info/METADATA").decode()
    requires = sorted(re.findall(r"^Requires-Dist: (.*)$", metadata, re.M))
    pins = [f"toolkit-{s}=={__version__}; extra == '{e}'" for s in ("grite", "plasmite", "pom", "graveyar")
            for e in (s, "all")]  # fmt: skip
    mcp = [f"toolkit-host[mcp]=={__version__}; extra == '{e}'" for e in ("mcp", "all")]
    assert requires == sorted([f"toolkit-host=={__version__}", f"toolkit-kernel=={__version__}", *pins, *mcp])
    assert sorted(re.findall(r"^Provides-Extra: (.*)$", metadata, re.M)) == [
        "all", "graveyar", "grite", "mcp", "plasmite", "pom"
    ]  # fmt: skip


@pytest.mark.parametrize("command", ["toolkit", "grite", "plasmite", "pom", "graveyar"])
def test_every_console_script_prints_the_one_version(command):
    out = subprocess.run(
        [str(Path(sys.executable).parent / command), "--version"], capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    # "<command> <version>" first; grite adds which grite it is compatible with after it
    assert (out.returncode, out.stdout.split()[:2]) == (0, [command, __version__]), out.stderr

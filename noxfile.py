# /// script
# dependencies = ["nox>=2026.10.20"]
# ///
"""The project's checks, one session each; `nox` runs every default session, as CI does.

Each member's tests run in a virtualenv holding only that member, its dependencies and
its `test` group, so a plugin cannot lean on a sibling by accident. Sessions write JUnit
reports under `.nox-reports/`, which `.ci/run` totals.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
import tomllib
from pathlib import Path

import nox

nox.needs_version = ">=2025.2.9"
nox.options.default_venv_backend = "uv"
nox.options.error_on_missing_interpreters = True
nox.options.sessions = [
    "lint",
    "typecheck",
    "tests",
    "compat",
    "integration",
    "build",
    "example",
    "docs",
    "peers",
    "interop",
]

ROOT = Path(__file__).parent
REPORTS = ROOT / ".nox-reports"
PYTHON = "3.11"
# Interop tests import the peers' Python packages, which only the interop venv has: never collect them elsewhere.
NOT_INTEROP = ("-m", "not interop", "--ignore-glob=*/tests/interop", "--ignore-glob=*/tests/interop/*")


def _find_pythons() -> list[str]:
    """Every CPython >= 3.11 on this machine, as "3.X", and put pyenv's real bin dirs on PATH.

    pyenv's shims stand for versions that are installed but not active and then fail
    ("pyenv: python3.12: command not found"), so uv and nox would pick a shim and give up.
    The versions' own bin folders go first on PATH instead.
    """
    found = {PYTHON}
    extra_bins = []
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    for bin_dir in sorted(pyenv_root.glob("versions/3.*/bin"), reverse=True):
        match = re.fullmatch(r"3\.(\d+)\.\d+", bin_dir.parent.name)
        if match and int(match.group(1)) >= 11 and (bin_dir / f"python3.{match.group(1)}").exists():
            found.add(f"3.{match.group(1)}")
            extra_bins.append(str(bin_dir))
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p not in extra_bins]
    os.environ["PATH"] = os.pathsep.join([*extra_bins, *path])
    for minor in range(12, 20):
        if shutil.which(f"python3.{minor}"):
            found.add(f"3.{minor}")
    return sorted(found, key=lambda v: int(v.split(".")[1]))


PYTHONS = _find_pythons()
if shutil.which("uv") is None and (Path(sys.executable).parent / "uv").exists():
    # nox was installed next to uv in a venv that is not on PATH (README command 2): sessions and
    # the tests they run call `uv`, so make that one findable, last on PATH.
    os.environ["PATH"] += os.pathsep + str(Path(sys.executable).parent)


def _members() -> dict[str, tuple[str, Path]]:
    """Map each member's short name (its folder) to its distribution name and folder."""
    members = {}
    for pyproject in sorted(ROOT.glob("*/*/pyproject.toml")):
        if pyproject.parent.parent.name not in ("packages", "plugins"):
            continue
        name = tomllib.loads(pyproject.read_text())["project"]["name"]
        members[pyproject.parent.name] = (name, pyproject.parent)
    return members


MEMBERS = _members()
#: Members with tests of their own (the meta distribution `toolkit-suite` has none).
TESTED = [short for short, (_, path) in MEMBERS.items() if (path / "tests").is_dir()]


def _sync(session: nox.Session, *args: str) -> None:
    """Install into this session's venv from the committed lock, never re-resolving."""
    env = {"UV_PROJECT_ENVIRONMENT": session.virtualenv.location, "UV_PYTHON_DOWNLOADS": "never"}
    python = session.python if isinstance(session.python, str) else PYTHON
    session.run_install("uv", "sync", "--frozen", "--no-default-groups", "--python", python, *args, env=env)


def _pytest(session: nox.Session, report: str, *paths: str) -> None:
    REPORTS.mkdir(exist_ok=True)
    session.run(
        "python", "-m", "pytest", "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(ROOT),
        f"--junitxml={REPORTS / report}.xml", *paths, *session.posargs,
    )  # fmt: skip


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """Ruff (lint rules, formatting) and import-linter's layering contracts (.pre-commit-config.yaml runs the same)."""
    _sync(session, "--all-packages", "--group", "lint")  # import-linter reads the members' import graph
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("lint-imports")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict over every member's src/ and tests/, the root tests and tools (generated protobuf excluded)."""
    _sync(session, "--all-packages", "--all-extras", "--group", "typecheck", "--group", "test", "--group", "interop")
    sources = [str(path / "src") for _, path in MEMBERS.values() if (path / "src").is_dir()]
    session.run("mypy", *sources, str(ROOT / "tools" / "gen_cli_docs.py"))
    # One run per tests folder: each has its own conftest.py, which mypy would see as one module twice.
    for short in TESTED:
        session.run("mypy", str(MEMBERS[short][1] / "tests"))
    session.run("mypy", str(ROOT / "tests"))
    with session.chdir(ROOT / "tools" / "peers"):  # a script folder: its modules import each other by name
        session.run("mypy", "--config-file", str(ROOT / "pyproject.toml"), "catalog.py", "installers.py", "__main__.py")


@nox.session(python=PYTHON)
@nox.parametrize("package", TESTED, ids=TESTED)
def tests(session: nox.Session, package: str) -> None:
    """One member's own tests, with only that member and its dependencies installed."""
    dist, path = MEMBERS[package]
    _sync(session, "--package", dist, "--group", "test")
    _pytest(session, f"tests-{package}", *NOT_INTEROP, str(path / "tests"))


@nox.session(python=PYTHON)
def integration(session: nox.Session) -> None:
    """Root contract tests: plugin discovery, import cost, docs, all systems together."""
    # The interop group too: the docs show kurrentdbclient and eventsourcing against graveyar, and run.
    _sync(session, "--all-packages", "--all-extras", "--group", "test", "--group", "interop")
    _pytest(session, "integration", *NOT_INTEROP, str(ROOT / "tests"))


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """The documentation site, built --strict; the generated CLI reference must match the code."""
    _sync(session, "--all-packages", "--group", "docs")
    session.run("python", str(ROOT / "tools" / "gen_cli_docs.py"), "--check")
    site = Path(session.create_tmp()) / "site"
    session.run("mkdocs", "build", "--strict", "--quiet", "--config-file", str(ROOT / "mkdocs.yml"),
                "--site-dir", str(site), env={"NO_MKDOCS_2_WARNING": "1"})  # fmt: skip


@nox.session(python=PYTHON, venv_backend="none")
def peers(session: nox.Session) -> None:
    """Install every real anchor (grite, plasmite, process-compose, ...) into the peers cache."""
    # nox's own interpreter: the one the README's command gave uv, so the installers find it.
    session.run(sys.executable, str(ROOT / "tools" / "peers"), "install", *session.posargs, external=True)


@nox.session(python=PYTHON)
def interop(session: nox.Session) -> None:
    """Every test marked `interop`: the real anchors from the peers cache against ours."""
    _sync(session, "--all-packages", "--group", "test", "--group", "interop")
    paths = [str(p) for p in sorted(ROOT.glob("plugins/*/tests/interop")) + sorted(ROOT.glob("tests/interop"))]
    _pytest(session, "interop", "-m", "interop", *paths)


def _build_wheels(session: nox.Session) -> Path:
    dist = Path(session.create_tmp()) / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    for name, _ in MEMBERS.values():
        session.run("uv", "build", "--package", name, "--wheel", "--out-dir", str(dist), "--quiet", external=True)
    return dist


def _version() -> str:
    text = (ROOT / "packages" / "kernel" / "src" / "toolkit_kernel" / "__init__.py").read_text()
    match = re.search(r'^__version__ = "([^"]+)"', text, re.M)
    assert match, "toolkit_kernel/__init__.py has no __version__"
    return match.group(1)


COMMANDS = ("toolkit", "grite", "plasmite", "pom", "graveyar")


@nox.session(python=PYTHON, venv_backend="none")
def build(session: nox.Session) -> None:
    """Build every wheel; pip-install `toolkit-suite[all]` from them in a clean venv outside the repo.

    Every command must then run, load every plugin strictly, and print the one version.
    """
    dist = _build_wheels(session)
    outside = Path(tempfile.mkdtemp(prefix="toolkit-wheels-"))
    try:
        venv = outside / "venv"
        session.run(sys.executable, "-m", "venv", str(venv), external=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--find-links", str(dist)]
        session.run(*pip, f"toolkit-suite[all]=={_version()}", external=True)
        env = {"TOOLKIT_STRICT_PLUGINS": "1"}
        for command in COMMANDS:
            out = session.run(str(venv / "bin" / command), "--version", env=env, external=True, silent=True)
            # "<command> <version>" first; grite adds which grite it is compatible with after it.
            if (out or "").split()[:2] != [command, _version()]:
                session.error(f"{command} --version printed {out!r}, not '{command} {_version()} ...'")
            session.run(str(venv / "bin" / command), "--help", env=env, external=True, silent=True)
        session.run(str(venv / "bin" / "toolkit"), "plugins", env=env, external=True)
    finally:
        shutil.rmtree(outside, ignore_errors=True)


@nox.session(python=PYTHON, venv_backend="none")
def example(session: nox.Session) -> None:
    """Install the example plugin from docs/plugins/example next to the toolkit wheels and run it."""
    dist = _build_wheels(session)
    venv = Path(session.create_tmp()) / "example-venv"
    shutil.rmtree(venv, ignore_errors=True)
    session.run("uv", "venv", "--quiet", "--python", PYTHON, str(venv), external=True)
    python = str(venv / "bin" / "python")
    host = [str(p) for p in dist.glob("toolkit_*.whl") if p.name.startswith(("toolkit_host-", "toolkit_kernel-"))]
    session.run("uv", "pip", "install", "--quiet", "--python", python, "--find-links", str(dist), *host, external=True)
    example_dir = ROOT / "docs" / "plugins" / "example"
    session.run("uv", "pip", "install", "--quiet", "--python", python, "--find-links", str(dist), str(example_dir),
                "pytest", external=True)  # fmt: skip
    toolkit = str(venv / "bin" / "toolkit")
    env = {"TOOLKIT_STRICT_PLUGINS": "1"}
    session.run(toolkit, "plugins", env=env, external=True)
    session.run(toolkit, "hello", "greet", "nox", "--json", env=env, external=True)
    REPORTS.mkdir(exist_ok=True)
    config = ["-c", str(example_dir / "pyproject.toml"), "--rootdir", str(example_dir)]
    report = f"--junitxml={REPORTS / 'example'}.xml"
    session.run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *config, report, str(example_dir / "tests"),
                env=env, external=True)  # fmt: skip


@nox.session(python=PYTHONS[1:] or [PYTHON])
def compat(session: nox.Session) -> None:
    """Every member's tests on each other CPython >= 3.11 this machine has (3.11 runs in `tests`)."""
    _sync(session, "--all-packages", "--group", "test")
    paths = [str(MEMBERS[short][1] / "tests") for short in TESTED]
    _pytest(session, f"compat-{session.python}", *NOT_INTEROP, "-m", "not interop and not slow", *paths)


@nox.session(python=PYTHON, default=False)
@nox.parametrize("system", ["plasmite", "grite", "pom", "graveyar"])
def bench(session: nox.Session, system: str) -> None:
    """Side-by-side benchmark of one system against its peers (not part of CI: slow and noisy)."""
    # The interop group too: the graveyar lanes drive it with kurrentdbclient and eventsourcing in-process.
    _sync(session, "--all-packages", "--group", "bench", "--group", "test", "--group", "interop")
    # The real anchors run beside ours in the same run: the same cached peers the interop tests use.
    session.run(sys.executable, str(ROOT / "tools" / "peers"), "install", external=True)
    # CLI latencies must not include compiling every module on every start, as they would
    # with PYTHONDONTWRITEBYTECODE set (some agent environments set it): compile once first.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    sources = [str(path / "src") for _, path in MEMBERS.values() if (path / "src").is_dir()]
    session.run("python", "-m", "compileall", "-q", session.virtualenv.location, *sources, silent=True)
    session.run("python", str(ROOT / "tools" / "bench" / f"{system}.py"), *session.posargs, env=env)

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
import shutil
import tomllib
from pathlib import Path

import nox

nox.needs_version = ">=2025.2.9"
nox.options.default_venv_backend = "uv"
nox.options.error_on_missing_interpreters = True
nox.options.sessions = ["lint", "typecheck", "tests", "integration", "build", "example", "docs", "peers", "interop"]

ROOT = Path(__file__).parent
REPORTS = ROOT / ".nox-reports"
PYTHON = "3.11"


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


def _sync(session: nox.Session, *args: str) -> None:
    """Install into this session's venv from the committed lock, never re-resolving."""
    env = {"UV_PROJECT_ENVIRONMENT": session.virtualenv.location, "UV_PYTHON_DOWNLOADS": "never"}
    session.run_install("uv", "sync", "--frozen", "--no-default-groups", "--python", PYTHON, *args, env=env)


def _pytest(session: nox.Session, report: str, *paths: str) -> None:
    REPORTS.mkdir(exist_ok=True)
    session.run(
        "python", "-m", "pytest", "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(ROOT),
        f"--junitxml={REPORTS / report}.xml", *paths, *session.posargs,
    )  # fmt: skip


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """Ruff: lint rules and formatting over the whole repository."""
    _sync(session, "--only-group", "lint")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict over every member's src/ (generated protobuf modules excluded)."""
    _sync(session, "--all-packages", "--group", "typecheck")
    sources = [str(path / "src") for _, path in MEMBERS.values()]
    session.run("mypy", *sources, str(ROOT / "tools" / "gen_cli_docs.py"))
    with session.chdir(ROOT / "tools" / "peers"):  # a script folder: its modules import each other by name
        session.run("mypy", "--config-file", str(ROOT / "pyproject.toml"), "catalog.py", "installers.py", "__main__.py")


@nox.session(python=PYTHON)
@nox.parametrize("package", list(MEMBERS), ids=list(MEMBERS))
def tests(session: nox.Session, package: str) -> None:
    """One member's own tests, with only that member and its dependencies installed."""
    dist, path = MEMBERS[package]
    _sync(session, "--package", dist, "--group", "test")
    _pytest(session, f"tests-{package}", "-m", "not interop", str(path / "tests"))


@nox.session(python=PYTHON)
def integration(session: nox.Session) -> None:
    """Root contract tests: plugin discovery, import cost, docs, all systems together."""
    _sync(session, "--all-packages", "--group", "test")
    _pytest(session, "integration", "-m", "not interop", str(ROOT / "tests"))


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
    session.run("python3", str(ROOT / "tools" / "peers"), "install", *session.posargs, external=True)


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


def _clean_venv(session: nox.Session, where: str) -> Path:
    venv = Path(session.create_tmp()) / where
    shutil.rmtree(venv, ignore_errors=True)
    session.run("uv", "venv", "--quiet", "--python", PYTHON, str(venv), external=True)
    return venv


@nox.session(python=PYTHON, venv_backend="none")
def build(session: nox.Session) -> None:
    """Build every wheel, install them into a clean venv and load every plugin strictly."""
    dist = _build_wheels(session)
    venv = _clean_venv(session, "wheel-venv")
    wheels = sorted(str(p) for p in dist.glob("*.whl"))
    session.run(
        "uv", "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), "--find-links", str(dist),
        *wheels, external=True,
    )  # fmt: skip
    env = {"TOOLKIT_STRICT_PLUGINS": "1"}
    session.run(str(venv / "bin" / "toolkit"), "--help", env=env, external=True)
    session.run(str(venv / "bin" / "toolkit"), "plugins", env=env, external=True)
    for name, _ in MEMBERS.values():
        script = name.removeprefix("toolkit-")
        if name.startswith("toolkit-") and script != "kernel":
            session.run(str(venv / "bin" / script), "--help", env=env, external=True, silent=True)


@nox.session(python=PYTHON, venv_backend="none")
def example(session: nox.Session) -> None:
    """Install the example plugin from docs/plugins/example next to the toolkit wheels and run it."""
    dist = _build_wheels(session)
    venv = _clean_venv(session, "example-venv")
    python = str(venv / "bin" / "python")
    host = [str(p) for p in dist.glob("toolkit-*.whl") if p.name.startswith(("toolkit-0", "toolkit_kernel"))]
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


@nox.session(python=PYTHON, default=False)
@nox.parametrize("system", ["plasmite", "grite", "pom", "graveyar"])
def bench(session: nox.Session, system: str) -> None:
    """Side-by-side benchmark of one system against its peers (not part of CI: slow and noisy)."""
    _sync(session, "--all-packages", "--group", "bench", "--group", "test")
    # The real anchors run beside ours in the same run: the same cached peers the interop tests use.
    session.run("python3", str(ROOT / "tools" / "peers"), "install", external=True)
    # CLI latencies must not include compiling every module on every start, as they would
    # with PYTHONDONTWRITEBYTECODE set (some agent environments set it): compile once first.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    sources = [str(path / "src") for _, path in MEMBERS.values()]
    session.run("python", "-m", "compileall", "-q", session.virtualenv.location, *sources, silent=True)
    session.run("python", str(ROOT / "tools" / "bench" / f"{system}.py"), *session.posargs, env=env)

"""peers: install the real anchors from their registries into a cache, and find them again.

    python3 tools/peers list [--json]            every peer, pinned version, installed or not
    python3 tools/peers install [NAMES] [--json] [--force]
    python3 tools/peers path NAME                the peer's main executable (exit 1 if missing)
    python3 tools/peers doctor [--json]          toolchains present, every installed peer runs

The cache is `$TOOLKIT_PEERS_DIR` (default `~/.cache/toolkit-peers`). Installing is idempotent:
a peer whose manifest and files are present is not rebuilt. `--json` prints one JSON line per
peer; progress goes to stderr, and only on a terminal. Standard library only: this runs before
any project venv exists.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from catalog import BY_NAME, PEERS, PeerSpec
from installers import (
    Context,
    InstallError,
    find_uv,
    install_apt,
    install_cargo,
    install_cargo_build,
    install_go,
    install_pip_sdist,
    install_uv_venv,
)


def cache_dir() -> Path:
    configured = os.environ.get("TOOLKIT_PEERS_DIR")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "toolkit-peers"


def read_manifest(cache: Path, name: str) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads((cache / name / "current.json").read_text())
    except (OSError, ValueError):
        return None
    return data


def _present(spec: PeerSpec, manifest: dict[str, Any] | None) -> bool:
    """The manifest matches the pinned version and every file it promises exists."""
    if manifest is None or manifest.get("version") != (spec.version or manifest.get("version")):
        return False
    files = [Path(manifest["path"])]
    files += [Path(manifest["bin_dir"]) / b for b in spec.bins if manifest.get("bin_dir")]
    files += [Path(manifest["lib_dir"]) / lib for lib in spec.libs if manifest.get("lib_dir")]
    return all(f.exists() for f in files)


def _reported_version(path: Path) -> str:
    """What the program says its version is (first line of `--version`), for the manifest."""
    for flag in ("--version", "version"):
        try:
            out = subprocess.run([str(path), flag], capture_output=True, text=True, timeout=30, check=False)
        except (OSError, subprocess.TimeoutExpired):
            continue
        text = (out.stdout or out.stderr).strip()
        if out.returncode == 0 and text:
            return text.splitlines()[0]
    return ""


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


@contextmanager
def _locked(cache: Path, name: str) -> Iterator[None]:
    """One installer per peer at a time, across processes (two nox runs, a bench and CI)."""
    lock_path = cache / "_locks" / f"{name}.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _install_one(cache: Path, spec: PeerSpec, *, echo: bool) -> dict[str, Any]:
    ctx = Context(cache, spec, echo=echo)
    ctx.root.mkdir(parents=True, exist_ok=True)
    ctx.log.parent.mkdir(parents=True, exist_ok=True)
    ctx.log.write_text(f"# install {spec.name} {spec.version} ({spec.how}) at {time.ctime()}\n")
    if spec.how == "cargo-install":
        fields = install_cargo(ctx)
    elif spec.how == "cargo-build":
        fields = install_cargo_build(ctx)
    elif spec.how == "go-build":
        fields = install_go(ctx)
    elif spec.how == "uv-venv":
        fields = install_uv_venv(ctx)
    elif spec.how == "pip-sdist":
        plasmite = read_manifest(cache, "plasmite")
        if plasmite is None or not plasmite.get("lib_dir"):
            raise InstallError("the plasmite peer (its libplasmite.so) must be installed first")
        fields = install_pip_sdist(ctx, Path(plasmite["lib_dir"]))
    elif spec.how == "apt":
        fields = install_apt(ctx)
    else:  # a catalog entry with an unknown installer is a bug in catalog.py
        raise InstallError(f"unknown installer {spec.how!r}")
    path = Path(fields["bin_dir"]) / spec.bins[0] if spec.bins else Path(fields["venv"]) / "bin" / "python"
    version = spec.version
    if spec.how == "apt":
        version = _reported_version(path).split("v=")[-1].split()[0] if path.exists() else ""
    return {
        "name": spec.name, "version": version, "path": str(path), "how": spec.how, "root": str(ctx.root),
        "package": spec.package, "bin_dir": fields.get("bin_dir"), "lib_dir": fields.get("lib_dir"),
        "venv": fields.get("venv"), "extra": fields.get("extra", {}),
        "reported_version": _reported_version(path) if spec.bins else "", "installed_at": time.time(),
    }  # fmt: skip


def install(names: list[str], *, force: bool, as_json: bool) -> int:
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    echo = sys.stderr.isatty() and not as_json
    failed = 0
    for spec in _ordered(names):
        started = time.monotonic()
        with _locked(cache, spec.name):
            manifest = read_manifest(cache, spec.name)
            cached = not force and _present(spec, manifest)
            if not cached:
                if sys.stderr.isatty():
                    print(f"peers: installing {spec.name} {spec.version} ({spec.how})", file=sys.stderr)
                try:
                    manifest = _install_one(cache, spec, echo=echo)
                except InstallError as exc:
                    failed += 1
                    print(f"peers: {spec.name} {spec.version}: install failed: {exc}", file=sys.stderr)
                    if as_json:
                        print(json.dumps({"name": spec.name, "version": spec.version, "error": str(exc)}))
                    continue
                manifest["seconds"] = round(time.monotonic() - started, 1)
                _write_json(Path(manifest["root"]) / "peer.json", manifest)
                _write_json(cache / spec.name / "current.json", manifest)
        assert manifest is not None
        seconds = 0.0 if cached else manifest["seconds"]
        line = {k: manifest.get(k) for k in ("name", "version", "path", "how")}
        line |= {"seconds": seconds, "cached": cached, "build_seconds": manifest.get("seconds")}
        if as_json:
            print(json.dumps(line))
        else:
            state = "cached" if cached else f"installed in {seconds:.0f} s"
            print(f"{spec.name:16} {manifest['version']:10} {state:22} {manifest['path']}")
    return 1 if failed else 0


def _ordered(names: list[str]) -> list[PeerSpec]:
    """The named peers (all when none), with what they require first, in catalog order."""
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        raise SystemExit(f"peers: unknown peer(s) {', '.join(unknown)}; known: {', '.join(BY_NAME)}")
    wanted = set(names or BY_NAME)
    for name in list(wanted):
        wanted.update(BY_NAME[name].requires)
    return [spec for spec in PEERS if spec.name in wanted]


def list_peers(*, as_json: bool) -> int:
    cache = cache_dir()
    for spec in PEERS:
        manifest = read_manifest(cache, spec.name)
        installed = _present(spec, manifest)
        row = {
            "name": spec.name, "version": (manifest or {}).get("version") or spec.version, "pinned": spec.version,
            "how": spec.how, "installed": installed, "path": (manifest or {}).get("path") if installed else None,
            "summary": spec.summary,
        }  # fmt: skip
        if as_json:
            print(json.dumps(row))
        else:
            where = row["path"] or "(not installed)"
            print(f"{spec.name:16} {row['version']:10} {spec.how:14} {where}")
    return 0


def path(name: str) -> int:
    if name not in BY_NAME:
        print(f"peers: unknown peer {name!r}; known: {', '.join(BY_NAME)}", file=sys.stderr)
        return 2
    manifest = read_manifest(cache_dir(), name)
    if not _present(BY_NAME[name], manifest):
        print(f"peers: {name} is not installed; run `python3 tools/peers install {name}`", file=sys.stderr)
        return 1
    assert manifest is not None
    print(manifest["path"])
    return 0


TOOLCHAINS = {
    "cargo-install": "cargo",
    "cargo-build": "cargo",
    "go-build": "go",
    "uv-venv": "uv",
    "pip-sdist": "uv",
    "apt": "apt-get",
}


def doctor(*, as_json: bool) -> int:
    cache = cache_dir()
    problems = 0
    for spec in PEERS:
        manifest = read_manifest(cache, spec.name)
        tool = TOOLCHAINS[spec.how]
        has_tool = _uv_found() if tool == "uv" else shutil.which(tool) is not None
        installed = _present(spec, manifest)
        runs = bool(installed and manifest and (not spec.bins or _reported_version(Path(manifest["path"]))))
        ok = installed and runs
        problems += not ok
        hint = "" if ok else f"python3 tools/peers install {spec.name}"
        if not has_tool and not installed:
            hint = f"{tool} is missing: it is needed to install {spec.name}"
        row = {"name": spec.name, "ok": ok, "installed": installed, "runs": runs, "toolchain": tool,
               "toolchain_found": has_tool, "hint": hint}  # fmt: skip
        if as_json:
            print(json.dumps(row))
        else:
            print(f"{'ok ' if ok else 'BAD'} {spec.name:16} {hint}")
    return 1 if problems else 0


def _uv_found() -> bool:
    """uv as the installers look for it (beside this interpreter, on PATH, or as a module)."""
    try:
        find_uv()
    except InstallError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="peers", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p_list = sub.add_parser("list", help="every peer with its pinned version and where it is installed")
    p_list.add_argument("--json", action="store_true", help="one JSON line per peer")
    p_install = sub.add_parser("install", help="install peers (all when none are named); idempotent")
    p_install.add_argument("names", nargs="*", metavar="NAME")
    p_install.add_argument("--json", action="store_true", help="one JSON line per peer")
    p_install.add_argument("--force", action="store_true", help="reinstall even when present")
    p_path = sub.add_parser("path", help="print the main executable of one peer")
    p_path.add_argument("name", metavar="NAME")
    p_doctor = sub.add_parser("doctor", help="check toolchains and that every installed peer runs")
    p_doctor.add_argument("--json", action="store_true", help="one JSON line per peer")
    args = parser.parse_args(argv)
    if args.command == "list":
        return list_peers(as_json=args.json)
    if args.command == "install":
        return install(args.names, force=args.force, as_json=args.json)
    if args.command == "path":
        return path(args.name)
    return doctor(as_json=args.json)


if __name__ == "__main__":
    sys.exit(main())

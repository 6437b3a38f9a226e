"""How each kind of peer is installed: cargo, the Go module proxy, uv venvs, an sdist, apt.

Each installer fills `<cache>/<name>/<version>/` and returns the manifest fields it knows
(bin_dir, lib_dir, venv, extra). Commands run with their output appended to a log file; a
failure raises `InstallError` carrying the command's last lines (the registry's own error).
Builds run from the cache directory, never from inside a fetched crate, so a crate's
`rust-toolchain.toml` cannot make rustup look for a toolchain this machine does not have.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from catalog import PeerSpec


class InstallError(RuntimeError):
    """An install step failed; the message ends with the tool's own last lines of output."""


class Context:
    """Where things go while installing one peer: cache, its root, its log, the echo switch."""

    def __init__(self, cache: Path, spec: PeerSpec, *, echo: bool) -> None:
        self.cache = cache
        self.spec = spec
        self.root = cache / spec.name / (spec.version or "system")
        self.build = cache / "_build"
        self.log = cache / "_logs" / f"{spec.name}.log"
        self.echo = echo

    def run(self, argv: Sequence[str], *, cwd: Path | None = None, env: Mapping[str, str] | None = None) -> str:
        """Run one command, log its output, echo it on a terminal, raise InstallError on failure."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        full_env = {**os.environ, **(env or {})}
        with self.log.open("a") as log:
            log.write(f"\n$ {' '.join(argv)}\n")
            log.flush()
            proc = subprocess.Popen(
                list(argv), cwd=cwd or self.cache, env=full_env, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True, errors="replace",
            )  # fmt: skip
            assert proc.stdout is not None
            lines: list[str] = []
            for line in proc.stdout:
                log.write(line)
                log.flush()  # `tail -f` on the log shows a long build's progress
                lines.append(line)
                del lines[:-40]
                if self.echo:
                    sys.stderr.write(f"  {self.spec.name}: {line}")
            code = proc.wait()
        if code != 0:
            tail = "".join(lines[-25:]).rstrip()
            raise InstallError(f"`{' '.join(argv)}` exited {code}:\n{tail}\n(full log: {self.log})")
        return "".join(lines)


def _need(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        raise InstallError(f"`{tool}` is not on PATH; it is needed to install this peer")
    return found


def install_cargo(ctx: Context) -> dict[str, Any]:
    """`cargo install <crate> --version V --locked` for the crate and its companions."""
    cargo = _need("cargo")
    env = {"CARGO_TARGET_DIR": str(ctx.build / f"cargo-{ctx.spec.name}")}
    for crate in (ctx.spec.package, *ctx.spec.extra_packages):
        ctx.run([cargo, "install", crate, "--version", ctx.spec.version, "--locked", "--root", str(ctx.root)], env=env)
    return {"bin_dir": str(ctx.root / "bin")}


def _cargo_home() -> Path:
    return Path(os.environ.get("CARGO_HOME", Path.home() / ".cargo"))


def install_cargo_build(ctx: Context) -> dict[str, Any]:
    """Fetch the registry crate, build it as published (bins and cdylib), keep its source.

    `cargo install` installs binaries only; plasmite's Python binding also needs the crate's
    `libplasmite.so`, so the crate is unpacked from the registry download and built in place.
    """
    cargo = _need("cargo")
    spec = ctx.spec
    fetcher = ctx.build / f"fetch-{spec.name}-{spec.version}"
    (fetcher / "src").mkdir(parents=True, exist_ok=True)
    (fetcher / "src" / "lib.rs").write_text("")
    (fetcher / "Cargo.toml").write_text(
        f'[package]\nname = "peer-fetch"\nversion = "0.0.0"\nedition = "2021"\n\n'
        f'[dependencies]\n{spec.package} = "={spec.version}"\n'
    )
    ctx.run([cargo, "fetch", "--manifest-path", str(fetcher / "Cargo.toml")])
    crates = sorted(_cargo_home().glob(f"registry/cache/*/{spec.package}-{spec.version}.crate"))
    if not crates:
        raise InstallError(f"cargo fetch did not leave {spec.package}-{spec.version}.crate in the registry cache")
    source = ctx.root / "src"
    shutil.rmtree(source, ignore_errors=True)
    source.mkdir(parents=True)
    with tarfile.open(crates[-1]) as archive:
        archive.extractall(source, filter="data")
    crate_dir = source / f"{spec.package}-{spec.version}"
    target = ctx.build / f"cargo-{spec.name}"
    ctx.run(
        [cargo, "build", "--release", "--locked", "--manifest-path", str(crate_dir / "Cargo.toml")],
        env={"CARGO_TARGET_DIR": str(target)},
    )
    bin_dir, lib_dir = ctx.root / "bin", ctx.root / "lib"
    bin_dir.mkdir(exist_ok=True)
    lib_dir.mkdir(exist_ok=True)
    for name in spec.bins:
        shutil.copy2(target / "release" / name, bin_dir / name)
    for name in spec.libs:
        shutil.copy2(target / "release" / name, lib_dir / name)
    shutil.copytree(crate_dir / "include", ctx.root / "include", dirs_exist_ok=True)
    return {"bin_dir": str(bin_dir), "lib_dir": str(lib_dir), "extra": {"source": str(crate_dir)}}


def install_go(ctx: Context) -> dict[str, Any]:
    """Build a Go main module at a pinned version through the module proxy.

    A throwaway module requires the pinned version and builds its main package, which also
    works for modules whose canonical path the proxy does not serve under that name (git-bug
    moved from MichaelMure/git-bug to git-bug/git-bug; a `replace` names where it is served).
    """
    go = _need("go")
    spec = ctx.spec
    module = ctx.build / f"go-{spec.name}-{spec.version}"
    shutil.rmtree(module, ignore_errors=True)
    module.mkdir(parents=True)
    replace = f"\nreplace {spec.package} => {spec.module_alias} {spec.version}\n" if spec.module_alias else ""
    (module / "go.mod").write_text(f"module peerbuild\n\ngo 1.24\n{replace}")
    env = {"GOFLAGS": "-mod=mod -buildvcs=false", "GOTOOLCHAIN": os.environ.get("GOTOOLCHAIN", "local")}
    ctx.run([go, "get", f"{spec.package}@{spec.version}"], cwd=module, env=env)
    bin_dir = ctx.root / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    ctx.run([go, "build", "-o", str(bin_dir / spec.bins[0]), spec.package], cwd=module, env=env)
    return {"bin_dir": str(bin_dir), "extra": {"module": spec.package}}


def find_uv() -> str:
    # Where the README puts uv: beside this interpreter (a venv that has it), on PATH, or in the
    # checkout's throwaway `.uv-venv` (so `python3 tools/peers install` works from a plain shell).
    repo_uv = Path(__file__).resolve().parents[2] / ".uv-venv" / "bin" / "uv"
    for candidate in (Path(sys.executable).with_name("uv"), shutil.which("uv"), repo_uv):
        if candidate is not None and Path(candidate).exists():
            return str(candidate)
    probe = subprocess.run([sys.executable, "-m", "uv", "--version"], capture_output=True, check=False)
    if probe.returncode == 0:
        return f"{sys.executable} -m uv"
    raise InstallError(
        "uv is needed to install Python peers: run `python3 -m venv .uv-venv && .uv-venv/bin/pip install uv` "
        "in the checkout (README command 2 does), or put uv on PATH"
    )


def _venv(ctx: Context, requirements: Sequence[str], *, env: Mapping[str, str] | None = None,
          extra_args: Sequence[str] = ()) -> Path:  # fmt: skip
    uv = find_uv().split()
    venv = ctx.root / "venv"
    shutil.rmtree(venv, ignore_errors=True)
    uv_env = {"UV_PYTHON_DOWNLOADS": "never", **(env or {})}
    ctx.run([*uv, "venv", "--quiet", "--python", sys.executable, str(venv)], env=uv_env)
    python = str(venv / "bin" / "python")
    ctx.run([*uv, "pip", "install", "--python", python, *extra_args, *requirements], env=uv_env)
    return venv


def install_uv_venv(ctx: Context) -> dict[str, Any]:
    """A venv of its own holding the pinned PyPI release (and companions)."""
    spec = ctx.spec
    venv = _venv(ctx, [f"{spec.package}=={spec.version}", *spec.extra_packages, "pytest"])
    return {"venv": str(venv), "bin_dir": str(venv / "bin")}


def install_pip_sdist(ctx: Context, plasmite_lib: Path) -> dict[str, Any]:
    """plasmite's Python binding from its sdist, against the libplasmite.so built by the `plasmite` peer."""
    spec = ctx.spec
    sdk = plasmite_lib.parent
    venv = _venv(
        ctx, [f"{spec.package}=={spec.version}", "pytest"], env={"PLASMITE_SDK_DIR": str(sdk)},
        extra_args=("--no-binary", spec.package, "--no-cache"),
    )  # fmt: skip
    return {
        "venv": str(venv), "bin_dir": str(venv / "bin"), "lib_dir": str(plasmite_lib),
        "extra": {"env": {"PLASMITE_LIB_DIR": str(plasmite_lib)}},
    }  # fmt: skip


def install_apt(ctx: Context) -> dict[str, Any]:
    """A Debian package, installed with apt-get when its program is missing."""
    spec = ctx.spec
    if shutil.which(spec.bins[0]) is None:
        sudo = [] if os.geteuid() == 0 else [_need("sudo")]
        ctx.run([*sudo, "apt-get", "update", "-qq"])
        ctx.run([*sudo, "apt-get", "install", "-y", "-qq", spec.package], env={"DEBIAN_FRONTEND": "noninteractive"})
    found = shutil.which(spec.bins[0])
    if found is None:
        raise InstallError(f"apt-get installed {spec.package} but {spec.bins[0]} is not on PATH")
    return {"bin_dir": str(Path(found).parent)}

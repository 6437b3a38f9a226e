"""Locating the repository and grite's files, configuration and actors (no pygit2 here).

This module is also used by the daemon client, so it only touches the filesystem.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from toolkit_grite.core.locate import find_git_dirs
from toolkit_grite.core.model import new_id
from toolkit_grite.errors import GriteNotFound, InvalidArgs

__all__ = ["ActorInfo", "RepoPaths", "discover", "load_config", "resolve_actor", "toml_string", "write_toml"]

HEX32 = re.compile(r"^[0-9a-f]{32}$")
LOCK_POLICIES = ("off", "warn", "require")


class RepoPaths(NamedTuple):
    """Where a repository and grite's data live (a named tuple: `dataclasses` costs ~4 ms to import per command).

    Attributes:
        workdir: Top of the working tree (None for a bare repository).
        git_dir: This worktree's git directory.
        common_dir: The git directory shared by all worktrees (objects and refs).
    """

    workdir: Path | None
    git_dir: Path
    common_dir: Path

    @property
    def grite_dir(self) -> Path:
        """`.git/grite` in the common dir."""
        return self.common_dir / "grite"

    @property
    def config_path(self) -> Path:
        """The repository configuration file."""
        return self.grite_dir / "config.toml"

    @property
    def worktree_config_path(self) -> Path | None:
        """The linked worktree's own configuration file, if this is a linked worktree."""
        if self.git_dir == self.common_dir:
            return None
        return self.git_dir / "grite" / "config.toml"

    @property
    def actors_dir(self) -> Path:
        """Directory holding one sub-directory per actor."""
        return self.grite_dir / "actors"

    @property
    def view_dir(self) -> Path:
        """The LMDB materialized view."""
        return self.grite_dir / "view"

    @property
    def write_lock_path(self) -> Path:
        """The flock serializing local writers."""
        return self.grite_dir / "write.lock"


def discover(start: Path | None = None) -> RepoPaths:
    """Find the git repository containing `start` (default: the current directory).

    Raises:
        GriteNotFound: not inside a git repository.
    """
    here = (start or Path.cwd()).resolve()
    found = find_git_dirs(str(here))
    if found is None:
        raise GriteNotFound(f"not a git repository: {here}", hint="run grite inside a git repository (git init)")
    workdir, git_dir, common_dir = found
    return RepoPaths(Path(workdir) if workdir else None, Path(git_dir), Path(common_dir))


def read_toml(path: Path) -> dict[str, Any]:
    """Read a TOML file; a missing file is an empty table.

    Raises:
        InvalidArgs: the file is not valid UTF-8 TOML.
    """
    from toolkit_grite.core import tomlflat

    try:
        with open(path, "rb") as fh:
            text = fh.read().decode("utf-8")
    except FileNotFoundError:
        return {}
    except UnicodeDecodeError as exc:
        raise InvalidArgs(f"invalid TOML in {path}: not UTF-8 ({exc})", hint="fix or delete the file") from None
    # grite's own files are flat: read without importing tomllib; anything else is tomllib's to judge.
    table = tomlflat.loads(text)
    if table is not None:
        return table
    import tomllib

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidArgs(f"invalid TOML in {path}: {exc}", hint="fix or delete the file") from None


#: The escapes TOML basic strings define; other control characters become `\uXXXX`.
_TOML_ESCAPES = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r", '"': '\\"', "\\": "\\\\"}
#: What a TOML basic string may not hold literally: `"`, `\`, U+0000-U+001F and U+007F.
_TOML_UNSAFE = re.compile(r'["\\\x00-\x1f\x7f]')


def toml_string(value: str) -> str:
    """`value` as a TOML basic string (quoted, escaped as TOML 1.0 requires).

    Raises:
        InvalidArgs: `value` holds a lone surrogate (from undecodable bytes), which neither UTF-8
            nor a TOML escape can carry.
    """
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidArgs(f"{value!r} is not valid Unicode text", hint="use UTF-8 text") from None
    body = _TOML_UNSAFE.sub(lambda m: _TOML_ESCAPES.get(m.group(), f"\\u{ord(m.group()):04x}"), value)
    return f'"{body}"'


def write_toml(path: Path, data: dict[str, Any]) -> None:
    """Write a flat TOML table of strings, integers and booleans atomically (None values are left out).

    Raises:
        InvalidArgs: a string value cannot be written (see `toml_string`); nothing is written.
    """
    lines = []
    for key, value in data.items():
        if value is None:
            continue
        if isinstance(value, bool):
            lines.append(f"{key} = {'true' if value else 'false'}")
        elif isinstance(value, int):
            lines.append(f"{key} = {value}")
        else:
            lines.append(f"{key} = {toml_string(str(value))}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def load_config(paths: RepoPaths) -> dict[str, Any]:
    """Return the repository configuration, validated.

    Raises:
        InvalidArgs: `lock_policy` or `verify_signatures` has an unknown value.
    """
    cfg = read_toml(paths.config_path)
    # Both policies take off | warn | require: the lock policy defaults to warn, signatures to off.
    for key, default in (("lock_policy", "warn"), ("verify_signatures", "off")):
        value = cfg.get(key, default)
        if value not in LOCK_POLICIES:
            raise InvalidArgs(
                f"{key} {value!r} in {paths.config_path} is not one of off, warn, require",
                hint="edit .git/grite/config.toml",
            )
        cfg[key] = value
    return cfg


class ActorInfo(NamedTuple):
    """The acting actor.

    Attributes:
        actor_id: 16-byte id.
        data_dir: The actor's directory (may not exist for ad-hoc `--actor` ids).
        source: How it was chosen: flag, env, data_dir, repo_default or auto.
        signing_key: Ed25519 seed when the actor has a key.
    """

    actor_id: bytes
    data_dir: Path
    source: str
    signing_key: bytes | None


def actor_dir(paths: RepoPaths, actor_hex: str) -> Path:
    """Directory of actor `actor_hex`."""
    return paths.actors_dir / actor_hex


def read_actor(directory: Path) -> dict[str, Any]:
    """Read an actor's config.toml (empty when absent)."""
    return read_toml(directory / "config.toml")


def create_actor(paths: RepoPaths, *, label: str | None = None, generate_key: bool = False) -> dict[str, Any]:
    """Create a new actor directory and return its config."""
    if label is not None:
        toml_string(label)  # refuse an unwritable label before anything is created
    actor_hex = new_id().hex()
    directory = actor_dir(paths, actor_hex)
    directory.mkdir(parents=True, exist_ok=False)
    cfg: dict[str, Any] = {"actor_id": actor_hex, "label": label, "created_ts": int(time.time() * 1000)}
    if generate_key:
        from nacl.signing import SigningKey

        key = SigningKey.generate()
        seed = bytes(key)
        key_file = directory / "signing_key"
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(seed.hex() + "\n")
        cfg["public_key"] = bytes(key.verify_key).hex()
        cfg["key_scheme"] = "ed25519"
    write_toml(directory / "config.toml", cfg)
    return cfg


def list_actors(paths: RepoPaths) -> list[dict[str, Any]]:
    """Return every local actor's config, sorted by id."""
    out = []
    if paths.actors_dir.is_dir():
        for child in sorted(paths.actors_dir.iterdir()):
            if HEX32.match(child.name) and (child / "config.toml").is_file():
                cfg = read_actor(child)
                cfg.setdefault("actor_id", child.name)
                cfg["data_dir"] = str(child)
                out.append(cfg)
    return out


def _signing_key(directory: Path) -> bytes | None:
    try:
        text = (directory / "signing_key").read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    try:
        seed = bytes.fromhex(text)
    except ValueError:
        raise InvalidArgs(f"signing key in {directory} is not hex", hint="recreate the actor") from None
    if len(seed) != 32:
        raise InvalidArgs(f"signing key in {directory} is not 32 bytes", hint="recreate the actor")
    return seed


def lookup_actor(paths: RepoPaths, value: str) -> str:
    """Resolve a 32-hex actor id or the label of a local actor to its hex id.

    Raises:
        InvalidArgs: neither, or an ambiguous label.
    """
    value = value.strip().lower() if HEX32.match(value.strip().lower()) else value.strip()
    if HEX32.match(value):
        return value
    matches = [a["actor_id"] for a in list_actors(paths) if a.get("label") == value]
    if len(matches) == 1:
        return str(matches[0])
    if not matches:
        raise InvalidArgs(
            f"actor {value!r} is neither a 32-hex id nor the label of a local actor",
            hint="see `grite actor list`",
        )
    raise InvalidArgs(f"actor label {value!r} is ambiguous", details={"suggestions": matches})


def default_actor(paths: RepoPaths) -> str | None:
    """Return the worktree's or repository's default actor id, if configured."""
    wt = paths.worktree_config_path
    if wt is not None:
        value = read_toml(wt).get("default_actor")
        if value:
            return str(value)
    value = read_toml(paths.config_path).get("default_actor")
    return str(value) if value else None


def resolve_actor(
    paths: RepoPaths,
    *,
    flag: str | None,
    data_dir: str | None,
    create: bool = True,
    env: Mapping[str, str] | None = None,
) -> ActorInfo:
    """Pick the acting actor (flag, `GRITE_ACTOR` of `env` (default os.environ), data dir, default, auto-created).

    Raises:
        InvalidArgs: an actor value is malformed.
        GriteNotFound: `--data-dir` has no actor config.
    """
    env_actor = (os.environ if env is None else env).get("GRITE_ACTOR")
    if flag:
        actor_hex, source = lookup_actor(paths, flag), "flag"
    elif env_actor:
        actor_hex, source = lookup_actor(paths, env_actor), "env"
    elif data_dir:
        directory = Path(data_dir)
        cfg = read_actor(directory)
        if not cfg.get("actor_id"):
            raise GriteNotFound(f"no actor config in {directory}", hint="point --data-dir at .git/grite/actors/<id>")
        actor_hex = str(cfg["actor_id"])
        if not HEX32.match(actor_hex):
            raise InvalidArgs(f"actor_id in {directory}/config.toml is not 32 hex")
        return ActorInfo(bytes.fromhex(actor_hex), directory, "data_dir", _signing_key(directory))
    else:
        default = default_actor(paths)
        if default:
            actor_hex, source = lookup_actor(paths, default), "repo_default"
        elif create:
            actor_hex = str(create_actor(paths)["actor_id"])
            cfg = read_toml(paths.config_path)
            cfg["default_actor"] = actor_hex
            write_toml(paths.config_path, cfg)
            source = "auto"
        else:
            raise GriteNotFound("no actor configured", hint="run `grite init`")
    directory = actor_dir(paths, actor_hex)
    return ActorInfo(bytes.fromhex(actor_hex), directory, source, _signing_key(directory))

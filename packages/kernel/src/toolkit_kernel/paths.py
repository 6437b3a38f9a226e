"""Where toolkit keeps per-user state and runtime sockets.

Tests and users redirect them with environment variables, so nothing ever has to
guess a home directory: `TOOLKIT_HOME` for state, `TOOLKIT_RUNTIME_DIR` for sockets
and daemon lock files, `TOOLKIT_CACHE_DIR` for rebuildable caches.
"""

from __future__ import annotations

import os
import stat

from toolkit_kernel.errors import IoFailure

TYPE_CHECKING = False  # pathlib (with the `re` it imports) is not worth its import to a short command
if TYPE_CHECKING:
    from pathlib import Path

try:  # CPython's own BLAKE2: hashlib would load OpenSSL (~2.5 ms) on every CLI start
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - other interpreters
    from hashlib import blake2b

__all__ = ["ensure_private_dir", "runtime_dir", "socket_file", "socket_path", "toolkit_cache", "toolkit_home"]

_RUNTIME_HINT = "set TOOLKIT_RUNTIME_DIR to a directory of your own (it is created with mode 0700)"
#: sun_path is 108 bytes on Linux; keep a margin for the file name.
_MAX_SOCKET_PATH = 100


def toolkit_home() -> Path:
    """Return the per-user state directory (`$TOOLKIT_HOME`, else `~/.local/share/toolkit`)."""
    from pathlib import Path

    env = os.environ.get("TOOLKIT_HOME")
    return Path(env) if env else Path.home() / ".local" / "share" / "toolkit"


def toolkit_cache() -> Path:
    """Return the per-user cache directory: `$TOOLKIT_CACHE_DIR`, else `$XDG_CACHE_HOME/toolkit`, else ~/.cache/toolkit.

    Only rebuildable data lives here (the host's entry-point index); deleting it is always safe.
    """
    from pathlib import Path

    env = os.environ.get("TOOLKIT_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "toolkit"


def ensure_private_dir(path: Path) -> Path:
    """Create `path` (and parents) with mode 0700, or check that the existing one is private.

    A directory this call did not create is never changed: if it belongs to another user or
    is open to group or others, this refuses instead of tightening it (it may be a directory
    other people or programs share on purpose).

    Raises:
        IoFailure: the directory is owned by another user, open to group/others, or not a directory.
    """
    _make_private(os.fspath(path))
    return path


def _make_private(path: str) -> None:
    """`ensure_private_dir` on a path string (no pathlib)."""
    path = path.rstrip("/") or "/"
    try:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise IoFailure(f"cannot create runtime directory {path}: {exc.strerror}", hint=_RUNTIME_HINT) from exc
    st = os.stat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise IoFailure(f"runtime directory {path} is not a directory", hint=_RUNTIME_HINT)
    if st.st_uid != os.getuid():
        raise IoFailure(f"runtime directory {path} is owned by uid {st.st_uid}, not by you", hint=_RUNTIME_HINT)
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        raise IoFailure(
            f"runtime directory {path} has mode {mode:04o}; toolkit needs one only you can use (0700)"
            " and does not change the mode of a directory it did not create",
            hint=f"run `chmod 700 {path}` if it is yours alone, or point TOOLKIT_RUNTIME_DIR at a new directory",
            details={"path": path, "mode": f"{mode:04o}"},
        )


def _runtime_base() -> str:
    env = os.environ.get("TOOLKIT_RUNTIME_DIR")
    if env:
        return env
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    return os.path.join(xdg, "toolkit") if xdg else f"/tmp/toolkit-{os.getuid()}"


def runtime_dir() -> Path:
    """Return the 0700 per-user runtime directory for sockets and daemon lock files.

    `$TOOLKIT_RUNTIME_DIR`, else `$XDG_RUNTIME_DIR/toolkit`, else `/tmp/toolkit-<uid>`.
    """
    from pathlib import Path

    return ensure_private_dir(Path(_runtime_base()))


def socket_file(system: str, key: str) -> str:
    """`socket_path` as a string, without importing pathlib (short commands such as `pom logs`).

    Raises:
        IoFailure: even the hashed path is too long (move TOOLKIT_RUNTIME_DIR somewhere shorter).
    """
    base = _runtime_base()
    _make_private(base)
    digest = blake2b(key.encode(), digest_size=8).hexdigest()
    path = os.path.join(base, f"{system}-{digest}.sock")
    if len(os.fsencode(path)) > _MAX_SOCKET_PATH:
        raise IoFailure(
            f"socket path {path} is too long for a Unix socket", hint="set TOOLKIT_RUNTIME_DIR to a short path"
        )
    return path


def socket_path(system: str, key: str) -> Path:
    """Return a short socket path for one daemon of `system` serving `key` (a repo or project path).

    The key is hashed so deep project paths never overflow `sun_path`.

    Raises:
        IoFailure: even the hashed path is too long (move TOOLKIT_RUNTIME_DIR somewhere shorter).
    """
    from pathlib import Path

    return Path(socket_file(system, key))

"""Where toolkit keeps per-user state and runtime sockets.

Tests and users redirect both with environment variables, so nothing ever has to
guess a home directory: `TOOLKIT_HOME` for state, `TOOLKIT_RUNTIME_DIR` for sockets
and daemon lock files.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from toolkit_kernel.errors import IoFailure

try:  # CPython's own BLAKE2: hashlib would load OpenSSL (~2.5 ms) on every CLI start
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - other interpreters
    from hashlib import blake2b

__all__ = ["ensure_private_dir", "runtime_dir", "socket_path", "toolkit_home"]

#: sun_path is 108 bytes on Linux; keep a margin for the file name.
_MAX_SOCKET_PATH = 100


def toolkit_home() -> Path:
    """Return the per-user state directory (`$TOOLKIT_HOME`, else `~/.local/share/toolkit`)."""
    env = os.environ.get("TOOLKIT_HOME")
    return Path(env) if env else Path.home() / ".local" / "share" / "toolkit"


def ensure_private_dir(path: Path) -> Path:
    """Create `path` (and parents) with mode 0700 and check nobody else owns or can read it.

    Raises:
        IoFailure: the directory is owned by another user or open to group/others.
    """
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    st = path.stat()
    if st.st_uid != os.getuid():
        raise IoFailure(f"runtime directory {path} is owned by uid {st.st_uid}", hint="set TOOLKIT_RUNTIME_DIR")
    if stat.S_IMODE(st.st_mode) & 0o077:
        os.chmod(path, 0o700)
    return path


def runtime_dir() -> Path:
    """Return the 0700 per-user runtime directory for sockets and daemon lock files.

    `$TOOLKIT_RUNTIME_DIR`, else `$XDG_RUNTIME_DIR/toolkit`, else `/tmp/toolkit-<uid>`.
    """
    env = os.environ.get("TOOLKIT_RUNTIME_DIR")
    if env:
        base = Path(env)
    elif os.environ.get("XDG_RUNTIME_DIR"):
        base = Path(os.environ["XDG_RUNTIME_DIR"]) / "toolkit"
    else:
        base = Path("/tmp") / f"toolkit-{os.getuid()}"
    return ensure_private_dir(base)


def socket_path(system: str, key: str) -> Path:
    """Return a short socket path for one daemon of `system` serving `key` (a repo or project path).

    The key is hashed so deep project paths never overflow `sun_path`.

    Raises:
        IoFailure: even the hashed path is too long (move TOOLKIT_RUNTIME_DIR somewhere shorter).
    """
    digest = blake2b(key.encode(), digest_size=8).hexdigest()
    path = runtime_dir() / f"{system}-{digest}.sock"
    if len(os.fsencode(path)) > _MAX_SOCKET_PATH:
        raise IoFailure(
            f"socket path {path} is too long for a Unix socket", hint="set TOOLKIT_RUNTIME_DIR to a short path"
        )
    return path

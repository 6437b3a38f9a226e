"""toolkit-plasmite: message pools in mmap ring-buffer files.

A drop-in for plasmite's Python binding: `from toolkit_plasmite import Client, Durability`.
Names are loaded on first use (PEP 562), so loading the toolkit plugin stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from toolkit_kernel import __version__  # one version for every toolkit distribution

_EXPORTS = {
    "DEFAULT_POOL_DIR": "toolkit_plasmite.core.api",
    "DEFAULT_POOL_SIZE": "toolkit_plasmite.core.api",
    "DEFAULT_POOL_SIZE_BYTES": "toolkit_plasmite.core.api",
    "Client": "toolkit_plasmite.core.api",
    "Durability": "toolkit_plasmite.core.api",
    "Message": "toolkit_plasmite.core.api",
    "MessageMeta": "toolkit_plasmite.core.api",
    "Pool": "toolkit_plasmite.core.api",
    "Stream": "toolkit_plasmite.core.api",
    "default_pool_dir": "toolkit_plasmite.core.api",
    "parse_message": "toolkit_plasmite.core.api",
    "AlreadyExistsError": "toolkit_plasmite.errors",
    "BusyError": "toolkit_plasmite.errors",
    "CorruptError": "toolkit_plasmite.errors",
    "ErrorKind": "toolkit_plasmite.errors",
    "InternalError": "toolkit_plasmite.errors",
    "IoError": "toolkit_plasmite.errors",
    "NotFoundError": "toolkit_plasmite.errors",
    "PermissionDeniedError": "toolkit_plasmite.errors",
    "PlasmiteError": "toolkit_plasmite.errors",
    "RetentionGapError": "toolkit_plasmite.errors",
    "UsageError": "toolkit_plasmite.errors",
    "_ERROR_KIND_TO_CLASS": "toolkit_plasmite.errors",
    "Lite3Frame": "toolkit_plasmite.core.lite3_api",
    "Lite3Stream": "toolkit_plasmite.core.lite3_api",
    "RemoteClient": "toolkit_plasmite.http.remote",
    "RemotePool": "toolkit_plasmite.http.remote",
    "UdpClient": "toolkit_plasmite.udp.client",
    "UdpEvent": "toolkit_plasmite.udp.client",
    "UdpFollow": "toolkit_plasmite.udp.client",
    "UdpFollowOptions": "toolkit_plasmite.udp.client",
    "UdpFrame": "toolkit_plasmite.udp.client",
    "UdpGap": "toolkit_plasmite.udp.client",
    "UdpPool": "toolkit_plasmite.udp.client",
    "UdpProgress": "toolkit_plasmite.udp.client",
    "UdpStart": "toolkit_plasmite.udp.client",
}

__all__ = [
    "DEFAULT_POOL_DIR",
    "DEFAULT_POOL_SIZE",
    "DEFAULT_POOL_SIZE_BYTES",
    "AlreadyExistsError",
    "BusyError",
    "Client",
    "CorruptError",
    "Durability",
    "ErrorKind",
    "InternalError",
    "IoError",
    "Lite3Frame",
    "Lite3Stream",
    "Message",
    "MessageMeta",
    "NotFoundError",
    "PermissionDeniedError",
    "PlasmiteError",
    "Pool",
    "RemoteClient",
    "RemotePool",
    "RetentionGapError",
    "Stream",
    "UdpClient",
    "UdpEvent",
    "UdpFollow",
    "UdpFollowOptions",
    "UdpFrame",
    "UdpGap",
    "UdpPool",
    "UdpProgress",
    "UdpStart",
    "UsageError",
    "__version__",
    "default_pool_dir",
    "parse_message",
]

if TYPE_CHECKING:
    from toolkit_plasmite.core.api import (
        DEFAULT_POOL_DIR,
        DEFAULT_POOL_SIZE,
        DEFAULT_POOL_SIZE_BYTES,
        Client,
        Durability,
        Message,
        MessageMeta,
        Pool,
        Stream,
        default_pool_dir,
        parse_message,
    )
    from toolkit_plasmite.core.lite3_api import Lite3Frame, Lite3Stream
    from toolkit_plasmite.errors import (
        AlreadyExistsError,
        BusyError,
        CorruptError,
        ErrorKind,
        InternalError,
        IoError,
        NotFoundError,
        PermissionDeniedError,
        PlasmiteError,
        RetentionGapError,
        UsageError,
    )
    from toolkit_plasmite.http.remote import RemoteClient, RemotePool
    from toolkit_plasmite.udp.client import (
        UdpClient,
        UdpEvent,
        UdpFollow,
        UdpFollowOptions,
        UdpFrame,
        UdpGap,
        UdpPool,
        UdpProgress,
        UdpStart,
    )


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'toolkit_plasmite' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__

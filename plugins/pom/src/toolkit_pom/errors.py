"""pom's error classes: kernel kinds with pom's exit codes (see specs/pom/cli.md)."""

from __future__ import annotations

from toolkit_kernel.errors import ConfigError, IpcError, NotFound, UsageError

__all__ = ["NotRunning", "PomConfigError", "ProcessFailed", "ReadyTimeout", "UnknownProcess", "UsageError"]


class PomConfigError(ConfigError):
    """A configuration file is wrong; `details` carries `file` and `key` (or `line`)."""

    exit_code = 2


class UnknownProcess(NotFound):
    """A process name (instance, group or `all`) matches nothing."""

    exit_code = 3


class NotRunning(IpcError):
    """No pom supervisor is running for this project."""

    kind = "not_running"
    exit_code = 6


class ProcessFailed(UsageError):
    """A process failed while `up --exit-when-ready` was waiting for the stack."""

    kind = "process_failed"
    exit_code = 1


class ReadyTimeout(UsageError):
    """The stack did not become ready within `--timeout`."""

    kind = "timeout"
    exit_code = 124

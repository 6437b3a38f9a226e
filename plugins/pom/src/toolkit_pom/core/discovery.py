"""Finding a project's configuration file without parsing it (kept tiny: the CLI imports it)."""

from __future__ import annotations

import os

from toolkit_pom.errors import PomConfigError

TYPE_CHECKING = False  # pathlib (and the `re` it imports) is not worth its import to `pom logs`
if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "COMPOSE_NAMES",
    "NAMES",
    "OVERRIDE_NAMES",
    "discover",
    "find_override",
    "is_compose_file",
    "project_dir_name",
]

#: Per directory, the first that exists wins (process-compose's own order for its four names).
NAMES = (
    "pom.toml",
    "compose.yml",
    "compose.yaml",
    "process-compose.yml",
    "process-compose.yaml",
    "Procfile",
)


COMPOSE_NAMES = ("compose.yml", "compose.yaml", "process-compose.yml", "process-compose.yaml")
#: process-compose merges the first of these it finds next to a discovered file.
OVERRIDE_NAMES = (
    "compose.override.yml",
    "compose.override.yaml",
    "process-compose.override.yml",
    "process-compose.override.yaml",
)


def is_compose_file(path: Path) -> bool:
    """True for a `.yaml`/`.yml` file name."""
    return path.suffix.lower() in (".yaml", ".yml")


def find_override(folder: Path) -> Path | None:
    """Return the first override file process-compose would merge from `folder`."""
    return next((folder / n for n in OVERRIDE_NAMES if (folder / n).is_file()), None)


def discover(start: Path | None = None) -> Path:
    """Find the config file in `start` or the nearest parent: `pom.toml`, a process-compose name, `Procfile`.

    Raises:
        PomConfigError: none found.
    """
    from pathlib import Path

    return Path(_discover(os.fspath(start) if start is not None else os.getcwd()))


def _discover(start: str) -> str:
    here = folder = os.path.realpath(start)
    while True:
        for name in NAMES:
            candidate = os.path.join(folder, name)
            if os.path.isfile(candidate):
                return candidate
        parent = os.path.dirname(folder)
        if parent == folder:
            raise PomConfigError(
                f"no pom.toml, process-compose.yaml or Procfile in {here} or its parents",
                hint="create pom.toml, process-compose.yaml or a Procfile, or pass -f FILE",
            )
        folder = parent


def project_dir_name(file: str | None) -> str:
    """Return the project directory for `-f FILE` (or the discovered config), without parsing it.

    Raises:
        PomConfigError: no config file found.
    """
    if file:
        if not os.path.isfile(file):
            raise PomConfigError(f"config file {file} does not exist", hint="pass -f FILE with an existing file")
        return os.path.dirname(os.path.realpath(file))
    return os.path.dirname(_discover(os.getcwd()))

"""Finding a project's configuration file without parsing it (kept tiny: the CLI imports it)."""

from __future__ import annotations

from pathlib import Path

from toolkit_pom.errors import PomConfigError

__all__ = ["COMPOSE_NAMES", "NAMES", "OVERRIDE_NAMES", "discover", "find_override", "is_compose_file"]

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
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        for name in NAMES:
            candidate = folder / name
            if candidate.is_file():
                return candidate
    raise PomConfigError(
        f"no pom.toml, process-compose.yaml or Procfile in {here} or its parents",
        hint="create pom.toml, process-compose.yaml or a Procfile, or pass -f FILE",
    )

"""Finding a project's configuration file without parsing it (kept tiny: the CLI imports it)."""

from __future__ import annotations

from pathlib import Path

from toolkit_pom.errors import PomConfigError

__all__ = ["NAMES", "discover"]

#: Per directory, the first that exists wins (process-compose's own order for its four names).
NAMES = (
    "pom.toml",
    "compose.yml",
    "compose.yaml",
    "process-compose.yml",
    "process-compose.yaml",
    "Procfile",
)


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

"""Finding a project's configuration file without parsing it (kept tiny: the CLI imports it)."""

from __future__ import annotations

from pathlib import Path

from toolkit_pom.errors import PomConfigError

__all__ = ["discover"]


def discover(start: Path | None = None) -> Path:
    """Find the config file: `pom.toml` or `Procfile` in `start` or the nearest parent.

    Raises:
        PomConfigError: none found.
    """
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        for name in ("pom.toml", "Procfile"):
            candidate = folder / name
            if candidate.is_file():
                return candidate
    raise PomConfigError(
        f"no pom.toml or Procfile in {here} or its parents",
        hint="create pom.toml or a Procfile, or pass -f FILE",
    )

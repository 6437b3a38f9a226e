"""pom: a dev-session process supervisor (Procfile / pom.toml, block log store, socket CLI, HTTP API, TUI)."""

from __future__ import annotations

__all__ = ["__version__"]

from toolkit_kernel import __version__  # one version for every toolkit distribution

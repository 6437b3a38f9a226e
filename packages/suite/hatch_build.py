"""Pin every toolkit distribution the meta distribution installs to its own version (lockstep)."""

from __future__ import annotations

from typing import Any

from hatchling.metadata.plugin.interface import MetadataHookInterface

SYSTEMS = ("grite", "plasmite", "pom", "graveyar")


class LockstepPins(MetadataHookInterface):
    """Write `dependencies` and the extras with `==<version>` pins, so one version installs everywhere."""

    def update(self, metadata: dict[str, Any]) -> None:
        """Fill in the dynamic dependency fields from the resolved version."""
        version = metadata["version"]
        metadata["dependencies"] = [f"toolkit-host=={version}", f"toolkit-kernel=={version}"]
        extras = {system: [f"toolkit-{system}=={version}"] for system in SYSTEMS}
        extras["mcp"] = [f"toolkit-host[mcp]=={version}"]  # `toolkit mcp`: the MCP SDK
        extras["all"] = [pin for extra in (*SYSTEMS, "mcp") for pin in extras[extra]]
        metadata["optional-dependencies"] = extras

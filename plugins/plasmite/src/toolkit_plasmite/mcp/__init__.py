"""plasmite's agent tools: one implementation (`mcp/plasmite.py`) behind `plasmite mcp`, `/mcp` and `toolkit mcp`.

`toolkit mcp` gets the same tools as `plasmite mcp`, over the default pool directory
(`$TOOLKIT_PLASMITE_DIR`, else ~/.plasmite/pools), read-write.
"""

from __future__ import annotations

from toolkit_plasmite.mcp.plasmite import INSTRUCTIONS, plasmite_tools

__all__ = ["INSTRUCTIONS", "plasmite_tools"]

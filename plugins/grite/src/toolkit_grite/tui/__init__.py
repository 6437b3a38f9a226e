"""`grite tui`: a terminal UI over the core issue operations (textual, imported only by that command)."""

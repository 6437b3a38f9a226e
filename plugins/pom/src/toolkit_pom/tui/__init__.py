"""pom's textual TUI (imported only by `pom up` on a terminal)."""

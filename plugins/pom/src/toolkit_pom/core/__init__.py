"""pom's domain core: configuration models and loaders (no click, HTTP or TUI)."""

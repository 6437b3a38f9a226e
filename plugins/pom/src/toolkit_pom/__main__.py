"""`python -m toolkit_pom` runs the `pom` command (used by `pom up -d`)."""

from __future__ import annotations

from toolkit_pom.cli.fast import main

if __name__ == "__main__":
    main()

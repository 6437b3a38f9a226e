"""`python -m toolkit_grite` runs the `grite` console script."""

from __future__ import annotations

from toolkit_grite.cli import main

main()

"""Domain model and rules shared by every adapter (gRPC, CLI, client) and both backends."""

from __future__ import annotations

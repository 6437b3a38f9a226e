"""grite's core: the event model, the WAL in git refs, the LMDB view and every operation a user can do.

No click, no IPC: the adapters (`cli/`, `daemon/`, `mcp/`) translate their input into calls of
`toolkit_grite.core.ops` (issues), `toolkit_grite.core.admin` (repository-level commands) and the
modules they use. This package's `__init__` imports nothing: the daemon client imports
`core.locate` on every `grite` invocation.
"""

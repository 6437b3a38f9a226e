"""The per-repository daemon: `server` answers typed core calls over the kernel's IPC; `client` forwards to it.

Imports nothing: the `grite` console script imports `daemon.client` before anything else.
"""

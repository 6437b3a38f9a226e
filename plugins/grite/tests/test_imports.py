from __future__ import annotations

import subprocess
import sys

HEAVY = ("pygit2", "lmdb", "nacl")


def _loaded(code: str) -> list[str]:
    probe = f"{code}\nimport sys\nprint(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    return [m for m in out.split(",") if m]


def test_command_group_imports_nothing_heavy():
    assert _loaded("from toolkit_grite.cli import grite; grite.list_commands(None)") == []
    assert _loaded("import toolkit_grite.plugin") == []


def test_daemon_client_path_is_light():
    # everything the forwarding path imports (see toolkit_grite.client._connect_fast)
    code = (
        "import toolkit_grite.cli, toolkit_grite.client, toolkit_grite.locate, toolkit_kernel.errors,"
        " toolkit_kernel.ipc.client, toolkit_kernel.paths"
    )
    assert _loaded(code) == []
    probe = code + "\nimport sys\nprint(*(m in sys.modules for m in ('click', 'asyncio', 'subprocess')))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False", "False"]

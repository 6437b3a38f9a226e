"""`grite install-skill`: a Claude skill file that teaches an agent to use grite."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from toolkit_grite.core.repo import RepoPaths
from toolkit_grite.errors import GriteConflict, GriteIoError

__all__ = ["SKILL", "install"]

SKILL = """---
name: grite
description: Track work as issues stored in git refs with the `grite` command (JSON output, locks, sync).
---

# grite: issues in git refs

Use `grite` to record, find and update work items of this repository. Add `--json` to every
command: the result is `{"schema_version":1,"ok":true,"data":{...}}` on stdout, errors are JSON on
stderr with a `code` (invalid_args 2, not_found 3, conflict 4, db_busy/io_error/db_error 5).

- Find work: `grite issue list --json "status:open label:bug"`, `grite issue dep topo --json`
  (dependency order), `grite issue show ID --json`. IDs accept unique prefixes of 4+ hex characters.
- Record work: `grite issue create --title T --body B --label L --json`, `grite issue comment ID
  --body B --json` (or `--body-file -` to read stdin), `grite issue close ID --json`.
- Relate work: `grite issue dep add ID --target OTHER --type blocks|depends_on|related_to --json`.
- Coordinate with other agents: `grite lock acquire path:src/module/ --ttl 600 --json` before editing,
  `grite lock release path:src/module/ --json` after; a conflict (exit 4) names the holder.
  Give each agent its own actor: `grite actor init --label agent-1 --json`, then `--actor agent-1`.
- Share: `grite sync --json` exchanges issues and locks with `origin` (never loses an event).
- Health: `grite doctor --json` (exit 5 when a check fails; `--fix` repairs what it can).
"""


def install(paths: RepoPaths, *, global_: bool, force: bool) -> dict[str, Any]:
    """Write the skill to `<repo>/.claude/skills/grite.md` (or `~/.claude/skills/` with `global_`).

    Raises:
        GriteConflict: it exists and `force` is not given.
        GriteIoError: it cannot be written (or the repository has no working tree).
    """
    if global_:
        base = Path(os.path.expanduser("~"))
    elif paths.workdir is not None:
        base = Path(paths.workdir)
    else:
        raise GriteIoError("a bare repository has no working tree for .claude/skills", hint="use --global")
    target = base / ".claude" / "skills" / "grite.md"
    exists = target.exists()
    if exists and not force:
        raise GriteConflict(f"Skill already installed at {target}. Use --force to overwrite.")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(SKILL, encoding="utf-8")
    except OSError as exc:
        raise GriteIoError(f"cannot write {target}: {exc}") from None
    return {"path": str(target), "action": "updated" if exists else "created"}

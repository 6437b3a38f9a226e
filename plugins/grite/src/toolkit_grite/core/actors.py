"""Repository setup and actors: `init`, `actor init|list|show|current|use|identities` as core calls."""

from __future__ import annotations

from typing import Any

from toolkit_grite.core import repo as r
from toolkit_grite.core.grite import Grite
from toolkit_grite.core.repo import RepoPaths
from toolkit_grite.errors import GriteNotFound

__all__ = ["actor_current", "actor_init", "actor_list", "actor_show", "actor_use", "identities", "init"]

AGENTS_SECTION = """## Grite

This repository tracks issues with grite (events in `refs/grite/*`, never in the working tree).
Useful commands for agents (add `--json` for machine output):

- `grite issue list --state open` / `grite issue show <id>`
- `grite issue create --title "..." --body "..." --label bug`
- `grite issue comment <id> --body "..."`, `grite issue close <id>`
- `grite lock acquire issue:<id>` before long work, `grite lock release issue:<id>` after
- `grite sync` to exchange issues with `origin`
- set `GRITE_ACTOR=<id>` (see `grite actor init --label <name>`) so each agent has its own identity
"""


def init(paths: RepoPaths, *, agents_md: bool = True) -> dict[str, Any]:
    """Set up grite in a repository: a default actor, the config, and (unless told not to) AGENTS.md."""
    paths.grite_dir.mkdir(parents=True, exist_ok=True)
    cfg = r.read_toml(paths.config_path)
    action = "existing"
    if not cfg.get("default_actor"):
        cfg["default_actor"] = r.create_actor(paths)["actor_id"]
        action = "created"
    cfg.setdefault("lock_policy", "warn")
    r.write_toml(paths.config_path, cfg)
    actor_hex = str(cfg["default_actor"])
    data: dict[str, Any] = {
        "actor_id": actor_hex,
        "data_dir": str(r.actor_dir(paths, actor_hex)),
        "repo_config": str(paths.config_path),
        "action": action,
    }
    if not agents_md or paths.workdir is None:
        data["agents_md_action"] = "disabled"
        return data
    agents = paths.workdir / "AGENTS.md"
    if not agents.exists():
        agents.write_text("# Agents\n\n" + AGENTS_SECTION, encoding="utf-8")
        data["agents_md_action"] = "created"
    elif "## Grite" not in agents.read_text(encoding="utf-8"):
        with agents.open("a", encoding="utf-8") as fh:
            fh.write("\n" + AGENTS_SECTION)
        data["agents_md_action"] = "updated"
    else:
        data["agents_md_action"] = "skipped"
    data["agents_md_path"] = str(agents)
    return data


def actor_init(paths: RepoPaths, *, label: str | None = None, generate_key: bool = False) -> dict[str, Any]:
    """Create a new actor (optionally with an Ed25519 signing key)."""
    cfg = r.create_actor(paths, label=label, generate_key=generate_key)
    data = {"actor_id": cfg["actor_id"], "label": label, "data_dir": str(r.actor_dir(paths, cfg["actor_id"]))}
    if cfg.get("public_key"):
        data["public_key"] = cfg["public_key"]
    return data


def actor_list(paths: RepoPaths) -> dict[str, Any]:
    """The local actors: id, label, data dir."""
    actors = [
        {"actor_id": a["actor_id"], "label": a.get("label"), "data_dir": a["data_dir"]} for a in r.list_actors(paths)
    ]
    return {"actors": actors}


def actor_show(g: Grite, actor_id: str | None = None) -> dict[str, Any]:
    """An actor's public config (default: the acting one)."""
    ident = r.lookup_actor(g.paths, actor_id) if actor_id else g.actor.actor_id.hex()
    cfg = r.read_actor(r.actor_dir(g.paths, ident))
    if not cfg:
        raise GriteNotFound(f"actor {ident} has no local config", hint="see `grite actor list`")
    keys = ("actor_id", "label", "created_ts", "public_key", "key_scheme")
    return {"actor": {k: cfg.get(k) for k in keys if k in cfg or k in ("actor_id", "label")}}


def actor_current(g: Grite) -> dict[str, Any]:
    """The acting actor and how it was chosen (flag, env, data_dir, repo_default, auto)."""
    a = g.actor
    return {"actor_id": a.actor_id.hex(), "data_dir": str(a.data_dir), "source": a.source}


def actor_use(paths: RepoPaths, actor_id: str) -> dict[str, Any]:
    """Make an actor the default (of this worktree when inside a linked worktree)."""
    ident = r.lookup_actor(paths, actor_id)
    if not (r.actor_dir(paths, ident) / "config.toml").is_file():
        raise GriteNotFound(f"actor {ident} does not exist here", hint="create one with `grite actor init`")
    target = paths.worktree_config_path or paths.config_path
    cfg = r.read_toml(target)
    cfg["default_actor"] = ident
    r.write_toml(target, cfg)
    return {"default_actor": ident, "repo_config": str(target)}


def identities(g: Grite) -> dict[str, Any]:
    """Every known identity (local and synced), by actor id."""
    from toolkit_grite.core.identities import known

    return {"identities": sorted(known(g).values(), key=lambda row: row["actor_id"])}

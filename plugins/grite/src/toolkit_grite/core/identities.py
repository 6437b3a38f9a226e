"""Identities: an actor's name and email, published in git so they travel with `sync`.

`refs/grite/identities/<actor hex>` points at a root commit whose tree holds `identity.json`
`{"actor_id","name","email","public_key"|null,"updated_ts"}`; only the actor itself rewrites
its ref. Remote identities arrive with the rest of `refs/grite/*` in the tracking namespace.
Readers take, per actor, the record with the greatest `updated_ts` (see specs/grite/identities.md).
"""

from __future__ import annotations

import json
import time
from typing import Any

from toolkit_grite.core import wal
from toolkit_grite.core.grite import Grite
from toolkit_grite.errors import InvalidArgs

__all__ = ["IDENT_PREFIX", "known", "publish"]

IDENT_PREFIX = "refs/grite/identities/"


def publish(g: Grite, name: str | None, email: str | None) -> dict[str, Any]:
    """Set the acting actor's name and/or email (others keep their value); return the record."""
    import pygit2

    if name is None and email is None:
        raise InvalidArgs("give --name and/or --email")
    for value in (name, email):
        if value is not None and (not value.strip() or any(ord(c) < 32 for c in value)):
            raise InvalidArgs("names and emails must be non-empty single-line text")
    me = g.actor.actor_id.hex()
    current = known(g).get(me, {})
    record = {
        "actor_id": me,
        "name": name if name is not None else current.get("name"),
        "email": email if email is not None else current.get("email"),
        "public_key": g.actor.signing_key and _public_key(g.actor.signing_key),
        "updated_ts": max(int(time.time() * 1000), int(current.get("updated_ts", 0)) + 1),
    }
    with g.write_lock():
        blob = g.repo.create_blob(json.dumps(record, indent=2, sort_keys=True).encode())
        tb = g.repo.TreeBuilder()
        tb.insert("identity.json", blob, pygit2.enums.FileMode.BLOB)
        sig = wal.signature()
        oid = str(g.repo.create_commit(None, sig, sig, f"Identity: {me[:8]}", tb.write(), []))
        ref = IDENT_PREFIX + me
        wal.set_ref(g.repo, ref, oid, expected=wal.ref_target(g.repo, ref), message="grite: identity")
    return record


def _public_key(seed: bytes) -> str:
    from nacl.signing import SigningKey

    return bytes(SigningKey(seed).verify_key).hex()


def known(g: Grite) -> dict[str, dict[str, Any]]:
    """Every identity this replica knows (local and fetched), newest record per actor."""
    out: dict[str, dict[str, Any]] = {}
    for refname in list(g.repo.references):
        local = refname.startswith(IDENT_PREFIX)
        if not local and not (refname.startswith("refs/remotes/") and "/grite/identities/" in refname):
            continue
        try:
            target = wal.ref_target(g.repo, refname)
            record = json.loads(g.repo[g.repo[target].tree["identity.json"].id].data)
        except (KeyError, ValueError, TypeError):
            continue  # not an identity record: ignored
        if not isinstance(record, dict) or not isinstance(record.get("actor_id"), str):
            continue
        if not refname.endswith("/" + record["actor_id"]):
            continue  # a record must sit under its own actor's name
        best = out.get(record["actor_id"])
        if best is None or int(record.get("updated_ts", 0)) > int(best.get("updated_ts", 0)):
            out[record["actor_id"]] = record
    return out

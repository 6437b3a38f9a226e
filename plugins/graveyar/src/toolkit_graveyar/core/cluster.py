"""Cluster membership: several `graveyar serve` on one PostgreSQL database appear as one cluster.

Each server records a heartbeat in the shared store every second; gossip lists the servers
heard of within the last five seconds. The longest-running of them is the leader (the others
are followers), so every server names the same leader and a client's node preference resolves
the same way whichever server it asks. Followers refuse what KurrentDB's followers refuse
(calls that require the leader), naming the leader as of their last heartbeat, so clients are
redirected as they are by KurrentDB; what they do serve, they serve from the shared store
(PostgreSQL orders the writes). A store no other server can open (LMDB) is a cluster of one:
this server, the leader.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from toolkit_graveyar.core.periodic import Periodic

if TYPE_CHECKING:
    from toolkit_graveyar.storage.base import Store

__all__ = ["ALIVE_WITHIN", "HEARTBEAT", "Cluster", "ClusterMember"]

log = logging.getLogger("graveyar.cluster")

#: Seconds between heartbeats.
HEARTBEAT = 1.0
#: A server silent for longer is no longer listed.
ALIVE_WITHIN = 5.0


@dataclass(frozen=True, slots=True)
class ClusterMember:
    """One server as gossip shows it."""

    instance_id: str
    host: str
    port: int
    leader: bool
    heartbeat_ms: int


class Cluster:
    """This server's membership in the cluster of servers sharing its store."""

    def __init__(self, store: Store, instance_id: str) -> None:
        self.store = store
        self.instance_id = instance_id
        self.host = ""
        self.port = 0
        #: The leader as of the last heartbeat (None until the first): answers without a query.
        self.leader: ClusterMember | None = None
        self._heart = Periodic("graveyar-cluster-heartbeat", HEARTBEAT, self._beat)

    async def start(self, host: str, port: int) -> None:
        """Announce this server at host:port and keep announcing it."""
        self.host, self.port = host, port
        await self._beat()
        self._heart.start()

    async def _beat(self) -> None:
        try:
            await self.store.heartbeat(self.instance_id, self.host, self.port)
        except Exception as exc:  # the backend is away: health reports it; gossip lists this server alone
            log.warning("cluster heartbeat failed: %s", exc)
            return  # the store is away (so is every write): keep the last view of the leader
        self.leader = next((m for m in await self.members() if m.leader), None)

    def leader_elsewhere(self) -> ClusterMember | None:
        """The leader when it is another server (as of the last heartbeat), else None."""
        leader = self.leader
        return leader if leader is not None and leader.instance_id != self.instance_id else None

    async def members(self) -> list[ClusterMember]:
        """The live servers, the leader first among equals (see the module docstring)."""
        now = int(time.time() * 1000)
        try:
            records = await self.store.members(ALIVE_WITHIN)
        except Exception as exc:
            log.warning("cluster members unreadable: %s", exc)
            records = []
        if records is None:
            return [ClusterMember(self.instance_id, self.host, self.port, True, now)]
        listed = [(r.instance_id, r.host, r.port, r.heartbeat_ms) for r in records]
        if self.instance_id not in {r[0] for r in listed}:
            # Not (yet, or no longer) recorded: this server answers, so it is alive.
            listed.append((self.instance_id, self.host, self.port, now))
        return [ClusterMember(i, h, p, n == 0, hb) for n, (i, h, p, hb) in enumerate(listed)]

    async def stop(self) -> None:
        """Stop announcing and leave (the others stop listing this server at once)."""
        await self._heart.stop()
        with contextlib.suppress(Exception):
            await self.store.leave(self.instance_id)

"""Leases over FileLeaseStore: unit behaviour with a fake clock, mutual exclusion with real processes."""

from __future__ import annotations

import itertools
import subprocess
import sys
import time
from pathlib import Path

import pytest

from toolkit_kernel.errors import Conflict, Corrupt, UsageError
from toolkit_kernel.locks import FileLeaseStore, Lease, LeaseManager

WORKER = Path(__file__).with_name("lock_worker.py")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def leases(tmp_path, clock):
    return LeaseManager(FileLeaseStore(tmp_path / "leases"), clock=clock)


def test_acquire_conflict_release(leases, clock):
    lease = leases.acquire("issue:1", "alice", ttl_s=60)
    assert lease.expires_at_ms == int(clock.now * 1000) + 60_000
    assert leases.get("issue:1") == lease
    assert leases.acquire("issue:1", "alice", ttl_s=60) == lease  # the owner gets its lease back
    with pytest.raises(Conflict) as info:
        leases.acquire("issue:1", "bob", ttl_s=60)
    assert info.value.details == {"resource": "issue:1", "holder": "alice", "expires_at_ms": lease.expires_at_ms}
    assert info.value.hint
    assert leases.try_acquire("issue:1", "bob", ttl_s=60) is None
    assert leases.release(lease) is True
    assert leases.release(lease) is False
    assert leases.get("issue:1") is None
    assert leases.try_acquire("issue:1", "bob", ttl_s=60).owner == "bob"


def test_expiry_lets_next_in_and_old_holder_cannot_release(leases, clock):
    old = leases.acquire("r", "alice", ttl_s=5)
    clock.now += 4.9
    assert leases.try_acquire("r", "bob", ttl_s=5) is None
    clock.now += 0.1
    assert leases.get("r") is None
    new = leases.acquire("r", "bob", ttl_s=5)
    assert new.nonce != old.nonce
    assert leases.release(old) is False
    with pytest.raises(Conflict):
        leases.renew(old, ttl_s=5)
    assert leases.get("r") == new


def test_renew(leases, clock):
    lease = leases.acquire("r", "alice", ttl_s=5)
    clock.now += 3
    renewed = leases.renew(lease, ttl_s=10)
    assert (renewed.nonce, renewed.expires_at_ms) == (lease.nonce, int(clock.now * 1000) + 10_000)
    clock.now += 20  # expired, but nobody took it: renewing is allowed
    assert leases.renew(renewed, ttl_s=1).owner == "alice"
    forged = Lease("r", "mallory", "0" * 32, 0)
    with pytest.raises(Conflict, match="not held by mallory") as info:
        leases.renew(forged, ttl_s=5)
    assert info.value.details["holder"] == "alice"
    with pytest.raises(Conflict):
        leases.renew(Lease("free", "x", "n", 0), ttl_s=5)
    with pytest.raises(UsageError):
        leases.acquire("r", "alice", ttl_s=0)


def test_gc_removes_only_expired(leases, clock, tmp_path):
    short = leases.acquire("a", "o", ttl_s=1)
    long = leases.acquire("b", "o", ttl_s=100)
    other = leases.acquire("c/with:odd chars and ünïcode", "o", ttl_s=2)
    clock.now += 5
    removed = leases.gc()
    assert sorted(removed, key=lambda lease: lease.resource) == [short, other]
    assert leases.store.list() == [long]
    assert leases.gc() == []


def test_store_cas_and_files(tmp_path):
    store = FileLeaseStore(tmp_path)
    lease = Lease("res", "o", "n1", 10)
    assert store.compare_and_set("res", None, lease)
    assert not store.compare_and_set("res", None, lease)
    assert store.read("res") == lease
    path = store.path_for("res")
    assert path.parent == tmp_path
    assert '"resource": "res"' in path.read_text()
    assert store.compare_and_set("res", lease, None)
    assert not path.exists()
    with pytest.raises(UsageError):
        store.compare_and_set("res", None, Lease("other", "o", "n", 1))
    path.write_text("{not json")
    with pytest.raises(Corrupt, match="damaged") as info:
        store.read("res")
    assert info.value.hint


@pytest.mark.slow
def test_processes_contending_for_a_lease_never_overlap(tmp_path):
    directory, log = tmp_path / "leases", tmp_path / "log"
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), "lease", str(directory), str(log), "8", "0.003", f"owner{i}", "30"],
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(5)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    rows = []
    for line in log.read_text().splitlines():
        owner, _, enter, leave = line.split()
        rows.append((owner, int(enter), int(leave)))
    rows.sort(key=lambda r: r[1])
    assert len(rows) == 40
    assert len({r[0] for r in rows}) == 5
    for prev, cur in itertools.pairwise(rows):
        assert prev[2] <= cur[1], f"two holders at once: {prev} {cur}"


@pytest.mark.slow
def test_crashed_holder_lease_expires_for_the_next_process(tmp_path):
    directory = tmp_path / "leases"
    code = (
        "import sys\n"
        "from toolkit_kernel.locks import FileLeaseStore, LeaseManager\n"
        "lease = LeaseManager(FileLeaseStore(sys.argv[1])).acquire('job', 'crasher', ttl_s=0.6)\n"
        "print(lease.expires_at_ms)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(directory)], capture_output=True, text=True, check=True)
    expires_at_ms = int(out.stdout)
    leases = LeaseManager(FileLeaseStore(directory))
    deadline = time.monotonic() + 30
    while True:
        before_ms = time.time() * 1000
        got = leases.try_acquire("job", "next", ttl_s=5)
        after_ms = time.time() * 1000
        if got is None:
            assert before_ms < expires_at_ms, "refused although the crashed holder's lease had expired"
            assert time.monotonic() < deadline
            time.sleep(0.02)
            continue
        assert after_ms >= expires_at_ms, "acquired before the crashed holder's lease expired"
        break
    lease = leases.get("job")
    assert lease is not None
    assert lease.owner == "next"

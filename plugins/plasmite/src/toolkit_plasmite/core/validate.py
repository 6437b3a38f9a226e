"""`doctor`: check every invariant of a pool file and say what to do about failures."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from toolkit_plasmite.core.codec import decode_payload
from toolkit_plasmite.core.format import (
    HEADER_SIZE,
    INDEX_SLOT,
    PLASMITE_LITE3_VERSION,
    STATE3,
    STATE3_OFFSET,
    State,
    check_state,
    decode_slots,
    parse_geometry,
)
from toolkit_plasmite.core.pool import PoolFile
from toolkit_plasmite.errors import CorruptError, PlasmiteError, UsageError

__all__ = ["validate_pool"]


def _issue(code: str, message: str, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"code": code, "message": message}
    out.update({k: v for k, v in extra.items() if v is not None})
    return out


_HINTS = {
    "format": "this pool uses a format this version cannot read; recreate it or use the tool that wrote it",
    "header": (
        "the header is damaged: copy the retained messages out (`plasmite follow POOL --tail N --jsonl`) "
        "and recreate the pool"
    ),
    "state": "the header state is damaged: recreate the pool from an export",
    "frame": "messages after last_good_seq are damaged: export up to last_good_seq and recreate the pool",
    "index": "the index is inconsistent (reads still work by scanning); recreate the pool to rebuild it",
    "chain": "the frame chain does not match the header: export what reads and recreate the pool",
    "io": "check that the file exists and is readable",
}


def validate_pool(path: Path, pool_ref: str | None = None) -> dict[str, Any]:
    """Check a pool file and return its doctor report.

    Returns:
        `{pool_ref, path, status, last_good_seq, issue_count, issues, remediation_hints, snapshot_path}`.
    """
    issues: list[dict[str, Any]] = []
    last_good: int | None = None
    spath = str(path)
    try:
        size = os.stat(path).st_size
        with open(path, "rb") as fh:
            header = fh.read(HEADER_SIZE)
        geo = parse_geometry(header, size, spath)
    except UsageError as exc:
        issues.append(_issue("format", exc.message))
        geo = None
    except CorruptError as exc:
        issues.append(_issue("header", exc.message, offset=exc.offset))
        geo = None
    except OSError as exc:
        issues.append(_issue("io", f"cannot read the pool: {exc.strerror or exc}"))
        geo = None
    if geo is not None:
        if geo.version == PLASMITE_LITE3_VERSION:
            head, tail, tnext, oldest, newest = STATE3.unpack_from(header, STATE3_OFFSET)
            best: State | None = State(0, head, tail, tnext, oldest, newest, 0)
        else:
            best = decode_slots(header[64:192])
        if best is None:
            issues.append(_issue("state", "no state slot verifies", offset=64))
        else:
            try:
                check_state(best, geo, spath)
            except CorruptError as exc:
                issues.append(_issue("state", exc.message, offset=exc.offset))
                best = None
        if best is not None:
            last_good = _check_frames(path, best, issues)
    hints = sorted({_HINTS[i["code"]] for i in issues})
    return {
        "pool_ref": pool_ref or spath,
        "path": spath,
        "status": "corrupt" if issues else "ok",
        "last_good_seq": last_good,
        "issue_count": len(issues),
        "issues": issues,
        "remediation_hints": hints,
        "snapshot_path": None,
    }


def _check_frames(path: Path, st: State, issues: list[dict[str, Any]]) -> int | None:
    try:
        pool = PoolFile(path, writable=False)
    except PlasmiteError as exc:
        issues.append(_issue("header", exc.message, offset=exc.offset))
        return None
    try:
        if st.empty:
            return None
        geo = pool.geo
        off = st.tail
        last_good: int | None = None
        offsets: dict[int, int] = {}
        second: int | None = None
        for seq in range(st.oldest, st.newest + 1):
            frame = pool._read_frame(off, seq)
            if frame is None:
                issues.append(_issue("frame", f"frame {seq} fails its checks", seq=seq, offset=off))
                return last_good
            located = pool._frame_header(off, seq)
            start = located[0] if located is not None else off
            offsets[seq] = start
            try:
                decode_payload(frame[2], seq=seq)
            except CorruptError as exc:
                issues.append(_issue("frame", exc.message, seq=seq, offset=off))
                return last_good
            last_good = seq
            if seq == st.oldest + 1:
                second = start
            off = frame[3]
        if off != st.head and not (st.head and geo.ring_size - st.head < 64 and off == 0):
            issues.append(_issue("chain", f"the newest frame ends at {off} but head is {st.head}", offset=off))
        expected_next = second if second is not None else st.head
        if st.tail_next != expected_next:
            issues.append(_issue("chain", f"tail_next is {st.tail_next}, expected {expected_next}", offset=88))
        if geo.index_capacity:
            for seq, at in offsets.items():
                slot = geo.index_offset + 16 * (seq % geo.index_capacity)
                slot_seq, slot_off = INDEX_SLOT.unpack_from(pool._mm, slot)
                if slot_seq == seq and slot_off != at:
                    issues.append(
                        _issue("index", f"index slot for {seq} points at {slot_off}, frame is at {at}", seq=seq)
                    )
        return last_good
    finally:
        pool.close()

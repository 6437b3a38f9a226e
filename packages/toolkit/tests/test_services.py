from __future__ import annotations

import pytest

from toolkit import Readiness, ServiceSpec


def test_readiness_rejects_unknown_kind():
    with pytest.raises(ValueError, match="unknown readiness kind"):
        Readiness(kind="smoke", target="x")  # type: ignore[arg-type]


def test_service_needs_argv():
    with pytest.raises(ValueError, match="non-empty argv"):
        ServiceSpec(name="x", argv=(), description="", default_address="", readiness=Readiness("tcp", "h:1"))


def test_to_dict_round_trips_env():
    spec = ServiceSpec("s", ("a",), "d", "127.0.0.1:1", Readiness("http", "http://127.0.0.1:1/"), env=(("K", "V"),))
    assert spec.to_dict()["env"] == {"K": "V"}

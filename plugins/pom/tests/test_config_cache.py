"""pom.toml's validation cache: a hit gives what the model gives, and never hides an error."""

from __future__ import annotations

import marshal
import subprocess
import sys
from pathlib import Path

import pytest

from toolkit_pom.core.config import load_config
from toolkit_pom.core.record import replace
from toolkit_pom.errors import PomConfigError

TOML = """\
[project]
ports = ["API_PORT"]
env = { GREETING = "hi" }

[processes.api]
command = "echo $API_PORT"
env = { URL = "http://127.0.0.1:${API_PORT}/" }
readiness = { http = "http://127.0.0.1:${API_PORT}/health", period = 0.5 }
restart = "on_failure"
x-note = "ignored"

[processes.worker]
argv = ["echo", "work"]
depends_on = { api = { condition = "healthy" } }
replicas = 2
"""


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cache"
    monkeypatch.setenv("TOOLKIT_CACHE_DIR", str(path))
    return path / "pom" / "validated"


def _project(tmp_path: Path, name: str, text: str = TOML) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "pom.toml").write_text(text)
    return folder / "pom.toml"


def test_a_hit_loads_what_the_model_loads(tmp_path: Path, cache: Path) -> None:
    first = load_config(_project(tmp_path, "a"))
    assert len(list(cache.glob("*.marshal"))) == 1
    second = load_config(_project(tmp_path, "b"))  # same bytes elsewhere: served from the cache
    assert len(list(cache.glob("*.marshal"))) == 1
    for config in (first, second):
        api, worker = config.processes["api"], config.processes["worker"]
        assert api.readiness is not None
        assert api.readiness.kind == "http"
        assert api.readiness.period == 0.5
        assert worker.depends_on == {"api": "healthy"}
        assert worker.replicas == 2
        assert api.restart == "on_failure"
        assert api.env["GREETING"] == "hi"
    # Ports are picked on every load, and paths follow the file, never the cache.
    assert second.dir == tmp_path / "b"
    assert second.processes["api"].cwd == tmp_path / "b"
    port = second.processes["api"].env["API_PORT"]
    assert second.processes["api"].env["URL"] == f"http://127.0.0.1:{port}/"


def test_hit_and_miss_agree_field_by_field(tmp_path: Path, cache: Path) -> None:
    text = TOML.replace('ports = ["API_PORT"]\n', "").replace("${API_PORT}", "8000")
    miss = load_config(_project(tmp_path, "a", text))
    hit = load_config(_project(tmp_path, "b", text))
    assert list(miss.processes) == list(hit.processes) == ["api", "worker"]
    for name in miss.processes:
        assert replace(miss.processes[name], cwd=Path("/")) == replace(hit.processes[name], cwd=Path("/"))
    assert (miss.http, miss.error_patterns, miss.kind) == (hit.http, hit.error_patterns, hit.kind)


def test_rejected_files_are_never_cached(tmp_path: Path, cache: Path) -> None:
    bad = _project(tmp_path, "a", TOML.replace('restart = "on_failure"', 'restrat = "on_failure"'))
    for _ in range(2):
        with pytest.raises(PomConfigError) as err:
            load_config(bad)
        assert err.value.details["key"] == "processes.api.restrat"
        assert "did you mean 'restart'" in (err.value.hint or "")
    assert not list(cache.glob("*.marshal"))


def test_a_corrupt_entry_is_validated_again(tmp_path: Path, cache: Path) -> None:
    load_config(_project(tmp_path, "a"))
    (entry,) = cache.glob("*.marshal")
    for n, garbage in enumerate((b"{not json", b"", b"\x00")):  # each a different error in `marshal`
        entry.write_bytes(garbage)
        config = load_config(_project(tmp_path, f"b{n}"))
        assert config.processes["worker"].depends_on == {"api": "healthy"}
        assert "worker" in marshal.loads(entry.read_bytes())["processes"]


def test_an_unwritable_cache_still_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("TOOLKIT_CACHE_DIR", str(blocker))  # a file: no directory can be made under it
    assert load_config(_project(tmp_path, "a")).processes["worker"].replicas == 2


def test_a_hit_does_not_import_pydantic(tmp_path: Path, cache: Path) -> None:
    file = _project(tmp_path, "a")
    load_config(file)
    code = (
        "import sys; from pathlib import Path; from toolkit_pom.core.config import load_config; "
        f"load_config(Path({str(file)!r})); print('pydantic' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_cache_is_bounded_and_keeps_recently_used_entries(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from toolkit_pom.core import config_cache

    monkeypatch.setattr(config_cache, "MAX_ENTRIES", 3)
    monkeypatch.setattr(config_cache._prune, "__defaults__", (3,))
    first = _project(tmp_path, "p0", TOML.replace('"hi"', '"v0"'))
    load_config(first)
    (entry,) = cache.glob("*.marshal")
    for n in range(1, 3):
        load_config(_project(tmp_path, f"p{n}", TOML.replace('"hi"', f'"v{n}"')))
    old = entry.stat().st_mtime_ns - 10**9
    for other in cache.glob("*.marshal"):  # every entry older than now, the first the oldest
        os.utime(other, ns=(old, old - 10**9 if other == entry else old))
    load_config(first)  # a hit: the first entry is now the most recently used
    for n in range(3, 5):
        load_config(_project(tmp_path, f"p{n}", TOML.replace('"hi"', f'"v{n}"')))
    assert len(list(cache.glob("*.marshal"))) == 3
    assert entry.exists()  # p1 and p2 were older, so they went
    load_config(_project(tmp_path, "p5", TOML.replace('"hi"', '"v5"')))
    assert not entry.exists()  # now it is the least recently used
    load_config(first)  # a miss again: validated and stored, nothing else broken
    assert entry.exists()
    assert len(list(cache.glob("*.marshal"))) == 3


def test_pruning_keeps_the_newest_entries(tmp_path: Path, cache: Path) -> None:
    import os

    from toolkit_pom.core.config_cache import _prune

    cache.mkdir(parents=True)
    for n in range(10):
        entry = cache / f"{n:02d}.marshal"
        entry.write_text("{}")
        os.utime(entry, ns=(n * 10**9, n * 10**9))
    (cache / ".07.marshal.123").write_text("{}")  # a writer's temporary file is not an entry
    _prune(cache, 4)
    assert sorted(p.name for p in cache.glob("*.marshal")) == ["06.marshal", "07.marshal", "08.marshal", "09.marshal"]
    assert (cache / ".07.marshal.123").exists()

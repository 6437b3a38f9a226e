"""The real grite 0.5.3 reads the configuration files ours writes, whatever text they hold."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolkit_grite.core.repo import write_toml
from toolkit_grite.testing import Ours, Real, make_repo

pytestmark = pytest.mark.interop

CONTROL = st.characters(min_codepoint=0, max_codepoint=0x1F) | st.sampled_from(['"', "\\", "\x7f"])
TEXT = st.text(alphabet=CONTROL | st.characters(codec="utf-8"), max_size=40)  # utf-8: no lone surrogates


def test_real_grite_reads_any_label_our_writer_wrote(tmp_path: Path) -> None:
    real = Real()
    repo = make_repo(tmp_path / "r")
    Ours()(repo, "init", "--no-agents-md")
    actor_hex = "0123456789abcdef0123456789abcdef"
    config = repo / ".git/grite/actors" / actor_hex / "config.toml"

    # Each example costs one real-grite process: a few dozen cover every escape class.
    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(label=TEXT)
    def check(label: str) -> None:
        write_toml(config, {"actor_id": actor_hex, "label": label, "created_ts": 1})
        listed = {a["actor_id"]: a["label"] for a in real(repo, "actor", "list")["actors"]}
        assert listed[actor_hex] == label
        shown = real(repo, "actor", "show", actor_hex)["actor"]
        assert (shown["label"], shown["created_ts"]) == (label, 1)

    check()


def test_real_grite_reads_a_control_character_label_set_through_our_cli(tmp_path: Path) -> None:
    real, ours = Real(), Ours()
    repo = make_repo(tmp_path / "r")
    ours(repo, "init", "--no-agents-md")
    label = 'ctl \x01\x1b[31m\x7f "q" \\ \t end'
    made = ours(repo, "actor", "init", "--label", label)
    ours(repo, "actor", "use", made["actor_id"])
    assert real(repo, "actor", "current") == {
        "actor_id": made["actor_id"],
        "data_dir": made["data_dir"],
        "source": "repo_default",
    }
    assert real(repo, "actor", "show", made["actor_id"])["actor"]["label"] == label
    created = real(repo, "issue", "create", "--title", "after our config")
    assert ours(repo, "issue", "show", created["issue_id"])["issue"]["title"] == "after our config"

"""`pom reload`: changed restarted, unchanged untouched, removed stopped, added started, invalid refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from toolkit_pom.testing import pid_alive, wait_for, write_project

BEFORE = """
[processes.keep]
command = "exec sleep 300"

[processes.edit]
command = "exec sleep 300"

[processes.drop]
command = "exec sleep 300"
"""

AFTER = """
[processes.keep]
command = "exec sleep 300"

[processes.edit]
command = "echo edited; exec sleep 301"
replicas = 2

[processes.new]
command = "echo new; exec sleep 300"
"""


def test_reload_applies_the_difference_and_keeps_the_old_config_when_invalid(
    tmp_path: Path, start_pom: Any, cli: Any
) -> None:
    config = write_project(tmp_path, BEFORE)
    pom = start_pom(config)
    f = ("-f", str(config))
    before = {name: pom.wait_state(name, "running")["pid"] for name in ("keep", "edit", "drop")}

    config.write_text(AFTER)
    result = cli("pom", "reload", *f, "--json").assert_success().json()
    assert result == {"changed": ["edit"], "added": ["new"], "removed": ["drop"], "unchanged": ["keep"]}
    for name in ("edit.1", "edit.2", "new"):
        pom.wait_state(name, "running")
    ps = pom.ps()
    assert set(ps) == {"keep", "edit.1", "edit.2", "new"}
    assert ps["keep"]["pid"] == before["keep"]  # untouched
    assert ps["edit.1"]["command"] == "echo edited; exec sleep 301"
    wait_for(lambda: not pid_alive(before["edit"]) and not pid_alive(before["drop"]), what="old processes gone")
    human = cli("pom", "reload", *f).assert_success().output
    assert "unchanged: keep, edit, new" in human

    config.write_text(AFTER + "\n[processes.broken]\nrestart = 7\n")
    bad = cli("pom", "reload", *f)
    assert bad.exit_code == 2
    assert "broken" in bad.stderr
    assert set(pom.ps()) == {"keep", "edit.1", "edit.2", "new"}
    assert pom.ps()["keep"]["pid"] == before["keep"]


def test_watch_reloads_on_file_changes_and_refuses_invalid_ones(tmp_path: Path, start_pom: Any) -> None:
    config = write_project(tmp_path, BEFORE)
    pom = start_pom(config, "--watch")
    keep = pom.wait_state("keep", "running")["pid"]
    config.write_text(AFTER)
    wait_for(lambda: set(pom.ps()) == {"keep", "edit.1", "edit.2", "new"}, what="the watched file reloaded")
    pom.wait_state("new", "running")
    assert pom.ps()["keep"]["pid"] == keep
    wait_for(lambda: "config reloaded (added new; changed edit; removed drop)" in pom.output(), what="notice")

    config.write_text(AFTER + "\n[processes.broken]\nrestart = 7\n")
    wait_for(lambda: "reload refused, the running config stays" in pom.output(), what="refusal")
    assert set(pom.ps()) == {"keep", "edit.1", "edit.2", "new"}
    config.write_text(BEFORE)  # fixed again: the next change is applied
    wait_for(lambda: set(pom.ps()) == {"keep", "edit", "drop"}, what="reloaded after the fix")
    assert pom.ps()["keep"]["pid"] == keep

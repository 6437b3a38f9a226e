"""`POST /process` of process-compose's API: update one process's config (specs/pom/process-compose-api.md)."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from toolkit_pom.testing import RunningPom, wait_for, write_project

STACK = """
processes:
  web:
    command: "echo web v1; exec sleep 300"
    environment: ["COLOR=red", "KEEP=1"]
    availability:
      restart: on_failure
      backoff_seconds: 2
  worker:
    command: "echo worker up; exec sleep 300"
    depends_on:
      web:
        condition: process_started
  probe:
    command: "exec sleep 300"
    readiness_probe:
      exec:
        command: "true"
      period_seconds: 1
"""


@pytest.fixture
def api(tmp_path: Path, start_pom: Any) -> Iterator[tuple[httpx.Client, RunningPom]]:
    config = tmp_path / "process-compose.yaml"
    config.write_text(textwrap.dedent(STACK))
    pom = start_pom(config, "--pc-api", "127.0.0.1:0")
    wait_for(lambda: all(p["state"] in ("running", "ready") for p in pom.ps().values()), 20, what="all up")
    with httpx.Client(base_url=pom.call("info")["pc_api_url"], timeout=30) as client:
        yield client, pom


def _logs(pom: RunningPom, name: str) -> list[str]:
    return [line["text"] for line in pom.call("logs", names=[name], limit=100)["lines"] if line["stream"] != "pom"]


def test_info_uses_go_names_and_ints(api: tuple[httpx.Client, RunningPom]) -> None:
    client, _ = api
    web = client.get("/process/info/web").json()
    assert (web["Name"], web["ReplicaName"], web["Replicas"], web["Command"]) == ("web", "web", 1, web["Command"])
    assert web["RestartPolicy"] == {
        "Restart": 2, "BackoffSeconds": 2, "MaxRestarts": 0, "ExitOnEnd": False, "ExitOnSkipped": False
    }  # fmt: skip
    assert "COLOR=red" in web["Environment"]
    assert web["Args"][-1] == "echo web v1; exec sleep 300"
    worker = client.get("/process/info/worker").json()
    assert worker["DependsOn"] == {"web": {"Condition": 3, "Extensions": None}}
    probe = client.get("/process/info/probe").json()
    assert probe["ReadinessProbe"]["Exec"]["Command"] == "true"
    assert probe["ReadinessProbe"]["PeriodSeconds"] == 1


def test_unchanged_config_does_nothing(api: tuple[httpx.Client, RunningPom]) -> None:
    client, pom = api
    pid = pom.ps()["web"]["pid"]
    info = client.get("/process/info/web").json()
    answer = client.post("/process", json=info)
    assert answer.status_code == 200
    assert answer.json() == info
    assert pom.ps()["web"]["pid"] == pid


def test_changed_command_and_env_restart_the_process(api: tuple[httpx.Client, RunningPom]) -> None:
    client, pom = api
    pid = pom.ps()["web"]["pid"]
    info = client.get("/process/info/web").json()
    env = [e for e in info["Environment"] if not e.startswith("KEEP=")]
    env = [("COLOR=blue" if e == "COLOR=red" else e) for e in env]
    body = {**info, "Command": 'echo "web v2 $COLOR ${KEEP:-gone}"; exec sleep 300', "Environment": env}
    answer = client.post("/process", json=body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["Command"] == body["Command"]
    wait_for(lambda: "web v2 blue gone" in _logs(pom, "web"), 20, what="the new command's output")
    assert pom.ps()["web"]["pid"] != pid
    # Fields the body did not change keep pom's definition.
    assert client.get("/process/info/web").json()["RestartPolicy"]["Restart"] == 2


def test_partial_body_and_case_insensitive_names(api: tuple[httpx.Client, RunningPom]) -> None:
    client, pom = api
    answer = client.post("/process", json={"replicaname": "worker", "restartpolicy": {"restart": "always"}})
    assert answer.status_code == 200, answer.text
    assert answer.json()["RestartPolicy"]["Restart"] == 1
    assert answer.json()["Command"] == "echo worker up; exec sleep 300"
    pom.wait_state("worker", "running")


def test_replicas_scale_the_group(api: tuple[httpx.Client, RunningPom]) -> None:
    client, pom = api
    answer = client.post("/process", json={"ReplicaName": "worker", "Replicas": 3})
    assert answer.status_code == 200, answer.text
    wait_for(lambda: {"worker-0", "worker-1", "worker-2"} <= set(pom.ps()), 20, what="three replicas")
    assert "worker" not in pom.ps()
    for name in ("worker-0", "worker-1", "worker-2"):
        pom.wait_state(name, "running")
    assert client.get("/process/info/worker-2").json()["ReplicaNum"] == 2


def test_dependencies_and_probes_change(api: tuple[httpx.Client, RunningPom]) -> None:
    client, pom = api
    body = {
        "ReplicaName": "web",
        "DependsOn": {"probe": {"Condition": 2}},
        "LivenessProbe": {"Exec": {"Command": "true"}, "PeriodSeconds": 1},
    }
    answer = client.post("/process", json=body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["DependsOn"] == {"probe": {"Condition": 2, "Extensions": None}}
    assert answer.json()["LivenessProbe"]["Exec"]["Command"] == "true"
    assert pom.wait_state("web", "running")["depends_on"] == {"probe": "healthy"}


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"ReplicaName": "nope", "Command": "x"}, "no such process: nope"),
        ({"Command": "x"}, "no such process: "),
        ({"ReplicaName": "web", "Replicas": "many"}, "replicas"),
        ({"ReplicaName": "web", "Replicas": 1000}, "Replicas: must be between 0 and 64"),
        ({"ReplicaName": "web", "RestartPolicy": {"Restart": 9}}, "RestartPolicy.Restart"),
        ({"ReplicaName": "web", "DependsOn": {"ghost": {"Condition": 3}}}, "no process named 'ghost'"),
        ({"ReplicaName": "web", "DependsOn": {"worker": {"Condition": 3}}}, "dependency cycle"),
        ({"ReplicaName": "web", "Name": "other"}, "cannot rename"),
        ({"ReplicaName": "web", "IsElevated": True}, "is_elevated: pom does not apply this field"),
        ({"ReplicaName": "probe", "ReadyLogLine": "up"}, "cannot be combined with ReadinessProbe"),
        (["web"], "expected a JSON object"),
    ],
)
def test_bad_updates_change_nothing(api: tuple[httpx.Client, RunningPom], body: Any, error: str) -> None:
    client, pom = api
    before = {name: p["pid"] for name, p in pom.ps().items()}
    answer = client.post("/process", json=body)
    assert answer.status_code == 400
    assert error in answer.json()["error"]
    assert {name: p["pid"] for name, p in pom.ps().items()} == before


def test_malformed_json_is_refused(api: tuple[httpx.Client, RunningPom]) -> None:
    client, _ = api
    answer = client.post("/process", content=b"{not json", headers={"content-type": "application/json"})
    assert answer.status_code == 400
    assert "ProcessConfig" in answer.json()["error"]


def test_pom_toml_group_is_redefined_with_its_own_names(tmp_path: Path, start_pom: Any) -> None:
    config = write_project(tmp_path, '[processes.web]\nargv = ["sleep", "300"]\nreplicas = 2\n')
    pom = start_pom(config, "--pc-api", "127.0.0.1:0")
    with httpx.Client(base_url=pom.call("info")["pc_api_url"], timeout=30) as client:
        info = client.get("/process/info/web.2").json()
        assert (info["Command"], info["Entrypoint"], info["Replicas"]) == ("", ["sleep", "300"], 2)
        answer = client.post("/process", json={"ReplicaName": "web.2", "Command": "echo changed; exec sleep 300"})
        assert answer.status_code == 200, answer.text
    # Every replica runs the new command; pom.toml's names stay.
    wait_for(lambda: all("changed" in _logs(pom, n) for n in ("web.1", "web.2")), 20, what="the new output")
    assert set(pom.ps()) == {"web.1", "web.2"}

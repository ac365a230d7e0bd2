"""What a new user does: `garrison up`, send an alert, look at the incident and the lab host, Ctrl-C.

This starts the real thing (prefect server, runner, intake API) as subprocesses on free ports, so it
is the slowest test (about a minute) and the one that proves the README's quick start.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from flows.demo import DEMO_HOST, mykings_alert

pytestmark = pytest.mark.slow
GARRISON = [sys.executable, "-m", "flows.cli"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "GARRISON_"))}
    clean.update(
        {
            "GARRISON_HOME": str(tmp_path / "garrison-home"),
            "GARRISON_API_PORT": str(_free_port()),
            "GARRISON_PREFECT_PORT": str(_free_port()),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        }
    )
    return clean


def _cli(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*GARRISON, *args], env=env, capture_output=True, text=True, timeout=timeout)


def _json(env: dict[str, str], *args: str) -> Any:
    done = _cli(env, *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _wait(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).is_success
    except httpx.HTTPError:
        return False


def _processes_with_home(home: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if f"GARRISON_HOME={home}".encode() in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc to find orphans")
def test_up_alert_incident_lab_demo_and_clean_stop(env: dict[str, str]) -> None:
    api = f"http://127.0.0.1:{env['GARRISON_API_PORT']}"
    ui = f"http://127.0.0.1:{env['GARRISON_PREFECT_PORT']}"
    seeded = _cli(env, "lab", "seed-demo")
    assert seeded.returncode == 0, seeded.stderr

    up = subprocess.Popen(
        [*GARRISON, "up"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        _wait(lambda: _answers(f"{api}/v1/health") or up.poll() is not None, 180, "garrison up")
        assert up.poll() is None, up.stdout.read() if up.stdout else ""
        assert httpx.get(ui, timeout=5).status_code == 200  # the Prefect UI

        key = (Path(env["GARRISON_HOME"]) / "secrets" / "GARRISON_DEMO_API_KEY").read_text().strip()
        auth = {"X-Garrison-Tenant": "demo", "Authorization": f"Bearer {key}"}
        assert httpx.post(f"{api}/v1/alerts", json=mykings_alert()).status_code == 401  # no credentials
        bad = httpx.post(
            f"{api}/v1/alerts", content=b"not json", headers={**auth, "content-type": "application/json"}
        )
        assert bad.status_code == 400
        accepted = httpx.post(f"{api}/v1/alerts", json=mykings_alert(), headers=auth, timeout=10)
        assert accepted.status_code == 202
        incident_id = accepted.json()["incident_id"]

        # High severity, attacker behaviour, Run-key persistence: the persistence-malware playbook contains
        # it and removes the autoruns; closed only by an analyst.
        _wait(
            lambda: _json(env, "incidents", "show", incident_id)["status"] == "contained",
            60,
            "incident contained",
        )
        incident = _json(env, "incidents", "show", incident_id)
        assert incident["verdict"] == "malicious"
        assert incident["playbook"] == "persistence-malware v1"
        assert {a["key"] for a in incident["actions"]} == {
            "lab.isolate_host",
            "lab.delete_registry_value",
            "lab.block_domain",
            "lab.block_url",
        }
        assert all(a["status"] == "succeeded" and a["target"] for a in incident["actions"])
        host = _json(env, "lab", "show", DEMO_HOST)
        assert host["isolated"] is True
        assert not {"start", "start1"} & {v["name"] for v in host["registry_values"]}
        assert [i["id"] for i in _json(env, "incidents", "list")] == [incident_id]

        demo = _cli(env, "demo", "--json")  # uses the running Garrison
        assert demo.returncode == 0, demo.stdout + demo.stderr
        assert json.loads(demo.stdout)["ok"] is True

        # The daily re-check of closed incidents is a deployment with its cron schedule.
        auth = (Path(env["GARRISON_HOME"]) / "secrets" / "PREFECT_API_AUTH_STRING").read_text().strip()
        token = base64.b64encode(auth.encode()).decode()
        found = httpx.post(
            f"{ui}/api/deployments/filter",
            json={"deployments": {"name": {"any_": ["recheck"]}}},
            headers={"Authorization": f"Basic {token}"},
            timeout=10,
        )
        assert found.status_code == 200, found.text
        [recheck] = found.json()
        crons = [s["schedule"].get("cron") for s in recheck["schedules"]]
        assert crons == ["17 3 * * *"] and "recheck" in recheck["tags"]
        # And by hand: the demo's incident is not closed (contained), so nothing is due yet.
        checked = _cli(env, "recheck", "--now", "--json")
        assert checked.returncode == 0, checked.stdout + checked.stderr
    finally:
        up.send_signal(signal.SIGTERM)
        try:
            code = up.wait(timeout=60)
        except subprocess.TimeoutExpired:
            up.kill()
            raise
    assert code == 0
    assert not _answers(f"{api}/v1/health") and not _answers(f"{ui}/api/health")
    _wait(lambda: not _processes_with_home(env["GARRISON_HOME"]), 10, "no orphan processes")

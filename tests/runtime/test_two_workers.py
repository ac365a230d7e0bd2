"""Garrison on PostgreSQL with a second runner: `garrison up --postgres URL` and `garrison worker`.

A throwaway PostgreSQL server (started here, skipped without Debian's binaries) holds the store and
Prefect's server. A first batch of incidents is handled by `garrison up` alone; then a worker starts, as on
a second machine (its own home, the secrets folder copied, the Prefect API by URL and auth string), and a
second batch is handled by both. Each runner names itself (GARRISON_WORKER_NAME) and tags the runs it won:
both must have taken runs, no incident may have run twice, no action row may exist twice.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from flows.runtime import DatabaseError, postgres_env, prepare_databases
from flows.settings import Settings
from flows.store import Store
from tests._postgres import missing_postgres, query, throwaway_postgres

from .conftest import GARRISON, Garrison, free_port, wait_for
from .pg_support import alert_for, seed_hosts, write_feed

BATCH = 12
TERMINAL = {"contained", "closed", "awaiting_approval"}
RUN_ENDED = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
CONCURRENCY = "4"  # per runner: a batch of 12 cannot all go to whichever runner polls first
UP_NAME, WORKER_NAME = "runner-up", "runner-two"


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    reason = missing_postgres()
    if reason:
        pytest.skip(reason)
    with throwaway_postgres() as url:
        yield url


def _base_env(home: Path, feeds: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "GARRISON_"))}
    env.update(
        GARRISON_HOME=str(home),
        GARRISON_INTEL_FEEDS=feeds,
        GARRISON_RESPOND_CONCURRENCY=CONCURRENCY,
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        COLUMNS="200",
    )
    return env


def _start(argv: list[str], env: dict[str, str], output: Path, ready: str) -> subprocess.Popen[bytes]:
    with output.open("wb") as out:
        process = subprocess.Popen([*GARRISON, *argv], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for(
            lambda: process.poll() is not None or ready in output.read_text(errors="replace"),
            240,
            f"`garrison {argv[0]}`",
        )
        assert process.poll() is None, output.read_text(errors="replace")
    except BaseException:
        process.kill()
        process.wait()
        raise
    return process


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def cluster(postgres: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """`garrison up --postgres` (runner ``runner-up``); the worker is started by the test."""
    tmp = tmp_path_factory.mktemp("scale")
    feeds = json.dumps(
        [str(f) for f in [*Settings().intel_feeds, write_feed(tmp / "feed.csv", range(2 * BATCH))]]
    )
    env = _base_env(tmp / "up-home", feeds)
    env.update(
        GARRISON_API_PORT=str(free_port()),
        GARRISON_PREFECT_PORT=str(free_port()),
        GARRISON_WORKER_NAME=UP_NAME,
    )
    process = _start(["up", "--postgres", postgres], env, tmp / "up.out", "Garrison is up")
    garrison = Garrison(
        home=tmp / "up-home",
        env=env,
        process=process,
        console=tmp / "up.out",
        api=f"http://127.0.0.1:{env['GARRISON_API_PORT']}",
        ui=f"http://127.0.0.1:{env['GARRISON_PREFECT_PORT']}",
    )
    started: dict[str, Any] = {
        "garrison": garrison,
        "tmp": tmp,
        "feeds": feeds,
        "url": postgres,
        "workers": [],
    }
    try:
        yield started
    finally:
        for worker in started["workers"]:
            _stop(worker)
        garrison.stop()


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*GARRISON, *args], env=env, capture_output=True, text=True, timeout=120)


def _deployment(garrison: Garrison, name: str) -> dict[str, Any]:
    found = httpx.get(
        f"{garrison.ui}/api/deployments/name/{name}", headers=garrison.auth_headers(), timeout=10
    )
    found.raise_for_status()
    result: dict[str, Any] = found.json()
    return result


def _store(url: str) -> Store:
    return Store.open(url.replace("postgresql://", "postgresql+psycopg://", 1))


def _post(garrison: Garrison, documents: list[dict[str, Any]]) -> list[str]:
    headers = {**garrison.tenant_headers(), "Content-Type": "application/x-ndjson"}
    body = b"\n".join(json.dumps(d).encode() for d in documents)
    response = httpx.post(f"{garrison.api}/v1/alerts:batch", content=body, headers=headers, timeout=120)
    assert response.status_code < 300, response.text
    ids = list(dict.fromkeys(r["incident_id"] for r in response.json()["results"] if r.get("incident_id")))
    assert len(ids) == len(documents), "one incident per host"
    return ids


def _runs(garrison: Garrison, body: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while True:
        response = httpx.post(
            f"{garrison.ui}/api/flow_runs/filter",
            json={**body, "limit": 200, "offset": len(found)},
            headers=garrison.auth_headers(),
            timeout=30,
        )
        response.raise_for_status()
        page = response.json()
        found += page
        if len(page) < 200:
            return found


def _handle(garrison: Garrison, store: Store, ids: list[str], timeout: float = 300) -> float:
    """Seconds from now until every incident is terminal for its round and its flow run has ended."""
    started = time.monotonic()

    def done() -> bool:
        views = [store.incident(i) for i in ids]
        if any(v is None or v.status not in TERMINAL or not v.flow_run_id for v in views):
            return False
        runs = _runs(garrison, {"flow_runs": {"id": {"any_": [v.flow_run_id for v in views if v]}}})
        return len(runs) == len(ids) and all((r.get("state") or {}).get("type") in RUN_ENDED for r in runs)

    wait_for(done, timeout, f"{len(ids)} incidents handled", every=1.0)
    return time.monotonic() - started


def _worker_of(run: dict[str, Any]) -> str | None:
    tags = [t for t in run.get("tags", []) if t.startswith("garrison-worker:")]
    assert len(tags) <= 1, run["tags"]
    return tags[0].split(":", 1)[1] if tags else None


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds processes in /proc")
def test_up_on_postgres_then_two_runners_share_a_burst_and_none_runs_twice(cluster: dict[str, Any]) -> None:
    garrison: Garrison = cluster["garrison"]
    url: str = cluster["url"]
    store = _store(url)
    seed_hosts(store, range(2 * BATCH))
    run = uuid.uuid4().hex[:8]

    # One runner: alert → incident → flow run Completed, all on PostgreSQL.
    first = _post(garrison, [alert_for(n, run) for n in range(BATCH)])
    one_runner = _handle(garrison, store, first)

    # A second machine: its own home, the secrets folder copied from the first, the API by URL.
    tmp: Path = cluster["tmp"]
    worker_home = tmp / "worker-home"
    worker_home.mkdir(mode=0o700)
    shutil.copytree(garrison.home / "secrets", worker_home / "secrets")
    env = _base_env(worker_home, cluster["feeds"])
    env.update(
        PREFECT_API_URL=f"{garrison.ui}/api",
        PREFECT_API_AUTH_STRING=garrison.secret("PREFECT_API_AUTH_STRING"),
    )
    refused = _cli({**env, "PREFECT_API_AUTH_STRING": "garrison:wrong"}, "worker", "--postgres", url)
    assert refused.returncode != 0 and "wants its auth string" in refused.stderr, refused.stderr
    worker = _start(
        ["worker", "--postgres", url, "--name", WORKER_NAME], env, tmp / "worker.out", "Garrison worker is up"
    )
    cluster["workers"].append(worker)

    second = _post(garrison, [alert_for(n, run) for n in range(BATCH, 2 * BATCH)])
    two_runners = _handle(garrison, store, second)

    incidents = {i: store.incident(i) for i in first + second}
    runs = _runs(garrison, {"deployments": {"name": {"any_": ["respond"]}}})
    by_incident: dict[str, list[dict[str, Any]]] = {}
    for flow_run in runs:
        by_incident.setdefault(flow_run["parameters"]["request"]["incident_id"], []).append(flow_run)
    for incident_id, view in incidents.items():
        assert view is not None
        taken = by_incident.get(incident_id, [])
        assert [r["id"] for r in taken] == [view.flow_run_id], f"{incident_id} ran {len(taken)} times"
        assert taken[0]["state"]["type"] == "COMPLETED", taken[0]["state"]
        rows = store.ledger.rows(incident_id)
        keys = [(row.action, row.target) for row in rows]
        assert rows and len(keys) == len(set(keys)), f"{incident_id}: {keys}"

    first_workers = {_worker_of(r) for i in first for r in by_incident[i]}
    second_workers = [_worker_of(r) for i in second for r in by_incident[i]]
    assert first_workers == {UP_NAME}
    assert set(second_workers) == {UP_NAME, WORKER_NAME}, second_workers

    # Prefect's tables live in their own schema, Garrison's in public: both have an `events` table.
    tables = set(query(url, "SELECT table_schema, table_name FROM information_schema.tables"))
    assert {
        ("prefect", "flow_run"),
        ("prefect", "events"),
        ("public", "incidents"),
        ("public", "events"),
    } <= tables
    assert ("public", "flow_run") not in tables

    # Links in the analysts' messages the worker wrote lead to the UI of the `garrison up` machine.
    links = {
        link
        for message in (worker_home / "outbox").rglob("*.txt")
        for link in re.findall(r"http://[^/\s]+/runs/flow-run/", message.read_text())
    }
    assert links == {f"{garrison.ui}/runs/flow-run/"}, links

    # The worker served the re-check without registering it: garrison up's cron is still there, and a
    # worker that stops pauses nothing (Prefect's Runner would pause every deployment it served).
    _stop(worker)
    recheck = _deployment(garrison, "recheck/recheck")
    assert [s["schedule"]["cron"] for s in recheck["schedules"] if s["active"]] == ["17 3 * * *"]
    assert not recheck["paused"] and not _deployment(garrison, "respond/respond")["paused"]
    assert "serves respond/respond, recheck/recheck" in (worker_home / "logs" / "worker.log").read_text()

    print(
        f"\n{BATCH} incidents, concurrency {CONCURRENCY} per runner: one runner {one_runner:.1f} s "
        f"({BATCH / one_runner:.2f}/s); two runners {two_runners:.1f} s ({BATCH / two_runners:.2f}/s); "
        f"second batch taken: {WORKER_NAME} {second_workers.count(WORKER_NAME)}, "
        f"{UP_NAME} {second_workers.count(UP_NAME)}"
    )


# -- fast: the settings --postgres stands for, and the one-line refusals ---------------------------------


def test_one_url_configures_both_sides_each_with_its_driver() -> None:
    env = postgres_env("postgres://g:p%40ss@db.example:6543/garrison?sslmode=require")

    assert (
        env["GARRISON_DATABASE_URL"]
        == "postgresql+psycopg://g:p%40ss@db.example:6543/garrison?sslmode=require"
    )
    prefect = "postgresql+asyncpg://g:p%40ss@db.example:6543/garrison?sslmode=require"
    assert (
        env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] == env["PREFECT_API_DATABASE_CONNECTION_URL"] == prefect
    )


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("mysql://g@db/garrison", "expected a postgresql:// URL"),
        ("postgresql+pg8000://g@db/garrison", "expected a postgresql:// URL"),
        ("postgresql://g@db", "names no database"),
        ("not a url", "not a database URL"),
    ],
)
def test_a_url_that_is_not_postgres_is_refused_naming_the_option(url: str, said: str) -> None:
    with pytest.raises(DatabaseError, match=said) as refused:
        postgres_env(url)
    assert str(refused.value).startswith("--postgres: ") and "\n" not in str(refused.value)


def test_a_missing_driver_is_named_with_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if `garrison[postgres]` was not installed

    with pytest.raises(DatabaseError) as refused:
        prepare_databases({"GARRISON_DATABASE_URL": "postgresql+psycopg://g@127.0.0.1:5432/garrison"})

    message = str(refused.value)
    assert message.startswith("GARRISON_DATABASE_URL: the driver for postgresql+psycopg is not installed")
    assert "pip install 'garrison[postgres]'" in message and "\n" not in message


def test_garrison_up_on_an_unreachable_postgres_says_so_in_one_line(tmp_path: Path) -> None:
    closed = free_port()
    env = _base_env(tmp_path / "home", "[]")
    env.update(GARRISON_API_PORT=str(free_port()), GARRISON_PREFECT_PORT=str(free_port()))

    done = _cli(env, "up", "--postgres", f"postgresql://garrison:s3cret@127.0.0.1:{closed}/garrison")

    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert f"GARRISON_DATABASE_URL: cannot reach PostgreSQL at 127.0.0.1:{closed}/garrison" in lines[0]
    assert "s3cret" not in done.stderr + done.stdout
    assert not (tmp_path / "home" / "logs").exists()  # refused before anything started


def test_a_worker_without_a_prefect_api_says_which_url_it_tried(tmp_path: Path) -> None:
    api = f"http://127.0.0.1:{free_port()}/api"
    env = _base_env(tmp_path / "home", "[]")

    done = _cli(env, "worker", "--prefect-api", api)

    assert done.returncode != 0
    assert f"the Prefect API at {api} does not answer (PREFECT_API_URL)" in done.stderr


def test_a_worker_name_is_a_plain_word() -> None:
    from flows.runtime._workers import WorkerError, worker_name

    assert worker_name("worker").endswith("-worker")
    os.environ["GARRISON_WORKER_NAME"] = "bad name;rm"
    try:
        with pytest.raises(WorkerError, match="GARRISON_WORKER_NAME"):
            worker_name("worker")
    finally:
        del os.environ["GARRISON_WORKER_NAME"]


@pytest.mark.usefixtures("prefect_harness")
def test_a_restarted_runner_settles_only_the_runs_it_took_itself() -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.objects import StateType
    from prefect.states import Pending, Running

    from flows.runtime._runner import settle_orphaned_runs
    from flows.runtime._workers import claim_message

    name = f"respond-{uuid.uuid4().hex[:8]}"
    with get_client(sync_client=True) as client:
        flow_id = client.create_flow_from_name("respond")
        deployment_id = client.create_deployment(flow_id=flow_id, name=name)
        runs = {}
        for key, tags, state in (
            ("ran here", ["garrison-worker:here"], Running()),
            ("runs elsewhere", ["garrison-worker:elsewhere"], Running()),
            # Killed between its claim and its tag: its name is only in the Pending state.
            ("claimed here", [], Pending(message=claim_message("here"))),
            ("claimed elsewhere", [], Pending(message=claim_message("elsewhere"))),
        ):
            run = client.create_flow_run_from_deployment(deployment_id, tags=tags)
            client.set_flow_run_state(run.id, state, force=True)
            runs[key] = run.id

        settled = settle_orphaned_runs(client, f"respond/{name}", worker="here")

        assert settled == 2
        states = {key: client.read_flow_run(i).state for key, i in runs.items()}
    assert {key: s.type if s else None for key, s in states.items()} == {
        "ran here": StateType.CRASHED,
        "runs elsewhere": StateType.RUNNING,
        "claimed here": StateType.CRASHED,
        "claimed elsewhere": StateType.PENDING,
    }

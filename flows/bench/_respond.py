"""``garrison bench respond``: incidents/s and latency through a real ``garrison up``, beside a baseline.

A real Garrison (Prefect server, runner, intake) starts as its own process on free ports with a throwaway
home, as a user runs it. N MyKings-like alerts, one per host, arrive in one batch; the lab fleet holds
each host, so every action succeeds. The store is polled until every incident is terminal for its round
(contained, closed, or waiting for an analyst) and its flow run has ended.

The baseline runs the same incidents' steps (enrich, triage, the playbook's act steps through the action
ledger, the notifications and the report) as plain functions in this process, one incident after the
other, without Prefect: what the work costs when nothing orchestrates it.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import make_url

from actions.lab import HostSeed, LabFleet
from flows.demo import DEMO_HOST, DEMO_TENANT, mykings_alert, mykings_host
from flows.intake import Intake
from flows.runtime import postgres_env
from flows.settings import Settings, get_settings
from flows.store import IncidentStatus, IncidentView, Store
from flows.tenants import Tenant, tenants_from

TERMINAL = frozenset({"contained", "closed", "awaiting_approval"})
_RUN_ENDED = frozenset({"COMPLETED", "FAILED", "CRASHED", "CANCELLED"})
_LOCKED = re.compile(rb"database is locked")
START_TIMEOUT = 180.0
RUNNER_KNOBS = frozenset({"GARRISON_RESPOND_CONCURRENCY", "GARRISON_INPROCESS_RUNS"})


@dataclass
class RespondBenchmark:
    incidents: int
    handled: int  # terminal for its round with its flow run ended, before the deadline
    seconds: float  # from the batch post to the last incident handled
    incidents_per_second: float
    first_action_p50_s: float
    first_action_p95_s: float
    terminal_p50_s: float
    terminal_p95_s: float
    statuses: dict[str, int]
    runs: dict[str, int]  # flow run final states
    database_locked: int  # lines saying "database is locked" in the Prefect server's log
    baseline_seconds: float
    baseline_per_second: float
    baseline_per_incident_ms: float
    overhead_ratio: float  # orchestrated seconds per incident ÷ baseline seconds per incident
    database: str = "sqlite"  # where the Garrison under test kept its store and Prefect's tables

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


STORE_URL = "GARRISON_DATABASE_URL"


def bench_alert(n: int, run: str) -> tuple[str, dict[str, Any]]:
    """The MyKings alert for host ``n`` of this run: its own host, C2 domain and sender id, so that no
    two alerts share what groups alerts into one incident (a host and rule, a network indicator)."""
    host = f"WS-BENCH-{n:04d}"
    document: dict[str, Any] = json.loads(_rename(json.dumps(mykings_alert()), n))
    document["finding_info"]["uid"] = f"bench-respond-{run}-{n}"
    document["metadata"]["uid"] = f"bench-{run}-{n}"
    return host, document


def _rename(text: str, n: int) -> str:
    c2 = _c2(n)
    text = text.replace(DEMO_HOST, f"WS-BENCH-{n:04d}").replace(DEMO_HOST.lower(), f"ws-bench-{n:04d}")
    return text.replace("js.mykings.top", c2).replace("js[.]mykings[.]top", c2.replace(".", "[.]"))


def _where(url: str) -> str:
    """``postgresql host:port/database``: where the Garrison under test kept its data (no password)."""
    parsed = make_url(postgres_env(url)[STORE_URL])
    return f"postgresql {parsed.host}:{parsed.port or 5432}/{parsed.database}"


def _c2(n: int) -> str:
    return f"c{n:04d}.mykings.top"


def seed_hosts(store: Store, count: int, tenant: str = DEMO_TENANT) -> None:
    """Lab hosts ``0 … count-1`` as the MyKings host, each calling its own C2."""
    fleet = LabFleet(store.engine)
    template = mykings_host(tenant).model_dump_json()
    for n in range(count):
        fleet.seed(HostSeed.model_validate_json(_rename(template, n)))


def write_feed(path: Path, count: int) -> Path:
    """An intel feed naming each incident's C2 malicious, as the default feed names the demo's."""
    lines = ["type,value,verdict,reason,first_seen,source,last_seen"]
    for n in range(count):
        defanged = _c2(n).replace(".", "[.]")
        seen = "2017-03-01,garrison-bench,2026-11-01"
        lines += [
            f"domain,{_c2(n)},malicious,benchmark MyKings C2,{seen}",
            f"url,hxxp://{defanged}:280/v[.]sct,malicious,benchmark scriptlet,{seen}",
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_respond_benchmark(
    incidents: int = 100,
    timeout_seconds: float = 900.0,
    say: Callable[[str], None] = lambda _: None,
    env: dict[str, str] | None = None,
    postgres: str | None = None,
) -> RespondBenchmark:
    """``env``: extra environment for the Garrison under test (e.g. a runner setting to compare);
    ``postgres``: a PostgreSQL URL for its store and Prefect's tables (``garrison up --postgres``; an empty
    database is best: the baseline always runs on a SQLite store of its own)."""
    extra = {**(env or {}), **({"GARRISON_POSTGRES_URL": postgres} if postgres else {})}
    run = uuid.uuid4().hex[:8]
    alerts = [bench_alert(n, run) for n in range(incidents)]
    with tempfile.TemporaryDirectory(prefix="garrison-bench-") as folder:
        root = Path(folder)
        feeds = json.dumps(
            [str(f) for f in [*Settings().intel_feeds, write_feed(root / "feed.csv", incidents)]]
        )
        say("baseline: the same steps as plain functions in this process")
        baseline = _baseline(alerts, root / "baseline", feeds)
        say("starting Garrison (Prefect server, runner, intake) …")
        garrison = _Garrison.start(root / "garrison", {"GARRISON_INTEL_FEEDS": feeds, **extra})
        try:
            store = Store.open(
                postgres_env(postgres)[STORE_URL] if postgres else garrison.settings.database_url
            )
            seed_hosts(store, incidents)
            say(f"posting {incidents} alerts in one batch")
            incident_ids, posted_at = garrison.post([document for _, document in alerts])
            say("waiting for every incident to be handled")
            seen = _wait_handled(store, garrison, incident_ids, posted_at, timeout_seconds, say)
            locked = garrison.locked_lines()
        finally:
            garrison.stop()
    figures = _figures(incidents, posted_at, seen, locked, baseline)
    return replace(figures, database=_where(postgres) if postgres else "sqlite")


@dataclass
class _Seen:
    status: str
    run_state: str | None
    first_action: datetime | None
    ended: datetime | None


def _figures(
    incidents: int,
    posted_at: datetime,
    seen: dict[str, _Seen],
    locked: int,
    baseline: float,
) -> RespondBenchmark:
    done = [s for s in seen.values() if s.ended is not None and s.status in TERMINAL]
    terminal = sorted((s.ended - posted_at).total_seconds() for s in done if s.ended)
    first = sorted((s.first_action - posted_at).total_seconds() for s in done if s.first_action)
    seconds = terminal[-1] if terminal else 0.0
    statuses: dict[str, int] = {}
    runs: dict[str, int] = {}
    for s in seen.values():
        statuses[s.status] = statuses.get(s.status, 0) + 1
        runs[s.run_state or "none"] = runs.get(s.run_state or "none", 0) + 1
    per_incident = seconds / len(done) if done else 0.0
    baseline_each = baseline / incidents if incidents else 0.0
    return RespondBenchmark(
        incidents=incidents,
        handled=len(done),
        seconds=round(seconds, 2),
        incidents_per_second=round(len(done) / seconds, 3) if seconds else 0.0,
        first_action_p50_s=_pct(first, 50),
        first_action_p95_s=_pct(first, 95),
        terminal_p50_s=_pct(terminal, 50),
        terminal_p95_s=_pct(terminal, 95),
        statuses=statuses,
        runs=runs,
        database_locked=locked,
        baseline_seconds=round(baseline, 3),
        baseline_per_second=round(incidents / baseline, 2) if baseline else 0.0,
        baseline_per_incident_ms=round(baseline_each * 1000, 1),
        overhead_ratio=round(per_incident / baseline_each, 1) if baseline_each else 0.0,
    )


def _pct(values: list[float], percent: int) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return round(values[0], 2)
    return round(statistics.quantiles(values, n=100, method="inclusive")[percent - 1], 2)


# -- the Garrison under test ---------------------------------------------------------------------------


@dataclass
class _Garrison:
    settings: Settings
    process: subprocess.Popen[bytes]
    output: Path

    @classmethod
    def start(cls, home: Path, extra: dict[str, str]) -> _Garrison:
        home.mkdir(parents=True, mode=0o700)
        api_port, prefect_port = _free_port(), _free_port()
        # Nothing of the operator's Garrison or Prefect (home, ports, API): only the runner's own knobs,
        # so that `GARRISON_RESPOND_CONCURRENCY=4 garrison bench respond` measures that setting.
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("PREFECT_", "GARRISON_")) or k in RUNNER_KNOBS
        }
        env.update(
            GARRISON_HOME=str(home),
            GARRISON_API_PORT=str(api_port),
            GARRISON_PREFECT_PORT=str(prefect_port),
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            COLUMNS="200",
        )
        env.update(extra)
        settings = Settings(home=home, api_port=api_port, prefect_port=prefect_port)
        output = home.parent / "garrison-up.out"
        with output.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "flows.cli", "up"], env=env, stdout=out, stderr=subprocess.STDOUT
            )
        garrison = cls(settings, process, output)
        deadline = time.monotonic() + START_TIMEOUT
        while b"Garrison is up" not in output.read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                said = output.read_text(errors="replace")[-2000:]
                garrison.stop()
                raise RuntimeError(f"garrison up did not start for the benchmark; it said:\n{said}")
            time.sleep(0.2)
        return garrison

    def post(self, documents: list[dict[str, Any]]) -> tuple[list[str], datetime]:
        tenant = tenants_from(self.settings.tenants_file).get(DEMO_TENANT)
        key = tenant.auth.api_keys[0].resolve(self.settings.secrets_dir) if tenant else None
        if key is None:
            raise RuntimeError(f"no API key for tenant {DEMO_TENANT} in {self.settings.secrets_dir}")
        headers = {
            "X-Garrison-Tenant": DEMO_TENANT,
            "Authorization": f"Bearer {key.get_secret_value()}",
            "Content-Type": "application/x-ndjson",
        }
        body = b"\n".join(json.dumps(d).encode() for d in documents)
        posted_at = datetime.now(UTC)
        response = httpx.post(
            f"{self.settings.api_url}/v1/alerts:batch", content=body, headers=headers, timeout=120.0
        )
        if response.status_code >= 300:
            raise RuntimeError(f"the intake answered {response.status_code}: {response.text[:300]}")
        results = response.json()["results"]
        ids = list(dict.fromkeys(r["incident_id"] for r in results if r.get("incident_id")))
        if len(ids) != len(documents):
            raise RuntimeError(f"{len(documents)} alerts made {len(ids)} incidents, not one each")
        return ids, posted_at

    def run_states(self, run_ids: list[str]) -> dict[str, tuple[str, datetime | None]]:
        if not run_ids:
            return {}
        response = httpx.post(
            f"{self.settings.prefect_api_url}/flow_runs/filter",
            json={"flow_runs": {"id": {"any_": run_ids}}, "limit": len(run_ids)},
            headers=self.settings.prefect_auth_headers(),
            timeout=30.0,
        )
        response.raise_for_status()
        found = {}
        for run in response.json():
            state = (run.get("state") or {}).get("type") or ""
            end = run.get("end_time")
            found[run["id"]] = (state, datetime.fromisoformat(end) if end else None)
        return found

    def locked_lines(self) -> int:
        log = self.settings.home / "logs" / "prefect-server.log"
        return len(_LOCKED.findall(log.read_bytes())) if log.exists() else 0

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=90)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _wait_handled(
    store: Store,
    garrison: _Garrison,
    incident_ids: list[str],
    posted_at: datetime,
    timeout_seconds: float,
    say: Callable[[str], None],
) -> dict[str, _Seen]:
    # Light on purpose (one query for every status, full reads only of incidents that look done): the
    # benchmark shares the machine with what it measures. Latencies come from timestamps the store and
    # Prefect recorded, so how often this looks does not change them.
    wanted = set(incident_ids)
    seen: dict[str, _Seen] = {}
    deadline = time.monotonic() + timeout_seconds
    while True:
        statuses = {i.id: i.status for i in store.incidents(limit=len(wanted) + 1000) if i.id in wanted}
        for incident_id, status in statuses.items():
            if incident_id not in seen or seen[incident_id].ended is None:
                seen[incident_id] = _Seen(status, None, None, None)
        looking = [i for i, s in seen.items() if s.ended is None and s.status in TERMINAL]
        views = {i: view for i in looking if (view := store.incident(i)) is not None}
        try:
            runs = garrison.run_states([v.flow_run_id for v in views.values() if v.flow_run_id])
        except httpx.HTTPError as error:  # a server busy with the burst: ask again on the next round
            say(f"the Prefect API did not answer ({type(error).__name__}); asking again")
            runs = {}
        for incident_id, view in views.items():
            state, end = runs.get(view.flow_run_id or "", (None, None))
            ended = end if state in _RUN_ENDED and view.status in TERMINAL else None
            if ended is not None and ended < posted_at:
                ended = None  # a clock step: never report a negative latency
            seen[incident_id] = _Seen(view.status, state, _first_action(store, view), ended)
        handled = sum(1 for s in seen.values() if s.ended is not None)
        say(f"{handled}/{len(incident_ids)} incidents handled")
        if handled == len(incident_ids) or time.monotonic() > deadline:
            return seen
        time.sleep(1.0)


def _first_action(store: Store, view: IncidentView) -> datetime | None:
    rows = store.ledger.rows(view.id)
    if not rows:
        return None
    first = min(row.created_at for row in rows)
    return first if first.tzinfo else first.replace(tzinfo=UTC)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the baseline: the same steps as plain functions -------------------------------------------------


def _baseline(alerts: list[tuple[str, dict[str, Any]]], home: Path, feeds: str) -> float:
    """Seconds to handle every incident one after the other in this process (after storing the alerts,
    which the orchestrated figures do not count either)."""
    with _home(home, feeds):
        return _baseline_in(alerts, get_settings())


@contextmanager
def _home(home: Path, feeds: str) -> Iterator[None]:
    # The steps read Garrison's settings themselves (the outbox, the tenants): point them at the
    # baseline's throwaway home while it runs, never at the user's.
    # Its store is the home's SQLite, whatever GARRISON_DATABASE_URL the operator's shell names.
    saved = {name: os.environ.get(name) for name in ("GARRISON_HOME", "GARRISON_INTEL_FEEDS", STORE_URL)}
    os.environ.update(GARRISON_HOME=str(home), GARRISON_INTEL_FEEDS=feeds)
    os.environ.pop(STORE_URL, None)
    get_settings.cache_clear()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        get_settings.cache_clear()


def _baseline_in(alerts: list[tuple[str, dict[str, Any]]], settings: Settings) -> float:
    settings.ensure_home()
    store = Store.open(settings.database_url)
    tenant = tenants_from(settings.tenants_file).get(DEMO_TENANT)
    if tenant is None:
        raise RuntimeError(f"the default tenants file has no tenant {DEMO_TENANT!r}")
    seed_hosts(store, len(alerts))
    report = Intake(store).accept(tenant, list(enumerate(document for _, document in alerts)))
    ids = list(dict.fromkeys(item.incident_id for _, item in report.accepted))
    started = time.perf_counter()
    for incident_id in ids:
        _respond_plainly(store, settings, tenant, incident_id)
    elapsed = time.perf_counter() - started
    store.engine.dispose()
    return elapsed


def _respond_plainly(store: Store, settings: Settings, tenant: Tenant, incident_id: str) -> str:
    from flows.notify import notify_event, render_report
    from flows.respond import act_on_incident, incident_indicators, playbook_for, settle
    from flows.store import StandingDecisions
    from flows.triage import StoreTelemetry, enrich, triage

    incident = _view(store, incident_id)
    # A flow run id is a UUID (36 characters; PostgreSQL holds the column to that): a fresh one stands in.
    store.claim(incident_id, str(uuid.uuid4()))
    found = enrich(
        incident_indicators(incident),
        tenant=tenant.id,
        feeds=settings.intel_feeds,
        intel=tenant.intel,
        incident_id=incident_id,
    )
    store.save_indicators(incident_id, found.indicators)
    incident = _view(store, incident_id)
    alerts = [_alert(d) for d in store.alert_documents(incident_id)]
    standing = StandingDecisions(store.engine).in_force(tenant.id)
    result = triage(
        alerts, incident_indicators(incident), tenant.policy, StoreTelemetry(store.engine), standing=standing
    )
    store.set_verdict(incident_id, result.verdict)
    verdict = result.verdict.verdict.value
    playbook = playbook_for(store, _view(store, incident_id), tenant, "", verdict=verdict)
    outcomes: list[dict[str, Any]] = []
    told = False
    for step in playbook.steps:
        if step.kind != "act" or not step.when.holds(verdict):
            continue
        store.set_status(incident_id, IncidentStatus.RESPONDING, "containment started", "act")
        done = asyncio.run(act_on_incident(store, _view(store, incident_id), tenant, list(step.actions)))
        outcomes += [outcome.__dict__ for outcome in done]
        contained, _held = settle(store, incident_id, outcomes)
        if contained and not told:
            notify_event("containment_done", incident_id, tenant=tenant, store=store)
            told = True
    notify_event("incident_report", incident_id, tenant=tenant, store=store)
    render_report(incident_id, channel="markdown", store=store, tenant=tenant)
    store.end_run(incident_id)
    return str(_view(store, incident_id).status)


def _view(store: Store, incident_id: str) -> IncidentView:
    view = store.incident(incident_id)
    if view is None:
        raise LookupError(f"incident {incident_id} vanished from the baseline store")
    return view


def _alert(document: dict[str, Any]) -> Any:
    from flows.models import Alert

    return Alert.model_validate(document)

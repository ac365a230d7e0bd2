"""One action through the ledger: PENDING before the call, reconciliation by reading vendor state, one
worker per key, vendor load (429 storms, circuit breaker), and many hosts per incident. Plain functions,
no Prefect server."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import create_engine, text

from actions import (
    ActionContext,
    ActionResult,
    ActionSpec,
    ActionStatus,
    Effect,
    TargetKind,
    TargetState,
    TransientError,
    registry,
)
from actions.http import HttpPool
from actions.lab import HostSeed, LabFleet
from flows.models import Alert, Indicator, IndicatorType, Provenance
from flows.respond._act import act_on_incident, settle
from flows.respond._execute import Timing, _fence, _send, execute
from flows.respond._reconcile import reconcile
from flows.respond._rollback import rollback_incident
from flows.respond._targets import Target, targets_for
from flows.store import IncidentStatus, Store
from flows.tenants import AdapterConfig, Tenant, TenantDirectory
from tests.actions._support import FakeClock
from tests.respond import _fake_vendor

FAST = Timing(lease=0.4, heartbeat=0.1, attempts=3, backoff=0.01, backoff_max=0.05)


class HostInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hostname: str = Field(description="Host.")


class FakeAdapter:
    """An in-memory vendor: counts calls, answers read_state from its own table."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.state: dict[str, Effect] = {}
        self.during: Callable[[str], Awaitable[None]] | None = None
        self.errors: list[Exception] = []

    async def run(self, inputs: HostInput, ctx: ActionContext) -> ActionResult:
        if self.during is not None:
            await self.during(inputs.hostname)
        self.calls.append(inputs.hostname)
        if self.errors:
            self.state[inputs.hostname] = Effect.APPLIED  # it landed, though the answer was lost
            raise self.errors.pop(0)
        self.state[inputs.hostname] = Effect.APPLIED
        return ActionResult(status=ActionStatus.SUCCEEDED, detail="contained")

    async def read(self, inputs: HostInput, ctx: ActionContext) -> TargetState:
        return TargetState(effect=self.state.get(inputs.hostname, Effect.ABSENT), detail="read")

    def spec(self, *, idempotent: bool = False) -> ActionSpec:
        return ActionSpec(
            key="fake.contain_device",
            fn=self.run,
            inputs=HostInput,
            target=TargetKind.HOST,
            description="Contain (fake).",
            reader=self.read,
            inverse_declared=True,
            idempotent=idempotent,
        )


def incident(store: Store, tenant: str = "t1", hosts: list[str] | None = None, uid: str = "i") -> str:
    first = None
    for index, host in enumerate(hosts or ["WS-1"]):
        document = {
            "class_uid": 2004,
            "metadata": {"tenant_uid": tenant, "product": {"name": "edr"}, "uid": f"{uid}-{index}"},
            "finding_info": {"uid": f"{uid}-{index}", "title": "PCASTLE scheduled task"},
            "device": {"hostname": host},
            "observables": [{"name": "dst", "type_id": 1, "value": "pcastle-c2.example"}],
        }
        receipt = store.record_alert(Alert.model_validate(document), document)
        first = first or receipt.incident_id
    assert first is not None
    return first


def ctx_for(store: Store, incident_id: str, tenant: str = "t1", **kwargs: Any) -> ActionContext:
    return ActionContext(tenant=tenant, incident_id=incident_id, db=store.engine, **kwargs)


def run(spec: ActionSpec, host: str, ctx: ActionContext, store: Store, **kwargs: Any) -> Any:
    return asyncio.run(execute(spec, Target(host, {"hostname": host}), ctx, store, timing=FAST, **kwargs))


def dead_claim(store: Store, incident_id: str, host: str, action: str = "fake.contain_device") -> None:
    """What a worker killed after its claim leaves: a PENDING row whose lease has run out."""
    entry = store.ledger.claim(
        tenant="t1",
        incident_id=incident_id,
        action=action,
        target=host,
        inputs={"hostname": host},
        inverse=None,
        owner="dead-worker",
        lease_seconds=0,
    )
    assert entry.claimed and entry.status == "pending"


# -- PENDING first, reconciliation after a crash ------------------------------------------------------------


def test_a_pending_row_is_written_before_the_vendor_call(store: Store) -> None:
    adapter = FakeAdapter()
    incident_id = incident(store)
    seen: list[tuple[str, str | None]] = []

    async def look(host: str) -> None:
        [row] = store.ledger.rows(incident_id)
        seen.append((row.status, row.owner))

    adapter.during = look
    outcome = run(adapter.spec(), "WS-1", ctx_for(store, incident_id), store)

    assert seen[0][0] == "pending" and seen[0][1]  # PENDING and owned when the call went out
    assert outcome.status == "succeeded" and adapter.calls == ["WS-1"]
    [row] = store.ledger.rows(incident_id)
    assert (row.status, row.owner, row.lease_until) == ("succeeded", None, None)


@pytest.mark.parametrize(
    ("effect", "status", "sent", "hold"),
    [
        (Effect.APPLIED, "succeeded", 0, ""),  # it landed before the crash: close it, do not send
        (Effect.ABSENT, "succeeded", 1, ""),  # it never landed: sending is safe, once
        (Effect.IN_PROGRESS, "pending", 0, "pending"),  # the vendor is still at it: re-check later
        (Effect.UNKNOWN, "failed", 0, ""),  # nobody can tell: a human decides
    ],
)
def test_a_dead_workers_pending_row_is_reconciled_by_reading_vendor_state(
    store: Store, effect: Effect, status: str, sent: int, hold: str
) -> None:
    adapter = FakeAdapter()
    incident_id = incident(store)
    dead_claim(store, incident_id, "WS-1")
    if effect is not Effect.ABSENT:
        adapter.state["WS-1"] = effect

    outcome = run(adapter.spec(), "WS-1", ctx_for(store, incident_id), store)

    assert (outcome.status, len(adapter.calls), outcome.hold) == (status, sent, hold)
    [row] = store.ledger.rows(incident_id)
    assert row.status == status and row.attempts == 2
    if effect is Effect.UNKNOWN:
        assert "a human must check" in row.detail
    if effect is Effect.APPLIED:
        assert row.detail.startswith("reconciled") and row.changed is None


def test_reconcile_settles_every_stale_row_and_the_incident(store: Store) -> None:
    LabFleet(store.engine).seed(HostSeed(tenant="t1", hostname="WS-1"))
    incident_id = incident(store)
    dead_claim(store, incident_id, "WS-1", action="lab.isolate_host")
    store.set_status(
        incident_id,
        IncidentStatus.AWAITING_APPROVAL,
        "held",
        "act",
    )

    outcomes = asyncio.run(reconcile(store, TenantDirectory([Tenant(id="t1", name="T1")]), timing=FAST))

    assert [(o.action, o.status) for o in outcomes] == [("lab.isolate_host", "succeeded")]
    assert LabFleet(store.engine).show("t1", "WS-1")[0]["isolated"] is True
    assert store.ledger.stale() == []
    assert store.incident(incident_id).status == "contained"  # type: ignore[union-attr]


def test_a_vendor_pending_result_stays_pending_and_is_not_contained(store: Store) -> None:
    incident_id = incident(store)

    async def accepted(inputs: HostInput, ctx: ActionContext) -> ActionResult:
        return ActionResult(status=ActionStatus.PENDING, detail="containment pending (host offline)")

    spec = FakeAdapter().spec()
    spec = ActionSpec(**{**spec.__dict__, "fn": accepted})
    outcome = run(spec, "WS-1", ctx_for(store, incident_id), store)

    assert (outcome.status, outcome.hold) == ("pending", "pending")
    [row] = store.ledger.rows(incident_id)
    assert row.status == "pending" and row.stale()  # released: a later reconcile re-reads the vendor
    contained, why = settle(store, incident_id, [outcome.__dict__])
    assert contained is False and "not confirmed by the vendor" in why
    assert store.incident(incident_id).status == "awaiting_approval"  # type: ignore[union-attr]


def test_already_isolated_counts_as_success_and_is_not_undone(store: Store) -> None:
    LabFleet(store.engine).seed(HostSeed(tenant="t1", hostname="WS-1"))
    LabFleet(store.engine).set_isolated("t1", "WS-1", True)  # someone isolated it before us
    incident_id = incident(store)
    tenant = Tenant(id="t1", name="T1")

    outcome = run(registry.get("lab.isolate_host"), "WS-1", ctx_for(store, incident_id), store, tenant=tenant)
    items = asyncio.run(rollback_incident(store, tenant, store.incident(incident_id)))  # type: ignore[arg-type]

    assert (outcome.status, outcome.detail) == ("succeeded", "host was already isolated")
    assert [(i.status, i.action) for i in items] == [("nothing_to_undo", "lab.isolate_host")]
    assert LabFleet(store.engine).show("t1", "WS-1")[0]["isolated"] is True


# -- one worker per key -------------------------------------------------------------------------------------


def test_two_workers_racing_on_one_key_send_once(store: Store) -> None:
    adapter = FakeAdapter()
    incident_id = incident(store)

    async def slow(host: str) -> None:
        await asyncio.sleep(0.15)  # a device lookup: the window where a rival could also send

    adapter.during = slow
    spec, ctx = adapter.spec(), ctx_for(store, incident_id)

    async def race() -> list[Any]:
        target = Target("WS-1", {"hostname": "WS-1"})
        # A lease long enough that a loaded CI machine cannot outlast it: the loser waits for the winner's
        # result (with FAST's 0.4 s lease the loser gave up as "pending" when a slow run stretched the call).
        patient = Timing(lease=10.0, heartbeat=0.1, attempts=3, backoff=0.01, backoff_max=0.05)
        return await asyncio.gather(*(execute(spec, target, ctx, store, timing=patient) for _ in range(2)))

    first, second = asyncio.run(race())

    assert adapter.calls == ["WS-1"]
    assert {first.status, second.status} == {"succeeded"}  # the loser waited and reports the result
    assert "already done" in (first.detail + second.detail)


def test_a_worker_that_lost_its_lease_cannot_overwrite_the_outcome(store: Store) -> None:
    incident_id = incident(store)
    dead_claim(store, incident_id, "WS-1")
    taken = store.ledger.claim(
        tenant="t1",
        incident_id=incident_id,
        action="fake.contain_device",
        target="WS-1",
        inputs={},
        inverse=None,
        owner="successor",
        lease_seconds=30,
    )

    assert taken.claimed and taken.resumed
    [row] = store.ledger.rows(incident_id)
    assert store.ledger.finish(row.id, "dead-worker", status="failed", detail="late") is False
    assert store.ledger.renew(row.id, "dead-worker", 30) is False
    assert store.ledger.finish(row.id, "successor", status="succeeded", detail="ok") is True


def test_a_lost_answer_is_looked_up_before_a_non_idempotent_call_is_sent_again(store: Store) -> None:
    adapter = FakeAdapter()
    adapter.errors = [TransientError("read timed out")]
    incident_id = incident(store)

    outcome = run(adapter.spec(idempotent=False), "WS-1", ctx_for(store, incident_id), store)

    assert adapter.calls == ["WS-1"]  # not sent twice: the vendor said it was in place
    assert outcome.status == "succeeded" and "reconciled" in outcome.detail


# -- vendor load: 429 storms, the circuit breaker ---------------------------------------------------------


@pytest.fixture
def vendor() -> Iterator[_fake_vendor.FakeVendor]:
    _fake_vendor.register()
    vendor = _fake_vendor.FakeVendor(token="CANARY-load-token-7a7a", clock=FakeClock())
    with _fake_vendor.running(vendor) as running:
        yield running
    for key in ("fakevendor.isolate_host", "fakevendor.release_host"):
        registry.actions.pop(key, None)


def _vendor_tenant(url: str) -> Tenant:
    return Tenant.model_validate(
        {
            "id": "t1",
            "name": "T1",
            "adapters": {
                "fakevendor": {
                    "settings": {"base_url": url},
                    "secrets": {"fakevendor_token": {"env": "LOAD_FAKEVENDOR_TOKEN"}},
                }
            },
            "policy": {"blast_radius": {"max_hosts_per_incident": None, "max_hosts_per_hour": None}},
        }
    )


def test_a_429_storm_waits_for_retry_after_and_every_action_ends_done(
    store: Store, vendor: _fake_vendor.FakeVendor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOAD_FAKEVENDOR_TOKEN", "CANARY-load-token-7a7a")
    hosts = [f"WS-{i:02d}" for i in range(20)]
    incident_id = incident(store, hosts=hosts)
    vendor.script = [(429, {"Retry-After": "2"}, {"message": "slow down"}) for _ in range(5)]
    clock = vendor.clock
    tenant = _vendor_tenant(vendor.url)
    ctx = ActionContext(
        tenant="t1",
        incident_id=incident_id,
        db=store.engine,
        http=HttpPool(clock),
        vendors={"fakevendor": {"base_url": vendor.url}},
    )

    outcomes = asyncio.run(
        act_on_incident(
            store, store.incident(incident_id), tenant, ["fakevendor.isolate_host"], ctx=ctx, timing=FAST
        )  # type: ignore[arg-type]
    )

    assert [o.status for o in outcomes] == ["succeeded"] * 20
    assert all(vendor.calls[h.lower()] == 1 for h in hosts)
    arrivals = sorted(at for method, _, at in vendor.log if method == "POST")
    retries = arrivals[20:]  # the five refused calls, sent again
    assert len(retries) == 5 and min(retries) >= arrivals[0] + 2.0  # none before Retry-After (+ jitter)
    assert any(s >= 2.0 for s in clock.sleeps)  # the wait was the limiter's, on the injected clock


def test_repeated_5xx_open_the_circuit_and_every_action_ends_terminal(
    store: Store, vendor: _fake_vendor.FakeVendor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOAD_FAKEVENDOR_TOKEN", "CANARY-load-token-7a7a")
    hosts = [f"WS-{i:02d}" for i in range(6)]
    incident_id = incident(store, hosts=hosts)
    vendor.script = [(503, {}, {"message": "unavailable"}) for _ in range(50)]
    tenant = _vendor_tenant(vendor.url)
    ctx = ActionContext(
        tenant="t1",
        incident_id=incident_id,
        db=store.engine,
        http=HttpPool(FakeClock()),
        vendors={"fakevendor": {"base_url": vendor.url}},
    )
    spec = registry.get("fakevendor.isolate_host")

    async def one_by_one() -> list[Any]:
        return [
            await execute(spec, Target(h, {"hostname": h}), ctx, store, tenant=tenant, timing=FAST)
            for h in hosts
        ]

    outcomes = asyncio.run(one_by_one())

    assert {o.status for o in outcomes} == {"failed"}  # terminal, every one
    assert len(vendor.log) == 3  # the breaker's threshold; later calls never reached the vendor
    assert sum("CircuitOpen" in o.detail for o in outcomes) >= 4
    assert {r.status for r in store.ledger.rows(incident_id)} == {"failed"}
    assert store.ledger.stale() == []
    contained, _ = settle(store, incident_id, [o.__dict__ for o in outcomes])
    # Failed containment never goes quiet: the incident waits for an analyst, with the reason.
    after = store.incident(incident_id)
    assert contained is False and after is not None and after.status == "awaiting_approval"
    assert "failed" in after.timeline[-1].message


# -- many hosts ---------------------------------------------------------------------------------------------


def _pcastle(store: Store, missing: str | None = None) -> tuple[str, list[str]]:
    hosts = [f"WS-PC-{i:03d}" for i in range(50)]
    fleet = LabFleet(store.engine)
    for host in hosts:
        if host != missing:
            fleet.seed(HostSeed(tenant="t1", hostname=host))
    return incident(store, hosts=hosts, uid="pcastle"), hosts


def test_fifty_hosts_report_per_target_and_one_failure_does_not_stop_the_rest(store: Store) -> None:
    incident_id, hosts = _pcastle(store, missing="WS-PC-013")
    tenant = Tenant.model_validate(
        {
            "id": "t1",
            "name": "T1",
            "adapters": {"lab": {}},
            "policy": {"blast_radius": {"max_hosts_per_incident": 100, "max_hosts_per_hour": 100}},
        }
    )

    outcomes = asyncio.run(
        act_on_incident(store, store.incident(incident_id), tenant, ["lab.isolate_host"], timing=FAST)
    )  # type: ignore[arg-type]

    by_host = {o.target: o for o in outcomes}
    assert sorted(by_host) == hosts
    assert by_host["WS-PC-013"].status == "failed" and "TargetNotFound" in by_host["WS-PC-013"].detail
    assert sum(o.status == "succeeded" for o in outcomes) == 49
    assert (
        sum(
            h["isolated"]
            for h in (LabFleet(store.engine).show("t1", x)[0] for x in hosts if x != "WS-PC-013")
        )
        == 49
    )


def test_the_blast_radius_cap_halts_isolations_and_escalates(store: Store) -> None:
    incident_id, hosts = _pcastle(store)
    # Default caps: 10 hosts per incident, 25 per tenant per hour.
    tenant = Tenant(id="t1", name="T1", adapters={"lab": AdapterConfig()})

    outcomes = asyncio.run(
        act_on_incident(store, store.incident(incident_id), tenant, ["lab.isolate_host"], timing=FAST)
    )  # type: ignore[arg-type]

    done = [o for o in outcomes if o.status == "succeeded"]
    halted = [o for o in outcomes if o.hold == "blast_radius"]
    assert len(done) == 10 and len(halted) == 40
    assert all("cap 10" in o.detail for o in halted)
    assert sum(LabFleet(store.engine).show("t1", h)[0]["isolated"] for h in hosts) == 10
    contained, why = settle(store, incident_id, [o.__dict__ for o in outcomes])
    assert contained is False and "blast-radius cap" in why
    incident_view = store.incident(incident_id)
    assert incident_view is not None and incident_view.status == "awaiting_approval"
    assert sum("refused (PolicyViolation: blast radius" in t.message for t in incident_view.timeline) == 40


# -- the store --------------------------------------------------------------------------------------------


def test_a_store_from_before_the_ledger_columns_is_upgraded(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    with create_engine(url).begin() as connection:
        connection.execute(
            text(
                "CREATE TABLE actions (id INTEGER PRIMARY KEY, idempotency_key VARCHAR(64), "
                "tenant VARCHAR(64), incident_id VARCHAR(36), action VARCHAR(128), target TEXT, "
                "inputs JSON, status VARCHAR(16), "
                "detail TEXT, vendor_ref VARCHAR(256), inverse VARCHAR(128), undo JSON, created_at DATETIME, "
                "updated_at DATETIME)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO actions (idempotency_key, tenant, incident_id, action, target, inputs, status, "
                "detail, undo, created_at, updated_at) VALUES ('k', 't1', 'i1', 'lab.isolate_host', 'WS-1', "
                "'{}', 'succeeded', 'done', '{}', '2025-01-01 00:00:00', '2025-01-01 00:00:00')"
            )
        )

    store = Store.open(url)

    [row] = store.ledger.rows("i1")
    assert (row.status, row.owner, row.attempts, row.round, row.changed) == ("succeeded", None, 0, 1, None)


# -- targets from the alerts' evidences ------------------------------------------------------------------


def test_services_tasks_processes_files_and_accounts_come_from_the_evidences(store: Store) -> None:
    document = {
        "class_uid": 2004,
        "metadata": {"tenant_uid": "t1", "product": {"name": "edr"}, "uid": "ev-1"},
        "finding_info": {"uid": "ev-1", "title": "DUOBEAN side-loading"},
        "device": {"hostname": "WS-7"},
        "evidences": [
            {
                "win_service": {
                    "name": "Software Update",
                    "cmd_line": "C:\\Users\\x\\AppData\\upd.exe",
                }
            },
            {"job": {"name": "\\Microsoft\\Updater", "cmd_line": "powershell -enc ..."}},
            {
                "process": {
                    "pid": 4242,
                    "file": {"path": "C:\\Windows\\System32\\msiexec.exe"},
                    "user": {"name": "CORP\\jdoe"},
                }
            },
            {"process": {"pid": True}},  # not a pid: ignored
            {
                "file": {
                    "path": "C:\\Users\\x\\AppData\\Roaming\\MSVCR110.dll",
                    "hashes": [
                        {"algorithm_id": 3, "value": "c" * 64},
                        {"algorithm_id": 2, "value": "AB" * 20},
                    ],
                }
            },
        ],
    }
    incident_id = store.record_alert(Alert.model_validate(document), document).incident_id
    view = store.incident(incident_id)
    assert view is not None
    alerts = [Alert.model_validate(document)]

    def of(kind: TargetKind) -> list[tuple[str, dict[str, Any]]]:
        return [(t.label, t.inputs) for t in targets_for(kind, view, alerts)]

    assert of(TargetKind.SERVICE) == [
        ("WS-7:service:Software Update", {"hostname": "WS-7", "name": "Software Update"})
    ]
    assert of(TargetKind.SCHEDULED_TASK) == [
        ("WS-7:task:\\Microsoft\\Updater", {"hostname": "WS-7", "name": "\\Microsoft\\Updater"})
    ]
    assert of(TargetKind.PROCESS) == [
        ("WS-7:pid:4242 (msiexec.exe)", {"hostname": "WS-7", "pid": 4242, "name": "msiexec.exe"})
    ]
    assert of(TargetKind.FILE) == [
        (
            "WS-7:C:\\Users\\x\\AppData\\Roaming\\MSVCR110.dll",
            # The SHA-1 travels with the file (Defender quarantines by it).
            {"hostname": "WS-7", "path": "C:\\Users\\x\\AppData\\Roaming\\MSVCR110.dll", "sha1": "ab" * 20},
        )
    ]
    assert of(TargetKind.ACCOUNT) == [("CORP\\jdoe", {"account": "CORP\\jdoe"})]
    for kind, key in (
        (TargetKind.SERVICE, "lab.disable_service"),
        (TargetKind.SCHEDULED_TASK, "lab.delete_scheduled_task"),
        (TargetKind.PROCESS, "lab.kill_process"),
        (TargetKind.FILE, "lab.quarantine_file"),
        (TargetKind.ACCOUNT, "lab.disable_account"),
    ):
        for _, inputs in of(kind):
            registry.get(key).inputs.model_validate(inputs)  # the lab adapters take them as they are


def test_a_worker_that_lost_its_claim_does_not_send(store: Store) -> None:
    adapter = FakeAdapter()
    incident_id = incident(store)
    entry = store.ledger.claim(
        tenant="t1",
        incident_id=incident_id,
        action="fake.contain_device",
        target="WS-1",
        inputs={"hostname": "WS-1"},
        inverse=None,
        owner="stalled",
        lease_seconds=0,
    )
    store.ledger.claim(  # its lease ran out while it stalled: a successor took the key
        tenant="t1",
        incident_id=incident_id,
        action="fake.contain_device",
        target="WS-1",
        inputs={"hostname": "WS-1"},
        inverse=None,
        owner="successor",
        lease_seconds=30,
    )

    done = asyncio.run(
        _send(
            adapter.spec(),
            Target("WS-1", {"hostname": "WS-1"}),
            ctx_for(store, incident_id),
            FAST,
            _fence(store.ledger, entry.id, "stalled", FAST),
        )
    )

    assert adapter.calls == [] and done.status == "pending" and "claim lost" in done.detail


def test_a_file_hash_is_blocked_only_when_intel_calls_it_malicious(store: Store) -> None:
    listed, named = "a" * 64, "b" * 64
    document = {
        "class_uid": 2004,
        "metadata": {"tenant_uid": "t1", "product": {"name": "edr"}, "uid": "hash-1"},
        "finding_info": {"uid": "hash-1", "title": "Dropper"},
        "device": {"hostname": "WS-8"},
        "observables": [
            {"name": "file.hashes.sha256", "type_id": 8, "value": listed},
            {"name": "file.hashes.sha256", "type_id": 8, "value": named},
        ],
    }
    incident_id = store.record_alert(Alert.model_validate(document), document).incident_id
    view = store.incident(incident_id)
    assert view is not None and {i.value for i in view.indicators} >= {listed, named}
    verdict = Provenance(source="feed", verdict="malicious", reason="dropper")
    store.save_indicators(
        incident_id,
        [
            Indicator(type=IndicatorType.SHA256, value=listed, field="observables", provenance=[verdict]),
            Indicator(type=IndicatorType.SHA256, value=named, field="observables"),
        ],
    )
    view = store.incident(incident_id)
    assert view is not None

    found = targets_for(TargetKind.FILE_HASH, view, [Alert.model_validate(document)])

    # The hash intel lists is blocked; the one the alert merely names (it could be a system file's) is not.
    assert [(t.label, t.inputs) for t in found] == [(listed, {"sha256": listed})]
    registry.get("lab.block_hash").inputs.model_validate(found[0].inputs)

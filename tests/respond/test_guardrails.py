"""Guardrails decided when the action executes: never-block lists, protected assets with the two-person
rule, ambiguous targets. Property-based where the input space is large (hypothesis)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from datetime import timedelta
from fnmatch import fnmatchcase
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from actions import ActionContext, ActionResult, ActionSpec, ActionStatus, TargetKind
from flows.models import Alert
from flows.respond._approvals import approve
from flows.respond._execute import Timing, execute
from flows.respond._guardrails import Guard, Ruling
from flows.respond._targets import Target, host_tags
from flows.respond._warninglist import MAJOR_DOMAINS
from flows.store import Store
from flows.store._approvals import ApprovalRefused, action_hash
from flows.store._schema import ApprovalRow, utcnow
from flows.tenants import Policy, Tenant

FAST = Timing(lease=5, heartbeat=1, attempts=1)
OWN_DOMAINS = ["acme-corp.example", "acme.co.jp"]
OWN_RANGES = ["81.2.69.0/24", "2a00:1450:ac3e::/48"]  # public: the own-range rule, not "private"
PROTECTED = ["dc-*", "*-jump-*", "edr-??"]
APPROVERS = ["alice", "bob", "carol"]
POLICY = Policy.model_validate(
    {
        "never_block": {"domains": OWN_DOMAINS, "ip_ranges": OWN_RANGES},
        "protected_assets": {"hostnames": PROTECTED, "accounts": ["krbtgt", "adm-*"]},
        "approvers": APPROVERS,
    }
)
TENANT = Tenant(id="t1", name="T1", policy=POLICY)
GUARD = Guard(POLICY)


@pytest.fixture(autouse=True)
def no_dns(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """We never resolve an attacker's domain: any lookup fails the test (except where a Prefect API
    on loopback is needed, which the flow test reaches by name)."""
    if "prefect_harness" in request.fixturenames:
        return

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"a guardrail tried to resolve {args[:1]}")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "gethostbyname", refuse)


def block(kind: TargetKind, field: str, value: str, action: str = "lab.block_ip") -> Any:
    return GUARD.decide(action, kind, {field: value})


# -- never-block lists --------------------------------------------------------------------------------------

RESOLVERS = [
    "8.8.8.8",
    "8.8.4.4",
    "1.1.1.1",
    "1.0.0.1",
    "9.9.9.9",
    "2001:4860:4860::8888",
    "2606:4700:4700::1111",
]


def _in(network: str) -> st.SearchStrategy[str]:
    net = ipaddress.ip_network(network)
    return st.integers(0, net.num_addresses - 1).map(lambda i: str(net[i]))


def _wrapped(address: str) -> list[str]:
    """An IPv4 address in the IPv6 forms that carry it."""
    v4 = ipaddress.IPv4Address(address)
    return [
        address,
        f"::ffff:{address}",
        str(ipaddress.IPv6Address(int(ipaddress.IPv6Address("64:ff9b::")) | int(v4))),
    ]


never_ips = st.one_of(
    st.sampled_from(RESOLVERS),
    st.sampled_from(RESOLVERS[:5]).flatmap(lambda a: st.sampled_from(_wrapped(a))),
    _in(OWN_RANGES[0]),
    _in(OWN_RANGES[1]),
    _in("10.0.0.0/8"),
    _in("172.16.0.0/12"),
    _in("192.168.0.0/16"),
    _in("100.64.0.0/10"),
    _in("127.0.0.0/8"),
    _in("169.254.0.0/16"),
    _in("fc00::/7"),
    _in("fe80::/10"),
    _in("224.0.0.0/4"),
    st.sampled_from(["0.0.0.0", "::", "::1", "255.255.255.255"]),
)


@settings(max_examples=300, deadline=None)
@given(never_ips)
def test_never_block_ips_are_refused(ip: str) -> None:
    decision = block(TargetKind.IP, "ip", ip)

    assert decision.verdict is Ruling.REFUSED and decision.rule == "never_block", decision


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(["8.8.8.8", "1.1.1.1", "10.1.2.3", "81.2.69.7"]))
def test_never_block_ips_are_refused_inside_urls_and_as_domains(ip: str) -> None:
    assert block(TargetKind.URL, "url", f"http://{ip}:8080/payload").refused
    assert block(TargetKind.DOMAIN, "domain", ip, "lab.block_domain").refused


labels = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
listed_domains = st.sampled_from(sorted(MAJOR_DOMAINS) + OWN_DOMAINS)


@settings(max_examples=300, deadline=None)
@given(st.lists(labels, max_size=3), listed_domains, st.booleans(), st.booleans())
def test_listed_domains_and_their_subdomains_are_refused(
    prefix: list[str], domain: str, upper: bool, dot: bool
) -> None:
    name = ".".join([*prefix, domain])
    name = (name.upper() if upper else name) + ("." if dot else "")

    assert block(TargetKind.DOMAIN, "domain", name, "lab.block_domain").refused
    assert block(TargetKind.URL, "url", f"https://{name}/x", "lab.block_url").refused


@settings(max_examples=200, deadline=None)
@given(st.lists(labels, min_size=1, max_size=3), st.sampled_from(["top", "xyz", "ru", "example"]))
def test_other_domains_are_judged_by_name_alone_and_allowed(parts: list[str], tld: str) -> None:
    # e.g. a C2 domain that points at 8.8.8.8: blocking the *name* hurts nobody, and we never resolve it.
    name = ".".join([*parts, tld])
    assert not any(name == d or name.endswith("." + d) for d in [*MAJOR_DOMAINS, *OWN_DOMAINS])

    assert block(TargetKind.DOMAIN, "domain", name, "lab.block_domain").verdict is Ruling.ALLOWED


def test_lookalikes_of_listed_domains_are_not_listed() -> None:
    for name in ("notgoogle.com", "google.com.evil.top", "microsoft-update.xyz", "acme-corp.example.ru"):
        assert not block(TargetKind.DOMAIN, "domain", name, "lab.block_domain").refused, name


def test_the_tenants_own_ranges_and_domains_say_so() -> None:
    assert "tenant's own range 81.2.69.0/24" in block(TargetKind.IP, "ip", "81.2.69.200").reason
    assert (
        "tenant's own domain"
        in block(TargetKind.DOMAIN, "domain", "vpn.ACME.co.jp", "lab.block_domain").reason
    )


def test_public_ips_of_attackers_are_allowed_and_unblocking_is_never_refused() -> None:
    assert block(TargetKind.IP, "ip", "45.77.12.34").verdict is Ruling.ALLOWED
    assert GUARD.decide("lab.unblock_ip", TargetKind.IP, {"ip": "8.8.8.8"}).verdict is Ruling.ALLOWED


def test_private_ranges_may_be_allowed_but_never_loopback_or_resolvers() -> None:
    lenient = Guard(Policy.model_validate({"never_block": {"allow_private": True}}))

    assert lenient.decide("lab.block_ip", TargetKind.IP, {"ip": "10.1.2.3"}).verdict is Ruling.ALLOWED
    for ip in ("127.0.0.1", "169.254.169.254", "8.8.8.8"):
        assert lenient.decide("lab.block_ip", TargetKind.IP, {"ip": ip}).refused, ip


def test_single_labels_and_wildcards_are_not_blocked() -> None:
    for name in ("com", "localhost", "*.evil.top", "evil .top"):
        assert block(TargetKind.DOMAIN, "domain", name, "lab.block_domain").refused, name


def test_a_refused_block_never_reaches_the_adapter_and_is_on_the_ledger_and_timeline(store: Store) -> None:
    adapter, spec = _recording("fake.block_ip", TargetKind.IP)
    incident_id = _incident(store, "WS-1", "refused")

    outcome = asyncio.run(
        execute(spec, Target("8.8.8.8", {"ip": "8.8.8.8"}), _ctx(store, incident_id), store, tenant=TENANT)
    )

    assert adapter == [] and (outcome.status, outcome.hold) == ("skipped", "refused")
    [row] = store.ledger.rows(incident_id)
    assert row.status == "skipped" and "public DNS resolver" in row.detail
    timeline = store.incident(incident_id).timeline  # type: ignore[union-attr]
    assert any("fake.block_ip on 8.8.8.8: refused" in t.message for t in timeline)


# -- protected assets and the two-person rule -------------------------------------------------------------


def test_protected_hosts_by_pattern_tag_and_accounts() -> None:
    for host in ("DC-01", "dc-01.corp.local", "LON-JUMP-2", "EDR-01"):
        assert (
            GUARD.decide("lab.isolate_host", TargetKind.HOST, {"hostname": host}).verdict
            is Ruling.NEEDS_APPROVAL
        )
    tagged = GUARD.decide(
        "lab.isolate_host", TargetKind.HOST, {"hostname": "SRV-7"}, frozenset({"Domain Controllers"})
    )
    assert tagged.verdict is Ruling.NEEDS_APPROVAL and "domain_controllers" in tagged.reason
    for account in ("krbtgt", "CORP\\adm-bob", "adm-eve@corp.example"):
        assert (
            GUARD.decide("lab.disable_account", TargetKind.ACCOUNT, {"account": account}).verdict
            is Ruling.NEEDS_APPROVAL
        )
    assert (
        GUARD.decide("lab.isolate_host", TargetKind.HOST, {"hostname": "WS-FINANCE-07"}).verdict
        is Ruling.ALLOWED
    )
    # A rollback reverts an action that passed the rule itself: no new approval.
    assert (
        GUARD.decide("lab.release_host", TargetKind.HOST, {"hostname": "DC-01"}, rollback=True).verdict
        is Ruling.ALLOWED
    )


def test_tags_come_from_the_alerts_device_groups_and_labels() -> None:
    document = {
        "class_uid": 2004,
        "metadata": {"tenant_uid": "t1"},
        "finding_info": {"title": "x"},
        "device": {"hostname": "SRV-7", "groups": [{"name": "Domain Controllers"}], "labels": ["tier0"]},
    }
    assert host_tags([Alert.model_validate(document)]) == {
        "srv-7": frozenset({"domain controllers", "tier0"})
    }


def test_a_wildcard_hostname_is_refused_as_ambiguous() -> None:
    decision = GUARD.decide("lab.isolate_host", TargetKind.HOST, {"hostname": "WS-*"})
    assert decision.refused and decision.rule == "ambiguous_target"


APPROVER_NAMES = st.sampled_from(["alice", "Bob", "carol", "mallory", "ALICE"])
BINDINGS = st.sampled_from(["exact", "exact", "exact", "other_target", "other_inputs", "other_incident"])
hostnames = st.one_of(
    st.builds(lambda n, up: f"dc-{n}".upper() if up else f"dc-{n}", st.integers(0, 99), st.booleans()),
    st.builds(lambda a, b: f"{a}-JUMP-{b}", st.sampled_from(["lon", "NYC"]), st.integers(0, 9)),
    st.sampled_from(["EDR-01", "edr-ab", "EDR-001", "WS-FIN-01", "SRV-FILES-01", "dcx-01"]),
)
tag_sets = st.frozensets(st.sampled_from(["Domain Controllers", "EDR server", "web", "finance"]), max_size=2)


def _oracle_protected(host: str, tags: frozenset[str]) -> bool:
    by_name = any(fnmatchcase(host.lower(), p) for p in PROTECTED)
    by_tag = any(t.lower().startswith(("domain controller", "edr server")) for t in tags)
    return by_name or by_tag


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    host=hostnames,
    tags=tag_sets,
    action=st.sampled_from(["fake.isolate_host", "fake.release_host", "fake.collect_triage"]),
    approvals=st.lists(st.tuples(APPROVER_NAMES, BINDINGS, st.booleans(), st.booleans()), max_size=4),
)
def test_no_protected_target_reaches_an_adapter_without_its_approvals(
    store: Store, host: str, tags: frozenset[str], action: str, approvals: list[tuple[str, str, bool, bool]]
) -> None:
    calls, spec = _recording(action, TargetKind.HOST)
    incident_id = _incident(store, host, f"prop-{len(store.incidents(limit=10_000))}")
    other_incident = _incident(store, "WS-OTHER", f"prop-other-{len(store.incidents(limit=10_000))}")
    inputs = {"hostname": host}
    valid: set[str] = set()
    with Session(store.engine) as session, session.begin():
        for name, binding, expired, self_request in approvals:
            bound_inputs = {"hostname": host + "-x"} if binding == "other_inputs" else inputs
            bound_incident = other_incident if binding == "other_incident" else incident_id
            session.add(
                ApprovalRow(
                    tenant="t1",
                    incident_id=bound_incident,
                    action=action,
                    action_hash=action_hash("t1", bound_incident, action, bound_inputs),
                    target=host + "-2" if binding == "other_target" else host,
                    approver=name,
                    requested_by=name if self_request else None,
                    expires_at=utcnow() + timedelta(minutes=-5 if expired else 60),
                )
            )
            if binding == "exact" and not expired and not self_request and name.lower() in APPROVERS:
                valid.add(name.lower())

    outcome = asyncio.run(
        execute(spec, Target(host, inputs, tags), _ctx(store, incident_id), store, tenant=TENANT, timing=FAST)
    )

    protected = _oracle_protected(host, tags)
    assert (calls == [host]) == (not protected or len(valid) >= 2), (protected, valid, outcome)
    if protected and len(valid) < 2:
        assert (outcome.status, outcome.hold) == (
            "skipped",
            "approval",
        ) and "awaiting approval" in outcome.detail


def test_one_pair_of_approvals_authorises_exactly_one_action(store: Store) -> None:
    calls, spec = _recording("fake.isolate_host", TargetKind.HOST)
    incident_id = _incident(store, "DC-01", "once")
    incident = store.incident(incident_id)
    assert incident is not None
    target = Target("DC-01", {"hostname": "DC-01"})

    first = asyncio.run(execute(spec, target, _ctx(store, incident_id), store, tenant=TENANT, timing=FAST))
    assert (first.status, first.hold, calls) == ("skipped", "approval", [])
    for who in ("alice", "bob"):
        _approve(store, incident_id, "fake.isolate_host", "DC-01", who)
    done = asyncio.run(execute(spec, target, _ctx(store, incident_id), store, tenant=TENANT, timing=FAST))
    again = asyncio.run(execute(spec, target, _ctx(store, incident_id), store, 2, tenant=TENANT, timing=FAST))

    assert done.status == "succeeded" and calls == ["DC-01"]
    assert (again.status, again.hold) == ("skipped", "approval")  # round 2: the approvals were used up
    used = [a for a in store.ledger.approvals(incident_id) if a.used_at is not None]
    assert len(used) == 2 and {a.used_by for a in used} == {store.ledger.rows(incident_id)[0].id}


def test_approvals_are_refused_for_the_wrong_people_or_actions(store: Store) -> None:
    incident_id = _incident(store, "DC-01", "refusals")
    incident = store.incident(incident_id)
    assert incident is not None

    def attempt(by: str, action: str = "lab.isolate_host", target: str = "DC-01", **kw: Any) -> str:
        with pytest.raises(ApprovalRefused) as refused:
            approve(store, TENANT, incident, action, target, by, **kw)  # type: ignore[arg-type]
        return str(refused.value)

    assert "not an approver" in attempt("mallory")
    assert "cannot approve it" in attempt("alice", requested_by="Alice")
    approve(store, TENANT, incident, "lab.isolate_host", "dc-01", "alice")  # type: ignore[arg-type]
    assert "already approved" in attempt("ALICE")
    assert "no host target" in attempt("bob", target="DC-02")
    other = Tenant(id="t2", name="T2", policy=POLICY)
    with pytest.raises(ApprovalRefused, match="another tenant"):
        approve(store, other, incident, "lab.isolate_host", "DC-01", "bob")  # type: ignore[arg-type]
    ws = store.incident(_incident(store, "WS-1", "plain"))
    with pytest.raises(ApprovalRefused, match="needs no approval"):
        approve(store, TENANT, ws, "lab.isolate_host", "WS-1", "bob")  # type: ignore[arg-type]


def test_an_expired_approval_does_not_count(store: Store) -> None:
    calls, spec = _recording("fake.isolate_host", TargetKind.HOST)
    incident_id = _incident(store, "DC-01", "expired")
    _approve(store, incident_id, "fake.isolate_host", "DC-01", "alice", ttl=timedelta(seconds=-1))
    _approve(store, incident_id, "fake.isolate_host", "DC-01", "bob")

    outcome = asyncio.run(
        execute(spec, Target("DC-01", {"hostname": "DC-01"}), _ctx(store, incident_id), store, tenant=TENANT)
    )

    assert calls == [] and "awaiting approval (1 of 2)" in outcome.detail


# -- helpers ----------------------------------------------------------------------------------------------


def _recording(key: str, kind: TargetKind) -> tuple[list[str], ActionSpec]:
    from pydantic import BaseModel, ConfigDict

    class Inputs(BaseModel):
        model_config = ConfigDict(extra="allow")

    calls: list[str] = []

    async def fn(inputs: Any, ctx: ActionContext) -> ActionResult:
        calls.append(str(next(iter(inputs.model_dump().values()))))
        return ActionResult(status=ActionStatus.SUCCEEDED, detail="done")

    spec = ActionSpec(key=key, fn=fn, inputs=Inputs, target=kind, description="x", inverse_declared=True)
    return calls, spec


def _incident(store: Store, host: str, uid: str) -> str:
    document = {
        "class_uid": 2004,
        "metadata": {"tenant_uid": "t1", "product": {"name": "edr"}, "uid": uid},
        "finding_info": {"uid": uid, "title": f"alert {uid}"},
        "device": {"hostname": host},
    }
    return store.record_alert(Alert.model_validate(document), document).incident_id


def _ctx(store: Store, incident_id: str) -> ActionContext:
    return ActionContext(tenant="t1", incident_id=incident_id, db=store.engine)


def _approve(
    store: Store, incident_id: str, action: str, target: str, who: str, ttl: timedelta = timedelta(hours=1)
) -> None:
    store.ledger.approve(
        tenant="t1",
        incident_id=incident_id,
        action=action,
        action_hash=action_hash("t1", incident_id, action, {"hostname": target}),
        target=target,
        approver=who,
        ttl=ttl,
    )


@pytest.mark.usefixtures("prefect_harness")
def test_the_respond_flow_holds_a_protected_host_and_escalates_instead_of_hanging(
    settings: Any, store: Store, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from actions.lab import HostSeed, LabFleet
    from flows.demo import mykings_alert
    from flows.respond import RespondRequest, respond
    from flows.settings import get_settings

    tenants = tmp_path / "tenants.yaml"
    tenants.write_text(
        "tenants:\n  - id: demo\n    name: Demo\n    notify: [{url: 'outbox://demo'}]\n"
        "    adapters: {lab: {}}\n"
        "    policy: {protected_assets: {hostnames: ['DC-*']}, approvers: [alice, bob]}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("GARRISON_TENANTS_FILE", str(tenants))
    monkeypatch.delenv("GARRISON_ANALYST_NOTIFY", raising=False)
    get_settings.cache_clear()
    LabFleet(store.engine).seed(HostSeed(tenant="demo", hostname="DC-01"))
    document = mykings_alert()
    document["device"]["hostname"] = "DC-01"
    incident_id = store.record_alert(Alert.model_validate(document), document).incident_id

    result = respond(RespondRequest(incident_id=incident_id))

    incident = store.incident(incident_id)
    assert incident is not None and result["status"] == "awaiting_approval"
    on_dc = [a for a in incident.actions if a.target.startswith("DC-01")]
    assert on_dc and {a.status for a in on_dc} == {"skipped"}
    assert all("awaiting approval (0 of 2)" in a.detail for a in on_dc)
    assert LabFleet(store.engine).show("demo", "DC-01")[0]["isolated"] is False
    assert [n.event for n in incident.notifications][:1] == ["escalation"]
    escalation = next((settings.outbox_dir / "_analysts").glob("*"))
    assert "DC-01" in escalation.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("hostname", "allowed", "says"),
    [
        ("WS-FINANCE-07 ", True, ""),  # a sensor's trailing space is formatting, not a wildcard
        ("WS FINANCE 07", False, "is no hostname"),
        ("   ", False, "is no hostname"),
        ("WS-*", False, "could match several devices"),
    ],
)
def test_hostnames_are_judged_for_what_is_wrong_with_them(hostname: str, allowed: bool, says: str) -> None:
    decision = GUARD.decide("lab.isolate_host", TargetKind.HOST, {"hostname": hostname})

    assert (decision.verdict is Ruling.ALLOWED) is allowed
    assert says in decision.reason


# -- MISP warninglists (pymispwarninglists, bundled) ------------------------------------------------------

MISP_LISTED = [
    # (kind, field, value, the warninglist the refusal names) — values a live test once saw blocked.
    (TargetKind.DOMAIN, "domain", "dns.google", "List of known public DNS resolvers expressed as hostname"),
    (
        TargetKind.DOMAIN,
        "domain",
        "one.one.one.one",
        "List of known public DNS resolvers expressed as hostname",
    ),
    (TargetKind.DOMAIN, "domain", "api.ipify.org", "List of known hostname used for querying your source IP"),
    (TargetKind.DOMAIN, "domain", "en.wikipedia.org", "Top 1000 website from Alexa"),
    (TargetKind.IP, "ip", "1.0.0.19", "List of known IPv4 public DNS resolvers"),
    (
        TargetKind.URL,
        "url",
        "https://dns.google/resolve?name=x",
        "public DNS resolvers expressed as hostname",
    ),
]


@pytest.mark.parametrize(("kind", "field", "value", "listed"), MISP_LISTED, ids=[m[2] for m in MISP_LISTED])
def test_a_value_on_a_misp_warninglist_is_never_blocked_and_the_list_is_named(
    kind: TargetKind, field: str, value: str, listed: str
) -> None:
    decision = block(kind, field, value, f"lab.block_{field}")

    assert decision.refused and decision.rule == "never_block"
    assert "MISP warninglist" in decision.reason and listed in decision.reason


@pytest.mark.parametrize("name", ["localhost.localdomain", "printer.local", "nas.home.arpa", "db.localhost"])
def test_special_use_names_are_never_blocked(name: str) -> None:
    decision = block(TargetKind.DOMAIN, "domain", name, "lab.block_domain")

    assert decision.refused and "special-use name" in decision.reason


@pytest.mark.parametrize("value", ["js.mykings.top", "v.pcastle-stage.example", "evil.blogspot.com"])
def test_a_domain_on_no_never_block_list_may_be_blocked(value: str) -> None:
    assert not block(TargetKind.DOMAIN, "domain", value, "lab.block_domain").refused

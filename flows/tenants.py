"""Tenants (the MDR's customers) and their policy, loaded from a YAML file."""

from __future__ import annotations

import os
import re
import secrets
from datetime import datetime, timedelta
from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from cronsim import CronSim, CronSimError
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from actions import ActionSpec, Binding, Capability, SecretRef, registry
from flows.channels import channel_for, check_url
from flows.normalize import FieldMapping
from flows.sigma import RuleChoice
from flows.store import GroupingRules
from playbooks import PlaybookError, load_playbook
from templates import languages


def _known_language(code: str) -> str:
    if code not in languages():
        raise ValueError(f"no catalog for language {code!r} (have {', '.join(languages())})")
    return code


# A language is any with a catalog under templates/ (templates.languages()); checked when the file loads.
Language = Annotated[str, AfterValidator(_known_language)]


class TenantConfigError(ValueError):
    """The tenants file cannot be read or does not validate; the message says where."""


class NotifyTarget(BaseModel):
    """An apprise URL, given literally (local sinks) or by reference to an environment variable (secrets)."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, description="Apprise URL without secrets, e.g. outbox://demo.")
    url_env: str | None = Field(default=None, description="Environment variable holding the apprise URL.")
    channel: Literal["text", "markdown", "html", "slack"] | None = Field(
        default=None,
        description="Message format; by default from the URL scheme (slack → slack, mailto → html, "
        "workflows/discord/… → markdown, json/form/outbox/… → text).",
    )
    allow_internal: bool = Field(
        default=False,
        description="Allow a loopback, private or link-local host (an on-premises relay); refused otherwise.",
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> NotifyTarget:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("give exactly one of 'url' or 'url_env'")
        # Checked when the configuration loads; again, fully, before every send (flows.notify).
        if self.url is not None:
            self.check(self.url, at_send=False)
        elif os.environ.get(self.url_env or ""):
            self.check(os.environ[self.url_env or ""], at_send=False, require_apprise=False)
        return self

    def check(self, url: str, *, at_send: bool = True, require_apprise: bool = True) -> str:
        """Refuse a URL we must not send to (``NotifyUrlError``, a ``ValueError`` that never shows the
        URL); returns the channel its messages are written in."""
        check_url(url, allow_internal=self.allow_internal, require_apprise=require_apprise, resolve=at_send)
        return channel_for(url, self.channel)

    def resolve(self) -> SecretStr:
        if self.url is not None:
            return SecretStr(self.url)
        value = os.environ.get(self.url_env or "")
        if not value:
            raise TenantConfigError(f"notification URL variable {self.url_env} is not set")
        return SecretStr(value)

    @property
    def label(self) -> str:
        """A name for the target that is safe to store and show (never the secret URL)."""
        if self.url is not None:
            return self.url.split("://", 1)[0] + "://…"
        return f"${self.url_env}"


class ProtectedAssets(BaseModel):
    """Assets whose containment can hurt more than the threat (domain controllers, EDR servers, jump hosts):
    any action on them needs the two-person rule. Patterns are shell-style (``DC-*``), case-insensitive."""

    model_config = ConfigDict(extra="forbid")

    hostnames: list[str] = Field(default_factory=list, description="Hostname patterns, e.g. DC-*, *-JUMP-??.")
    tags: list[str] = Field(
        default_factory=lambda: ["domain_controller*", "edr_server*", "jump_host*", "jump_server*"],
        description="Patterns matched against the host's groups/labels in its alerts (lower-case, words "
        "joined by _). Alert data can only add protection this way, never remove it.",
    )
    accounts: list[str] = Field(default_factory=list, description="Account patterns, e.g. krbtgt, adm-*.")


class NeverBlock(BaseModel):
    """What a block action must never take, on top of the built-in lists (public resolvers, a warninglist
    of major domains, loopback/link-local/multicast ranges)."""

    model_config = ConfigDict(extra="forbid")

    domains: list[str] = Field(default_factory=list, description="The tenant's own domains (and subdomains).")
    ip_ranges: list[IPv4Network | IPv6Network] = Field(
        default_factory=list, description="The tenant's own address ranges (CIDR)."
    )
    allow_private: bool = Field(
        default=False, description="Allow blocking private (RFC 1918, ULA) and CGNAT addresses."
    )


class BlastRadius(BaseModel):
    """Caps on host isolations; past a cap further isolations halt and the incident goes to a human."""

    model_config = ConfigDict(extra="forbid")

    max_hosts_per_incident: int | None = Field(default=10, ge=1, description="Hosts isolated per incident.")
    max_hosts_per_hour: int | None = Field(default=25, ge=1, description="Per tenant per hour.")


class EscalationTier(BaseModel):
    """One step of a tenant's escalation chain: a group of the MDR's analysts, called when the step before
    lapsed, with ``minutes`` to decide before the next step is called."""

    model_config = ConfigDict(extra="forbid")

    group: str = Field(description="A group of the tenants file's groups: (tier1, tier2, oncall …).")
    minutes: float = Field(gt=0, le=10080, description="How long this group has before the next is called.")


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    malicious_threshold: int = Field(default=70, ge=1, le=100, description="Score at or above: malicious.")
    suspicious_threshold: int = Field(default=30, ge=0, le=100, description="Score at or above: suspicious.")
    auto_contain: bool = Field(default=True, description="Run containment on a malicious verdict unasked.")
    # Unknown is gray (DESIGN §8). Both switches below loosen that for one tenant, explicitly.
    unknown_verdict: Literal["suspicious", "benign"] = Field(
        default="suspicious",
        description="The verdict when nothing clears an alert and nothing condemns it.",
    )
    auto_close_risky: bool = Field(
        default=False,
        description="Close incidents with attacker behaviour, high severity, ransomware, credential theft "
        "or attack tools without an analyst once contained.",
    )
    protected_assets: ProtectedAssets = Field(default_factory=ProtectedAssets)
    never_block: NeverBlock = Field(default_factory=NeverBlock)
    blast_radius: BlastRadius = Field(default_factory=BlastRadius)
    approvers: list[str] = Field(
        default_factory=list, description="People who may approve actions on protected assets (names)."
    )
    approvals_required: int = Field(
        default=2, ge=2, le=5, description="Distinct approvers a protected-asset action needs."
    )
    approval_ttl_minutes: int = Field(default=240, ge=1, le=10080, description="How long an approval lasts.")
    # A paused run keeps its worker process (a runner slot) while it waits: pausing by default would let a
    # handful of gray alerts stop every new incident. So by default the run ends at once and
    # `garrison decide` starts the next response round with the decision; a tenant may opt into the pause.
    decision_timeout_minutes: float = Field(
        default=0,
        ge=0,
        le=43200,
        description="How long a gray incident's run stays paused for a decision in the Prefect UI (each "
        "waiting run holds a runner slot); 0: it ends at once and `garrison decide` starts the next round.",
    )

    # Who is called, in turn, while an incident waits for a decision; past the last step the tenant's
    # default applies, which is never destructive: a gray incident closes only where ``unknown_verdict``
    # says benign and nothing risky was found; anything else keeps waiting.
    escalation: list[EscalationTier] = Field(
        default_factory=list,
        max_length=10,
        description="The escalation chain (tier 1 → tier 2 → on-call); empty: the MDR's analyst channels.",
    )

    # The tenant's rule choice (``Tenant.rules``), carried to triage with the policy it already receives.
    _rules: RuleChoice | None = PrivateAttr(default=None)

    @property
    def rule_choice(self) -> RuleChoice | None:
        """The SigmaHQ rules this tenant disabled and its own rule folders; None: the corpus as is."""
        return self._rules

    @model_validator(mode="after")
    def _ordered(self) -> Policy:
        if self.suspicious_threshold >= self.malicious_threshold:
            raise ValueError("suspicious_threshold must be below malicious_threshold")
        return self


# Setting names that hold credentials: those go under ``secrets:`` as references, never in ``settings:``.
_SECRET_WORDS = ("secret", "password", "passwd", "token", "api_key", "apikey", "credential", "private_key")


class AdapterConfig(BaseModel):
    """One vendor for one tenant: non-secret settings and, by reference only, the secrets its actions
    declare (``crowdstrike_client_secret: {env: ACME_FALCON}``); both checked against the adapter when
    the tenant loads, the settings again by the adapter when it runs."""

    model_config = ConfigDict(extra="forbid")

    settings: dict[str, Any] = Field(default_factory=dict, description="e.g. base_url, member_cid.")
    secrets: dict[str, SecretRef] = Field(
        default_factory=dict, description="Secret name → {env: VAR} or {prefect_secret: block-name}."
    )

    @model_validator(mode="after")
    def _no_literal_secrets(self) -> AdapterConfig:
        for name in self.settings:
            if any(word in name.lower() for word in _SECRET_WORDS):
                raise ValueError(f"settings.{name} looks like a secret: give it under secrets: by reference")
        return self


def generate_missing_secrets(tenants: TenantDirectory, secrets_dir: Path) -> list[str]:
    """Create the secrets marked ``generate`` that exist neither in the environment nor on disk, and a
    key for every analyst of the configuration (``secrets/analysts/NAME``, owner-only)."""
    created = []
    for analyst in tenants.analysts:
        path = analyst_key_path(secrets_dir, analyst)
        if not path.exists():
            secrets_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            path.parent.mkdir(exist_ok=True, mode=0o700)
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(32), encoding="utf-8")
            created.append(f"analysts/{analyst}")
    for tenant in tenants:
        references = [*tenant.auth.api_keys, *([tenant.auth.hmac_secret] if tenant.auth.hmac_secret else [])]
        for reference in references:
            if reference.generate and reference.resolve(secrets_dir) is None:
                secrets_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
                assert reference.env is not None  # a generated secret has a file name (SecretRef checks)
                path = secrets_dir / reference.env
                path.touch(mode=0o600)
                path.write_text(secrets.token_urlsafe(32), encoding="utf-8")
                created.append(reference.env)
    return created


def analyst_key_path(secrets_dir: Path, analyst: str) -> Path:
    """Where an analyst's key lives; ``garrison decide --by NAME`` checks the key given against it."""
    if not ANALYST_NAME.fullmatch(analyst):
        raise ValueError(f"not an analyst name: {analyst!r}")
    return secrets_dir / "analysts" / analyst


ANALYST_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


class TenantAuth(BaseModel):
    """How a tenant's senders prove who they are. A tenant with neither can send nothing."""

    model_config = ConfigDict(extra="forbid")

    api_keys: list[SecretRef] = Field(default_factory=list, description="Bearer keys (several: rotation).")
    hmac_secret: SecretRef | None = Field(default=None, description="Shared secret for signed requests.")


class Grouping(BaseModel):
    """How alerts become incidents."""

    model_config = ConfigDict(extra="forbid")

    window_minutes: int = Field(
        default=60, ge=1, le=10080, description="Join an incident seen this recently."
    )
    on_closed: Literal["reopen", "link"] = Field(
        default="reopen",
        description="A new alert related to a closed incident reopens it, or opens a linked one.",
    )
    closed_lookback_days: int = Field(
        default=30, ge=0, le=3650, description="How far back closed ones count."
    )


def _cron_line(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    line = " ".join(value.split())
    try:
        CronSim(line, datetime(2026, 1, 1))  # parsing is the check: a line cronsim reads, Prefect reads
    except CronSimError as error:
        said = f"{line!r} is not a cron line: {error}"
        raise PydanticCustomError("cron", "{said}", {"said": said}) from None
    if len(line.split()) != 5:  # cronsim also takes a sixth (seconds) field, which Prefect's cron does not
        raise PydanticCustomError("cron", "{said}", {"said": f"{line!r}: a cron line has 5 fields"})
    return line


class RecheckPolicy(BaseModel):
    """How this tenant's closed incidents are looked at again (``flows.recheck``)."""

    model_config = ConfigDict(extra="forbid")

    cron: Annotated[str | None, AfterValidator(_cron_line)] = Field(
        default=None,
        description="Its own re-check schedule (a cron line, UTC), e.g. '0 */6 * * *' for a customer "
        "under attack; none: the default schedule (GARRISON_RECHECK_CRON).",
    )
    read_host_state: bool = Field(
        default=True,
        description="Read back remediation only a script on the host can see (CrowdStrike RTR, Defender "
        "Live Response); false: no host session on a schedule, those effects are reported 'cannot verify'.",
    )


class CampaignPolicy(BaseModel):
    """What this tenant gets from campaigns other customers are hit by (``flows.respond`` campaigns)."""

    model_config = ConfigDict(extra="forbid")

    receive_blocks: bool = Field(
        default=False,
        description="A campaign at other customers opens an incident here with its indicators, for the "
        "usual triage, approvals and guardrails to block them (never the other customers' names or hosts).",
    )


_RULE_ID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _rule_id(value: str) -> str:
    # SigmaHQ's ids are UUIDs: a typo or a rule's title given here would otherwise disable nothing, silently.
    if not _RULE_ID.fullmatch(value.strip()):
        said = f"{value[:80]!r} is not a Sigma rule id (a UUID)"
        raise PydanticCustomError("rule_id", "{said}", {"said": said})
    return value.strip().lower()


def _rule_folder(value: Path, info: ValidationInfo) -> Path:
    tenants_file = (info.context or {}).get("tenants_file")
    base = Path(tenants_file).parent if tenants_file else Path.cwd()
    path = value.expanduser()
    path = path if path.is_absolute() else base / path
    if not (path.is_dir() or (path.is_file() and path.suffix == ".yml")):
        said = f"no folder of Sigma rules (nor .yml file) at {path}"
        raise PydanticCustomError("rule_folder", "{said}", {"said": said})
    return path.resolve()


class TenantRules(BaseModel):
    """A tenant's changes to the Sigma rules triage runs for it: SigmaHQ rules it disables, by id, and
    folders of its own rules, run beside the corpus and told as the tenant's (never SigmaHQ's)."""

    model_config = ConfigDict(extra="forbid")

    disable: list[Annotated[str, AfterValidator(_rule_id)]] = Field(
        default_factory=list, description="SigmaHQ rule ids (UUIDs) not to run for this tenant."
    )
    folders: list[Annotated[Path, AfterValidator(_rule_folder)]] = Field(
        default_factory=list,
        description="Folders (or .yml files) of the tenant's own Sigma rules; a relative path is read "
        "from the tenants file's folder.",
    )


class Tenant(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(
        pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", description="Stable tenant id (metadata.tenant_uid)."
    )
    name: str = Field(min_length=1)
    language: Language = Field(
        default="en", description="en, or any language with a catalog under templates/."
    )
    notify: list[NotifyTarget] = Field(default_factory=list)
    policy: Policy = Field(default_factory=Policy)
    auth: TenantAuth = Field(default_factory=TenantAuth)
    grouping: Grouping = Field(default_factory=Grouping)
    recheck: RecheckPolicy = Field(default_factory=RecheckPolicy)
    campaigns: CampaignPolicy = Field(default_factory=CampaignPolicy)
    sources: dict[str, FieldMapping] = Field(
        default_factory=dict, description="Generic JSON sources by name, with their field mapping."
    )
    adapters: dict[str, AdapterConfig] = Field(
        default_factory=dict,
        description="Response vendors by name (crowdstrike, lab …): settings, secrets. Each provides the "
        "capabilities its actions declare; the lab acts only for a tenant that lists it here.",
    )
    bind: dict[Capability, str] = Field(
        default_factory=dict,
        description="Which vendor does a capability that several configured adapters provide "
        "(block_ip: panos); its inverse (unblock_ip) goes to the same vendor.",
    )
    intel: IntelConfig = Field(
        default_factory=lambda: IntelConfig(), description="Online intel providers asked at enrichment."
    )
    playbooks: list[str] = Field(
        default_factory=list,
        description="The tenant's own playbooks (built-in ids or YAML paths), chosen before the built-in "
        "ones when their match holds.",
    )
    rules: TenantRules = Field(
        default_factory=TenantRules,
        description="Sigma rules: SigmaHQ rule ids to disable, folders of the tenant's own rules.",
    )

    @field_validator("rules", mode="wrap")
    @classmethod
    def _rules_named(cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
        # The message names the tenant and the field (``tenant acme: rules.folders.0: …``).
        try:
            return handler(value)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(["rules", *(str(part) for part in first["loc"])])
            said = f"tenant {info.data.get('id', '?')}: {where}: {first['msg']}"
            raise PydanticCustomError("tenant_rules", "{said}", {"said": said}) from None

    @model_validator(mode="after")
    def _rules_to_triage(self) -> Tenant:
        if self.rules.disable or self.rules.folders:
            self.policy = self.policy.model_copy()  # a policy object shared with another tenant stays theirs
            self.policy._rules = RuleChoice.of(self.id, self.rules.disable, self.rules.folders)
        return self

    @field_validator("playbooks")
    @classmethod
    def _playbooks_load(cls, names: list[str]) -> list[str]:
        # A broken playbook is found when the tenants file loads, not when an incident needs it.
        for name in names:
            try:
                load_playbook(name)
            except PlaybookError as error:
                raise PydanticCustomError("tenant_playbook", "{said}", {"said": str(error)}) from None
        return names

    @model_validator(mode="after")
    def _adapters_and_bindings(self) -> Tenant:
        # Checked when the tenants file loads, so a wrong setting or a missing choice never surfaces
        # mid-incident. No adapter configured: nothing to check (and no plugin to load).
        if not self.adapters and not self.bind:
            return self
        problems = [
            (f"adapters.{vendor}" + (f".{where}" if where else ""), why)
            for vendor, config in self.adapters.items()
            for where, why in registry.vendor_problems(vendor, config.settings, config.secrets.keys())
        ]
        problems += self.binding.problems()
        if problems:
            said = "; ".join(f"{where}: {why}" for where, why in problems)
            # A custom error, so the message reads as written (no "Value error," and no {…} formatting).
            raise PydanticCustomError("tenant_adapters", "{said}", {"said": f"tenant {self.id}: {said}"})
        return self

    @property
    def binding(self) -> Binding:
        """The tenant's capabilities: the adapters it configures and its ``bind`` choices."""
        return Binding(self.id, frozenset(self.adapters), self.bind)

    def action_for(self, wanted: str) -> ActionSpec:
        """The action that does ``wanted`` (a capability, or an explicit ``vendor.key``) for this tenant;
        ``Unbound`` says what is missing ("no adapter for block_domain in tenant acme")."""
        return self.binding.action_for(wanted)


class IntelConfig(BaseModel):
    """Online intel for one tenant: which providers enrichment asks, with settings and secrets by reference
    (``virustotal_api_key: {env: ACME_VT_KEY}``). None configured: only the local feeds are used."""

    model_config = ConfigDict(extra="forbid")

    providers: list[str] = Field(default_factory=list, description="virustotal, abuseipdb, greynoise, …")
    settings: dict[str, dict[str, Any]] = Field(default_factory=dict, description="e.g. misp: {base_url: …}.")
    secrets: dict[str, SecretRef] = Field(default_factory=dict, description="Secret name → reference.")


class AnalystGroup(BaseModel):
    """A group of the MDR's analysts (a tier, the on-call rota) and where its members are reached."""

    model_config = ConfigDict(extra="forbid")

    analysts: list[Annotated[str, Field(pattern=ANALYST_NAME.pattern)]] = Field(min_length=1)
    notify: list[NotifyTarget] = Field(min_length=1, description="The group's channels (apprise URLs).")


class TenantsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    analysts: list[Annotated[str, Field(pattern=ANALYST_NAME.pattern)]] = Field(
        default_factory=list,
        description="The MDR's analysts who may decide on incidents; each gets a key (secrets/analysts/).",
    )
    groups: dict[str, AnalystGroup] = Field(
        default_factory=dict, description="Groups of analysts by name: escalation tiers, on-call."
    )
    tenants: list[Tenant] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> TenantsFile:
        ids = [tenant.id for tenant in self.tenants]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate tenant ids: {', '.join(duplicates)}")
        return self

    @model_validator(mode="after")
    def _known_people(self) -> TenantsFile:
        for name, group in self.groups.items():
            strangers = sorted(set(group.analysts) - set(self.analysts))
            if strangers:
                raise ValueError(f"groups.{name}: not in analysts: {', '.join(strangers)}")
        for tenant in self.tenants:
            for step, tier in enumerate(tenant.policy.escalation):
                if tier.group not in self.groups:
                    raise ValueError(
                        f"tenant {tenant.id}: policy.escalation.{step}.group: no group {tier.group!r}"
                    )
        return self


class TenantDirectory:
    """Look tenants up by id. There is no default tenant: an unknown id is an error."""

    def __init__(
        self,
        tenants: list[Tenant],
        analysts: list[str] | None = None,
        groups: dict[str, AnalystGroup] | None = None,
    ) -> None:
        self._by_id = {tenant.id: tenant for tenant in tenants}
        self.analysts: list[str] = list(dict.fromkeys(analysts or []))  # the MDR's, not a tenant's
        self.groups: dict[str, AnalystGroup] = dict(groups or {})

    def get(self, tenant_id: str) -> Tenant | None:
        return self._by_id.get(tenant_id)

    def __contains__(self, tenant_id: object) -> bool:
        return tenant_id in self._by_id

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._by_id.values())


def load_tenants(path: Path) -> TenantDirectory:
    """Read and validate a tenants file; errors name the file and the field."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise TenantConfigError(f"{path}: cannot read: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise TenantConfigError(f"{path}: not valid YAML: {error}") from None
    try:
        # The file's own path: relative paths in it (rule folders) are read from its folder.
        parsed = TenantsFile.model_validate(data, context={"tenants_file": path})
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top level)"
        raise TenantConfigError(f"{path}: {where}: {first['msg']}") from None
    return TenantDirectory(parsed.tenants, parsed.analysts, parsed.groups)


@lru_cache(maxsize=8)
def cached_tenants(path: Path, mtime_ns: int) -> TenantDirectory:
    """Tenants from ``path``, re-read when the file changes (the mtime is part of the key)."""
    return load_tenants(path)


def tenants_from(path: Path) -> TenantDirectory:
    try:
        mtime = path.stat().st_mtime_ns
    except OSError as error:
        raise TenantConfigError(f"{path}: cannot read: {error.strerror}") from None
    return cached_tenants(path, mtime)


def grouping_rules(tenant: Tenant) -> GroupingRules:
    """How the store groups this tenant's alerts into incidents (its ``grouping:`` and own values)."""
    policy = tenant.grouping
    # The tenant's own domains and ranges are in most of its alerts: they must relate nothing (the same
    # values its response policy never blocks).
    own = tenant.policy.never_block
    return GroupingRules(
        window=timedelta(minutes=policy.window_minutes),
        on_closed=policy.on_closed,
        closed_lookback=timedelta(days=policy.closed_lookback_days),
        own_domains=tuple(own.domains),
        own_ranges=tuple(own.ip_ranges),
    )

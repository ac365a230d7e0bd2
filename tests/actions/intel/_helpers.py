"""Helpers for intel tests: fixtures, canary secrets, a context, running lookups on a fake clock."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from actions import ActionContext
from actions.http import HttpPool
from actions.intel import IntelCache, IntelRecord, LookupResult, intel_registry, lookup

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "intel"

# A test fails if any of these shows up in a record, a failure, an exception or a log line.
CANARIES = {
    "virustotal_api_key": "CANARY-vt-key-4f1a9e",
    "abuseipdb_api_key": "CANARY-abuseipdb-key-77c1",
    "greynoise_api_key": "CANARY-greynoise-key-5e2d",
    "urlhaus_auth_key": "CANARY-urlhaus-key-0b3c",
    "threatfox_auth_key": "CANARY-threatfox-key-9a8b",
    "misp_api_key": "CANARY-misp-key-c4d5",
}
SECRETS = {name: SecretStr(value) for name, value in CANARIES.items()}
MISP = "https://misp.test"
SETTINGS: dict[str, dict[str, Any]] = {"misp": {"base_url": MISP}}
BASES = {
    "virustotal": "https://www.virustotal.com/api/v3",
    "abuseipdb": "https://api.abuseipdb.com/api/v2",
    "greynoise": "https://api.greynoise.io",
    "urlhaus": "https://urlhaus-api.abuse.ch/v1",
    "threatfox": "https://threatfox-api.abuse.ch",
    "misp": MISP,
}


def fixture(name: str) -> Any:
    path = FIXTURES / name
    return json.loads(path.read_text(encoding="utf-8"))


def jsonl(name: str) -> list[Any]:
    return [json.loads(line) for line in (FIXTURES / name).read_text("utf-8").splitlines() if line.strip()]


def make_ctx(
    pool: HttpPool, *, secrets: dict[str, SecretStr] | None = None, **settings: Any
) -> ActionContext:
    return ActionContext(
        tenant="acme",
        incident_id="inc-1",
        secrets=SECRETS if secrets is None else secrets,
        vendors={**SETTINGS, **settings},
        http=pool,
    )


def run(key: str, inputs: dict[str, Any], ctx: ActionContext) -> list[IntelRecord]:
    return asyncio.run(intel_registry.run(key, inputs, ctx))


def ask(indicators: list[tuple[str, str]], pool: HttpPool, cache: IntelCache, **kwargs: Any) -> LookupResult:
    kwargs.setdefault("tenant", "acme")
    kwargs.setdefault("secrets", SECRETS)
    kwargs.setdefault("settings", SETTINGS)
    return asyncio.run(lookup(indicators, pool=pool, cache=cache, **kwargs))


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for value in CANARIES.values():
            assert value not in text, f"secret {value[:14]}… leaked"

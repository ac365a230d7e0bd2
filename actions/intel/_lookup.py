"""Ask the configured online providers about a batch of indicators: deduplicated, cached, limited, and
never raising for a provider's failure (failures come back in ``LookupResult.failures``, and are logged)."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr

from .._context import ActionContext
from .._errors import ActionError, CircuitOpen, TransientError
from .._retry import RetryPolicy, retry_async
from ..http import HttpPool, default_pool
from ._cache import IntelCache, default_cache
from ._normalize import InvalidIndicator, normalize, private_reason
from ._provider import IntelSession, IntelSpec, Provider, intel_registry, scoped
from ._record import IntelRecord, unique
from ._text import clean, iso

_log = logging.getLogger("garrison.actions.intel")
Key = tuple[str, str]
ATTEMPTS = 3  # per indicator and provider: the first call and two retries
# A 429 or 5xx is asked again at once: the limiter holds the call past the vendor's Retry-After, so no wait
# of ours. An open circuit is not asked again (no request was made, and none would be).
RETRY = RetryPolicy(attempts=ATTEMPTS, give_up_on=(CircuitOpen,))


@dataclass(frozen=True)
class ProviderFailure:
    """A provider that could not answer: for one indicator, or (``indicator`` None) at all."""

    provider: str
    indicator: Key | None
    error: str
    transient: bool

    def __str__(self) -> str:
        about = f" for {self.indicator[0]} {self.indicator[1]}" if self.indicator else ""
        return f"{self.provider}{about}: {self.error}"


@dataclass(frozen=True)
class NotAsked:
    """An indicator deliberately not sent to a provider (a private address to a third party, …)."""

    provider: str
    indicator: Key
    reason: str


class LookupResult(dict[Key, list[IntelRecord]]):
    """Records by the ``(type, value)`` pairs as they were asked, plus what went wrong and the counts.

    ``calls`` counts provider requests made (a cache hit, shared or not, makes none); ``asked_at`` is when
    the lookup started (wall clock, ISO 8601): with ``snapshot()`` it is what an incident keeps.
    """

    def __init__(self) -> None:
        super().__init__()
        self.failures: list[ProviderFailure] = []
        self.not_asked: list[NotAsked] = []
        self.calls: Counter[str] = Counter()
        self.cache_hits: Counter[str] = Counter()
        self.providers: list[str] = []
        self.asked_at: str | None = None

    def records(self) -> list[IntelRecord]:
        return unique(r for records in self.values() for r in records)

    def snapshot(self) -> dict[str, Any]:
        """Plain JSON-able data: what each provider said about each indicator, when, and what failed."""
        return {
            "asked_at": self.asked_at,
            "providers": list(self.providers),
            "results": [
                {"type": k[0], "value": k[1], "records": [r.to_dict() for r in v]} for k, v in self.items()
            ],
            "failures": [
                {
                    "provider": f.provider,
                    "indicator": list(f.indicator) if f.indicator else None,
                    "error": f.error,
                    "transient": f.transient,
                }
                for f in self.failures
            ],  # fmt: skip
            "not_asked": [
                {"provider": n.provider, "indicator": list(n.indicator), "reason": n.reason}
                for n in self.not_asked
            ],
        }


@dataclass
class _Job:
    provider: Provider
    spec: IntelSpec
    indicator: Key  # normalized
    asked: list[Key] = field(default_factory=list)


async def lookup(
    indicators: Sequence[tuple[str, str]],
    *,
    tenant: str,
    providers: Sequence[str] | None = None,
    secrets: Mapping[str, SecretStr] | None = None,
    cache: IntelCache | None = None,
    settings: Mapping[str, Mapping[str, Any]] | None = None,
    pool: HttpPool | None = None,
    incident_id: str = "",
    deadline: float | None = None,
    provider_limits: Mapping[str, tuple[float, int]] | None = None,
) -> LookupResult:
    """Ask each configured online provider about each ``(type, value)`` it supports, concurrently.

    - ``providers``: names to ask; None asks every provider configured for the tenant (all its required
      secrets given, and at least one of its secrets or settings).
    - ``secrets``: the tenant's resolved secrets by declared name (``virustotal_api_key`` …; see
      ``intel_registry.declared_secrets()``); each provider sees only its own.
    - ``settings``: the tenant's non-secret settings by provider (``{"misp": {"base_url": …}}``).
    - ``cache``: defaults to the process cache; ``pool``: limiters and breakers (the process pool).
    - ``deadline``: seconds (on the pool's clock) after which lookups still queued are given up and
      reported as failures; None waits as long as the limits require.
    - ``provider_limits``: ``{provider: (rate per second, burst)}`` for the provider-wide limiter.

    Each unique indicator is asked at most once per provider per call (a storm of 50 unique indicators
    makes at most 50 requests per provider), and not at all while the cache holds its answer. A 429 or 5xx
    is asked again (at most ``ATTEMPTS`` requests) once the limiter's Retry-After hold has passed; an open
    circuit is not. A provider's failure never raises: it is logged and listed in ``failures``. Private
    addresses and internal names are never sent to third-party providers (``not_asked`` says so).
    """
    if not isinstance(tenant, str) or not tenant:
        raise ValueError("lookup needs the tenant it runs for")
    intel_registry.load()
    pool = pool or default_pool()
    cache = cache if cache is not None else default_cache()
    result = LookupResult()
    result.asked_at = iso(pool.clock.wall())
    wanted = _normalized(indicators, result)
    chosen = _choose(providers, dict(secrets or {}), settings or {}, result)
    result.providers = [p.name for p in chosen]
    jobs = [job for provider in chosen for job in _jobs(provider, wanted, result)]
    if not jobs:
        return result
    ctx = ActionContext(
        tenant=tenant, incident_id=incident_id, secrets=dict(secrets or {}), vendors=settings or {}, http=pool
    )
    sessions = _open_sessions({j.provider.name: j.provider for j in jobs}, ctx, provider_limits or {}, result)
    runnable = [j for j in jobs if j.provider.name in sessions]
    try:
        tasks = [
            asyncio.ensure_future(_run(job, sessions[job.provider.name], cache, tenant, result))
            for job in runnable
        ]
        await _within(tasks, deadline, pool, runnable, result)
    finally:
        for session in sessions.values():
            await session.close()
    for key, records in result.items():
        result[key] = unique(records)
    return result


def _normalized(indicators: Sequence[tuple[str, str]], result: LookupResult) -> dict[Key, list[Key]]:
    wanted: dict[Key, list[Key]] = {}
    for pair in indicators:
        if isinstance(pair, str) or len(pair) != 2 or not all(isinstance(x, str) for x in pair):
            raise TypeError(f"indicators are (type, value) pairs of text, not {type(pair).__name__}")
        item = (pair[0], pair[1])
        result.setdefault(item, [])
        try:
            key = normalize(*item)
        except InvalidIndicator as error:
            result.not_asked.append(NotAsked("*", item, str(error)))
            continue
        wanted.setdefault(key, [])
        if item not in wanted[key]:
            wanted[key].append(item)
    return wanted


def _choose(
    names: Sequence[str] | None,
    secrets: Mapping[str, SecretStr],
    settings: Mapping[str, Mapping[str, Any]],
    result: LookupResult,
) -> list[Provider]:
    known = intel_registry.providers
    if names is None:
        return [
            p
            for _, p in sorted(known.items())
            if all(s in secrets for s in p.required_secrets)
            and (any(s in secrets for s in p.secrets) or p.name in settings)
        ]
    chosen = []
    for name in dict.fromkeys(names):
        if name in known:
            chosen.append(known[name])
        else:
            result.failures.append(ProviderFailure(clean(name, 40), None, "unknown intel provider", False))
    return chosen


def _jobs(provider: Provider, wanted: dict[Key, list[Key]], result: LookupResult) -> list[_Job]:
    jobs = []
    for key, asked in wanted.items():
        spec = intel_registry.lookup_for(provider.name, key[0])
        if spec is None:
            continue
        why_not = private_reason(*key) if provider.third_party else None
        if why_not:
            result.not_asked.extend(NotAsked(provider.name, a, why_not) for a in asked)
            continue
        jobs.append(_Job(provider, spec, key, asked))
    return jobs


def _open_sessions(
    providers: dict[str, Provider],
    ctx: ActionContext,
    limits: Mapping[str, tuple[float, int]],
    result: LookupResult,
) -> dict[str, IntelSession]:
    sessions = {}
    for name, provider in providers.items():
        rate, burst = limits.get(name, (None, None))
        try:
            sessions[name] = IntelSession(provider, scoped(ctx, provider), rate=rate, burst=burst)
        except ActionError as error:
            _fail(result, name, None, error)
    return sessions


async def _run(
    job: _Job, session: IntelSession, cache: IntelCache, tenant: str, result: LookupResult
) -> None:
    provider = job.provider.name
    cache_key = ("" if job.provider.shared_answers else tenant, provider, *job.indicator)

    async def ask() -> list[IntelRecord]:
        result.calls[provider] += 1
        return await job.spec.fn(job.spec.to_inputs(*job.indicator), session)

    async def fetch() -> list[IntelRecord]:
        return await retry_async(RETRY, ask)

    try:
        records, hit = await cache.get_or_fetch(cache_key, fetch)
    except ActionError as error:
        _fail(result, provider, job.indicator, error)
        return
    except Exception as error:  # noqa: BLE001 - a provider's bug must not fail the incident's lookup
        text = session.http.scrub(f"{type(error).__name__}: {error}")
        result.failures.append(ProviderFailure(provider, job.indicator, f"unexpected {text}", False))
        _log.error("intel %s: %s %s failed unexpectedly: %s", provider, *job.indicator, text)
        return
    if hit:
        result.cache_hits[provider] += 1
    for asked in job.asked:
        result[asked].extend(records)


def _fail(result: LookupResult, provider: str, indicator: Key | None, error: ActionError) -> None:
    failure = ProviderFailure(provider, indicator, str(error), isinstance(error, TransientError))
    result.failures.append(failure)
    _log.warning("intel %s", failure)


async def _within(
    tasks: Sequence[asyncio.Future[None]],
    deadline: float | None,
    pool: HttpPool,
    jobs: list[_Job],
    result: LookupResult,
) -> None:
    if deadline is None:
        await asyncio.gather(*tasks)
        return
    timer = asyncio.ensure_future(pool.clock.sleep(deadline))
    pending = set(tasks)
    try:
        while pending and not timer.done():
            _, pending = await asyncio.wait({*pending, timer}, return_when=asyncio.FIRST_COMPLETED)
            pending.discard(timer)
    finally:
        timer.cancel()
        for task in pending:
            task.cancel()
        await asyncio.gather(timer, *pending, return_exceptions=True)
    for task, job in zip(tasks, jobs, strict=True):
        if task in pending:
            failure = ProviderFailure(
                job.provider.name, job.indicator, f"not asked within the {deadline:g}s deadline", True
            )
            result.failures.append(failure)
    if pending:
        _log.warning("intel: %d lookups given up at the %gs deadline", len(pending), deadline)

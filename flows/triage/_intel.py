"""Why an indicator is watched, and since when: intel provenance, with age that decays by type."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from flows.models import Indicator, IndicatorType, Provenance, defang

from ._findings import HOW_LONG, WHY_WATCHED, Answers, Finding

# IPs change hands within weeks; domains within a year; a file hash is forever.
FRESH_FOR = {
    IndicatorType.IPV4: timedelta(days=30),
    IndicatorType.IPV6: timedelta(days=30),
    IndicatorType.DOMAIN: timedelta(days=365),
    IndicatorType.URL: timedelta(days=180),
}


def intel_answers(answers: Answers, indicators: Sequence[Indicator], now: datetime) -> None:
    Found = tuple[Indicator, Provenance, timedelta | None]
    listed: list[Found] = []
    clean: list[Found] = []
    stale: list[Found] = []
    for indicator in indicators:
        for provenance in indicator.provenance:
            age = _age(provenance.first_seen, now)
            # Freshness counts from the last confirmation; without one, from the first sighting.
            silence = _age(provenance.last_seen, now) if provenance.last_seen else age
            if provenance.verdict == "malicious":
                limit = FRESH_FOR.get(indicator.type)
                (stale if limit and silence and silence > limit else listed).append(
                    (indicator, provenance, age)
                )
            elif provenance.verdict == "benign":
                clean.append((indicator, provenance, age))
    answers.features["intel"] = {
        "listed": [_describe(i, p, a) for i, p, a in listed][:20],
        "stale": [_describe(i, p, a) for i, p, a in stale][:20],
        "benign": [_describe(i, p, a) for i, p, a in clean][:20],
    }
    if listed:
        indicator, provenance, age = listed[0]
        more = f" (+{len(listed) - 1} more)" if len(listed) > 1 else ""
        why = f": {provenance.reason}" if provenance.reason else ""
        answers.add(
            Finding(
                WHY_WATCHED,
                f"{defang(indicator.value)}{more} is listed by {provenance.source}{why}",
                35,
                intel=True,
                code=("listed_more" if more else "listed")
                if provenance.reason
                else ("listed_by_more" if more else "listed_by"),
                params={
                    "ioc": defang(indicator.value),
                    "more": len(listed) - 1,
                    "source": provenance.source,
                    "reason": provenance.reason or "-",
                },
            )
        )
        if age is not None:
            confirmed = f", last confirmed {provenance.last_seen[:10]}" if provenance.last_seen else ""
            answers.add(
                Finding(
                    HOW_LONG,
                    f"watched for {_days(age)}{confirmed}: still current",
                    5,
                    intel=True,
                    code="watched_confirmed" if provenance.last_seen else "watched",
                    params={"days": age.days, "confirmed": (provenance.last_seen or "")[:10]},
                )
            )
    elif stale:
        indicator, provenance, age = stale[0]
        answers.add(
            Finding(
                HOW_LONG,
                f"{defang(indicator.value)} was listed by {provenance.source} {_days(age)} ago and not "
                f"confirmed since: too old to trust for {_KIND.get(indicator.type, 'an indicator')}",
                10,
                intel=True,
                code="stale",
                params={
                    "ioc": defang(indicator.value),
                    "source": provenance.source,
                    "days": age.days if age else 0,
                },
            )
        )
    if clean and not listed:
        indicator, provenance, _ = clean[0]
        answers.add(
            Finding(
                WHY_WATCHED,
                f"{defang(indicator.value)} is known good to {provenance.source}",
                -20,
                intel=True,
                code="known_good",
                params={"ioc": defang(indicator.value), "source": provenance.source},
                clears=True,
            )
        )


_KIND = {
    IndicatorType.IPV4: "an IP address",
    IndicatorType.IPV6: "an IP address",
    IndicatorType.DOMAIN: "a domain",
    IndicatorType.URL: "a URL",
}


def _age(first_seen: str | None, now: datetime) -> timedelta | None:
    if not first_seen:
        return None
    try:
        seen = datetime.fromisoformat(first_seen.replace("Z", "+00:00"))
    except ValueError:
        try:
            seen = datetime.combine(date.fromisoformat(first_seen[:10]), datetime.min.time())
        except ValueError:
            return None
    seen = seen if seen.tzinfo else seen.replace(tzinfo=UTC)
    return max(timedelta(0), now - seen)


def _days(age: timedelta | None) -> str:
    if age is None:
        return "an unknown time"
    days = age.days
    return f"{days} day{'s' if days != 1 else ''}" if days < 730 else f"{days // 365} years"


def _describe(indicator: Indicator, provenance: object, age: timedelta | None) -> dict[str, object]:
    return {
        "type": indicator.type.value,
        "value": indicator.value,
        "source": getattr(provenance, "source", ""),
        "reason": getattr(provenance, "reason", ""),
        "age_days": age.days if age is not None else None,
    }

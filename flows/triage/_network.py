"""Prevalence, rhythm and volume of the traffic to an alert's destinations."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from ._findings import PREVALENCE, RHYTHM, VOLUME, Answers, Finding

MIN_INTERVALS = 6  # a rhythm needs at least this many gaps
JITTER = 0.15  # a gap within ±15 % of the median counts as on the beat
ON_BEAT = 0.8  # share of gaps on the beat that makes a beacon
TARGETED_HOSTS = 20
BASELINE_TENANTS = 3
BASELINE_HOSTS = 100


def network_answers(answers: Answers, tenant: str, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        answers.features["network"] = {"events": 0}
        return
    hosts = {(r["tenant"], (r.get("hostname") or "").lower()) for r in rows if r.get("hostname")}
    tenants = {r["tenant"] for r in rows}
    own_hosts = sorted({h for t, h in hosts if t == tenant})
    by_pair: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if row["tenant"] == tenant and row.get("hostname"):
            by_pair[(row["hostname"].lower(), (row.get("dst") or "").lower(), row["tenant"])].append(row)
    beats = {pair: _rhythm(pair_rows) for pair, pair_rows in by_pair.items()}
    beacons = {pair: beat for pair, beat in beats.items() if beat and beat["beacon"]}
    volumes = {pair: _volume(pair_rows) for pair, pair_rows in by_pair.items()}
    answers.features["network"] = {
        "events": len(rows),
        "hosts": len(hosts),
        "tenants": len(tenants),
        "tenant_hosts": own_hosts[:50],
        "beacons": [
            {
                "host": h,
                "destination": d,
                "period_seconds": round(b["period"]),
                "on_beat": round(b["on_beat"], 2),
            }
            for (h, d, _), b in sorted(beacons.items())
        ][:50],
        "volume": _summary(volumes),
    }

    if len(tenants) >= BASELINE_TENANTS and len(hosts) >= BASELINE_HOSTS:
        answers.add(
            Finding(
                PREVALENCE,
                f"{len(hosts)} hosts in {len(tenants)} tenants talk to it: everyday traffic, not a target",
                -35,
                code="prevalence_baseline",
                params={"hosts": len(hosts), "tenants": len(tenants)},
                clears=True,
            )
        )
    elif len(tenants) == 1 and 0 < len(own_hosts) <= TARGETED_HOSTS:
        answers.add(
            Finding(
                PREVALENCE,
                f"only {_hosts(len(own_hosts))} of this one customer "
                f"talk{'s' if len(own_hosts) == 1 else ''} to it, nobody else: targeted",
                10,
                host_evidence=True,
                code="prevalence_targeted",
                params={"hosts": len(own_hosts)},
            )
        )

    if beacons:
        periods = sorted(b["period"] for b in beacons.values())
        period = statistics.median(periods)
        answers.add(
            Finding(
                RHYTHM,
                f"{_hosts(len(beacons))} connect{'s' if len(beacons) == 1 else ''} every {_duration(period)} "
                "like clockwork "
                f"(≥{int(ON_BEAT * 100)} % of gaps within ±{int(JITTER * 100)} %): a programmatic beacon",
                25,
                host_evidence=True,
                code="rhythm",
                params={"hosts": len(beacons), "period_seconds": round(period)},
            )
        )

    quiet = [
        v
        for pair, v in volumes.items()
        if v and v["constant_small_out"] and v["no_answer"] and pair in beacons
    ]
    if quiet:
        sample = quiet[0]
        answers.add(
            Finding(
                VOLUME,
                f"each call sends about {sample['median_out']} bytes and gets {sample['median_in']} back, "
                "always the same: a check-in, not a person browsing",
                15,
                host_evidence=True,
                code="volume",
                params={"bytes_out": sample["median_out"], "bytes_in": sample["median_in"]},
            )
        )


def _rhythm(rows: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    times = sorted(r["time"].timestamp() for r in rows)
    gaps = [b - a for a, b in zip(times, times[1:], strict=False) if b - a > 0]
    if len(gaps) < MIN_INTERVALS:
        return None
    period = statistics.median(gaps)
    on_beat = sum(1 for gap in gaps if abs(gap - period) <= JITTER * period) / len(gaps)
    return {"period": period, "on_beat": on_beat, "beacon": on_beat >= ON_BEAT and period >= 10}


def _volume(rows: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    outs = [r["bytes_out"] for r in rows if r.get("bytes_out") is not None]
    ins = [r["bytes_in"] for r in rows if r.get("bytes_in") is not None]
    if len(outs) < MIN_INTERVALS:
        return None
    median_out = statistics.median(outs)
    spread = statistics.pstdev(outs) / median_out if median_out else 0.0
    median_in = statistics.median(ins) if ins else 0
    return {
        "median_out": int(median_out),
        "median_in": int(median_in),
        "constant_small_out": median_out <= 4096 and spread <= 0.25,
        "no_answer": median_in <= 512,
    }


def _summary(volumes: dict[Any, dict[str, Any] | None]) -> dict[str, Any]:
    known = [v for v in volumes.values() if v]
    if not known:
        return {}
    return {
        "pairs": len(known),
        "median_bytes_out": int(statistics.median(v["median_out"] for v in known)),
        "median_bytes_in": int(statistics.median(v["median_in"] for v in known)),
    }


def _hosts(count: int) -> str:
    return "1 host" if count == 1 else f"{count} hosts"


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{round(seconds / 60)} min"
    return f"{round(seconds)} s"

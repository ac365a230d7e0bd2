"""The response figures (``garrison metrics``) as the markdown artifact of each re-check run."""

from __future__ import annotations

from flows.notify import escape_markdown
from flows.store import FIGURES, Metrics, TenantMetrics, duration


def metrics_markdown(found: Metrics) -> str:
    """One table per tenant: each span's count, p50 and p90, then verdicts, statuses and the reopen rate."""
    since = f" since {found.since.date().isoformat()}" if found.since else ""
    lines = [f"# Response figures{since}", ""]
    if not found.tenants:
        return "\n".join([*lines, "No incidents in the window."]) + "\n"
    for figures in found.tenants:
        lines += _tenant(figures)
    return "\n".join(lines) + "\n"


def _tenant(figures: TenantMetrics) -> list[str]:
    lines = [
        f"## {escape_markdown(figures.tenant)}: {figures.incidents} incident(s)",
        "",
        "| figure | incidents | p50 | p90 |",
        "|---|---:|---:|---:|",
    ]
    for name, label in FIGURES:
        spread = getattr(figures, name)
        lines.append(f"| {label} | {spread.count} | {duration(spread.p50)} | {duration(spread.p90)} |")
    lines += [
        "",
        f"verdicts: {_listed(figures.by_verdict)}  ",
        f"statuses: {_listed(figures.by_status)}  ",
        f"reopened: {figures.reopened} of {figures.incidents} ({figures.reopen_rate:.0%})",
        "",
    ]
    return lines


def _listed(counts: dict[str, int]) -> str:
    # A row written by hand (or by an old store) may hold any text: escaped like every other value.
    return escape_markdown(", ".join(f"{name} {count}" for name, count in counts.items())) or "-"

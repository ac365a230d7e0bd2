"""``garrison rules list | test | stats``: the SigmaHQ rules triage runs, which events a rule matches, and
what could not be converted (with the reason). ``--tenant T``: the rules that run for that tenant (SigmaHQ's
less those it disabled, plus its own folders', ``rules:`` in the tenants file).

Rules are SigmaHQ's, under the Detection Rule License 1.1: every match shown names the rule's author. A
tenant's own rules are shown as the tenant's.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from flows.settings import get_settings
from flows.sigma import CREDIT, LEVELS, Rule, RuleChoice, RuleSet, load_rules, rules_for
from flows.tenants import TenantConfigError, tenants_from
from flows.winlog import EventFile, SigmaView, Unreadable, WindowsEventError, sigma_view, windows_to_ocsf

from ._output import console, emit_json, exit_with, fail, shown

app = typer.Typer(
    help="The SigmaHQ detection rules triage runs over every verdict's evidence.", no_args_is_help=True
)
_LEVEL_STYLE = {
    "critical": "bold red",
    "high": "red",
    "medium": "yellow",
    "low": "cyan",
    "informational": "dim",
}
_KEY_FIELDS = (
    "Image",
    "CommandLine",
    "TargetFilename",
    "TargetObject",
    "ImageLoaded",
    "QueryName",
    "PipeName",
)
RulesOption = Annotated[
    list[Path] | None, typer.Option("--rules", help="Rule files or folders (default: the SigmaHQ corpus).")
]
TenantOption = Annotated[
    str | None,
    typer.Option("--tenant", help="The rules that run for this tenant (its disabled ids, its own folders)."),
]


def _rule_set(paths: list[Path] | None, tenant: str | None = None) -> RuleSet:
    if tenant is not None:
        if paths:
            fail("give --rules or --tenant, not both")
        return _tenant_rule_set(tenant)
    for path in paths or []:
        if not path.exists():
            fail(f"{path}: no such rule file or folder")
    return load_rules(paths or None)


def _tenant_rule_set(tenant: str) -> RuleSet:
    try:
        found = tenants_from(get_settings().tenants_file).get(tenant)
    except TenantConfigError as error:
        fail(str(error))
    if found is None:
        fail(f"unknown tenant {tenant!r}")
    return rules_for(found.policy.rule_choice or RuleChoice(tenant))


@app.command("list")
def list_rules(
    level: Annotated[str | None, typer.Option("--level", help="Only rules of this level or above.")] = None,
    rules: RulesOption = None,
    tenant: TenantOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """The rules that run, most severe first: level, title, id, log source, ATT&CK techniques."""
    if level is not None and level not in LEVELS:
        fail(f"--level must be one of {', '.join(LEVELS)}")
    floor = LEVELS.index(level) if level else 0
    chosen = sorted(
        (r for r in _rule_set(rules, tenant).rules if r.rank >= floor),
        key=lambda r: (-r.rank, r.title.lower()),
    )
    if as_json:
        emit_json([_listed(r) for r in chosen])
        return
    table = Table("level", "title", "id", "log source", "ATT&CK", title=f"{len(chosen)} Sigma rules")
    for rule in chosen:
        table.add_row(
            shown(rule.level, _LEVEL_STYLE.get(rule.level, "")),
            shown(f"{rule.title} [tenant {rule.owner}'s own]" if rule.owner else rule.title),
            shown(rule.id),
            shown(_source(rule)),
            shown(", ".join(rule.techniques)),
        )
    console.print(table)
    console.print(
        Text(f"Rules: {CREDIT}; each rule's author is in `garrison rules list --json`.", style="dim")
    )


def _listed(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "title": rule.title,
        "level": rule.level,
        "status": rule.status,
        "log_source": _source(rule),
        "techniques": rule.techniques,
        "author": rule.author,
        "references": list(rule.references),
        "path": rule.path,
        "owner": rule.owner or "SigmaHQ",
    }


def _source(rule: Rule) -> str:
    return ", ".join(key.split(":", 1)[1] for key in rule.requires if not key.startswith("product:")) or "any"


@app.command("test")
def test_rules(
    rule_or_dir: Annotated[Path, typer.Argument(help="A Sigma rule file, or a folder of them.")],
    events: Annotated[
        list[Path],
        typer.Argument(help="Events: OCSF NDJSON, .evtx, evtx_dump JSON, Winlogbeat or Wazuh documents."),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Which events each rule matches. Exit status 0 if some rule matched, 1 if none did."""
    rule_set = _rule_set([rule_or_dir])
    seen: list[dict[str, Any]] = []
    views = []
    skipped: Counter[str] = Counter()
    for path in events:
        if not path.is_file():
            fail(f"{path}: no such events file")
        for number, record in EventFile(path):
            read = _read(record)
            if isinstance(read, str):
                skipped[read] += 1
                continue
            document, view = read
            seen.append({"file": str(path), "line": number, **_where(document, view)})
            views.append((view.sources, view.fields))
    matches = rule_set.match(views)
    report = [{**_listed(m.rule), "events": [seen[i] for i in m.events]} for m in matches]
    if as_json:
        emit_json(
            {"matches": report, "events": len(views), "skipped": dict(skipped), "failed": _failed(rule_set)}
        )
    else:
        _print_test(report, len(views), skipped, rule_set)
    exit_with(0 if matches else 1)


def _read(record: Any) -> tuple[dict[str, Any], SigmaView] | str:
    """The event (as stored) and what the rules see of it, or why it cannot be shown to them."""
    if isinstance(record, Unreadable):
        return record.reason[:120]
    try:
        document = windows_to_ocsf(record) or record
    except WindowsEventError as error:
        return str(error)
    view = sigma_view(document)
    return (document, view) if view is not None else "not an event any rule reads"


def _where(document: dict[str, Any], view: SigmaView) -> dict[str, Any]:
    stamp = document.get("time")
    when = datetime.fromtimestamp(stamp / 1000, UTC).isoformat() if isinstance(stamp, int) else None
    device = document.get("device")
    host = device.get("hostname") if isinstance(device, dict) else None
    detail = {name: view.fields[name] for name in _KEY_FIELDS if name in view.fields}
    return {"time": when, "host": host, "fields": detail}


def _failed(rule_set: RuleSet) -> list[dict[str, str]]:
    return [f.__dict__ for f in rule_set.failed]


def _print_test(report: list[dict[str, Any]], count: int, skipped: Counter[str], rule_set: RuleSet) -> None:
    for failure in rule_set.failed:
        console.print(shown(f"not converted: {failure.path}: {failure.reason}", "red"))
    for match in report:
        console.print(
            Text.assemble(
                shown(f"{match['level']:<13}", _LEVEL_STYLE.get(match["level"], "")),
                shown(f"{match['title']}  ({match['id']}, by {match['author'] or '?'})", "bold"),
            )
        )
        for event in match["events"][:20]:
            fields = "; ".join(f"{k}={v}" for k, v in event["fields"].items())
            console.print(
                shown(f"    {event['file']}:{event['line']}  {event['time']}  {event['host']}  {fields}")
            )
        if len(match["events"]) > 20:
            console.print(shown(f"    … and {len(match['events']) - 20} more events"))
    console.print(shown(f"{len(report)} rule(s) matched among {count} event(s)."))
    for why, times in skipped.most_common(10):
        console.print(shown(f"skipped {times}: {why}", "yellow"))
    if report:
        console.print(Text(f"Rules: {CREDIT}.", style="dim"))


@app.command("stats")
def stats(
    rules: RulesOption = None,
    tenant: TenantOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Rules loaded, converted and failed (with the reason), by level and by log source; with --tenant,
    the tenant's own rules (converted, failed with the reason) and the SigmaHQ rules it disabled."""
    figures = _rule_set(rules, tenant).stats()
    if as_json:
        emit_json(figures)
        return
    summary = Table(show_header=False, title="Sigma rules")
    summary.add_column(style="bold")
    summary.add_column(justify="right")
    for label in ("loaded", "converted", "failed", "other_products"):
        summary.add_row(label.replace("_", " "), str(figures[label]))
    for level, count in figures["levels"].items():
        summary.add_row(f"  {level}", str(count))
    summary.add_row("rule-set hash", figures["key"])
    console.print(summary)
    sources = Table("log source", "rules", title="By log source")
    for source, count in figures["log_sources"].items():
        sources.add_row(shown(source), str(count))
    console.print(sources)
    for failure in figures["failures"]:
        whose = f"tenant {failure['owner']}'s rule " if failure.get("owner") else ""
        console.print(shown(f"not converted: {whose}{failure['path']}: {failure['reason']}", "red"))
    if tenant is not None:
        _print_tenant(tenant, figures.get("tenant"))
    console.print(Text(f"Rules: {CREDIT}.", style="dim"))


def _print_tenant(tenant: str, figures: dict[str, Any] | None) -> None:
    if figures is None:
        console.print(shown(f"tenant {tenant}: runs the SigmaHQ rules as they are (no rules: in its entry)"))
        return
    console.print(
        shown(
            f"tenant {tenant}: {figures['own_rules']} own rule(s) converted, {figures['own_failed']} failed; "
            f"{figures['disabled']} SigmaHQ rule(s) disabled"
        )
    )
    for rule_id in figures["unknown_disabled"]:
        console.print(shown(f"tenant {tenant}: disables {rule_id}, which no rule has", "yellow"))

"""``garrison standing list | revoke``: the analysts' standing decisions, which triage reads.

``garrison decide … --standing DAYS`` makes one; here they are listed (who, why, until when, what they
cover) and revoked. Revoking is an analyst's act: it is proved with the analyst's key and audited.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from flows.settings import get_settings
from flows.store import StandingDecision, StandingDecisions, Store

from ._decisions import prove_analyst
from ._output import console, emit_json, fail, shown, terminal_safe

app = typer.Typer(
    help="Standing decisions: alerts like these are benign (or malicious) until a date.",
    no_args_is_help=True,
)


def _book() -> StandingDecisions:
    return StandingDecisions(Store.open(get_settings().database_url).engine)


@app.command("list")
def list_decisions(
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant's decisions.")] = None,
    ended: Annotated[bool, typer.Option("--all", help="Expired and revoked ones too.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """The standing decisions in force (with --all, the ended ones too), newest first."""
    decisions = _book().listed(tenant, ended_too=ended)
    if as_json:
        emit_json([d.as_dict() for d in decisions])
        return
    if not decisions:
        console.print("No standing decisions." if ended else "No standing decisions in force.")
        return
    table = Table(title="Standing decisions", expand=True)
    for name in ("id", "tenant", "verdict", "covers", "by, until", "why"):
        # Rule ids, host names and domains are read whole: fold them, never cut them with an ellipsis.
        ratio = {"covers": 3, "why": 2}.get(name)
        table.add_column(name, overflow="fold", ratio=ratio, no_wrap=ratio is None)
    for decision in decisions:
        table.add_row(
            shown(decision.id[:8]),
            shown(decision.tenant),
            shown(decision.verdict),
            Text(terminal_safe(_covers(decision), lines=True)),
            Text(terminal_safe(f"{decision.analyst}\n{_until(decision)}", lines=True)),
            shown(decision.comment),
        )
    console.print(table)


@app.command("revoke")
def revoke(
    decision_id: Annotated[str, typer.Argument(help="The decision's id, or its first 8 characters.")],
    by: Annotated[str, typer.Option("--by", help="Your analyst name (proved by $GARRISON_ANALYST_KEY).")],
    comment: Annotated[str, typer.Option("--comment", help="Why it no longer stands.")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """End a standing decision now: the next alert like those it covered is triaged afresh."""
    if len(comment) > 2000:
        fail("the comment is longer than 2000 characters")
    prove_analyst(get_settings(), by)
    try:
        decision = _book().revoke(decision_id, by, comment)
    except ValueError as error:
        fail(str(error))
    if as_json:
        emit_json(decision.as_dict())
        return
    covers = _covers(decision).replace("\n", "; ")
    console.print(shown(f"standing decision {decision.id[:8]} revoked by {by}: {covers}"))


def _covers(decision: StandingDecision) -> str:
    scope = decision.scope
    said = [f"{scope.source}: rule {scope.rule}", "on " + ", ".join(h or "(no host)" for h in scope.hosts)]
    if scope.command_lines:
        said.append(f"{len(scope.command_lines)} command line(s)")
    if scope.destinations:
        said.append("to " + ", ".join(scope.destinations[:3]) + (" …" if len(scope.destinations) > 3 else ""))
    return "\n".join(said)


def _until(decision: StandingDecision) -> str:
    if decision.revoked_at is not None:
        return f"revoked {decision.revoked_at.date().isoformat()} by {decision.revoked_by}"
    return decision.expires_at.date().isoformat() + ("" if decision.in_force() else " (expired)")

"""``garrison campaigns``: what two or more tenants saw within the window (``flows.store`` campaigns).

Operator-only: a campaign names every affected tenant and its incident (the warnings the tenants got name
neither).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from flows.settings import get_settings
from flows.store import CampaignView, Store, campaigns

from ._metrics import parse_since
from ._output import console, emit_json, shown


def campaigns_command(
    since: Annotated[
        str | None,
        typer.Option(
            "--since", metavar="DATE", help="Only campaigns seen from then on: 2026-05-01, 7d, 12h."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Campaigns across tenants: the shared values, the tenants and their incidents, who was warned."""
    start = parse_since(since) if since is not None else None
    found = campaigns(Store.open(get_settings().database_url).engine, start)
    if as_json:
        emit_json({"campaigns": [campaign_json(c) for c in found]})
        return
    if not found:
        console.print("No campaigns: no value was seen at two tenants within the window.")
        return
    table = Table("campaign", "last seen", "tenants", "shared values", title="Campaigns across tenants")
    for campaign in found:
        values = ", ".join(campaign.values[:3]) + (
            f" (+{len(campaign.values) - 3})" if len(campaign.values) > 3 else ""
        )
        table.add_row(
            campaign.reference,
            campaign.last_seen.strftime("%Y-%m-%d %H:%M"),
            shown(", ".join(campaign.tenants)),
            shown(values),
        )
    console.print(table)


def campaign_json(campaign: CampaignView) -> dict[str, Any]:
    return {
        "id": campaign.id,
        "reference": campaign.reference,
        "values": campaign.values,
        "tenants": campaign.tenants,
        "incidents": campaign.incidents,
        "warned": campaign.warned,
        "first_seen": campaign.first_seen.isoformat(),
        "last_seen": campaign.last_seen.isoformat(),
    }

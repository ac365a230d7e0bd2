"""MISP REST search: ``POST /attributes/restSearch`` with the ``Authorization`` header (the API key).

The tenant's own (or its community's) MISP instance: its ``base_url`` is a required setting, its answers
are cached per tenant (they may hold the tenant's private events), and private addresses may be asked
about. The search asks for detection attributes only (``to_ids``), honouring MISP's warninglists
(``enforceWarninglist``: no "8.8.8.8 is a C2" from a careless event). Each attribute found is read like a
local MISP feed (event info, tags, threat level, sightings → verdict and reason); only records for the
indicator asked are kept (a ``domain|ip`` attribute also lists its domain).

An attribute search answers each attribute with a stub of its event (id, info, org ids, uuid: MISP's
``MispAttribute::fetchAttributes``), which would leave the verdict blind to the event's threat level. So
the search asks for the event's tags (``includeEventTags``) and its context (``includeContext``: threat
level, date, published, creator, tags); a MISP that ignores ``includeContext`` for JSON gets one more call,
``POST /events/restSearch`` with ``metadata`` for those events. The reason names the event, its date,
tags and threat level.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from pydantic import Field

from .._vendor import VendorSettings
from ..http import VendorPolicy
from ._answers import answer, obj
from ._normalize import InvalidIndicator, parse_any
from ._provider import IntelSession, LookupInput, Provider, intel_lookup
from ._provider import register_provider as _register
from ._record import INDICATOR_TYPES, IntelRecord
from ._text import clean, join
from .feeds._misp import EventContext, parse_attributes
from .feeds._result import Collector

NAME = "misp"
SECRETS = ("misp_api_key",)
DOC = "https://www.misp-project.org/openapi/#tag/Attributes/operation/restSearchAttributes"
DOC_EVENTS = "https://www.misp-project.org/openapi/#tag/Events/operation/restSearchEvents"
_EVENT_ID = re.compile(r"^[0-9]{1,12}$")


class MispSettings(VendorSettings):
    # base_url has no default: every tenant names its instance.
    limit: int = Field(default=50, ge=1, le=1000, description="Most attributes to read per indicator.")
    enforce_warninglist: bool = Field(default=True, description="Let MISP drop attributes on warninglists.")


PROVIDER = _register(
    Provider(
        name=NAME,
        description="MISP: the tenant's or community's shared events, searched by attribute value.",
        doc_url=DOC,
        settings=MispSettings,
        headers=lambda ctx: {
            "Authorization": ctx.secret("misp_api_key"),
            "Accept": "application/json",
            "Content-Type": "application/json",
        },
        policy=VendorPolicy(rate_per_second=5.0, burst=10),
        rate=10.0,
        burst=20,
        secrets=SECRETS,
        required_secrets=SECRETS,
        shared_answers=False,
        third_party=False,
    )
)


class SearchInput(LookupInput):
    value: str = Field(min_length=1, max_length=4096, description="Attribute value to search for.")
    to_ids: bool = Field(default=True, description="Only attributes meant for detection.")
    includeEventTags: bool = Field(default=True, description="Return the event's tags with each attribute.")  # noqa: N815
    includeContext: bool = Field(  # noqa: N815
        default=True, description="Return each attribute's event: threat level, date, tags, creator."
    )


@intel_lookup(key="misp.lookup_attribute", inputs=SearchInput, types=INDICATOR_TYPES, doc_url=DOC)
async def lookup_attribute(inputs: SearchInput, session: IntelSession) -> list[IntelRecord]:
    """Search attributes by value (POST /attributes/restSearch), with their events' context."""
    try:
        asked = parse_any(inputs.value)
    except InvalidIndicator:
        asked = None
    settings: MispSettings = session.settings  # type: ignore[assignment]
    query = {
        "returnFormat": "json",
        "value": inputs.value,
        "to_ids": inputs.to_ids,
        "includeEventTags": inputs.includeEventTags,
        "includeContext": inputs.includeContext,
        "enforceWarninglist": settings.enforce_warninglist,
        "deleted": False,
        "limit": settings.limit,
        "page": 1,
    }
    data = await answer(session, "POST", "/attributes/restSearch", json=query)
    response = data.get("response")
    found = obj(response).get("Attribute") if isinstance(response, dict) else []
    attributes = [a for a in found if isinstance(a, dict)] if isinstance(found, list) else []
    if inputs.includeContext:
        await _add_event_context(session, attributes, settings.limit)
    collector = Collector(NAME, "misp")
    parse_attributes(attributes, collector)
    dates = _event_dates(attributes)
    now = session.now()
    return [
        dataclasses.replace(
            r, reason=_dated(r.reason, *dates.get(r.reference or "", ("", None))), retrieved_at=now
        )
        for r in collector.finish().records
        if asked is None or r.key == asked
    ]


def _stub(attribute: dict[str, Any]) -> bool:
    # A full event carries its threat level; the stub of an attribute search does not.
    return "threat_level_id" not in obj(attribute.get("Event"))


def _event_id(attribute: dict[str, Any]) -> str | None:
    value = str(obj(attribute.get("Event")).get("id") or attribute.get("event_id") or "")
    return value if _EVENT_ID.match(value) else None


async def _add_event_context(session: IntelSession, attributes: list[dict[str, Any]], limit: int) -> None:
    """Give attributes whose event came as a stub the event's metadata, read in one events search."""
    wanted = sorted({i for a in attributes if _stub(a) and (i := _event_id(a))}, key=int)[:limit]
    if not wanted:
        return
    query = {"returnFormat": "json", "eventid": wanted, "metadata": True, "limit": len(wanted), "page": 1}
    data = await answer(session, "POST", "/events/restSearch", json=query)
    events: dict[str, dict[str, Any]] = {}
    for item in data.get("response") or []:
        event = obj(obj(item).get("Event"))
        key = str(event.get("id") or "")
        if key in wanted:  # the answer speaks only for the events asked about
            events[key] = event
    for attribute in attributes:
        event_id = _event_id(attribute)
        if _stub(attribute) and event_id in events:
            attribute["Event"] = {**obj(attribute.get("Event")), **events[event_id]}


def _event_dates(attributes: list[dict[str, Any]]) -> dict[str, tuple[str, str | None]]:
    """Each attribute's record reference → its event's (info, date), as the reason names them."""
    dated: dict[str, tuple[str, str | None]] = {}
    for attribute in attributes:
        uuid = clean(attribute.get("uuid"), 40)
        event = obj(attribute.get("Event"))
        if uuid and event:
            context = EventContext.of(event)
            dated[f"misp:{uuid}"] = (context.info, context.date)
    return dated


def _dated(reason: str, info: str, date: str | None) -> str:
    """The reason with the event's date beside its name ("MISP event 'X' of 2025-11-10; …")."""
    if not date:
        return reason
    head = f"MISP event {info!r}" if info else ""
    if head and reason.startswith(head):
        return join([f"{head} of {date}", reason[len(head) :].removeprefix("; ")])
    return join([f"MISP event of {date}", reason])

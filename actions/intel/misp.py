"""MISP REST search: ``POST /attributes/restSearch`` with the ``Authorization`` header (the API key).

The tenant's own (or its community's) MISP instance: its ``base_url`` is a required setting, its answers
are cached per tenant (they may hold the tenant's private events), and private addresses may be asked
about. The search asks for detection attributes only (``to_ids``), with event tags, honouring MISP's
warninglists (``enforceWarninglist``: no "8.8.8.8 is a C2" from a careless event). Each attribute found
is read like a local MISP feed (event info, tags, threat level, sightings → verdict and reason); only
records for the indicator asked are kept (a ``domain|ip`` attribute also lists its domain).
"""

from __future__ import annotations

import dataclasses

from pydantic import Field

from .._vendor import VendorSettings
from ..http import VendorPolicy
from ._answers import answer, obj
from ._normalize import InvalidIndicator, parse_any
from ._provider import IntelSession, LookupInput, Provider, intel_lookup
from ._provider import register_provider as _register
from ._record import INDICATOR_TYPES, IntelRecord
from .feeds._misp import parse_attributes
from .feeds._result import Collector

NAME = "misp"
SECRETS = ("misp_api_key",)
DOC = "https://www.misp-project.org/openapi/#tag/Attributes/operation/restSearchAttributes"


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


@intel_lookup(key="misp.lookup_attribute", inputs=SearchInput, types=INDICATOR_TYPES, doc_url=DOC)
async def lookup_attribute(inputs: SearchInput, session: IntelSession) -> list[IntelRecord]:
    """Search attributes by value (POST /attributes/restSearch)."""
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
        "enforceWarninglist": settings.enforce_warninglist,
        "deleted": False,
        "limit": settings.limit,
        "page": 1,
    }
    data = await answer(session, "POST", "/attributes/restSearch", json=query)
    response = data.get("response")
    attributes = obj(response).get("Attribute") if isinstance(response, dict) else []
    collector = Collector(NAME, "misp")
    parse_attributes(attributes, collector)
    now = session.now()
    return [
        dataclasses.replace(r, retrieved_at=now)
        for r in collector.finish().records
        if asked is None or r.key == asked
    ]

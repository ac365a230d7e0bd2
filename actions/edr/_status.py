"""One reading of an EDR host's isolation state, for every vendor: is the wanted state in place, on its
way, absent, or unknown. Each vendor names its states (CrowdStrike's ``contained`` / ``containment_pending``,
SentinelOne's ``disconnected`` / ``disconnecting``, Defender's latest machine action); the judgement is
the same, so it is written once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._result import Effect, TargetState


def isolation_state(
    status: str,
    want: str,
    *,
    on_the_way: Mapping[str, str],
    detail: str,
    vendor_ref: str | None,
    observed: dict[str, Any],
) -> TargetState:
    """``want`` is an end state; ``on_the_way`` maps each end state to the vendor's in-between state
    (containing → contained). A status the vendor documents but that is not ``want`` is ABSENT; anything
    else (empty, a state we do not know) is UNKNOWN, which reconciliation never treats as done.

    >>> isolation_state("connecting", "connected", on_the_way={"connected": "connecting",
    ...     "disconnected": "disconnecting"}, detail="", vendor_ref=None, observed={}).effect
    <Effect.IN_PROGRESS: 'in_progress'>
    """
    known = {*on_the_way, *on_the_way.values()}
    if status == want:
        effect = Effect.APPLIED
    elif status == on_the_way[want]:
        effect = Effect.IN_PROGRESS
    elif status in known:
        effect = Effect.ABSENT
    else:
        effect = Effect.UNKNOWN
    return TargetState(effect=effect, detail=detail, vendor_ref=vendor_ref, observed=observed)

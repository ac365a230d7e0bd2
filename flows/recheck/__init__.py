"""Re-check closed incidents: fresh intel, triage again, the remediation read back; reopen what is not fine.

MyKings hid for two years behind a Run key; a closed incident is not the end of it. ``recheck`` (a plain
function, run in-process by ``garrison recheck``) and the ``recheck`` flow (served on a schedule) look at
every incident closed within a horizon: a worse verdict, an effect no longer in place, or an indicator newly
listed malicious reopens it for a new response round and tells the customer and the analysts.
"""

from ._check import RecheckError, check_batch, due, recheck
from ._effects import effect_rows
from ._findings import EffectCheck, Finding, Outcome
from ._flow import RecheckRequest, recheck_flow, report_markdown, summarise
from ._intel import FreshIntel, fresh_intel

__all__ = [
    "EffectCheck",
    "Finding",
    "FreshIntel",
    "Outcome",
    "RecheckError",
    "RecheckRequest",
    "check_batch",
    "due",
    "effect_rows",
    "fresh_intel",
    "recheck",
    "recheck_flow",
    "report_markdown",
    "summarise",
]

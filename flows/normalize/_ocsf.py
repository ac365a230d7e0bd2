"""OCSF findings as emitters send them → the Detection Finding (2004) shape Garrison stores.

Most emitters still send the deprecated Security Finding (class 2001: Security Hub, Falco, QRadar, …) and
schema versions from 1.0 on; Detection Finding replaced it in OCSF 1.1 with the same activities. A 2001
finding keeps every field it was sent with; Garrison adds the 2004 names it reads (``finding_info`` from
1.0's ``finding``, ``evidences`` from the top-level process, file and endpoints) and records the class it
came as in ``garrison_converted_from``.
"""

from __future__ import annotations

import math
import re
from typing import Any

from flows.models import MAX_ATTACKS

from ._errors import NormalizeError
from ._ocsf_build import attack_object, epoch_ms

DETECTION_FINDING = 2004
SECURITY_FINDING = 2001
# ms since the epoch before 9999-12-31 (later values are no datetime); below 1e11 a number is seconds
# (1e11 ms is 1973, 1e11 s is the year 5138), so both units can be told apart by magnitude.
LAST_MS = 253_402_300_799_999
_SECONDS_BELOW = 10**11
EVIDENCE_PARTS = (
    "process",
    "file",
    "src_endpoint",
    "dst_endpoint",
    "connection_info",
    "url",
    "actor",
    "api",
)
# Security Hub's finding types (ASFF) name an ATT&CK tactic after "TTPs/" ("TTPs/Command and
# Control/Trojan:Runtime-DGADomainRequest.C!DNS"); Security Lake's OCSF mapping copies the types and writes
# no attacks, so the tactic would be lost.
_TTPS = "TTPs/"
# Security Lake's mapping of GuardDuty Runtime Monitoring leaves the process's hash in ``unmapped`` (keyed
# by the flattened ASFF path), not in the evidence's process.
_UNMAPPED_SHA256 = "ProductFields.aws/guardduty/service/runtimeDetails/process/executableSha256"
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


def to_detection_finding(raw: dict[str, Any], tenant: str) -> dict[str, Any]:
    """The OCSF document to validate: a copy of ``raw``, its time in ms, a 2001 finding in 2004 shape."""
    document = dict(raw)
    class_uid = document.get("class_uid")
    if class_uid not in (SECURITY_FINDING, DETECTION_FINDING) or isinstance(class_uid, bool):
        raise NormalizeError(
            "class_uid",
            f"Garrison reads OCSF Detection Finding (2004) and Security Finding (2001), not {class_uid!r}",
        )
    metadata = document.get("metadata")
    if isinstance(metadata, dict):
        # The tenant is who authenticated, never what the payload says: a source's own tenant (an AWS
        # organisation, an Okta org) is kept as ``source_tenant_uid`` (normalize refuses one that names
        # another Garrison tenant).
        claimed = metadata.get("tenant_uid")
        source = {"source_tenant_uid": claimed} if claimed not in (None, tenant) else {}
        document["metadata"] = {**metadata, **source, "tenant_uid": tenant}
    if "time" in document or "time_dt" in document:
        document["time"] = ocsf_time(document.get("time"), document.get("time_dt"))
    if isinstance(document.get("observables"), list):
        document["observables"] = [_observable(item) for item in document["observables"]]
    if class_uid == SECURITY_FINDING:
        _as_detection_finding(document)
    _tactics_from_types(document)
    _unmapped_hash(document)
    _alert_uid(document)
    return document


def _alert_uid(document: dict[str, Any]) -> None:
    """A finding whose uid is its rule's uid (Tenzir's Suricata mapping writes the signature id) names
    the rule, not the alert: every alert of that rule would be one duplicate. Such a finding is keyed on
    the rule, the event it came from and its time, and the uid as sent is kept as ``uid_alt``."""
    info = document.get("finding_info")
    analytic = info.get("analytic") if isinstance(info, dict) else None
    if not isinstance(info, dict) or not isinstance(analytic, dict):
        return
    uid = info.get("uid")
    if not isinstance(uid, str) or not uid or uid != analytic.get("uid"):
        return
    held = document.get("metadata")
    metadata: dict[str, Any] = held if isinstance(held, dict) else {}
    # The emitter's ids of the event (packet, log line) the alert came from, the most specific first.
    given = (metadata.get(key) for key in ("original_event_uid", "correlation_uid", "uid"))
    event = next((str(value) for value in given if value), "-")
    kept = {"uid_alt": uid} if "uid_alt" not in info else {}
    document["finding_info"] = {**info, **kept, "uid": f"{uid}:{event}:{document.get('time')}"[:4096]}


def _tactics_from_types(document: dict[str, Any]) -> None:
    info = document.get("finding_info")
    if not isinstance(info, dict) or info.get("attacks") or document.get("attacks"):
        return
    types = info.get("types")
    attacks: list[dict[str, Any]] = []
    for kind in types[:64] if isinstance(types, list) else []:
        if isinstance(kind, str) and kind.startswith(_TTPS):
            attack = attack_object(tactic_name=kind.split("/")[1])
            # Only ATT&CK's own tactics: ASFF's other TTP words are no tactic.
            if attack and attack["tactic"].get("uid") and attack not in attacks:
                attacks.append(attack)
    if attacks:
        document["finding_info"] = {**info, "attacks": attacks[:MAX_ATTACKS]}


def _unmapped_hash(document: dict[str, Any]) -> None:
    unmapped, evidences = document.get("unmapped"), document.get("evidences")
    digest = unmapped.get(_UNMAPPED_SHA256) if isinstance(unmapped, dict) else None
    # GuardDuty's sample findings write "GeneratedFindingHash": only a digest is a hash.
    if not isinstance(digest, str) or not _SHA256.fullmatch(digest) or not isinstance(evidences, list):
        return
    # The finding's one process: the first evidence naming one, unless the sender gave its hashes.
    index, item = next(
        (
            (n, e)
            for n, e in enumerate(evidences)
            if isinstance(e, dict) and isinstance(e.get("process"), dict)
        ),
        (-1, {}),
    )
    process: dict[str, Any] = item.get("process") or {}
    held: dict[str, Any] = process["file"] if isinstance(process.get("file"), dict) else {}
    if index < 0 or held.get("hashes"):
        return
    file = {**held, "hashes": [{"algorithm_id": 3, "algorithm": "SHA-256", "value": digest.lower()}]}
    # A copy: the sender's evidences are left as they came.
    changed = {**item, "process": {**process, "file": file}}
    document["evidences"] = [*evidences[:index], changed, *evidences[index + 1 :]]


def ocsf_time(value: Any, text: Any = None) -> int | None:
    """OCSF ``time`` in ms: seconds or ms by magnitude (Okta's mapping writes seconds), else ``time_dt``.

    Raises NormalizeError naming ``time`` for a value no clock gives (negative, past the year 9999 as ms:
    microseconds or nanoseconds) or that is no time at all.
    """
    if value is None:
        return epoch_ms(text) if text is not None else None
    if isinstance(value, str):
        number: Any = _number(value)
        if number is None:
            parsed = epoch_ms(value)
            if parsed is None:
                raise NormalizeError("time", f"not a time: {value[:64]!r}")
            return parsed
        value = number
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise NormalizeError("time", "must be a number: ms (or seconds) since the epoch")
    moment = int(value * 1000) if abs(value) < _SECONDS_BELOW else int(value)
    if not 0 <= moment <= LAST_MS:
        raise NormalizeError(
            "time", f"{value!r} is no time: give ms or seconds since the epoch, before the year 10000"
        )
    return moment


def _as_detection_finding(document: dict[str, Any]) -> None:
    document["garrison_converted_from"] = {
        key: document[key] for key in ("class_uid", "class_name", "type_uid", "type_name") if key in document
    }
    document["class_uid"] = DETECTION_FINDING
    document["class_name"] = "Detection Finding"
    activity = document.get("activity_id")
    if isinstance(activity, int) and not isinstance(activity, bool) and 0 <= activity <= 99:
        document["type_uid"] = DETECTION_FINDING * 100 + activity
        document.pop("type_name", None)
    finding = document.get("finding")
    if "finding_info" not in document and isinstance(finding, dict):
        info = dict(finding)
        if not info.get("title"):
            info["title"] = str(document.get("message") or "(untitled finding)")[:4096]
        document["finding_info"] = info
    if not document.get("evidences"):
        evidence = {key: document[key] for key in EVIDENCE_PARTS if isinstance(document.get(key), dict)}
        malware = [m for m in document.get("malware") or [] if isinstance(m, dict)][:32]
        evidences = [evidence] if evidence else []
        evidences += [{"malware": [m], "file": {"path": m["path"]}} for m in malware if m.get("path")]
        if evidences:
            document["evidences"] = evidences


def _observable(item: Any) -> Any:
    # Some emitters write type_id -1 for "no such type" (SecurityScorecard); OCSF's word for it is 99 Other.
    type_id = item.get("type_id") if isinstance(item, dict) else None
    if isinstance(type_id, int) and not isinstance(type_id, bool) and type_id < 0:
        return {**item, "type_id": 99}
    return item


def _number(text: str) -> float | None:
    try:
        return float(text.strip())
    except ValueError:
        return None

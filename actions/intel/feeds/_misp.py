"""MISP events and attribute search answers: every network or file indicator, with the why.

Shapes read: ``{"Event": {…}}`` (an event export), ``{"response": [{"Event": …}, …]}`` and lists of
events (events/restSearch), a bare event, and ``{"response": {"Attribute": […]}}`` (attributes/restSearch,
where each attribute carries its ``Event``). Attributes come from ``Event.Attribute`` and
``Event.Object[].Attribute``.

Verdict: an attribute with ``to_ids`` false is context (a geo-lookup service the malware calls, a blog
link), not for detection: it is kept so an analyst sees the value is known, but only ever as suspicious,
its reason saying to_ids was false (many vendors, ESET among them, publish whole events that way).
Otherwise malicious, or suspicious when the event's threat level is undefined (4), a ``false-positive``
tag says the risk is medium or high, or false-positive sightings outnumber the others. The reason is the
event info, the attribute comment, the object, and the tags/galaxies that say what it is (TLP and
source-type tags are left out); the source is the creating org.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from actions.indicators import InvalidIndicator

from .._normalize import url_or_domain
from .._text import clean, iso, join, latest, plural
from ._result import Collector, FeedError

# MISP attribute type → what each "|"-separated part is ("url?" may lack its scheme).
_TYPES: dict[str, tuple[str, ...]] = {
    "ip-dst": ("ip",),
    "ip-src": ("ip",),
    "ip-dst|port": ("ip", "port"),
    "ip-src|port": ("ip", "port"),
    "domain": ("domain",),
    "hostname": ("domain",),
    "domain|ip": ("domain", "ip"),
    "hostname|port": ("domain", "port"),
    "url": ("url?",),
    "uri": ("url?",),
    "md5": ("md5",),
    "sha1": ("sha1",),
    "sha256": ("sha256",),
    "filename|md5": ("filename", "md5"),
    "filename|sha1": ("filename", "sha1"),
    "filename|sha256": ("filename", "sha256"),
    "malware-sample": ("filename", "md5"),
    "x509-fingerprint-sha1": ("x509_sha1",),
}
_THREAT_LEVELS = {"1": "high", "2": "medium", "3": "low", "4": "undefined"}
_QUIET_TAGS = ("tlp:", "type:", "osint:", "workflow:", "pap:", "admiralty-scale:", "estimative-language:")
_MACHINE_TAG = re.compile(r'^(?:misp-galaxy:)?(?:[\w.-]+:)?([\w.-]+)="?([^"]*)"?$')
_NOISE_COMMENT = re.compile(r"^imported via", re.I)
_CONTEXT = "to_ids false: context the event gives, not for detection"
_SIGHTING_SEEN, _SIGHTING_FALSE_POSITIVE, _SIGHTING_EXPIRED = "0", "1", "2"


@dataclass
class EventContext:
    """What an attribute inherits from its event."""

    info: str = ""
    org: str = ""
    threat_level: str = ""
    date: str | None = None
    uuid: str = ""
    published: bool | None = None
    tags: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, event: dict[str, Any]) -> EventContext:
        given = event.get("Orgc")
        orgc: dict[str, Any] = given if isinstance(given, dict) else {}
        return cls(
            info=clean(event.get("info"), 120),
            org=clean(orgc.get("name"), 80),
            threat_level=str(event.get("threat_level_id") or ""),
            date=iso(event.get("date")),
            uuid=clean(event.get("uuid"), 40),
            published=event["published"] if isinstance(event.get("published"), bool) else None,
            tags=_tag_names(event),
        )


def parse_misp(doc: Any, collector: Collector) -> None:
    """Records from any MISP JSON shape above; a shape that is none of them raises FeedError."""
    for event in _events(doc, collector.name):
        context = EventContext.of(event)
        for index, attribute in enumerate(_list(event.get("Attribute"))):
            attribute_records(attribute, context, collector, f"Attribute[{index}]")
        for index, obj in enumerate(_list(event.get("Object"))):
            if not isinstance(obj, dict):
                collector.skip(f"{collector.name}#Object[{index}]", "not an object")
                continue
            for number, attribute in enumerate(_list(obj.get("Attribute"))):
                attribute_records(attribute, context, collector, f"Object[{index}].Attribute[{number}]", obj)


def parse_attributes(attributes: Any, collector: Collector) -> None:
    """Records from an attributes/restSearch answer's list (each attribute carries its ``Event``)."""
    for index, attribute in enumerate(_list(attributes)):
        event = attribute.get("Event") if isinstance(attribute, dict) else None
        context = EventContext.of(event) if isinstance(event, dict) else EventContext()
        attribute_records(attribute, context, collector, f"Attribute[{index}]")


def _events(doc: Any, name: str) -> list[dict[str, Any]]:
    if isinstance(doc, dict) and isinstance(doc.get("response"), dict | list):
        inner = doc["response"]
        if isinstance(inner, dict):
            return [{"Attribute": inner.get("Attribute") or [], "_attributes_only": True}]
        return _events(inner, name)
    items = doc if isinstance(doc, list) else [doc]
    events: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        event = item.get("Event", item) if isinstance(item, dict) else None
        if not isinstance(event, dict) or not (
            isinstance(event.get("Attribute"), list) or isinstance(event.get("Object"), list)
        ):
            raise FeedError(f"{name}: item {index} is not a MISP event (no Attribute or Object list)")
        events.append(event)
    return events


def attribute_records(
    attribute: Any, context: EventContext, out: Collector, where: str, obj: dict[str, Any] | None = None
) -> None:
    if not isinstance(attribute, dict):
        out.skip(f"{out.name}#{where}", "not an attribute object")
        return
    if isinstance(attribute.get("Event"), dict) and not context.info:
        context = EventContext.of(attribute["Event"])
    where = f"{out.name}#{clean(attribute.get('uuid'), 40) or where}"
    kind = str(attribute.get("type") or "")
    parts = _TYPES.get(kind)
    if parts is None:
        out.skip(where, f"MISP type {clean(kind, 40)!r} is not a network or file indicator")
        return
    if attribute.get("deleted") is True:
        out.skip(where, "deleted")
        return
    for_detection = _truthy(attribute.get("to_ids"))
    value = attribute.get("value")
    if not isinstance(value, str):
        out.skip(where, "the value is not text")
        return
    pieces = value.rsplit("|", 1) if len(parts) == 2 else [value]
    if len(pieces) != len(parts):
        out.skip(where, f"{clean(value, 60)!r} is not a {kind} pair")
        return
    named = dict(zip(parts, pieces, strict=True))
    fields = _fields(
        attribute,
        context,
        out,
        obj,
        port=named.get("port"),
        filename=named.get("filename"),
        for_detection=for_detection,
    )
    for part, piece in named.items():
        if part in ("port", "filename"):
            continue
        if part == "url?":
            try:
                typed, canonical = url_or_domain(piece)
            except InvalidIndicator as error:
                out.skip(where, str(error))
                continue
            out.keep(typed, canonical, **fields)
        else:
            out.add(part, piece, where=where, **fields)


def _fields(
    attribute: dict[str, Any],
    context: EventContext,
    out: Collector,
    obj: dict[str, Any] | None,
    *,
    port: str | None,
    filename: str | None,
    for_detection: bool,
) -> dict[str, Any]:
    tags = [*context.tags, *_tag_names(attribute)]
    sightings = [s for s in _list(attribute.get("Sighting")) if isinstance(s, dict)]
    seen = [s for s in sightings if str(s.get("type", "0")) == _SIGHTING_SEEN]
    false_positives = [s for s in sightings if str(s.get("type")) == _SIGHTING_FALSE_POSITIVE]
    expired = [iso(s.get("date_sighting")) for s in sightings if str(s.get("type")) == _SIGHTING_EXPIRED]
    fp_risk = [t for t in tags if re.match(r'^false-positive:risk="?(high|medium)', t, re.I)]
    level = _THREAT_LEVELS.get(context.threat_level, "")
    gray = level == "undefined" or bool(fp_risk) or len(false_positives) > len(seen)
    comment = clean(attribute.get("comment"), 100)
    ports = [port] if port else []
    if obj:
        ports += [
            str(a.get("value"))
            for a in _list(obj.get("Attribute"))
            if isinstance(a, dict) and a.get("type") == "port" and a.get("value")
        ]
    reason = join(
        [
            f"MISP event {context.info!r}" if context.info else "",
            "" if for_detection else _CONTEXT,
            "" if _NOISE_COMMENT.match(comment) else comment,
            f"{clean(obj.get('name'), 40)} object" if obj else "",
            f"file {clean(filename, 60)}" if filename else "",
            f"port {clean(', '.join(ports[:3]), 40)}" if ports else "",
            *[text for t in tags if (text := _tag_text(t))][:4],
            f"threat level {level}" if level else "",
            f"sighted {plural(len(seen), 'time')}" if seen else "",
            f"reported as false positive {plural(len(false_positives), 'time')}" if false_positives else "",
            "event not published" if context.published is False else "",
        ]
    )
    first = iso(attribute.get("first_seen")) or iso((obj or {}).get("first_seen")) or context.date
    last = (
        iso(attribute.get("last_seen"))
        or iso((obj or {}).get("last_seen"))
        or latest(*(iso(s.get("date_sighting")) for s in seen))
        or iso(attribute.get("timestamp"))
    )
    return {
        # Not for detection: the analyst sees the value is known, but it never convicts (and so never
        # becomes a block target: blocks take only malicious indicators).
        "verdict": "suspicious" if gray or not for_detection else "malicious",
        "source": f"{context.org} (MISP)" if context.org else out.name,
        "reason": reason,
        "first_seen": first,
        "last_seen": last,
        "valid_until": min((e for e in expired if e), default=None),
        "reference": f"misp:{clean(attribute.get('uuid'), 40)}" if attribute.get("uuid") else None,
    }


def _tag_names(item: dict[str, Any]) -> list[str]:
    names = [clean(t.get("name"), 120) for t in _list(item.get("Tag")) if isinstance(t, dict)]
    return [n for n in names if n]


def _tag_text(name: str) -> str:
    if name.lower().startswith(_QUIET_TAGS):
        return ""
    match = _MACHINE_TAG.match(name)
    if match:
        return clean(f"{match.group(1)} {match.group(2)}", 80)
    return clean(name, 60)


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() in ("1", "true")) or value == 1


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []

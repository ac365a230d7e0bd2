"""STIX 2.x bundles: indicators (by pattern) and observables tied to adversary objects, with the why.

- An indicator lists every value its pattern compares with ``=`` / ``IN`` (``ISSUBSET`` for ranges). Its
  reason names what it ``indicates`` (malware, campaign, threat actor …), the reports that contain it and
  its sightings; the source is the identity that created it. ``indicator_types`` (2.0: ``labels``) and
  ``confidence`` set the verdict; ``valid_from``/``valid_until``/``created``/``modified`` and sightings
  the dates.
- An observable (ipv4-addr, domain-name, url, file, x509-certificate) in a relationship with malware,
  infrastructure, a threat actor, intrusion set, campaign or tool is listed with that relation
  ("part of infrastructure Poison Ivy C2 (command-and-control; controls malware Poison Ivy)").
- A URL written without its scheme (``[url:value = 'evil.example/path']``) is matched as ``http://`` + it,
  and its reason says so; nothing is fetched.
- A certificate tied to such infrastructure is malicious, and every other observable related to the same
  certificate is suspicious because it "shares SSL certificate <sha1> with <bad one>" (how DUOBEAN's IP
  came to be watched).
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from actions.indicators import InvalidIndicator, normalize, parse_any

from .._text import clean, earliest, iso, join, latest, plural
from ._pattern import Comparison, PatternError, comparisons
from ._result import Collector, FeedError

_ADVERSARY = {"malware", "infrastructure", "threat-actor", "intrusion-set", "campaign", "tool"}
_OBSERVABLES = {"ipv4-addr", "ipv6-addr", "domain-name", "url", "file", "x509-certificate"}
_HASHES = {"md5": "md5", "sha-1": "sha1", "sha1": "sha1", "sha-256": "sha256", "sha256": "sha256"}
_MALICIOUS_TYPES = {"malicious-activity", "attribution", "compromised"}
_GRAY_TYPES = {"anomalous-activity", "unknown"}
# The indicator-type vocabulary (2.0 put it in labels; 2.1 labels are free tags, left out of reasons).
_TYPE_WORDS = {"anonymization", "attribution", "benign", "compromised", "anomalous-activity", "unknown"}
# How an adversary object relates to an observable, in words ("part of infrastructure X").
_TOWARD_OBSERVABLE = {
    "consists-of": "part of {}",
    "uses": "used by {}",
    "communicates-with": "contacted by {}",
    "controls": "controlled by {}",
    "owns": "owned by {}",
    "hosts": "hosted by {}",
    "beacons-to": "{} beacons to it",
    "exfiltrates-to": "{} exfiltrates to it",
    "downloads": "downloaded by {}",
    "drops": "dropped by {}",
}


def parse_stix(doc: Any, collector: Collector) -> None:
    bundle = _Bundle(_objects(doc, collector.name), collector)
    for obj in bundle.objects:
        if obj["type"] == "indicator":
            bundle.indicator(obj)
    bundle.observables()


def _objects(doc: Any, name: str) -> list[dict[str, Any]]:
    if isinstance(doc, dict):
        objects_field = doc.get("objects")
        raw: list[Any] = objects_field if isinstance(objects_field, list) else [doc]
    elif isinstance(doc, list):
        raw = doc
    else:
        raise FeedError(f"{name}: a STIX bundle must be a JSON object")
    objects: list[dict[str, Any]] = []
    for index, obj in enumerate(raw):
        if not isinstance(obj, dict) or not isinstance(obj.get("type"), str):
            raise FeedError(f"{name}: objects[{index}] is not a STIX object (no type)")
        if not isinstance(obj.get("id"), str) or "--" not in obj["id"]:
            raise FeedError(f"{name}: objects[{index}] ({clean(obj['type'], 40)}) has no valid id")
        objects.append(obj)
    return objects


class _Bundle:
    def __init__(self, objects: list[dict[str, Any]], collector: Collector) -> None:
        self.objects = objects
        self.out = collector
        self.by_id = {obj["id"]: obj for obj in objects}
        self.outgoing: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
        self.incoming: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
        self.relations: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.sightings: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.reports: dict[str, list[str]] = defaultdict(list)
        for obj in objects:
            kind = obj["type"]
            if kind == "relationship" and isinstance(obj.get("relationship_type"), str):
                source, target = obj.get("source_ref"), obj.get("target_ref")
                if isinstance(source, str) and isinstance(target, str):
                    self.outgoing[source].append((obj["relationship_type"], obj))
                    self.incoming[target].append((obj["relationship_type"], obj))
            elif kind == "sighting" and isinstance(obj.get("sighting_of_ref"), str):
                self.sightings[obj["sighting_of_ref"]].append(obj)
            elif kind in ("report", "grouping") and isinstance(obj.get("object_refs"), list):
                for ref in obj["object_refs"]:
                    if isinstance(ref, str) and obj.get("name"):
                        self.reports[ref].append(clean(obj["name"], 80))

    # -- helpers ------------------------------------------------------------------------------------------

    def where(self, obj: dict[str, Any]) -> str:
        return f"{self.out.name}#{obj['id']}"

    def source(self, *objs: dict[str, Any] | None) -> str:
        for obj in objs:
            creator = self.by_id.get(obj.get("created_by_ref", "")) if obj else None
            if creator and creator.get("name"):
                return clean(creator["name"], 120)
        return self.out.name

    def label(self, obj: dict[str, Any]) -> str:
        kind = obj["type"]
        if kind in _OBSERVABLES:
            return _observable_text(obj)
        name = clean(obj.get("name"), 80)
        kinds = [
            clean(k, 40)
            for key in ("malware_types", "infrastructure_types", "threat_actor_types", "tool_types")
            for k in (obj.get(key) or [])
            if isinstance(k, str)
        ][:3]
        text = f"{kind.replace('-', ' ')} {name}" if name else kind.replace("-", " ")
        return f"{text} ({', '.join(kinds)})" if kinds else text

    def adversary(self, ref: Any) -> dict[str, Any] | None:
        obj = self.by_id.get(ref) if isinstance(ref, str) else None
        return obj if obj and obj["type"] in _ADVERSARY and not obj.get("revoked") else None

    def context(self, obj: dict[str, Any]) -> str:
        """An adversary object with what it is tied to: "infrastructure X (…; controls malware Y)"."""
        ties = [
            f"{kind} {self.label(other)}"
            for kind, rel in self.outgoing.get(obj["id"], [])
            if (other := self.adversary(rel.get("target_ref")))
        ] + [
            f"{self.label(other)} {kind} it"
            for kind, rel in self.incoming.get(obj["id"], [])
            if (other := self.adversary(rel.get("source_ref")))
        ]
        label = self.label(obj)
        return f"{label} [{'; '.join(ties[:2])}]" if ties else label

    # -- indicators ---------------------------------------------------------------------------------------

    def indicator(self, obj: dict[str, Any]) -> None:
        where = self.where(obj)
        if obj.get("revoked") is True:
            self.out.skip(where, "revoked")
            return
        pattern_type = obj.get("pattern_type", "stix")
        if pattern_type != "stix":
            self.out.skip(where, f"pattern type {clean(pattern_type, 30)!r} lists no values Garrison matches")
            return
        pattern = obj.get("pattern")
        if not isinstance(pattern, str):
            self.out.skip(where, "no pattern")
            return
        try:
            found = comparisons(pattern)
        except PatternError as error:
            self.out.skip(where, f"pattern cannot be read: {error}")
            return
        # A comparison Garrison cannot use (a number, a boolean, a constant) is passed over, not fatal.
        listed = [(c, kind) for c in found if not c.negated and c.values and (kind := _kind(c))]
        if not listed:
            others = sorted({c.text for c in found})
            self.out.skip(
                where, f"no observable Garrison matches by value ({', '.join(others[:4]) or 'empty'})"
            )
            return
        fields = self.indicator_fields(obj)
        for comparison, kind in listed:
            for value in comparison.values[:1000]:
                self.listed_value(kind, comparison, value, where, fields)

    def listed_value(
        self, kind: str, comparison: Comparison, value: str, where: str, fields: dict[str, Any]
    ) -> None:
        if kind == "ip" and ("/" in value or comparison.operator == "ISSUBSET"):
            self.out.add_network(value, where=where, **fields)
        elif comparison.operator not in ("=", "IN"):
            self.out.skip(where, f"{comparison.text} {clean(value, 60)!r} is no exact value")
        elif kind == "any":
            try:
                typed, canonical = parse_any(value)
            except InvalidIndicator as error:
                self.out.skip(where, str(error))
                return
            if typed in ("ipv4", "ipv6", "domain"):
                self.out.keep(typed, canonical, **fields)
            else:
                self.out.skip(where, f"{comparison.text} {clean(value, 60)!r} is no address or domain")
        elif kind == "url":
            self.add_url(value, where, fields)
        else:
            self.out.add(kind, value, where=where, **fields)

    def add_url(self, value: str, where: str, fields: dict[str, Any]) -> None:
        """A URL; one written without its scheme (``evil.example/path``) is matched as ``http://`` + it.

        Only the text is kept: nothing is ever fetched."""
        try:
            normalize("url", value)
        except InvalidIndicator as error:
            text = value.strip()
            if "://" in text or text.startswith(("/", "\\")) or not text:
                self.out.skip(where, str(error))
                return
            try:
                _, canonical = normalize("url", f"http://{text}")
            except InvalidIndicator as again:
                self.out.skip(where, str(again))
                return
            # First in the reason, so that no clipping of a long reason can drop it.
            note = f"URL given without a scheme, matched as {clean(canonical, 100)}"
            self.out.keep("url", canonical, **{**fields, "reason": join([note, fields.get("reason")])})
            return
        self.out.add("url", value, where=where, **fields)

    def indicator_fields(self, obj: dict[str, Any]) -> dict[str, Any]:
        types = {str(t).lower() for t in [*(obj.get("indicator_types") or []), *(obj.get("labels") or [])]}
        if "benign" in types:
            verdict = "benign"
        elif types & _MALICIOUS_TYPES or not types & _GRAY_TYPES:
            verdict = "malicious"
        else:
            verdict = "suspicious"
        confidence = obj.get("confidence")
        low_confidence = isinstance(confidence, int) and not isinstance(confidence, bool) and confidence < 50
        if verdict == "malicious" and low_confidence:
            verdict = "suspicious"
        ties = [
            f"{kind} {self.label(target)}"
            for kind, rel in self.outgoing.get(obj["id"], [])
            if (target := self.by_id.get(rel.get("target_ref", ""))) and target["type"] != "indicator"
        ]
        sightings = self.sightings.get(obj["id"], [])
        reason = join(
            [
                clean(obj.get("name"), 100),
                *ties[:3],
                *(f"in report {name!r}" for name in self.reports.get(obj["id"], [])[:2]),
                _sighting_text(sightings, self),
                ", ".join(sorted(types & _TYPE_WORDS)),
                f"confidence {confidence}" if low_confidence else "",
            ]
        )
        first = earliest(
            iso(obj.get("valid_from")) or iso(obj.get("created")),
            *(iso(s.get("first_seen")) for s in sightings),
        )
        last = latest(*(iso(s.get("last_seen")) for s in sightings)) or iso(obj.get("modified"))
        until = iso(obj.get("valid_until"))
        if until and last and latest(last, until) == last and last != until:
            last = until
        return {
            "verdict": verdict,
            "source": self.source(obj),
            "reason": reason,
            "first_seen": first,
            "last_seen": last,
            "valid_until": until,
            "reference": obj["id"],
        }

    # -- observables tied to adversaries ------------------------------------------------------------------

    def observables(self) -> None:
        observables = [o for o in self.objects if o["type"] in _OBSERVABLES]
        direct: dict[str, list[tuple[str, dict[str, Any], dict[str, Any]]]] = defaultdict(list)
        for obj in observables:
            for kind, rel in self.incoming.get(obj["id"], []):
                if other := self.adversary(rel.get("source_ref")):
                    phrase = _TOWARD_OBSERVABLE.get(kind, kind.replace("-", " ") + " by {}")
                    direct[obj["id"]].append((phrase.format(self.context(other)), rel, other))
            for kind, rel in self.outgoing.get(obj["id"], []):
                if other := self.adversary(rel.get("target_ref")):
                    direct[obj["id"]].append((f"{kind.replace('-', ' ')} {self.context(other)}", rel, other))
        for obj in observables:
            for phrase, rel, other in direct.get(obj["id"], [])[:3]:
                self.observable_records(obj, "malicious", phrase, rel, other)
        for cert in (o for o in observables if o["type"] == "x509-certificate"):
            self.shared_certificate(cert, direct)

    def shared_certificate(
        self, cert: dict[str, Any], direct: dict[str, list[tuple[str, dict[str, Any], dict[str, Any]]]]
    ) -> None:
        neighbours: list[tuple[dict[str, Any], dict[str, Any]]] = []
        for _, rel in [*self.outgoing.get(cert["id"], []), *self.incoming.get(cert["id"], [])]:
            other_id = rel.get("target_ref") if rel.get("source_ref") == cert["id"] else rel.get("source_ref")
            other = self.by_id.get(other_id) if isinstance(other_id, str) else None
            if other and other["type"] in _OBSERVABLES and other is not cert:
                neighbours.append((other, rel))
        bad = [(n, rel) for n, rel in neighbours if direct.get(n["id"])]
        if not bad and not direct.get(cert["id"]):
            return
        digest = _observable_text(cert)
        if bad:
            known, rel = bad[0]
            why = f"{_observable_text(known)} ({direct[known['id']][0][0]})"
            for known, rel in bad:
                phrase = f"certificate of {_observable_text(known)} ({direct[known['id']][0][0]})"
                self.observable_records(cert, "malicious", phrase, rel, direct[known["id"]][0][2])
        else:
            why = direct[cert["id"]][0][0]
        for other, rel in neighbours:
            if not direct.get(other["id"]):
                self.observable_records(other, "suspicious", f"shares SSL {digest} with {why}", rel, None)

    def observable_records(
        self,
        obj: dict[str, Any],
        verdict: str,
        reason: str,
        rel: dict[str, Any],
        other: dict[str, Any] | None,
    ) -> None:
        fields = {
            "verdict": verdict,
            "source": self.source(rel, other),
            "reason": reason,
            "first_seen": earliest(
                iso((other or {}).get("first_seen")), iso(rel.get("start_time")) or iso(rel.get("created"))
            ),
            "last_seen": latest(iso((other or {}).get("last_seen")), iso(rel.get("stop_time")))
            or iso(rel.get("modified")),
            "reference": obj["id"],
        }
        where = self.where(obj)
        for kind, value in _observable_values(obj):
            if kind == "ip" and "/" in value:
                self.out.add_network(value, where=where, **fields)
            elif kind == "url":
                self.add_url(value, where, fields)
            else:
                self.out.add(kind, value, where=where, **fields)


def _kind(comparison: Comparison) -> str | None:
    """The indicator type a comparison lists values of ("ip" and "any" let the value decide)."""
    kind, path = comparison.object_type, comparison.path.lower()
    if kind in ("ipv4-addr", "ipv6-addr") and path == "value":
        return "ip"
    if kind == "domain-name":
        return {"value": "domain", "resolves_to_refs[*].value": "ip"}.get(path)
    if kind == "url" and path == "value":
        return "url"
    if kind in ("file", "artifact") and path.startswith("hashes."):
        return _HASHES.get(path.removeprefix("hashes."))
    if kind == "x509-certificate" and path in ("hashes.sha-1", "hashes.sha1"):
        return "x509_sha1"
    if kind == "network-traffic" and path in ("dst_ref.value", "src_ref.value"):
        return "any"
    return None


def _observable_values(obj: dict[str, Any]) -> Iterable[tuple[str, str]]:
    kind = obj["type"]
    if kind in ("ipv4-addr", "ipv6-addr") and isinstance(obj.get("value"), str):
        yield "ip", obj["value"]
    elif kind == "domain-name" and isinstance(obj.get("value"), str):
        yield "domain", obj["value"]
    elif kind == "url" and isinstance(obj.get("value"), str):
        yield "url", obj["value"]
    elif kind in ("file", "x509-certificate") and isinstance(obj.get("hashes"), dict):
        for name, value in obj["hashes"].items():
            typed = _HASHES.get(str(name).lower())
            if typed and isinstance(value, str):
                if kind == "file":
                    yield typed, value
                elif typed == "sha1":
                    yield "x509_sha1", value


def _observable_text(obj: dict[str, Any]) -> str:
    if obj["type"] == "x509-certificate":
        given = obj.get("hashes")
        hashes: dict[Any, Any] = given if isinstance(given, dict) else {}
        sha1 = next((v for k, v in hashes.items() if str(k).lower() in ("sha-1", "sha1")), None)
        return f"certificate {clean(sha1, 64).lower()}" if sha1 else "certificate"
    for kind, value in _observable_values(obj):
        return clean(value, 100) if kind != "ip" else _address_text(value)
    return str(obj["type"])


def _address_text(value: str) -> str:
    try:
        return (
            str(ipaddress.ip_network(value, strict=False))
            if "/" in value
            else str(ipaddress.ip_address(value))
        )
    except ValueError:
        return clean(value, 60)


def _sighting_text(sightings: list[dict[str, Any]], bundle: _Bundle) -> str:
    if not sightings:
        return ""
    count = sum(s["count"] if isinstance(s.get("count"), int) else 1 for s in sightings)
    by = sorted(
        {
            clean(bundle.by_id[ref].get("name"), 60)
            for s in sightings
            for ref in (s.get("where_sighted_refs") or [])
            if isinstance(ref, str) and ref in bundle.by_id and bundle.by_id[ref].get("name")
        }
    )
    return f"sighted {plural(count, 'time')}" + (f" by {', '.join(by[:3])}" if by else "")

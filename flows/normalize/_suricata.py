"""Suricata EVE JSON ``alert`` records → OCSF Detection Finding.

EVE format: https://docs.suricata.io/en/latest/output/eve/eve-json-format.html. A rule's ``metadata`` keywords
come out as ``alert.metadata`` (each key a list of strings); Emerging Threats rules write ATT&CK there
(``mitre_tactic_id TA0011, mitre_tactic_name Command_And_Control, mitre_technique_id T1071, …``) and their
own ``confidence Low|Medium|High``.
"""

from __future__ import annotations

from typing import Any

from flows.models import IndicatorType

from ._ocsf_build import CONFIDENCE, FindingBuilder, attacks_unpaired, epoch_ms, is_internal, listed, paired

# Suricata severity 1 is the most severe; OCSF 4 = high, 3 = medium, 2 = low.
_SEVERITY = {1: 4, 2: 3, 3: 2, 4: 1}
# alert.action → OCSF disposition_id: 1 Allowed, 2 Blocked (drop/reject in IPS mode).
_DISPOSITION = {"allowed": 1, "blocked": 2}
_CONFIDENCE_ID = {caption.casefold(): level for level, caption in CONFIDENCE.items()}


def looks_like(document: dict[str, Any]) -> bool:
    alert = document.get("alert")
    return document.get("event_type") == "alert" and isinstance(alert, dict) and "signature_id" in alert


def normalize(document: dict[str, Any], tenant: str) -> dict[str, Any]:
    alert = document["alert"]
    # EVE has no alert id: a flow id, a rule and a timestamp identify one alert.
    flow_id, stamp = document.get("flow_id", "-"), document.get("timestamp", "")
    uid = f"{flow_id}:{alert.get('gid', 1)}:{alert['signature_id']}:{stamp}"
    finding = FindingBuilder(
        tenant=tenant,
        product="Suricata",
        vendor="OISF",
        uid=uid,
        title=str(alert.get("signature") or f"Suricata rule {alert['signature_id']}"),
    )
    finding.set("time", epoch_ms(document.get("timestamp")))
    finding.set("severity_id", _SEVERITY.get(alert.get("severity"), 0))
    finding.set("finding_info.types", [alert["category"]] if alert.get("category") else [])
    finding.set(
        "finding_info.analytic",
        {
            "uid": f"{alert.get('gid', 1)}:{alert['signature_id']}:{alert.get('rev', 0)}",
            "name": alert.get("signature"),
        },
    )
    metadata = alert.get("metadata") if isinstance(alert.get("metadata"), dict) else {}
    finding.attacks(_attacks(metadata))
    confidence = next(iter(listed(metadata.get("confidence"))), None)
    level = _CONFIDENCE_ID.get(confidence.strip().casefold()) if isinstance(confidence, str) else None
    if level:
        finding.set("confidence_id", level)
        finding.set("confidence", CONFIDENCE[level])
    action = alert.get("action")
    finding.disposition(_DISPOSITION.get(action.strip().lower()) if isinstance(action, str) else None)
    client, server = _ends(document)
    inside = _protected(alert, client, server)
    outside = server if inside == client else client
    finding.set("device", {"ip": inside[0]} if inside[0] else None)  # EVE's "host" is the sensor
    http, tls, dns, flow = (_object(document, key) for key in ("http", "tls", "dns", "flow"))
    url = None
    if http.get("hostname"):
        # The server's port: a server-to-client alert carries the client's ephemeral port as dest_port.
        port = http.get("http_port") or server[1]
        authority = http["hostname"] if port in (None, 80) else f"{http['hostname']}:{port}"
        url = f"http://{authority}{http.get('url') or '/'}"
    hashes = _file_hashes(document)
    finding.evidence(
        {
            "src_endpoint": {"ip": client[0], "port": client[1]},
            "dst_endpoint": {
                "ip": server[0],
                "port": server[1],
                "hostname": http.get("hostname") or tls.get("sni"),
            },
            # The Community ID finds the same flow in Zeek, firewall and EDR records.
            "connection_info": {
                "protocol_name": str(document.get("proto", "")).lower() or None,
                "community_uid": document.get("community_id"),
            },
            "http_request": {
                "http_method": http.get("http_method"),
                "user_agent": http.get("http_user_agent"),
                "referrer": http.get("http_refer"),
                "version": http.get("protocol"),
            },
            # Whether the server answered (200 with a body, 304, 404) tells a fetched payload from a try.
            "http_response": {
                "code": http.get("status"),
                "content_type": http.get("http_content_type"),
                "length": http.get("length"),
            },
            # OCSF Network Traffic, seen from the client: what it sent out and what came back.
            "traffic": {
                "bytes_out": flow.get("bytes_toserver"),
                "bytes_in": flow.get("bytes_toclient"),
                "packets_out": flow.get("pkts_toserver"),
                "packets_in": flow.get("pkts_toclient"),
            },
            "url": {"url_string": url} if url else None,
            "query": _query(dns),
            "file": {"hashes": hashes} if hashes else None,
        }
    )
    if outside[0] and not is_internal(outside[0]):
        finding.observe_value(outside[0], "src_endpoint.ip" if outside == client else "dst_endpoint.ip")
    finding.observe_value(http.get("hostname"), "http.hostname", IndicatorType.DOMAIN)
    finding.observe_value(tls.get("sni"), "tls.sni", IndicatorType.DOMAIN)
    finding.observe_value(url, "url.url_string", IndicatorType.URL)
    for name in _queried(dns):
        finding.observe_value(name, "dns.query.rrname", IndicatorType.DOMAIN)
    for digest in hashes:
        finding.observe_value(digest["value"], "files.hashes")
    finding.set("message", alert.get("signature"))
    return finding.build()


def _ends(document: dict[str, Any]) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    """(client, server) as (ip, port): the flow's own direction when EVE gives it (Suricata 7 writes
    ``flow.src_ip`` and ``direction``), else a well-known source port marks a server-to-client packet."""
    src = (document.get("src_ip"), document.get("src_port"))
    dst = (document.get("dest_ip"), document.get("dest_port"))
    flow = _object(document, "flow")
    if flow.get("src_ip") and flow.get("dest_ip"):
        return (flow["src_ip"], flow.get("src_port")), (flow["dest_ip"], flow.get("dest_port"))
    direction = document.get("direction")
    if direction == "to_client":
        return dst, src
    if direction == "to_server":
        return src, dst
    sport, dport = src[1], dst[1]
    if isinstance(sport, int) and isinstance(dport, int) and sport < 1024 <= dport:
        return dst, src
    return src, dst


def _protected(alert: dict[str, Any], client: tuple[Any, Any], server: tuple[Any, Any]) -> tuple[Any, Any]:
    """The customer's end: the rule's ``target`` when it names one, else the internal end, else the
    client. Both ends public and no target: the sensor guards the network whose host opened the flow."""
    target = _object(alert, "target").get("ip")
    for end in (client, server):
        if target and end[0] == target:
            return end
    if is_internal(server[0]) and not is_internal(client[0]):
        return server
    return client


def _queried(dns: dict[str, Any]) -> list[str]:
    # Suricata 8 (DNS log v3) writes ``queries``; 7 and earlier write ``query`` in alerts and a flat
    # ``rrname`` in dns records.
    names = [dns.get("rrname")]
    for key in ("queries", "query"):
        names += [q.get("rrname") for q in listed(dns.get(key)) if isinstance(q, dict)]
    return list(dict.fromkeys(n for n in names if isinstance(n, str) and n))[:16]


def _query(dns: dict[str, Any]) -> dict[str, Any] | None:
    names = _queried(dns)
    if not names:
        return None
    # The record type asked for (A, TXT, …) tells a lookup from DNS tunnelling or a C2 TXT channel.
    types = [dns.get("rrtype")] + [
        q.get("rrtype") for key in ("queries", "query") for q in listed(dns.get(key)) if isinstance(q, dict)
    ]
    kind = next((t for t in types if isinstance(t, str) and t), None)
    return {"hostname": names[0], "type": kind}


def _file_hashes(document: dict[str, Any]) -> list[dict[str, Any]]:
    # An alert lists its transaction's files in ``files``; a ``fileinfo`` record holds one.
    files = [f for f in listed(document.get("files")) if isinstance(f, dict)] + [
        _object(document, "fileinfo")
    ]
    found: dict[str, dict[str, Any]] = {}
    for item in files:
        for algorithm_id, key, caption in ((3, "sha256", "SHA-256"), (2, "sha1", "SHA-1"), (1, "md5", "MD5")):
            value = item.get(key)
            if isinstance(value, str) and value:
                found.setdefault(
                    value.lower(),
                    {"algorithm_id": algorithm_id, "algorithm": caption, "value": value.lower()},
                )
    return list(found.values())[:32]


def _object(document: dict[str, Any], key: str) -> dict[str, Any]:
    value = document.get(key)
    return value if isinstance(value, dict) else {}


def _attacks(metadata: dict[str, Any]) -> list[dict[str, Any]]:
    # ET pairs nothing explicitly: each key is its own list. Custom rules often write ``mitre_attack T1059``.
    loose = listed(metadata.get("mitre_attack"))
    techniques = [
        *paired(metadata.get("mitre_technique_id"), metadata.get("mitre_technique_name")),
        *paired(metadata.get("mitre_subtechnique_id"), metadata.get("mitre_subtechnique_name")),
        *((value, None) for value in loose),
    ]
    tactics = [
        *paired(metadata.get("mitre_tactic_id"), metadata.get("mitre_tactic_name")),
        *((value, None) for value in loose),
    ]
    return attacks_unpaired(techniques, tactics)

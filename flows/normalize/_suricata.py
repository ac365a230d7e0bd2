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
    src, dst = document.get("src_ip"), document.get("dest_ip")
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
    # The protected host is the internal end of the flow.
    inside = src if is_internal(src) else dst if is_internal(dst) else src
    finding.set("device", {"ip": inside} if inside else None)  # EVE's "host" is the sensor, not the victim
    http, tls, dns = document.get("http") or {}, document.get("tls") or {}, document.get("dns") or {}
    url = None
    if http.get("hostname"):
        port = document.get("dest_port")
        authority = http["hostname"] if port in (None, 80) else f"{http['hostname']}:{port}"
        url = f"http://{authority}{http.get('url') or '/'}"
    finding.evidence(
        {
            "src_endpoint": {"ip": src, "port": document.get("src_port")},
            "dst_endpoint": {
                "ip": dst,
                "port": document.get("dest_port"),
                "hostname": http.get("hostname") or tls.get("sni"),
            },
            "connection_info": {"protocol_name": str(document.get("proto", "")).lower() or None},
            "url": {"url_string": url} if url else None,
        }
    )
    for ip, name in ((src, "src_endpoint.ip"), (dst, "dst_endpoint.ip")):
        if ip and not is_internal(ip):
            finding.observe_value(ip, name)
    finding.observe_value(http.get("hostname"), "http.hostname", IndicatorType.DOMAIN)
    finding.observe_value(tls.get("sni"), "tls.sni", IndicatorType.DOMAIN)
    finding.observe_value(url, "url.url_string", IndicatorType.URL)
    for query in dns.get("queries") or ([dns] if dns.get("rrname") else []):
        if isinstance(query, dict):
            finding.observe_value(query.get("rrname"), "dns.rrname", IndicatorType.DOMAIN)
    files = document.get("fileinfo") or {}
    for algorithm in ("sha256", "sha1", "md5"):
        finding.observe_value(files.get(algorithm), f"fileinfo.{algorithm}")
    finding.set("message", alert.get("signature"))
    return finding.build()


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

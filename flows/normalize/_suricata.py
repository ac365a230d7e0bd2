"""Suricata EVE JSON ``alert`` records → OCSF Detection Finding.

EVE format: https://docs.suricata.io/en/latest/output/eve/eve-json-format.html
"""

from __future__ import annotations

from typing import Any

from flows.models import IndicatorType

from ._ocsf_build import FindingBuilder, epoch_ms, is_internal

# Suricata severity 1 is the most severe; OCSF 4 = high, 3 = medium, 2 = low.
_SEVERITY = {1: 4, 2: 3, 3: 2, 4: 1}


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

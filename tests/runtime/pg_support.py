"""MyKings-like incidents, one per host, for the scale-out tests (the PostgreSQL server is
``tests/_postgres.py``'s)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from actions.lab import HostSeed, LabFleet
from flows.demo import DEMO_HOST, mykings_alert, mykings_host
from flows.store import Store


def host_name(n: int) -> str:
    return f"WS-SCALE-{n:04d}"


def _c2(n: int) -> str:
    return f"c{n:04d}.scale.mykings.top"


def _rename(text: str, n: int) -> str:
    text = text.replace(DEMO_HOST, host_name(n)).replace(DEMO_HOST.lower(), host_name(n).lower())
    return text.replace("js.mykings.top", _c2(n)).replace("js[.]mykings[.]top", _c2(n).replace(".", "[.]"))


def alert_for(n: int, run: str) -> dict[str, Any]:
    """The MyKings alert on host ``n``, with its own C2 and ids: nothing groups it with another host's."""
    document: dict[str, Any] = json.loads(_rename(json.dumps(mykings_alert()), n))
    document["finding_info"]["uid"] = f"scale-{run}-{n}"
    document["metadata"]["uid"] = f"scale-{run}-{n}"
    return document


def seed_hosts(store: Store, hosts: range) -> None:
    """The lab holds each host as the MyKings host, so every containment action has a target."""
    fleet = LabFleet(store.engine)
    template = mykings_host().model_dump_json()
    for n in hosts:
        fleet.seed(HostSeed.model_validate_json(_rename(template, n)))


def write_feed(path: Path, hosts: range) -> Path:
    """An intel feed naming each host's C2 malicious, as the default feed names the demo's."""
    lines = ["type,value,verdict,reason,first_seen,source,last_seen"]
    for n in hosts:
        seen = "2017-03-01,garrison-tests,2026-11-01"
        lines += [
            f"domain,{_c2(n)},malicious,test MyKings C2,{seen}",
            f"url,hxxp://{_c2(n).replace('.', '[.]')}:280/v[.]sct,malicious,test scriptlet,{seen}",
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path

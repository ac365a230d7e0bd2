"""Crash recovery of a real `garrison up`: SIGKILL the intake and the runner at random moments while a
sensor posts 300 alerts. `garrison up` restarts them; every acknowledged alert is stored exactly once, and
every incident reaches a state that is terminal or waits for a person within BOUND_SECONDS of the last
alert: no incident is left `new` behind a run that will never start."""

from __future__ import annotations

import os
import random
import signal
import sys
import threading
import time
from collections.abc import Callable

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from flows.store import Store
from flows.store._schema import AlertRow

from .conftest import Garrison, processes_with_home, wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds processes in /proc"),
]
ALERTS = 300
BOUND_SECONDS = 60.0  # from the last acknowledged alert to every incident settled
SETTLED = {"closed", "contained", "awaiting_approval"}
MAX_ALERTS = 3 * ALERTS  # the sensor's bound if the kills never all land
KILLS_PER_CHILD = 3  # below the 5-in-60-s limit at which garrison up gives a child up


def _alert(n: int) -> dict[str, object]:
    # 2 hosts × 4 detection rules: 8 incidents, each a storm of ~38 alerts that group into it (every flow
    # run costs seconds of CPU on 2 cores: 300 incidents would test the machine, not the recovery).
    host, rule = divmod(n % 8, 4)
    return {
        "class_uid": 2004,
        "metadata": {"product": {"name": "Chaos EDR"}},
        "finding_info": {"uid": f"chaos-{n}", "title": f"Chaos {rule}", "analytic": {"uid": f"r{rule}"}},
        "device": {"hostname": f"WS-CHAOS-{host}"},
    }


def test_killed_children_are_restarted_and_every_incident_is_handled(
    launch_garrison: Callable[[], Garrison],
) -> None:
    started = time.monotonic()
    garrison: Garrison = launch_garrison()
    url = f"{garrison.api}/v1/alerts"
    headers = garrison.tenant_headers()
    acknowledged: dict[str, str] = {}
    errors: list[str] = []
    done = threading.Event()
    kills_done = threading.Event()

    def sensor() -> None:
        # At least ALERTS, and on until every kill has landed: on a fast machine 300 alerts can be sent
        # before the last kill's turn comes, and then nothing was killed while the sensor sent.
        n = 0
        with httpx.Client(timeout=10.0) as http:
            while (n < ALERTS or not kills_done.is_set()) and n < MAX_ALERTS:
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    try:
                        response = http.post(url, json=_alert(n), headers=headers)
                    except httpx.HTTPError:
                        time.sleep(0.1)  # the intake is down: a sensor retries
                        continue
                    if response.status_code in (200, 202):
                        acknowledged[f"chaos-{n}"] = response.json()["alert_id"]
                        time.sleep(0.05)  # a sensor's pace: the kills land while it sends
                        break
                    if response.status_code < 500:
                        errors.append(f"alert {n}: {response.status_code} {response.text}")
                        break
                    time.sleep(0.1)
                else:
                    errors.append(f"alert {n}: never acknowledged")
                n += 1
        done.set()

    threading.Thread(target=sensor, daemon=True).start()
    chaos = random.Random(20261126)
    kills = {"intake": 0, "runner": 0}
    turn = ["intake", "runner"] * KILLS_PER_CHILD  # alternately, at random moments while the sensor sends
    while turn and not done.wait(chaos.uniform(1.0, 3.0)):
        pid = garrison.pid_of(turn[0])
        if pid is not None:  # not while it is down already
            os.kill(pid, signal.SIGKILL)
            kills[turn.pop(0)] += 1
    kills_done.set()
    assert done.wait(120), "the sensor did not finish"
    last_alert = time.monotonic()

    assert errors == []
    assert len(acknowledged) >= ALERTS
    assert kills == {"intake": KILLS_PER_CHILD, "runner": KILLS_PER_CHILD}
    store = Store.open(f"sqlite:///{garrison.home / 'garrison.db'}")

    def unsettled() -> dict[str, str]:
        return {i.id: i.status for i in store.incidents(limit=10_000) if i.status not in SETTLED}

    try:
        wait_for(lambda: not unsettled(), BOUND_SECONDS, "every incident settled", every=1)
    except AssertionError as error:
        raise AssertionError(f"{error}; still open: {unsettled()}") from None
    settled_after = time.monotonic() - last_alert

    with Session(store.engine) as session:
        counts = dict(
            session.execute(select(AlertRow.source_uid, func.count()).group_by(AlertRow.source_uid))
            .tuples()
            .all()
        )
        ids = set(session.scalars(select(AlertRow.id)))
    assert counts == {uid: 1 for uid in acknowledged}  # stored exactly once
    assert set(acknowledged.values()) == ids
    assert len(store.incidents(limit=10_000)) >= 8

    assert garrison.process.poll() is None, garrison.output()  # it restarted them, it did not give up
    said = garrison.output()
    assert said.count("runner restarted") >= kills["runner"]
    assert said.count("intake restarted") >= kills["intake"]
    stopping = time.monotonic()
    assert garrison.stop() == 0
    wait_for(lambda: not processes_with_home(garrison.home), 10, "no process left")
    total, stop = time.monotonic() - started, time.monotonic() - stopping
    print(f"kills {kills}; settled {settled_after:.1f} s after the last alert; stop {stop:.1f} s; ", end="")
    print(f"total {total:.0f} s")

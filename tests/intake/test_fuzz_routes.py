"""Fuzz every intake route over its headers and body: never a 5xx, and a refusal stores nothing.

Headers (tenant, authorization, timestamp, signature, content type, content length) and bodies are drawn
from near misses of what senders send, hostile values seen in the attack of issue 10, and noise. Requests
go straight to the ASGI app (``_asgi``) so header bytes arrive as sent.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from flows.demo import mykings_alert
from flows.intake import create_app
from flows.intake._auth import sign
from flows.settings import Settings
from flows.store import Store
from flows.store._schema import AlertRow, DeadLetterRow, EventRow, IncidentRow, SeenSignatureRow

from ._asgi import raw_request
from .conftest import HMAC_SECRETS, KEYS, RecordingDispatcher, ndjson

TABLES = (AlertRow, IncidentRow, EventRow, DeadLetterRow, SeenSignatureRow)
STORED = slice(0, 3)  # alerts, incidents, events: what a refusal must never add
LATIN1 = st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f")
SAFE_PATH = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-._~:@!$&'()*+,;=/", max_size=20)
HOSTILE_VALUES = ["²", "99999999999999999999", "", " ", "-1", "1e9", "0x10", "Bearer", "sha256=", "null"]


def _header_value() -> st.SearchStrategy[str]:
    return st.sampled_from(HOSTILE_VALUES) | st.text(alphabet=LATIN1, max_size=40)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=15,
)


@st.composite
def alerts(draw: st.DrawFn) -> dict[str, Any]:
    alert = mykings_alert()
    alert["finding_info"]["uid"] = draw(st.text(min_size=1, max_size=12))
    for field in draw(st.lists(st.sampled_from(["time", "severity_id", "device", "metadata"]), max_size=2)):
        alert[field] = draw(JSON | st.sampled_from([10**15, 2**70, -1]))
    return alert


EVENTS = st.fixed_dictionaries(
    {"class_uid": st.sampled_from([4001, 1007, 3002, 1]), "time": st.integers(min_value=-1, max_value=10**16)}
)
HOSTILE_BODIES = [
    b"[" * 1000 + b"]" * 1000,
    b'{"a": NaN}',
    b'{"a": 1e400}',
    b'{"a": "\\ud800"}',
    b'{"class_uid": 4001, "time": 1, "device": {"hostname": "\\udc00"}}',
    json.dumps(mykings_alert()).encode("utf-16"),
    json.dumps(mykings_alert()).encode("utf-32"),
    b"\xef\xbb\xbf" + json.dumps(mykings_alert()).encode(),
    b"",
    b"\n\n",
]
BODIES = st.one_of(
    alerts().map(lambda alert: json.dumps(alert).encode()),
    st.lists(alerts() | EVENTS | JSON, min_size=1, max_size=4).map(ndjson),
    st.binary(max_size=200),
    JSON.map(lambda document: json.dumps(document).encode()),
    st.lists(
        st.sampled_from(HOSTILE_BODIES) | alerts().map(lambda a: json.dumps(a).encode()), max_size=4
    ).map(b"\n".join),
    st.sampled_from(HOSTILE_BODIES),
)
CONTENT_TYPES = (
    st.sampled_from(
        [
            "application/json",
            "application/x-ndjson",
            "application/cloudevents+json",
            "application/json; charset=utf-16",
            'application/x-ndjson; charset="utf-8"',
            "text/plain",
            "multipart/form-data; boundary=x",
        ]
    )
    | _header_value()
)


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    method, path = draw(
        st.sampled_from(
            [
                ("POST", "/v1/alerts"),
                ("POST", "/v1/alerts:batch"),
                ("POST", "/v1/events"),
                ("GET", "/v1/incidents/{incident}"),
                ("POST", "/v1/alerts"),
                ("POST", "/v1/alerts:batch"),
                ("POST", "/v1/events"),
                ("GET", "/v1/{rest}"),
                ("POST", "/v1/{rest}"),
                ("PUT", "/v1/{rest}"),
                ("DELETE", "/v1/{rest}"),
            ]
        )
    )
    path = path.replace("{rest}", draw(SAFE_PATH)).replace("{incident}", draw(st.just("{id}") | SAFE_PATH))
    # Unknown routes and reads draw a body too: a signature covers it, and it must not be read unbounded.
    query = draw(st.sampled_from(["", "?format=ocsf", "?format=nope", "?source=sysmon&format=generic"]))
    # Mostly what a sender would send, so that requests get past the door; noise the rest of the time.
    fitting = "application/json" if path == "/v1/alerts" else "application/x-ndjson"
    return {
        "method": method,
        "target": path + query,
        "body": draw(BODIES),
        "tenant": draw(
            st.one_of(st.just("demo"), st.just("demo"), st.just("acme"), st.none(), _header_value())
        ),
        "credentials": draw(
            st.sampled_from(["key", "signed", "none", "key", "signed", "wrong-key", "stale", "other-target"])
        ),
        "overrides": draw(
            st.just({})
            | st.just({})
            | st.dictionaries(
                st.sampled_from(
                    ["Authorization", "X-Garrison-Timestamp", "X-Garrison-Signature", "Content-Length"]
                ),
                _header_value() | st.sampled_from([str(1 << 40), "0", "5"]),
                min_size=1,
                max_size=2,
            )
        ),
        "content_type": draw(st.one_of(st.just(fitting), st.just(fitting), st.none(), CONTENT_TYPES)),
    }


def _counts(store: Store) -> list[int]:
    with Session(store.engine) as session:
        return [session.scalar(select(func.count()).select_from(table)) or 0 for table in TABLES]


def _headers(request: dict[str, Any], target: str) -> list[tuple[bytes, bytes]]:
    headers: dict[str, str] = {}
    tenant = request["tenant"]
    if tenant is not None:
        headers["X-Garrison-Tenant"] = tenant
    if request["content_type"] is not None:
        headers["Content-Type"] = request["content_type"]
    secret = HMAC_SECRETS.get(tenant or "", "no-such-secret")
    credentials = request["credentials"]
    if credentials == "key":
        headers["Authorization"] = f"Bearer {KEYS.get(tenant or '', 'no-such-key')}"
    elif credentials == "wrong-key":
        headers["Authorization"] = "Bearer not-a-key"
    elif credentials in ("signed", "stale", "other-target"):
        stamp = int(time.time()) - (400 if credentials == "stale" else 0)
        signed_for = target + "/x" if credentials == "other-target" else target
        headers.update(sign(secret, request["body"], stamp, request["method"], signed_for))
    headers.update(request["overrides"])
    return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(request=requests())
def test_no_input_gets_a_5xx_and_a_refusal_stores_nothing(
    settings: Settings, request: dict[str, Any]
) -> None:
    store = Store.open(settings.database_url)
    app = create_app(settings, dispatcher=RecordingDispatcher(), sweep=False)
    incident = store.incidents(limit=1)
    target = request["target"].replace("{id}", incident[0].id if incident else "none-yet")
    # The target exactly as it goes on the wire (what a signature covers).
    target = httpx.URL(f"http://intake{target}").raw_path.decode("ascii")
    before = _counts(store)

    response = raw_request(app, request["method"], target, _headers(request, target), request["body"])

    after = _counts(store)
    status = response.status_code
    event(f"{request['credentials']} -> {status}")  # what was reached: pytest --hypothesis-show-statistics
    assert status < 500, response.text
    if status >= 400:
        answer = response.json()  # says why: a detail, or per-line results naming the field
        assert answer.get("detail") or answer.get("results") or answer.get("rejected"), answer
        assert after[STORED] == before[STORED], (status, response.text)
    if status in (401, 413, 415):  # refused before the sender was known: not even a dead letter
        assert after == before, (status, response.text)
    no_credentials = request["credentials"] == "none" and not (
        {"Authorization", "X-Garrison-Signature"} & set(request["overrides"])
    )
    guarded = target.startswith("/v1/") and not target.startswith("/v1/health")  # health is public
    if guarded and no_credentials:
        assert status == 401, (status, response.text)
    bad = request["credentials"] in ("wrong-key", "stale", "other-target") and not request["overrides"]
    if guarded and bad:  # a signature is checked last, after the content type and size
        assert status in (401, 413, 415) and after == before, (status, response.text)
    if status == 202:
        assert after[0] == before[0] + 1

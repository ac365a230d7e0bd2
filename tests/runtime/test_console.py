"""The analyst console of a real `garrison up`: a web page the analyst opens cannot read the Prefect API
(no CORS grant, no credentials, no rebound Host), everything on disk is owner-only, and SIGKILL of
`garrison up` leaves no process of its home behind."""

from __future__ import annotations

import base64
import json
import shutil
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from flows.demo import mykings_alert

from .conftest import Garrison, free_port, processes_with_home, wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc to find orphans"),
]
EVIL = "http://evil.example"


def test_a_foreign_origin_gets_no_cors_grant_and_no_data(garrison: Garrison) -> None:
    api = f"{garrison.ui}/api"
    preflight = httpx.options(
        f"{api}/flow_runs/filter",
        headers={
            "Origin": EVIL,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert "access-control-allow-origin" not in preflight.headers and preflight.status_code >= 400
    for origin in (EVIL, "null"):
        health = httpx.get(f"{api}/health", headers={"Origin": origin})
        assert health.status_code == 200 and "access-control-allow-origin" not in health.headers
        read = httpx.post(f"{api}/artifacts/filter", json={}, headers={"Origin": origin})
        assert read.status_code == 401 and "access-control-allow-origin" not in read.headers
    assert httpx.post(f"{api}/flow_runs/filter", json={}).status_code == 401  # no credentials
    wrong = httpx.post(f"{api}/flow_runs/filter", json={}, headers={"Authorization": "Basic Z2Fycmlzb246"})
    assert wrong.status_code == 401

    # With the secret, from the UI's own origin: allowed, and the grant names that origin only.
    own = httpx.post(
        f"{api}/flow_runs/filter", json={}, headers={**garrison.auth_headers(), "Origin": garrison.ui}
    )
    assert own.status_code == 200 and own.headers["access-control-allow-origin"] == garrison.ui

    # A rebound name (evil.example resolving to 127.0.0.1) or any other Host is refused, secret or not.
    port = garrison.ui.rsplit(":", 1)[1]
    for host in (f"evil.example:{port}", f"localhost:{port}"):
        for headers in ({}, garrison.auth_headers()):
            refused = httpx.get(f"{api}/flow_runs/filter", headers={**headers, "Host": host})
            assert refused.status_code == 400, host
        assert httpx.get(f"{garrison.ui}/", headers={"Host": host}).status_code == 400


def test_the_ui_asks_for_the_generated_secret(garrison: Garrison) -> None:
    settings = httpx.get(f"{garrison.ui}/ui-settings").json()
    assert settings["auth"] == "BASIC" and settings["api_url"] == f"{garrison.ui}/api"
    # The login page checks what the analyst pasted as the UI does: `Basic btoa(password)` on admin/version.
    password = (garrison.home / "secrets" / "PREFECT_API_AUTH_STRING").read_text()
    pasted = {"Authorization": "Basic " + base64.b64encode(password.strip().encode()).decode()}
    assert httpx.get(f"{garrison.ui}/api/admin/version", headers=pasted).status_code == 200
    assert httpx.get(f"{garrison.ui}/api/admin/version").status_code == 401


_HOSTILE_PAGE = """<!doctype html><html><body><pre id="out">running</pre><script>
const targets = {API_TARGETS};
async function attempt(name, url, init) {
  try {
    const response = await fetch(url, init);
    return [name, "read " + response.status + " " + (await response.text()).slice(0, 80)];
  } catch (error) {
    return [name, "blocked " + error.name];
  }
}
(async () => {
  const results = await Promise.all([
    ...targets.flatMap(([label, api]) => [
      attempt(label + " health", api + "/health"),
      attempt(label + " runs (preflighted)", api + "/flow_runs/filter",
              {method: "POST", headers: {"Content-Type": "application/json"}, body: "{}"}),
      attempt(label + " reports (simple request)", api + "/artifacts/filter", {method: "POST", body: "{}"}),
      attempt(label + " reports (with credentials)", api + "/artifacts/filter",
              {method: "POST", body: "{}", credentials: "include"}),
    ]),
    attempt("control", "/control"),
  ]);
  document.getElementById("out").textContent = JSON.stringify(Object.fromEntries(results));
})();
</script></body></html>"""


@pytest.fixture(scope="module")
def report(garrison: Garrison) -> None:
    """There is something to steal: the demo tenant's incident, its report artifact and messages."""
    posted = httpx.post(f"{garrison.api}/v1/alerts", json=mykings_alert(), headers=garrison.tenant_headers())
    assert posted.status_code in (200, 202)
    artifacts = f"{garrison.ui}/api/artifacts/filter"
    wait_for(
        lambda: bool(httpx.post(artifacts, json={}, headers=garrison.auth_headers()).json()),
        60,
        "the incident report artifact",
    )


@pytest.fixture
def hostile_site(garrison: Garrison) -> Iterator[str]:
    port = garrison.ui.rsplit(":", 1)[1]
    targets = [["loopback", f"{garrison.ui}/api"], ["rebound", f"http://rebind.example:{port}/api"]]
    page = _HOSTILE_PAGE.replace("{API_TARGETS}", json.dumps(targets)).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            body = b"same-origin ok" if self.path == "/control" else page
            self.send_response(200)
            self.send_header("Content-Type", "text/plain" if self.path == "/control" else "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://evil.example:{server.server_address[1]}/"
    server.shutdown()


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs chromium (apt-get install chromium)")
@pytest.mark.usefixtures("report")
def test_a_hostile_page_in_a_browser_cannot_read_the_api(
    garrison: Garrison, hostile_site: str, tmp_path: Path
) -> None:
    done = subprocess.run(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'chromium'}",
            # evil.example serves the page; rebind.example is the attacker's name now pointing at us.
            "--host-resolver-rules=MAP evil.example 127.0.0.1, MAP rebind.example 127.0.0.1",
            "--virtual-time-budget=15000",
            "--dump-dom",
            hostile_site,
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )
    out = done.stdout.split('<pre id="out">', 1)[-1].split("</pre>", 1)[0]
    results = json.loads(out.replace("&quot;", '"').replace("&amp;", "&"))
    assert results.pop("control") == "read 200 same-origin ok"  # the page can read what it may
    assert len(results) == 8
    assert all(outcome.startswith("blocked") for outcome in results.values()), results


@pytest.mark.usefixtures("report")
def test_the_home_and_everything_in_it_is_owner_only(garrison: Garrison) -> None:
    wait_for(lambda: any((garrison.home / "outbox").rglob("*.txt")), 60, "a message in the outbox")
    assert stat.S_IMODE(garrison.home.stat().st_mode) == 0o700
    loose = []
    for path in [garrison.home, *garrison.home.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if path.is_symlink():
            continue
        if mode & 0o077:
            loose.append(f"{oct(mode)} {path.relative_to(garrison.home)}")
    named = {p.name for p in garrison.home.rglob("*")}
    assert {"garrison.db", "prefect.db", "runner.log", "intake.log", "outbox"} <= named
    assert loose == []


def test_sigkill_of_garrison_up_leaves_no_process_of_its_home(garrison: Garrison) -> None:
    alert = mykings_alert()
    alert["finding_info"]["uid"] = "sigkill-during-a-run"
    alert["device"]["hostname"] = "WS-SIGKILL-01"
    assert httpx.post(f"{garrison.api}/v1/alerts", json=alert, headers=garrison.tenant_headers()).is_success
    assert len(processes_with_home(garrison.home)) >= 5  # garrison up, reaper, server, runner, intake
    garrison.process.kill()
    garrison.process.wait()
    wait_for(lambda: not processes_with_home(garrison.home), 8, "no process of the home left")

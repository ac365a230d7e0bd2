"""`garrison bench intake` against a real intake process: concurrent single-POST clients, batches and a
storm, each beside raw SQLite, and every acknowledged alert found in the store afterwards."""

from __future__ import annotations

import json

from flows.bench import run_intake_benchmark
from flows.bench._clients import post_concurrently


def test_the_intake_benchmark_measures_concurrent_clients_and_checks_what_was_acknowledged() -> None:
    said: list[str] = []

    result = run_intake_benchmark(
        single=20, batch=200, batch_size=100, storm=300, say=said.append, concurrent=120, clients=8
    )

    assert result.concurrent_clients == 8 and result.concurrent_alerts == 120
    assert result.acknowledged == 20 + 120 + 200 + 300  # every alert was new
    assert result.stored == result.acknowledged  # answered 2xx, and there
    assert result.storm_incidents == 1
    for figure in (
        result.concurrent_per_second,
        result.concurrent_p99_ms,
        result.single_baseline_per_second,
        result.storm_baseline_per_second,
        result.batch_vs_baseline,
    ):
        assert figure > 0
    assert result.concurrent_p50_ms <= result.concurrent_p99_ms
    assert any("concurrent" in line for line in said)


def test_the_concurrent_clients_read_every_answer_of_a_real_server() -> None:
    import http.server
    import threading

    class Echo(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            answer = json.dumps({"got": json.loads(body)["n"]}).encode()
            self.send_response(202 if json.loads(body)["n"] % 5 else 409)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *_: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        bodies = [json.dumps({"n": n}).encode() for n in range(40)]
        run = post_concurrently("127.0.0.1", server.server_address[1], "/x", {}, bodies, clients=4)
    finally:
        server.shutdown()

    assert run.statuses == {202: 32, 409: 8} and len(run.latencies_ms) == 40
    assert sorted(json.loads(a)["got"] for a in run.answers) == [n for n in range(40) if n % 5]

"""Concurrent single-POST clients for the intake benchmark: N keep-alive connections, one request in flight
on each, every answer read before the next request is sent (as N sensors posting at once).

A hand-rolled HTTP/1.1 client on asyncio streams, because the figure is the intake's: httpx spends about
as much CPU per request as the intake does, and on a 2-core machine the client would measure itself.
Only what the intake answers is read: a status line, headers, a ``Content-Length`` body.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass
class ClientRun:
    seconds: float
    latencies_ms: list[float]
    statuses: dict[int, int]  # HTTP status → how many answers had it
    answers: list[bytes]  # every 2xx body, for the caller to check what was acknowledged


class ClientError(RuntimeError):
    """The intake closed a connection or answered something that is not HTTP/1.1."""


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes]:
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, _, rest = head.partition(b"\r\n")
    parts = status_line.split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise ClientError(f"not an HTTP answer: {status_line[:80]!r}")
    length = 0
    for line in rest.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    return int(parts[1]), await reader.readexactly(length) if length else b""


def _request(host: str, port: int, path: str, headers: dict[str, str], body: bytes) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def _post_all(
    host: str, port: int, path: str, headers: dict[str, str], bodies: Sequence[bytes], clients: int
) -> ClientRun:
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    answers: list[bytes] = []

    async def client() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while not queue.empty():
                body = queue.get_nowait()
                started = time.perf_counter()
                status, answer = await _exchange(reader, writer, _request(host, port, path, headers, body))
                latencies.append((time.perf_counter() - started) * 1000)
                statuses[status] = statuses.get(status, 0) + 1
                if 200 <= status < 300:
                    answers.append(answer)
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return ClientRun(time.perf_counter() - started, latencies, statuses, answers)


def post_concurrently(
    base_host: str,
    port: int,
    path: str,
    headers: dict[str, str],
    bodies: Sequence[bytes],
    clients: int = 16,
) -> ClientRun:
    """POST each of ``bodies`` to ``path`` from ``clients`` connections at once."""
    return asyncio.run(_post_all(base_host, port, path, headers, bodies, clients))

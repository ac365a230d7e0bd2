"""Requests straight to the intake's ASGI app, for what TestClient cannot send.

TestClient reads the whole request body before the app sees a byte (so it cannot show that the app stops
reading), and re-encodes header values as UTF-8 (so a server never sees the byte 0xB2, which it decodes as
'²'). httpx's ASGI transport passes raw header bytes and pulls the body one chunk per ``receive``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx


def raw_request(
    app: Any,
    method: str,
    target: str,
    headers: list[tuple[bytes, bytes]],
    content: bytes | AsyncIterator[bytes] = b"",
) -> httpx.Response:
    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
            return await client.request(method, target, headers=headers, content=content)

    return asyncio.run(send())


class Stream:
    """A body of ``total`` bytes in ``chunk``-sized pieces that counts what the app pulled."""

    def __init__(self, total: int, chunk: int = 65_536) -> None:
        self.total, self.chunk, self.pulled = total, chunk, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        piece = b"x" * self.chunk
        while self.pulled < self.total:
            self.pulled += self.chunk
            yield piece


def encoded(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]

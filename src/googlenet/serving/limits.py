"""The request-body limit, enforced before the body is read: by Content-Length when the client sends one,
and by counting the bytes as they arrive when it does not (chunked uploads)."""

from __future__ import annotations

import json
from typing import Any


class BodyTooLarge(Exception):
    """Raised while a request body is read, once it is over the limit (answered 413)."""


def _too_large_message(max_bytes: int, length: int | None = None) -> str:
    given = f" ({length:,} bytes)" if length is not None else ""
    return f"request body too large{given}; the limit is {max_bytes:,} bytes"


class BodyLimitMiddleware:
    """ASGI middleware: 413 for a body over `max_bytes`, without reading more of it than the limit."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send, _too_large_message(self.max_bytes, int(declared)))
            return
        received = 0

        async def counted() -> dict:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(_too_large_message(self.max_bytes))
            return message

        await self.app(scope, counted, send)

    async def _refuse(self, send: Any, message: str) -> None:
        body = json.dumps({"error": message, "status": 413}).encode()
        await send({"type": "http.response.start", "status": 413, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})

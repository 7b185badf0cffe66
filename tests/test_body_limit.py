"""The request-body limit (serving/limits.py), driven as plain ASGI without a server: refused up front by
Content-Length, counted as the chunks arrive without one, with its edges (exactly at the limit passes)."""

import asyncio
import json

import pytest

from googlenet.serving.limits import BodyLimitMiddleware, BodyTooLarge

LIMIT = 1000


def drive(scope: dict, messages: list[dict]) -> tuple[list[dict], list[dict] | None, int]:
    """Run the middleware over an app that reads every message; returns (what was sent, what the app
    received or None if it was never called, how many messages were taken from the client)."""
    sent: list[dict] = []
    taken = 0
    seen: list[dict] | None = None

    async def receive() -> dict:
        nonlocal taken
        taken += 1
        return messages[taken - 1]

    async def send(message: dict) -> None:
        sent.append(message)

    async def app(app_scope, app_receive, app_send) -> None:
        nonlocal seen
        assert app_scope is scope and app_send is send  # the request as it came, answered on its own channel
        seen = []
        for _ in messages:
            seen.append(await app_receive())

    asyncio.run(BodyLimitMiddleware(app, max_bytes=LIMIT)(scope, receive, send))
    return sent, seen, taken


def http(headers: list[tuple[bytes, bytes]] | None) -> dict:
    scope = {"type": "http", "method": "POST", "path": "/v1/predict"}
    if headers is not None:
        scope["headers"] = headers
    return scope


def chunks(*sizes: int) -> list[dict]:
    return [{"type": "http.request", "body": bytes(size), "more_body": index < len(sizes) - 1}
            for index, size in enumerate(sizes)]


def test_a_declared_length_over_the_limit_is_answered_413_before_the_body_is_read():
    sent, seen, taken = drive(http([(b"content-length", b"2000")]), chunks(2000))
    assert seen is None and taken == 0  # the app never ran and not one byte was read
    start, body = sent
    assert start["type"] == "http.response.start" and start["status"] == 413
    payload = body["body"]
    assert dict(start["headers"]) == {b"content-type": b"application/json",
                                      b"content-length": str(len(payload)).encode(), b"connection": b"close"}
    assert body["type"] == "http.response.body"
    assert json.loads(payload) == {"error": "request body too large (2,000 bytes); the limit is 1,000 bytes",
                                   "status": 413}


@pytest.mark.parametrize("declared", [b"1000", b"999", b"not-a-number"])
def test_a_declared_length_at_or_under_the_limit_or_unreadable_reaches_the_app(declared):
    messages = chunks(600, 400)
    sent, seen, _ = drive(http([(b"content-length", declared)]), messages)
    assert sent == [] and seen == messages


def test_a_body_without_a_length_is_counted_as_it_arrives():
    messages = chunks(400, 600)  # exactly the limit: passes
    assert drive(http([]), messages)[1] == messages
    assert drive(http(None), messages)[1] == messages  # a scope without headers at all
    with pytest.raises(BodyTooLarge, match=r"^request body too large; the limit is 1,000 bytes$"):
        drive(http([(b"content-type", b"image/png")]), chunks(400, 601))


def test_a_client_that_declares_less_than_it_sends_is_still_stopped():
    with pytest.raises(BodyTooLarge):
        drive(http([(b"content-length", b"10")]), chunks(500, 501))


def test_only_body_bytes_count():
    # a request message without a body, and a disconnect carrying bytes, add nothing to the count
    messages = [{"type": "http.request", "more_body": True}, {"type": "http.disconnect", "body": bytes(5000)},
                *chunks(LIMIT)]
    assert drive(http([]), messages)[1] == messages


def test_other_connections_pass_through_untouched():
    received = []

    async def app(scope, receive, send) -> None:
        received.append((scope["type"], receive, send))

    async def receive() -> dict:
        return {"type": "lifespan.startup"}

    async def send(_message) -> None:
        pass

    for kind in ("lifespan", "websocket"):
        scope = {"type": kind, "headers": [(b"content-length", b"99999")]}
        asyncio.run(BodyLimitMiddleware(app, max_bytes=LIMIT)(scope, receive, send))
    assert received == [("lifespan", receive, send), ("websocket", receive, send)]

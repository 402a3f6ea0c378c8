"""Refuses request bodies over the configured size without reading them whole.

Routes that take image uploads have their own, larger limit (`upload_paths`, `max_upload_bytes`).

A declared Content-Length over the limit is answered 413 before a byte of the body is read; a
chunked body is counted as it arrives and cut off at the limit. The 413 uses the gateway's error
shape, and anything the app tries to send afterwards is dropped.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.errors import GatewayError


def _too_large(limit: int) -> GatewayError:
    return GatewayError(413, f"request body exceeds {limit} bytes", code="request_too_large")


class BodySizeLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int, upload_paths: frozenset[str] = frozenset(),
                 max_upload_bytes: int | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.upload_paths = upload_paths
        self.max_upload_bytes = max_bytes if max_upload_bytes is None else max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_upload_bytes if scope.get("path", "").rstrip("/") in self.upload_paths else self.max_bytes
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(limit).response()(scope, receive, send)
            return

        received = 0
        refused = False

        async def limited_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    await _too_large(limit).response()(scope, receive, send)
                    return {"type": "http.disconnect"}  # the app sees a client that left
            return message

        async def guarded_send(message: Message) -> None:
            if not refused:
                await send(message)

        await self.app(scope, limited_receive, guarded_send)

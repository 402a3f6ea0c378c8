"""Bounds the time a client may take to send its request body (slow-body clients, slowloris).

uvicorn waits for a body as long as the connection stays open, so a client that sends its headers and then
a byte now and then would hold a handler (and, once admitted, a replica slot) for ever. The whole body must
arrive within `timeout_s` of the request's start; otherwise the answer is a 408 in the gateway's error shape
and the connection is closed. Waiting for a disconnect after the body (gateway.disconnect) is not bounded.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.errors import GatewayError


def _too_slow(timeout_s: float) -> GatewayError:
    return GatewayError(408, f"request body not received within {timeout_s:g} s (GATEWAY_BODY_TIMEOUT_S)",
                        code="request_timeout", headers={"Connection": "close"})


class BodyTimeoutMiddleware:
    def __init__(self, app: ASGIApp, timeout_s: float) -> None:
        self.app = app
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s
        body_done = timed_out = response_started = False

        async def timed_receive() -> Message:
            nonlocal body_done, timed_out
            if timed_out:
                return {"type": "http.disconnect"}
            if body_done:
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                timed_out = True
                if not response_started:
                    await _too_slow(self.timeout_s).response()(scope, receive, send)
                return {"type": "http.disconnect"}  # the app sees a client that left
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal response_started
            if timed_out:
                return  # the 408 was the answer
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, timed_receive, guarded_send)
        except Exception:
            if not timed_out:
                raise
            # The app saw the client leave mid-body (starlette's ClientDisconnect): the 408 was the answer.

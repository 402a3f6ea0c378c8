"""Server-Sent Events: event formatting and a response that notices a client leaving mid-stream."""

from __future__ import annotations

import json
from typing import AsyncIterator, Callable

import anyio
from pydantic import BaseModel
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from gateway.disconnect import wait_for_disconnect


def event(name: str, data: dict | BaseModel) -> bytes:
    """One event; a model's data leaves out its unset optional fields (as the JSON responses do)."""
    if isinstance(data, BaseModel):
        data = data.model_dump(exclude_none=True)
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


class EventStreamResponse(StreamingResponse):
    """Streams `events`; stops (closing the generator) as soon as the client disconnects.

    Starlette watches for disconnects only under ASGI < 2.4 and otherwise learns of one from the next
    failed write; watching always means a cancelled stream frees Triton within one denoising step.
    """

    media_type = "text/event-stream"

    def __init__(self, events: AsyncIterator[bytes], headers: dict[str, str] | None = None,
                 on_disconnect: Callable[[], None] | None = None) -> None:
        super().__init__(events, headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no", **(headers or {})})
        self._events = events
        self._on_disconnect = on_disconnect

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        finished = False
        try:
            async with anyio.create_task_group() as group:
                async def stream() -> None:
                    nonlocal finished
                    try:
                        await self.stream_response(send)
                        finished = True
                    except OSError:  # the client went away during a write
                        pass
                    group.cancel_scope.cancel()

                group.start_soon(stream)
                await wait_for_disconnect(receive)
                group.cancel_scope.cancel()
        finally:
            await self._events.aclose()  # runs the generator's cleanup (Triton cancel, slot release)
            if not finished and self._on_disconnect is not None:
                self._on_disconnect()

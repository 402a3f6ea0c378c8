"""Streaming a generation job as Server-Sent Events, shared by the OpenAI and the native routes.

The first event is awaited before the response starts, so a request the gateway or Triton refuses
(400, 429, 503) still gets a proper status code; later failures become an `error` event.
"""

from __future__ import annotations

import logging
from typing import AsyncIterator, Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.responses import Response

from gateway import sse
from gateway.disconnect import ClientDisconnected, unless_disconnected
from gateway.errors import GatewayError
from gateway.metrics import route_label
from gateway.state import GatewayState
from gateway.generation_service import Generated, GenerationJob, Progress

log = logging.getLogger(__name__)

Render = Callable[[Progress | Generated], Awaitable[bytes]]


async def stream_job(request: Request, state: GatewayState, job: GenerationJob, rename: Mapping[str, str],
                     render: Render) -> Response:
    items = state.service.stream(job, rename)
    try:
        first = await unless_disconnected(request, anext(items))
    except ClientDisconnected:
        state.metrics.cancelled.labels(route_label(request.scope)).inc()
        return Response(status_code=499)

    async def body() -> AsyncIterator[bytes]:
        item = first
        try:
            while True:
                yield await render(item)
                if isinstance(item, Generated):
                    return
                item = await anext(items)
        except GatewayError as error:
            log.warning("stream for seed %d failed: %s", job.seed, error.message)
            yield sse.event("error", error.body())
        finally:
            await items.aclose()

    def on_disconnect() -> None:
        log.info("client left a stream (seed %d); Triton request cancelled", job.seed)
        state.metrics.cancelled.labels(route_label(request.scope)).inc()

    return sse.EventStreamResponse(body(), headers={"X-Seed": str(job.seed)}, on_disconnect=on_disconnect)

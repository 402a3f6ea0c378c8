"""Decoupled orchestrators: each request runs on a worker thread and streams its responses.

A decoupled Python model returns from `execute` at once; the responses go through the request's
response sender, any number of them, the last one flagged final. Running each request on a thread
keeps several pipelines in flight in one model instance (their UNet steps still meet in the UNet's
dynamic batcher), and the pipeline code itself stays the synchronous one that `txt2img` uses.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import numpy as np
import triton_python_backend_utils as pb_utils

from serving.triton_errors import to_triton_error

log = logging.getLogger(__name__)


class ResponseStream:
    """One request's response sender: partial responses, then exactly one final flag.

    The last response carries the final flag itself (the result, or the error), not a separate flags-only
    send after it: the gateway ends its gRPC stream as soon as the result arrives, and a final flag sent after
    that left the model unable to unload (3 such streams, then a server stop: 10.1 s, the whole exit timeout;
    with the flag on the result: 2.7 s)."""

    def __init__(self, request) -> None:
        self._sender = request.get_response_sender()
        self._closed = False

    def is_cancelled(self) -> bool:
        return self._sender.is_cancelled()

    def send(self, outputs: dict[str, np.ndarray]) -> None:
        self._sender.send(self._response(outputs))

    def finish(self, outputs: dict[str, np.ndarray] | None = None) -> None:
        """The final response: `outputs` with the final flag, or the flag alone."""
        if not self._closed:
            self._closed = True
            response = None if outputs is None else self._response(outputs)
            self._sender.send(response, flags=pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL)

    def fail(self, error) -> None:
        """Sends `error` (a pb_utils.TritonError) as the final response."""
        if not self._closed:
            self._closed = True
            self._sender.send(pb_utils.InferenceResponse(error=error),
                              flags=pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL)

    @staticmethod
    def _response(outputs: dict[str, np.ndarray]):
        tensors = [pb_utils.Tensor(name, np.ascontiguousarray(value)) for name, value in outputs.items()]
        return pb_utils.InferenceResponse(output_tensors=tensors)


RequestHandler = Callable[[object, ResponseStream], None]


class DecoupledRunner:
    """Runs `handler(request, stream)` on a bounded thread pool and turns its exceptions into responses."""

    def __init__(self, name: str, handler: RequestHandler, max_workers: int) -> None:
        self.name = name
        self.handler = handler
        self.pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix=name)

    def submit_all(self, requests: list) -> None:
        for request in requests:
            self.pool.submit(self._run, request)

    def _run(self, request) -> None:
        stream = ResponseStream(request)
        try:
            self.handler(request, stream)
        except Exception as error:  # noqa: BLE001 - reported to the client; the model keeps serving
            stream.fail(to_triton_error(self.name, error))
        finally:
            stream.finish()

    def shutdown(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)

"""The gateway's one way to run txt2img on Triton: replica choice, retry, timeout, cancellation.

`generate` calls the `txt2img` orchestrator (unary gRPC); `stream` calls its decoupled twin
`txt2img_stream` and yields one `Progress` per denoising step, then the `Generated` result. The
seed is always chosen here, so a retry on another replica produces the same image.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from dataclasses import asdict, dataclass
from typing import AsyncIterator, Iterator, Mapping

import grpc
import numpy as np
from tritonclient.grpc import InferInput, InferRequestedOutput
from tritonclient.utils import InferenceServerException

from clients.triton_client import TXT2IMG_INPUT_TYPES
from gateway import errors
from gateway.errors import GatewayError
from gateway.metrics import Metrics
from gateway.triton_pool import AllReplicasBusy, NoReplicaAvailable, Replica, ReplicaPool

log = logging.getLogger(__name__)

SEED_BOUND = 2**31  # the range the orchestrator itself draws from when no seed is given


@dataclass(frozen=True)
class Txt2ImgJob:
    """The contract's inputs for one request; None leaves an input to the model's default."""

    prompt: str
    seed: int
    negative_prompt: str | None = None
    num_inference_steps: int | None = None
    guidance_scale: float | None = None
    height: int | None = None
    width: int | None = None
    scheduler: str | None = None
    num_images: int | None = None

    @staticmethod
    def new_seed() -> int:
        return secrets.randbelow(SEED_BOUND)

    def triton_inputs(self) -> list[InferInput]:
        inputs = []
        for name, value in asdict(self).items():
            if value is None:
                continue
            triton_dtype, np_dtype = TXT2IMG_INPUT_TYPES[name]
            tensor = InferInput(name, [1], triton_dtype)
            tensor.set_data_from_numpy(np.array([value.encode("utf-8") if isinstance(value, str) else value], dtype=np_dtype))
            inputs.append(tensor)
        return inputs


@dataclass(frozen=True)
class Progress:
    step: int
    total: int
    elapsed_s: float


@dataclass(frozen=True)
class Generated:
    images: np.ndarray  # uint8 [n, height, width, 3]
    seed: int
    replica: str
    attempts: int


def _is_replica_failure(error: BaseException) -> bool:
    """The replica is gone or refused the connection (not: the request itself was bad)."""
    if isinstance(error, InferenceServerException):
        return error.status() == str(grpc.StatusCode.UNAVAILABLE)
    if isinstance(error, grpc.aio.AioRpcError):
        return error.code() == grpc.StatusCode.UNAVAILABLE
    return False


class Txt2ImgService:
    def __init__(self, pool: ReplicaPool, metrics: Metrics, model: str, stream_model: str,
                 timeout_s: float, retry_after_s: int) -> None:
        self.pool = pool
        self.metrics = metrics
        self.model = model
        self.stream_model = stream_model
        self.timeout_s = timeout_s
        self.retry_after_s = retry_after_s

    @contextlib.contextmanager
    def slot(self, tried: list[Replica]) -> Iterator[Replica]:
        """A replica slot, or the gateway's 503/429 (raised before any work starts)."""
        try:
            replica = self.pool.reserve(exclude=tried)
        except NoReplicaAvailable as error:
            detail = f"; replica {tried[-1].url} failed: {tried[-1].last_error}" if tried else ""
            raise errors.unavailable(f"{error}{detail}", self.retry_after_s) from None
        except AllReplicasBusy as error:
            raise errors.busy(f"too many requests in flight: {error}", self.retry_after_s) from None
        try:
            yield replica
        finally:
            self.pool.release(replica)

    def _replica_failed(self, replica: Replica, error: BaseException, tried: list[Replica]) -> None:
        self.pool.record_error(replica, "unavailable")
        self.pool.mark_down(replica, error.details() if isinstance(error, grpc.aio.AioRpcError) else str(error))
        tried.append(replica)

    async def generate(self, job: Txt2ImgJob, rename: Mapping[str, str] | None = None) -> Generated:
        try:
            async with asyncio.timeout(self.timeout_s):
                return await self._generate(job, rename)
        except TimeoutError:
            raise errors.timed_out(self.timeout_s) from None

    async def _generate(self, job: Txt2ImgJob, rename: Mapping[str, str] | None) -> Generated:
        tried: list[Replica] = []
        outputs = [InferRequestedOutput("image"), InferRequestedOutput("seed")]
        for attempt in (1, 2):
            with self.slot(tried) as replica:
                try:
                    result = await replica.client.infer(self.model, job.triton_inputs(), outputs=outputs)
                except InferenceServerException as error:
                    if _is_replica_failure(error) and attempt == 1:
                        log.warning("replica %s failed (%s); retrying once elsewhere with seed %d",
                                    replica.url, error.message(), job.seed)
                        self._replica_failed(replica, error, tried)
                        self.metrics.retries.inc()
                        continue
                    raise self._map(error, replica, rename) from None
            return Generated(result.as_numpy("image"), int(result.as_numpy("seed")[0]), replica.url, attempt)
        raise AssertionError("unreachable")

    async def stream(self, job: Txt2ImgJob, rename: Mapping[str, str] | None = None
                     ) -> AsyncIterator[Progress | Generated]:
        """Progress per step, then the result. Retried once elsewhere only if nothing was yielded yet."""
        if not self.stream_model:
            raise GatewayError(501, "streaming is disabled on this gateway (GATEWAY_STREAM_MODEL is empty)",
                               param="stream", code="streaming_disabled")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s
        tried: list[Replica] = []
        for attempt in (1, 2):
            with self.slot(tried) as replica:
                request = {"model_name": self.stream_model, "inputs": job.triton_inputs()}
                responses = replica.client.stream_infer(_single(request))
                produced = False
                try:
                    while True:
                        remaining = deadline - loop.time()
                        if remaining <= 0:
                            raise errors.timed_out(self.timeout_s)
                        try:
                            result, error = await asyncio.wait_for(anext(responses), remaining)
                        except TimeoutError:
                            raise errors.timed_out(self.timeout_s) from None
                        except StopAsyncIteration:
                            raise errors.upstream(f"{self.stream_model} ended its stream without an image") from None
                        if error is not None:
                            raise self._map(error, replica, rename)
                        image = result.as_numpy("image")
                        if image is not None:
                            yield Generated(image, int(result.as_numpy("seed")[0]), replica.url, attempt)
                            return
                        produced = True
                        yield Progress(int(result.as_numpy("step")[0]), int(result.as_numpy("total")[0]),
                                       float(result.as_numpy("elapsed_s")[0]))
                except grpc.aio.AioRpcError as error:
                    if _is_replica_failure(error) and attempt == 1 and not produced:
                        log.warning("replica %s failed before streaming (%s); retrying once elsewhere with seed %d",
                                    replica.url, error.details(), job.seed)
                        self._replica_failed(replica, error, tried)
                        self.metrics.retries.inc()
                        continue
                    if _is_replica_failure(error):
                        self._replica_failed(replica, error, tried)
                        raise errors.unavailable(f"replica {replica.url} failed mid-stream: {error.details()}",
                                                 self.retry_after_s) from None
                    raise errors.upstream(f"stream from {replica.url} failed: {error.details()}") from None
                finally:
                    # Ends the gRPC stream; when the client left early this cancels the Triton request,
                    # and the orchestrator stops at its next step boundary.
                    responses.cancel()

    def _map(self, error: InferenceServerException, replica: Replica,
             rename: Mapping[str, str] | None) -> GatewayError:
        mapped = errors.from_triton_message(error.message() or str(error), dict(rename or {}))
        if error.status() == str(grpc.StatusCode.DEADLINE_EXCEEDED):
            mapped = errors.timed_out(self.timeout_s)
        if mapped.status >= 500:
            self.pool.record_error(replica, "upstream")
            log.error("replica %s: %s", replica.url, error.message())
        return mapped


async def _single(request: dict) -> AsyncIterator[dict]:
    yield request

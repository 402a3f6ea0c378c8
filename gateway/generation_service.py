"""The gateway's one way to run a generation model on Triton: replica choice, retry, timeout, cancellation.

A `GenerationJob` is a Triton model name (txt2img, img2img, inpaint, ...) and that model's contract inputs
as Python values, turned into typed tensors by `serving.contracts`. `generate` calls the model (unary
gRPC); `stream` calls its decoupled twin `<model>_stream` and yields one `Progress` per stage and denoising
step, then the `Generated` result (with the job's extra outputs, e.g. a workflow's mask and depth). The seed is
always chosen here, so a retry on another replica produces the same image. A contract without an image
(product_finder: labels, scores, masks, boxes) is called with `infer_outputs`, which answers its outputs as arrays.
Routes never talk to Triton themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from dataclasses import dataclass, field
import time
from typing import Any, AsyncIterator, Mapping

import grpc
import numpy as np
from tritonclient.grpc import InferInput, InferRequestedOutput
from tritonclient.utils import InferenceServerException

from clients.triton_client import contract_array
from gateway import errors
from gateway.admission import Priority, QueueFull, QueueTimeout
from gateway.errors import GatewayError
from gateway.metrics import Metrics
from gateway.settings import GatewaySettings
from gateway.triton_pool import ModelNotServed, NoReplicaAvailable, Replica, ReplicaPool
from serving.contracts import GENERATION_CONTRACTS, OrchestratorContract

log = logging.getLogger(__name__)

# What every decoupled twin sends per stage and step (serving/contracts.py PROGRESS_OUTPUTS).
PROGRESS_OUTPUTS = ("step", "total", "elapsed_s", "stage")
SEED_BOUND = 2**31  # the range the orchestrator itself draws from when no seed is given


def new_seed() -> int:
    return secrets.randbelow(SEED_BOUND)


@dataclass(frozen=True)
class GenerationJob:
    """One request: the Triton model to call and its contract inputs (absent or None: the model's default).

    `contract` names the public contract the inputs follow (by default the model's own name; a deployment
    may serve it under another name, e.g. GATEWAY_IMG2IMG_MODEL).
    """

    model: str
    inputs: Mapping[str, Any]
    seed: int
    contract: str = ""
    # Outputs asked for besides image and seed (a workflow's intermediates); Triton sends only what is asked.
    extra_outputs: tuple[str, ...] = ()
    _contract: OrchestratorContract = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        name = self.contract or self.model
        if name not in GENERATION_CONTRACTS:
            raise ValueError(f"no generation contract {name!r}; known: {', '.join(GENERATION_CONTRACTS)}")
        contract = GENERATION_CONTRACTS[name]
        unknown = sorted(set(self.inputs) - set(contract.input_names))
        if unknown:
            raise ValueError(f"{name} has no input(s) {', '.join(unknown)}")
        missing = sorted(set(self.extra_outputs) - {spec.name for spec in contract.outputs})
        if missing:
            raise ValueError(f"{name} has no output(s) {', '.join(missing)}")
        object.__setattr__(self, "_contract", contract)

    @classmethod
    def create(cls, model: str, inputs: Mapping[str, Any], seed: int | None = None, contract: str = "",
               extra_outputs: tuple[str, ...] = ()) -> "GenerationJob":
        """A job with a seed chosen now when none is given; None inputs are dropped."""
        seed = new_seed() if seed is None else seed
        kept = {name: value for name, value in inputs.items() if value is not None and name != "seed"}
        return cls(model, kept, seed, contract, tuple(extra_outputs))

    @property
    def output_names(self) -> tuple[str, ...]:
        """A generation's image and seed, or every output of a contract without an image; then the extras."""
        names = tuple(spec.name for spec in self._contract.outputs)
        primary = ("image", "seed") if "image" in names else tuple(n for n in names if n not in self.extra_outputs)
        return (*primary, *self.extra_outputs)

    def outputs(self, progress: bool = False) -> list[InferRequestedOutput]:
        """The outputs to ask for: output_names and, for a stream, the progress outputs."""
        return [InferRequestedOutput(name) for name in (*self.output_names, *(PROGRESS_OUTPUTS if progress else ()))]

    @property
    def stream_model(self) -> str:
        return GatewaySettings.stream_model(self.model)

    def triton_inputs(self) -> list[InferInput]:
        seeded = "seed" in self._contract.input_names  # product_finder draws nothing at random
        tensors = []
        for name, value in {**self.inputs, **({"seed": self.seed} if seeded else {})}.items():
            array = contract_array(self._contract.name, name, value)
            tensor = InferInput(name, list(array.shape), self._contract.input(name).dtype)
            tensor.set_data_from_numpy(array)
            tensors.append(tensor)
        return tensors


@dataclass(frozen=True)
class Progress:
    step: int
    total: int
    elapsed_s: float
    stage: str = "denoise"  # a workflow's stage (mask, depth, ...), or the denoising loop


@dataclass(frozen=True)
class Generated:
    images: np.ndarray  # uint8 [n, height, width, 3]
    seed: int
    replica: str
    attempts: int
    intermediates: Mapping[str, np.ndarray] = field(default_factory=dict)  # the job's extra outputs


def _generated(result: Any, job: GenerationJob, replica: Replica, attempt: int) -> Generated:
    extras = {name: result.as_numpy(name) for name in job.extra_outputs}
    return Generated(result.as_numpy("image"), int(result.as_numpy("seed")[0]), replica.url, attempt,
                     {name: array for name, array in extras.items() if array is not None})


def _progress(result: Any) -> Progress:
    stage = result.as_numpy("stage")
    return Progress(int(result.as_numpy("step")[0]), int(result.as_numpy("total")[0]),
                    float(result.as_numpy("elapsed_s")[0]),
                    "denoise" if stage is None else stage[0].decode("utf-8", "replace"))


def _is_replica_failure(error: BaseException) -> bool:
    """The replica is gone or refused the connection (not: the request itself was bad)."""
    if isinstance(error, InferenceServerException):
        return error.status() == str(grpc.StatusCode.UNAVAILABLE)
    if isinstance(error, grpc.aio.AioRpcError):
        return error.code() == grpc.StatusCode.UNAVAILABLE
    return False


class GenerationService:
    def __init__(self, pool: ReplicaPool, metrics: Metrics, timeout_s: float, retry_after_s: int,
                 streaming: bool = True) -> None:
        self.pool = pool
        self.metrics = metrics
        self.timeout_s = timeout_s
        self.retry_after_s = retry_after_s
        self.streaming = streaming

    @contextlib.asynccontextmanager
    async def slot(self, model: str, tried: list[Replica], priority: Priority = "interactive"
                   ) -> AsyncIterator[Replica]:
        """A slot on a replica serving `model`, after a wait in the admission queue when all are taken
        (interactive before batch), or the gateway's 503/429 (raised before any work starts)."""
        try:
            replica = await self.pool.acquire(model, exclude=tried, priority=priority)
        except QueueFull as error:
            raise errors.busy(str(error), error.retry_after_s) from None
        except QueueTimeout as error:
            raise errors.queue_timeout(str(error), error.retry_after_s) from None
        except ModelNotServed as error:
            raise errors.model_unavailable(model, str(error), self.retry_after_s) from None
        except NoReplicaAvailable as error:
            detail = f"; replica {tried[-1].url} failed: {tried[-1].last_error}" if tried else ""
            raise errors.unavailable(f"{error}{detail}", self.retry_after_s) from None
        started = time.monotonic()
        try:
            yield replica
        finally:
            self.pool.release(replica, time.monotonic() - started)

    def _replica_failed(self, replica: Replica, error: BaseException, tried: list[Replica]) -> None:
        self.pool.record_error(replica, "unavailable")
        self.pool.mark_down(replica, error.details() if isinstance(error, grpc.aio.AioRpcError) else str(error))
        tried.append(replica)

    async def generate(self, job: GenerationJob, rename: Mapping[str, str] | None = None,
                       priority: Priority = "interactive") -> Generated:
        result, replica, attempt = await self.call(job.model, job.triton_inputs(), job.outputs(), rename,
                                                   f" with seed {job.seed}", priority)
        return _generated(result, job, replica, attempt)

    async def infer_outputs(self, job: GenerationJob, rename: Mapping[str, str] | None = None,
                            priority: Priority = "interactive") -> dict[str, np.ndarray]:
        """The job's outputs (`output_names`) as arrays: for contracts that answer no image (product_finder)."""
        result, _, _ = await self.call(job.model, job.triton_inputs(), job.outputs(), rename, priority=priority)
        return {name: result.as_numpy(name) for name in job.output_names}

    async def call(self, model: str, inputs: list[InferInput], outputs: list[InferRequestedOutput],
                   rename: Mapping[str, str] | None = None, retry_note: str = "",
                   priority: Priority = "interactive") -> tuple[Any, Replica, int]:
        """One unary call within the timeout, retried once on another replica if the first one failed;
        returns Triton's result, the replica that answered and the attempt (1 or 2)."""
        try:
            async with asyncio.timeout(self.timeout_s):
                return await self._call(model, inputs, outputs, rename, retry_note, priority)
        except TimeoutError:
            raise errors.timed_out(self.timeout_s) from None

    async def _call(self, model: str, inputs: list[InferInput], outputs: list[InferRequestedOutput],
                    rename: Mapping[str, str] | None, retry_note: str,
                    priority: Priority = "interactive") -> tuple[Any, Replica, int]:
        tried: list[Replica] = []
        for attempt in (1, 2):
            async with self.slot(model, tried, priority) as replica:
                try:
                    result = await replica.client.infer(model, inputs, outputs=outputs)
                except InferenceServerException as error:
                    if _is_replica_failure(error) and attempt == 1:
                        log.warning("replica %s failed (%s); retrying %s once elsewhere%s", replica.url,
                                    error.message(), model, retry_note)
                        self._replica_failed(replica, error, tried)
                        self.metrics.retries.inc()
                        continue
                    raise self._map(error, replica, rename) from None
            return result, replica, attempt
        raise AssertionError("unreachable")

    async def stream(self, job: GenerationJob, rename: Mapping[str, str] | None = None,
                     priority: Priority = "interactive") -> AsyncIterator[Progress | Generated]:
        """Progress per step, then the result. Retried once elsewhere only if nothing was yielded yet."""
        if not self.streaming:
            raise GatewayError(501, "streaming is disabled on this gateway (GATEWAY_STREAMING=false)",
                               param="stream", code="streaming_disabled")
        model = job.stream_model
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s
        tried: list[Replica] = []
        inputs = job.triton_inputs()
        for attempt in (1, 2):
            async with self.slot(model, tried, priority) as replica:
                request = {"model_name": model, "inputs": inputs, "outputs": job.outputs(progress=True)}
                responses = replica.client.stream_infer(_single(request))
                produced = ended = False
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
                            raise errors.upstream(f"{model} ended its stream without an image") from None
                        if error is not None:
                            raise self._map(error, replica, rename)
                        image = result.as_numpy("image")
                        if image is not None:
                            ended = await _stream_ended(responses)
                            yield _generated(result, job, replica, attempt)
                            return
                        produced = True
                        yield _progress(result)
                except grpc.aio.AioRpcError as error:
                    if _is_replica_failure(error) and attempt == 1 and not produced:
                        log.warning("replica %s failed before streaming (%s); retrying %s once elsewhere with "
                                    "seed %d", replica.url, error.details(), model, job.seed)
                        self._replica_failed(replica, error, tried)
                        self.metrics.retries.inc()
                        continue
                    if _is_replica_failure(error):
                        self._replica_failed(replica, error, tried)
                        raise errors.unavailable(f"replica {replica.url} failed mid-stream: {error.details()}",
                                                 self.retry_after_s) from None
                    raise errors.upstream(f"stream from {replica.url} failed: {error.details()}") from None
                finally:
                    # When the client left early this cancels the Triton request, and the orchestrator stops
                    # at its next step boundary. A stream that ended on its own is not cancelled: see
                    # _stream_ended.
                    if not ended:
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


async def _stream_ended(responses: AsyncIterator, timeout_s: float = 5.0) -> bool:
    """Reads a stream to its end after its final response (Triton closes it then: milliseconds).

    Cancelling the gRPC call instead, right after the image, raced with Triton finishing the request: 40
    such streams at concurrency 8 left the streaming model unable to unload, and the server's stop waited
    out its whole exit timeout (10.8 s; reading to the end: 2.4 s, each stream ending within 18 ms)."""
    try:
        async with asyncio.timeout(timeout_s):
            async for _ in responses:
                pass
        return True
    except (TimeoutError, grpc.aio.AioRpcError):
        return False

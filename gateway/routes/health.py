"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.schemas import Readiness

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The gateway process is up")
async def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz", summary="A Triton replica is ready with the models the gateway needs", response_model=Readiness,
            responses={503: {"model": Readiness, "description": "No replica is ready (`status: not ready`, `error`)"}})
async def readyz(request: Request) -> JSONResponse:
    """200 when a replica has the required models; `optional` says which other routes' models are served."""
    state = request.app.state.gateway
    pool = state.pool
    body = {"models": list(pool.required_models),
            "optional": {model: pool.serves(model) for model in pool.optional_models},
            "replicas": [replica.describe() for replica in pool.replicas]}
    if pool.any_healthy:
        return JSONResponse({"status": "ready", **body})
    return JSONResponse({"status": "not ready", **body,
                         "error": {"message": "no Triton replica is ready", "type": "server_error", "param": None,
                                   "code": "no_replica_available"}}, status_code=503)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                             "description": "Prometheus text exposition format"}})
async def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.gateway.metrics.registry), media_type=CONTENT_TYPE_LATEST)

"""The FastAPI application: `create_app(settings)` wires settings, replicas, routes and middleware."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import AsyncIterator

from fastapi import FastAPI

from gateway.body_limit import BodySizeLimitMiddleware
from gateway.body_timeout import BodyTimeoutMiddleware
from gateway.discovery import ReplicaDiscovery
from gateway.dns_resolver import create_resolver
from gateway.errors import install_error_handlers
from gateway.image_store import ImageStore
from gateway.job_worker import CatalogJobs
from gateway.metrics import Metrics, MetricsMiddleware
from gateway.openapi_docs import install_openapi
from gateway.perception_service import PERCEPTION_MODELS
from gateway.routes import health, jobs, native, openai_images, perception, web, workflows
from gateway.schemas import build_request_models
from gateway.security import install_cors
from gateway.settings import GatewaySettings
from gateway.state import GatewayState
from gateway.triton_pool import ReplicaPool
from gateway.generation_service import GenerationService
from gateway.workflow_schemas import build_workflow_models

log = logging.getLogger(__name__)

# Routes that take images: their bodies may reach GATEWAY_MAX_UPLOAD_BYTES (others GATEWAY_MAX_BODY_BYTES).
UPLOAD_PATHS = (frozenset({"/v1/images/edits", "/v1/txt2img", "/v1/img2img", "/v1/inpaint"})
                | perception.PERCEPTION_PATHS | workflows.WORKFLOW_PATHS | {jobs.JOBS_PATH})


async def _purge_images(store: ImageStore) -> None:
    while True:
        await asyncio.sleep(min(store.ttl_s, 60.0))
        await asyncio.to_thread(store.purge_expired)


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    metrics = Metrics()
    pool = ReplicaPool(settings.required(), settings.max_in_flight_per_replica,
                       metrics, settings.health_interval_s, settings.health_timeout_s,
                       # perception routes are served where their models are loaded (503 elsewhere)
                       [*settings.optional(), *PERCEPTION_MODELS],
                       settings.queue_max_depth, settings.queue_max_wait_s, settings.retry_after_s)
    discovery = ReplicaDiscovery(settings.replica_targets(),
                                 create_resolver(settings.dns_servers, settings.dns_timeout_s),
                                 pool, metrics, settings.discovery_interval_s)
    state = GatewayState(
        settings=settings, metrics=metrics, pool=pool,
        service=GenerationService(pool, metrics, settings.request_timeout_s, settings.retry_after_s,
                                  settings.streaming),
        store=ImageStore(settings.image_dir, settings.image_ttl_s),
        models=build_request_models(settings),
        api_keys=frozenset(key.encode() for key in settings.keys()),
    )
    catalog_jobs = CatalogJobs(settings, state.service)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await discovery.start()  # fills the pool and probes it once
        await pool.start()
        log.info("gateway up: replicas %s -> %s (healthy: %s), API keys %s, CORS %s", settings.replicas,
                 [r.url for r in pool.replicas], [r.url for r in pool.replicas if r.healthy],
                 "on" if state.api_keys else "off", settings.cors_origins or "off")
        purger = asyncio.create_task(_purge_images(state.store))
        catalog_jobs.start(asyncio.get_running_loop())  # resumes unfinished jobs
        try:
            yield
        finally:
            purger.cancel()
            await catalog_jobs.stop()  # before the pool: the article in progress finishes
            await discovery.stop()
            await pool.stop()

    app = FastAPI(
        title="Imagery gateway",
        description="REST front for the Triton diffusion pipelines: OpenAI Images API (generations, edits), "
                    "native txt2img / img2img / inpaint with ControlNet, photo workflows (background replace, "
                    "room restyle, product enhance, product finder), SSE progress.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.gateway = state
    app.state.catalog_jobs = catalog_jobs
    install_error_handlers(app)
    install_openapi(app)
    app.include_router(health.router)
    app.include_router(openai_images.build_router(state.models))
    app.include_router(native.build_router(state.models))
    app.include_router(workflows.build_router(build_workflow_models(settings, state.models)))
    app.include_router(perception.build_router(settings))
    app.include_router(jobs.build_router(settings))
    web.install(app)  # the page at / and its files (not in the OpenAPI document)
    install_cors(app, settings.cors_origins)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes,
                       upload_paths=UPLOAD_PATHS, max_upload_bytes=settings.max_upload_bytes)
    app.add_middleware(BodyTimeoutMiddleware, timeout_s=settings.body_timeout_s)
    app.add_middleware(MetricsMiddleware, metrics=metrics)  # outermost: counts every response, 413s included
    return app

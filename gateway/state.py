"""What the routes share: settings, the Triton service, the image store, metrics (app.state.gateway)."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.image_store import ImageStore
from gateway.metrics import Metrics
from gateway.schemas import RequestModels
from gateway.settings import GatewaySettings
from gateway.triton_pool import ReplicaPool
from gateway.generation_service import GenerationService


@dataclass
class GatewayState:
    settings: GatewaySettings
    metrics: Metrics
    pool: ReplicaPool
    service: GenerationService
    store: ImageStore
    models: RequestModels
    api_keys: frozenset[bytes]

"""Optional API keys (Authorization: Bearer) and CORS. Keys are compared in constant time and never logged."""

from __future__ import annotations

import hmac

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware

from gateway.errors import GatewayError


def check_api_key(request: Request) -> None:
    """FastAPI dependency: with keys configured, a request needs `Authorization: Bearer <key>`."""
    keys: frozenset[bytes] = request.app.state.gateway.api_keys
    if not keys:
        return
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    presented = token.strip().encode()
    # Compare against every key so timing does not reveal which (or whether a prefix) matched.
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(presented, key)
    if scheme.lower() != "bearer" or not presented or not matched:
        raise GatewayError(401, "missing or invalid API key (send Authorization: Bearer <key>)",
                           code="invalid_api_key", headers={"WWW-Authenticate": "Bearer"})


def install_cors(app: FastAPI, origins: list[str]) -> None:
    """CORS is off unless origins are configured (GATEWAY_CORS_ORIGINS, `*` for any)."""
    if origins:
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"], expose_headers=["X-Seed"])

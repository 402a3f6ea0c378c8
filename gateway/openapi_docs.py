"""The OpenAPI document's parts that FastAPI cannot infer: request bodies in both encodings, what each
route answers (media types per status, Server-Sent Events) and the gateway's error responses.

Routes read their bodies themselves (gateway/request_body.py) and answer PNG, JSON or event streams, so
they declare their documentation with these helpers. Schemas are inlined (no `$defs`), so every `$ref`
left in the document points into `#/components/schemas` and resolves.
"""

from __future__ import annotations

import json
from typing import Any, Collection, Mapping

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from gateway.schemas import ErrorResponse

# Every status a route may answer besides success, with what it means here. All use ErrorResponse.
ERROR_MEANINGS = {
    400: "Invalid input: `error.param` names the field and `error.message` the rule it breaks",
    401: "Missing or invalid API key (only when the gateway has keys configured)",
    404: "Not found (or expired)",
    408: "The request body did not arrive within the gateway's body timeout (GATEWAY_BODY_TIMEOUT_S)",
    413: "Request body larger than the route's limit",
    422: "Well-formed input the workflow cannot work with (e.g. no foreground found): `error.param` names the "
         "field, `error.code` is `unprocessable_input`",
    429: "Every replica already has its maximum of requests in flight and the wait queue is full (see Retry-After)",
    500: "Internal gateway error",
    501: "`stream` was requested but streaming is disabled on this gateway",
    502: "Triton failed the request",
    503: "No Triton replica is ready, none has this route's model (or one of its components) loaded, the request "
         "waited the queue's maximum for a slot, or a url image could not be stored (see Retry-After)",
    504: "The request did not finish within the gateway's timeout",
}
# What a route that runs a Triton model can answer besides 200.
MODEL_ROUTE_ERRORS = (400, 401, 408, 413, 429, 500, 502, 503, 504)
STREAMING_ROUTE_ERRORS = (*MODEL_ROUTE_ERRORS, 501)
WORKFLOW_ROUTE_ERRORS = (*STREAMING_ROUTE_ERRORS, 422)

PNG = {"image/png": {"schema": {"type": "string", "format": "binary"}}}
BINARY_FILE = {"type": "string", "format": "binary"}


def error_responses(statuses: Collection[int]) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries for these statuses, each with the gateway's error body."""
    return {status: {"model": ErrorResponse, "description": ERROR_MEANINGS[status]} for status in sorted(statuses)}


def inline_schema(model: type[BaseModel], mode: str = "validation") -> dict[str, Any]:
    """The model's JSON schema with its `$defs` substituted in place (pydantic's refs would dangle here)."""
    schema = model.model_json_schema(mode=mode)
    definitions = schema.pop("$defs", {})

    def substitute(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                target = substitute(definitions[ref.removeprefix("#/$defs/")])
                return {**target, **{k: substitute(v) for k, v in node.items() if k != "$ref"}}
            return {key: substitute(value) for key, value in node.items()}
        if isinstance(node, list):
            return [substitute(item) for item in node]
        return node

    return substitute(schema)


def json_content(model: type[BaseModel]) -> dict[str, Any]:
    return {"application/json": {"schema": inline_schema(model, mode="serialization")}}


def event_stream(events: Mapping[str, type[BaseModel]]) -> dict[str, Any]:
    """A `text/event-stream` media type. Under OpenAPI 3.1 its schema describes one event: its name and
    its `data`, a JSON document of the named model."""
    variants = [{"type": "object", "required": ["event", "data"], "properties": {
        "event": {"const": name},
        "data": {"type": "string", "contentMediaType": "application/json",
                 "contentSchema": inline_schema(model, mode="serialization")}}}
                for name, model in events.items()]
    return {"text/event-stream": {"schema": {"oneOf": variants}}}


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    """An optional field's schema without its `null` branch."""
    branches = [branch for branch in schema.get("anyOf", ()) if branch.get("type") != "null"]
    if len(branches) != 1:
        return schema
    return {**{key: value for key, value in schema.items() if key not in ("anyOf", "default")}, **branches[0]}


def request_body(model: type[BaseModel], file_fields: Collection[str] = (), list_file_fields: Collection[str] = (),
                 json: bool = True, required: Collection[str] = ()) -> dict[str, Any]:
    """`openapi_extra` for a route whose body is JSON (images base64) or a multipart form (images as files).

    `required` adds fields the route itself requires (an image is required whichever way it comes), so
    `null` is no value for them. A form has no `null` at all: a field is sent or left out.
    """
    schema = inline_schema(model)
    properties = {name: _not_null(prop) if name in required else prop
                  for name, prop in schema.get("properties", {}).items()}
    files = {**{name: BINARY_FILE for name in file_fields}, **{name: {"type": "array", "items": BINARY_FILE}
                                                              for name in list_file_fields}}
    form_properties = {**{name: _not_null(prop) for name, prop in properties.items()}, **files}
    needed = sorted({*schema.get("required", ()), *required})
    form = {"type": "object", "properties": form_properties, "required": needed, "additionalProperties": False}
    content: dict[str, Any] = {"multipart/form-data": {"schema": form}}
    if json:
        json_schema = {**schema, "properties": properties, "required": [name for name in needed if name in properties]}
        content = {"application/json": {"schema": json_schema}, **content}
    return {"requestBody": {"required": True, "content": content}}


def install_openapi(app: FastAPI) -> None:
    """The app's /openapi.json: FastAPI's document without the 422 it adds for body and path parameters
    (the gateway answers validation errors 400, gateway/errors.py) and the schemas only that 422 used.
    A route's own 422 (the workflows' unprocessable input, with the error body) stays."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, description=app.description,
                                   routes=app.routes)
            for operations in document.get("paths", {}).values():
                for operation in operations.values():
                    responses = operation.get("responses", {})
                    if "HTTPValidationError" in json.dumps(responses.get("422", {})):
                        responses.pop("422")
            schemas = document.get("components", {}).get("schemas", {})
            for name in ("HTTPValidationError", "ValidationError"):
                schemas.pop(name, None)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

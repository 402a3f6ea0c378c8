"""Gateway errors and their JSON form: the OpenAI error shape {"error": {message, type, param, code}}.

Every error the gateway returns uses this shape (OpenAI routes and native routes alike), so clients
need one parser. Triton's own inference errors are mapped here too: a contract violation that only
the model can see (say, a size that is not a multiple of the latent stride) is a 400, not a 500.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

# "invalid input 'guidance_scale': nan is not a finite number in [0, 30]" (serving/pipelines/errors.py)
_TRITON_INVALID_INPUT = re.compile(r"invalid input '(?P<name>[A-Za-z_]+)': (?P<reason>.*)", re.S)
# "unprocessable input 'mask_image': no foreground found ..." (UnprocessableInputError): well-formed, but the
# workflow cannot work with it; 422, so clients can tell it from a malformed request.
_TRITON_UNPROCESSABLE_INPUT = re.compile(r"unprocessable input '(?P<name>[A-Za-z_]+)': (?P<reason>.*)", re.S)
# "img2img failed: vae_encoder: Model vae_encoder - Error when running inference: Failed for execute the
# inference request. Model 'vae_encoder' is not ready." (or "Request for unknown model: ..."): an orchestrator's
# BLS call found one of its components not loaded (unloaded through model control, or failed to load);
# serving/bls.py and serving/triton_errors.py word the prefix.
_TRITON_COMPONENT_MISSING = re.compile(
    r"(?P<pipeline>[\w.-]+) failed: (?P<component>[\w.-]+): "
    r"(?P<reason>.*(?:Model '(?P=component)' is not ready|Request for unknown model).*)", re.S)


@dataclass
class GatewayError(Exception):
    status: int
    message: str
    type: str = "invalid_request_error"
    param: str | None = None
    code: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def invalid(param: str | None, message: str, code: str = "invalid_value") -> GatewayError:
    return GatewayError(400, message, param=param, code=code)


def unprocessable(param: str, message: str) -> GatewayError:
    return GatewayError(422, message, param=param, code="unprocessable_input")


def unavailable(message: str, retry_after_s: int) -> GatewayError:
    return GatewayError(503, message, type="server_error", code="no_replica_available",
                        headers={"Retry-After": str(retry_after_s)})


def model_unavailable(model: str, message: str, retry_after_s: int) -> GatewayError:
    """This route's Triton model is not loaded on any healthy replica (the gateway's other routes still serve)."""
    return GatewayError(503, f"{message}: this route is unavailable on the current replicas (the model is not "
                             f"exported or not loaded there); other routes are not affected",
                        type="server_error", code="model_not_available", headers={"Retry-After": str(retry_after_s)})


def busy(message: str, retry_after_s: int) -> GatewayError:
    """Every slot is taken and the admission queue is full: come back after `retry_after_s`."""
    return GatewayError(429, message, type="rate_limit_error", code="too_many_requests_in_flight",
                        headers={"Retry-After": str(retry_after_s)})


def queue_timeout(message: str, retry_after_s: int) -> GatewayError:
    """The request waited the admission queue's maximum without getting a slot."""
    return GatewayError(503, message, type="server_error", code="queue_timeout",
                        headers={"Retry-After": str(retry_after_s)})


def image_store_unwritable(reason: str) -> GatewayError:
    """A `url` response's image could not be kept (GATEWAY_IMAGE_DIR); the image itself was generated."""
    return GatewayError(503, f"the image store cannot keep images for url responses: {reason}; "
                             f"ask for response_format 'b64_json' to get the image in the response",
                        type="server_error", param="response_format", code="image_store_unavailable")


def component_unavailable(pipeline: str, component: str, reason: str) -> GatewayError:
    """A pipeline's component model is not loaded on the replica that ran it (pipelines without it still serve)."""
    return GatewayError(503, f"{pipeline} cannot run: its component model '{component}' is not loaded on the "
                             f"Triton replica ({reason}); pipelines that do not use it are not affected",
                        type="server_error", code="component_not_available")


def timed_out(seconds: float) -> GatewayError:
    return GatewayError(504, f"the request did not finish within {seconds:g} s", type="server_error", code="timeout")


def upstream(message: str) -> GatewayError:
    return GatewayError(502, message, type="server_error", code="upstream_error")


def from_triton_message(message: str, rename: dict[str, str] | None = None) -> GatewayError:
    """A Triton inference error: the contract's input errors become 400 (malformed, out of range) or 422
    (unprocessable) naming the field, others 502."""
    missing = _TRITON_COMPONENT_MISSING.search(message)
    if missing is not None:
        return component_unavailable(missing["pipeline"], missing["component"], missing["reason"].strip())
    for pattern, error in ((_TRITON_UNPROCESSABLE_INPUT, unprocessable), (_TRITON_INVALID_INPUT, invalid)):
        match = pattern.search(message)
        if match is not None:
            param = (rename or {}).get(match["name"], match["name"])
            prefix = "unprocessable" if error is unprocessable else "invalid"
            return error(param, f"{prefix} '{param}': {match['reason']}")
    return upstream(message)


def _validation_error(error: RequestValidationError) -> GatewayError:
    first = error.errors()[0]
    # List items are reported by their field ("controlnet_conditioning_scale", not "...scale.1").
    loc = [str(part) for part in first.get("loc", ()) if part != "body" and not isinstance(part, int)]
    if first.get("type") == "json_invalid":
        reason = first.get("ctx", {}).get("error", "JSON decode error")
        return invalid(None, f"malformed JSON body: {reason} at position {loc[0] if loc else '?'}", code="invalid_json")
    param = ".".join(loc) or None
    message = first.get("msg", "invalid value")
    if first.get("type") == "extra_forbidden":
        message, code = f"unknown field '{param}'", "unknown_field"
    elif param is None:
        message, code = f"request body: {message}", "invalid_body"
    else:
        message, code = f"invalid '{param}': {message}", "invalid_value"
    return invalid(param, message, code)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(GatewayError)
    async def _gateway(request: Request, error: GatewayError) -> JSONResponse:
        return error.response()

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, error: RequestValidationError) -> JSONResponse:
        return _validation_error(error).response()

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        kind = "invalid_request_error" if error.status_code < 500 else "server_error"
        code = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}.get(error.status_code)
        message = str(error.detail)
        if error.status_code == 413:
            message = f"request body too large: {message}"
        return GatewayError(error.status_code, message, type=kind, code=code,
                            headers=dict(error.headers or {})).response()

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return GatewayError(500, "internal gateway error", type="server_error", code="internal_error").response()

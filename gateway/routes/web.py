"""The web page at `/`: plain HTML, CSS and JavaScript files shipped in gateway/web (no build step, no CDN).

The page calls the public routes like any client (multipart forms, `stream: true` for per-step progress),
so it needs nothing of its own but its files and `/web/config.json`: which form limits and schedulers this
gateway has, whether it wants an API key, and which optional routes' models are served. None of these are
part of the API, so they stay out of the OpenAPI document.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse
from starlette.staticfiles import StaticFiles

from gateway.state import GatewayState

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
# Routes the page has a form for, by the setting that names their model (optional ones may be absent).
PAGE_MODELS = {"txt2img": "model", "background_replace": "background_replace_model",
               "restyle_room": "restyle_room_model", "product_enhance": "product_enhance_model",
               "product_finder": "product_finder_model"}

router = APIRouter(include_in_schema=False)


@router.get("/")
async def index() -> FileResponse:
    return FileResponse(WEB_DIR / "index.html", headers={"Cache-Control": "no-cache"})


@router.get("/web/config.json")
async def config(request: Request) -> dict:
    state: GatewayState = request.app.state.gateway
    settings, pool = state.settings, state.pool
    return {
        "api_keys": bool(state.api_keys),
        "streaming": settings.streaming,
        "schedulers": settings.schedulers,
        "max_image_size": settings.max_image_size,
        "size_multiple": settings.size_multiple,
        "max_steps": settings.max_steps,
        "max_images": settings.max_images,
        "served": {page: pool.serves(getattr(settings, name)) for page, name in PAGE_MODELS.items()},
    }


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/web", StaticFiles(directory=WEB_DIR), name="web")

"""Native routes: POST /v1/txt2img, /v1/img2img and /v1/inpaint, one per generation contract.

Each takes its contract's inputs under their own names (DESIGN.md section 3), as JSON (images base64)
or as a multipart form (images as files, repeated fields for ControlNet lists), and answers PNG bytes
(default), JSON with base64 images (`response_format: "b64_json"`) or Server-Sent Events
(`stream: true`: `progress` per step, then `image`). The three differ only in their schema; the
plumbing is gateway/routes/generation_routes.py.
"""

from fastapi import APIRouter

from gateway.routes.generation_routes import GenerationRoute, add_routes
from gateway.schemas import RequestModels


def build_router(models: RequestModels) -> APIRouter:
    return add_routes(APIRouter(tags=["native"]), [
        GenerationRoute("txt2img", "/v1/txt2img", "Text to image (optionally ControlNet-guided)",
                        models.Txt2ImgRequest),
        GenerationRoute("img2img", "/v1/img2img",
                        "Image to image: `image` redrawn with `strength` (optionally ControlNet-guided)",
                        models.Img2ImgRequest),
        GenerationRoute("inpaint", "/v1/inpaint",
                        "Inpainting: repaint where `mask_image` is white (optionally ControlNet-guided)",
                        models.InpaintRequest),
    ])

"""Gateway settings come from GATEWAY_* environment variables or a `.env` file in the working directory."""

from __future__ import annotations

import httpx

DOTENV = """\
# read by the gateway from its working directory
GATEWAY_API_KEYS=key-from-dotenv
GATEWAY_MAX_STEPS=5
GATEWAY_MAX_IMAGES=1
"""


def test_dotenv_settings_apply_and_the_environment_wins(start_gateway) -> None:
    gateway = start_gateway(dotenv=DOTENV, max_images=2)  # GATEWAY_MAX_IMAGES=2 in the environment too
    url = f"{gateway.url}/v1/txt2img"
    body = {"prompt": "a cane chair", "seed": 3, "num_inference_steps": 2, "response_format": "b64_json"}
    key = {"Authorization": "Bearer key-from-dotenv"}

    # GATEWAY_API_KEYS from .env: a key is now required, and the one in the file works.
    assert httpx.post(url, json=body, timeout=60).status_code == 401
    assert httpx.post(url, json=body, headers={"Authorization": "Bearer other"}, timeout=60).status_code == 401
    assert httpx.post(url, json=body, headers=key, timeout=60).status_code == 200

    # GATEWAY_MAX_STEPS=5 from .env (the contract allows 150).
    too_many = httpx.post(url, json={**body, "num_inference_steps": 6}, headers=key, timeout=60)
    assert too_many.status_code == 400 and too_many.json()["error"]["param"] == "num_inference_steps"

    # GATEWAY_MAX_IMAGES is 1 in .env but 2 in the environment: the environment wins.
    two = httpx.post(url, json={**body, "num_images": 2}, headers=key, timeout=60)
    assert two.status_code == 200, two.text
    assert len(two.json()["images"]) == 2
    three = httpx.post(url, json={**body, "num_images": 3}, headers=key, timeout=60)
    assert three.status_code == 400 and three.json()["error"]["param"] == "num_images"

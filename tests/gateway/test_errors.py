"""How Triton's error messages become the gateway's HTTP errors."""

from __future__ import annotations

from gateway.errors import from_triton_message


def test_a_component_not_loaded_names_the_pipeline_and_the_component() -> None:
    error = from_triton_message("img2img failed: vae_encoder: Model vae_encoder - Error when running inference: "
                                "Failed for execute the inference request. Model 'vae_encoder' is not ready.")
    assert (error.status, error.code) == (503, "component_not_available")
    assert "img2img cannot run: its component model 'vae_encoder'" in error.message


def test_other_failures_are_a_bad_gateway() -> None:
    assert from_triton_message("txt2img failed: RuntimeError: boom").status == 502

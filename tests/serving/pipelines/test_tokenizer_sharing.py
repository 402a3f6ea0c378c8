"""Variants that ship the same tokenizer files share one tokenizer (loaded once per orchestrator process)."""

from __future__ import annotations

from export.tokenizer import offline_clip_tokenizer
from serving.pipelines.diffusion import load_tokenizer


def test_same_files_share_one_tokenizer_and_other_files_get_their_own(tmp_path):
    tokenizer = offline_clip_tokenizer()
    for variant in ("base", "lora"):
        tokenizer.save_pretrained(tmp_path / variant)
    tokenizer.model_max_length = 64  # another tokenizer_config.json
    tokenizer.save_pretrained(tmp_path / "other")

    base, lora, other = (load_tokenizer(tmp_path / name) for name in ("base", "lora", "other"))
    assert base is lora
    assert other is not base
    assert (base.model_max_length, other.model_max_length) == (77, 64)
    assert base("a red sofa").input_ids == other("a red sofa").input_ids

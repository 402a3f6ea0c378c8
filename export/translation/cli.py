"""`python -m export` options for the translator (issue 10): `--components translate` exports
`translator_encoder`, `translator_decoder` and the `translate` orchestrator from `--translator`."""

from __future__ import annotations

import argparse
import logging

from export.onnx_export import ParityReport
from export.translation.repository import DEFAULT_DECODER_QUEUE_DELAY_US, DEFAULT_INSTANCES, NETWORKS, export_translation
from export.translation.sources import TINY
from serving.translation.contracts import TRANSLATE

log = logging.getLogger(__name__)

TRANSLATION_MODELS = (TRANSLATE.name, *NETWORKS)


def add_translation_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("translation (translate: MarianMT, e.g. opus-mt-de-en)")
    group.add_argument("--translator", metavar="PRESET_OR_PATH", default=TINY,
                       help="MarianMT weights: `tiny` (random weights, tokenizer trained on the shipped texts) or a "
                            "Hugging Face id / save_pretrained directory, e.g. Helsinki-NLP/opus-mt-de-en")
    group.add_argument("--translate-instances", type=int, default=DEFAULT_INSTANCES, metavar="N",
                       help="Triton instances of translate (requests decoded at once)")
    group.add_argument("--translator-queue-delay-us", type=int, default=DEFAULT_DECODER_QUEUE_DELAY_US, metavar="US",
                       help="dynamic batcher delay of translator_decoder: how long a decoding step waits for steps "
                            "of other requests to share its execution")


def split_translation(components: list[str]) -> tuple[list[str], bool]:
    """(the other components, whether translation was asked for: any of translate and its two networks)."""
    return [name for name in components if name not in TRANSLATION_MODELS], any(
        name in TRANSLATION_MODELS for name in components)


def export_requested_translation(args: argparse.Namespace) -> list[ParityReport]:
    reports = export_translation(args.translator, args.output, args.runtime, args.translate_instances,
                                 args.translator_queue_delay_us)
    log.info("exported translate from %s (%s) to %s", args.translator, args.runtime, args.output)
    return reports

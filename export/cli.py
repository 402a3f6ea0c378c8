"""`python -m export`: build a pipeline's components, export them, check parity, write the repository."""

from __future__ import annotations

import argparse
import logging
import time
from dataclasses import replace
from pathlib import Path

from export.descriptors import DESCRIPTORS
from export.perception.cli import add_perception_arguments, export_requested_perception, split_perception
from export.translation.cli import add_translation_arguments, export_requested_translation, split_translation
from export.lora import LoraSpec, fuse_loras
from export.repository import descriptor_for, export_component, install_orchestrators, pipeline_settings_for, write_manifest, write_pipeline_assets
from export.sources import PRESETS, load_source, preset_controlnet, pretrained_controlnet
from serving.pipeline_settings import DEFAULT_VARIANT, component_model_name, controlnet_model_name
from export.triton_config import BatchingOptions
from serving.runners import DEVICES, PRECISIONS, RUNTIMES

log = logging.getLogger("export")

DEFAULT_COMPONENTS = ("text_encoder", "unet", "vae_decoder", "vae_encoder")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m export", description=__doc__)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--preset", choices=sorted(PRESETS), help="random-weight preset (default: tiny)")
    source.add_argument("--model", help="Hugging Face model id or local diffusers directory (from_pretrained)")
    parser.add_argument("--variant", default=DEFAULT_VARIANT,
                        help="name of this checkpoint in the repository (requests pick it with the `model` input; "
                             f"the first exported is the default; components of variants other than "
                             f"{DEFAULT_VARIANT!r} are named <variant>__<component>)")
    parser.add_argument("--lora", action="append", default=[], metavar="FILE[:SCALE]", type=LoraSpec.parse,
                        help="LoRA safetensors (diffusers or kohya format) fused into the UNet and text encoder; repeatable")
    parser.add_argument("--controlnet", action="append", default=[], metavar="KIND[=ID_OR_DIR]",
                        help="export controlnet_KIND (from_pretrained ID_OR_DIR, or the preset's random one) and "
                             "this variant's unet_controlnet; repeatable")
    parser.add_argument("--runtime", choices=RUNTIMES, default="onnxruntime")
    parser.add_argument("--device", choices=DEVICES, default="cpu",
                        help="where components and orchestrators run; cuda needs --runtime torch (GPU instances, "
                             "tensors passed through DLPack, CUDA graphs captured at load)")
    parser.add_argument("--precision", choices=PRECISIONS,
                        help="torch runtime precision (default: fp16 on cuda, fp32 on cpu)")
    parser.add_argument("--no-cuda-graphs", action="store_true", help="run CUDA components eagerly (for comparison)")
    parser.add_argument("--components", default=",".join(DEFAULT_COMPONENTS),
                        help=f"comma-separated subset of {sorted(DESCRIPTORS)}")
    parser.add_argument("--output", type=Path, default=Path("model_repository"))
    parser.add_argument("--max-image-size", type=int, default=1024, help="largest height/width txt2img accepts")
    parser.add_argument("--warmup-size", type=int, metavar="PX",
                        help="warm components up for PX x PX images (default: the model's native size)")
    parser.add_argument("--unet-queue-delay-us", type=int, default=0,
                        help="dynamic batcher delay for the UNet (0: batch only what is already queued)")
    parser.add_argument("--orchestrator-instances", action="append", default=[], metavar="NAME=N",
                        help="instances of a plain orchestrator (each is a process; default txt2img=4, img2img=2, "
                             "inpaint=2, workflows 1); repeatable")
    add_perception_arguments(parser)
    add_translation_arguments(parser)
    args = parser.parse_args(argv)
    if args.preset is None and args.model is None:
        args.preset = "tiny"
    components, args.translation = split_translation(args.components.split(","))
    components, args.perception = split_perception(components)
    unknown = set(components) - set(DESCRIPTORS) - {"controlnet"}
    if unknown:
        parser.error(f"unknown components {sorted(unknown)}; choose from {sorted(DESCRIPTORS)}")
    if args.controlnet and "unet_controlnet" not in components:
        components.append("unet_controlnet")
    args.components = [name for name in components if name != "controlnet"]
    args.controlnet = dict(_controlnet_arg(parser, text, args.preset) for text in args.controlnet)
    if args.device == "cuda" and args.runtime != "torch":
        parser.error("--device cuda needs --runtime torch (the pinned onnxruntime is the CPU build)")
    if args.precision is None:
        args.precision = "fp16" if args.device == "cuda" else "fp32"
    if args.precision == "fp16" and args.device != "cuda":
        parser.error("--precision fp16 needs --device cuda")
    try:
        args.orchestrator_instances = {name: int(count) for name, _, count in
                                       (text.partition("=") for text in args.orchestrator_instances)}
    except ValueError:
        parser.error("--orchestrator-instances takes NAME=N, e.g. img2img=1")
    return args


def _controlnet_arg(parser: argparse.ArgumentParser, text: str, preset: str | None) -> tuple[str, str | None]:
    kind, _, location = text.partition("=")
    if not kind.isidentifier():
        parser.error(f"--controlnet {text!r}: KIND must be a name such as depth or seg")
    if not location and preset is None:
        parser.error(f"--controlnet {kind}: give KIND=ID_OR_DIR with --model (random ControlNets come with presets)")
    return kind, location or None


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.translation:
        export_requested_translation(args)
    if args.perception:
        export_requested_perception(args)
    if not args.components and (args.perception or args.translation):
        if args.perception:  # perception only: no diffusion pipeline to build; workflows it completes
            install_orchestrators(args.output, args.orchestrator_instances, keep_existing=True)
        return
    started = time.perf_counter()
    source = fuse_loras(load_source(args.preset, args.model), args.lora)
    for kind, location in args.controlnet.items():
        source.controlnets[kind] = pretrained_controlnet(location) if location else preset_controlnet(args.preset, kind)
    args.output.mkdir(parents=True, exist_ok=True)
    # (descriptor, Triton model name, module): the variant's networks, then the shared ControlNets.
    jobs = [(name, component_model_name(args.variant, name), None) for name in args.components]
    jobs += [("controlnet", controlnet_model_name(kind), module) for kind, module in source.controlnets.items()]
    reports = []
    for name, model_name, module in jobs:
        delay = args.unet_queue_delay_us if name.startswith("unet") or name == "controlnet" else 0
        options = BatchingOptions(max_queue_delay_us=delay, device=args.device, precision=args.precision,
                                  cuda_graphs=not args.no_cuda_graphs)
        if args.warmup_size:
            descriptor = descriptor_for(name, source, module)
            options = replace(options, warmup_sizes=descriptor.sizes_for_image(
                args.warmup_size, args.warmup_size, source.vae_scale_factor))
        reports.append(export_component(source, name, args.output, args.runtime, options, model_name, module))
    settings = pipeline_settings_for(source, args.max_image_size, args.variant, args.components, args.device)
    controlnets = {kind: controlnet_model_name(kind) for kind in source.controlnets}
    write_pipeline_assets(source, args.output, settings, args.variant, controlnets)
    install_orchestrators(args.output, args.orchestrator_instances, device=args.device)
    write_manifest(args.output, source, args.runtime, reports, args.variant)
    log.info("exported %s as variant %r (%s) to %s in %.1f s", source.name, args.variant, args.runtime, args.output,
             time.perf_counter() - started)


if __name__ == "__main__":
    main()

"""Where the GPU time of one image goes: each SD1.5 network alone, per runner variant, timed with CUDA events.

    python -m benchmarks.gpu_components [--preset sd15] [--batches 2,8,16]

Variants of `serving.runners.TorchRunner` on the same fp16 module: eager (NCHW), eager channels_last,
and CUDA graph replay (the served path). The UNet at batch 2 (one request's CFG pair) x 30 steps plus
one VAE decode is the compute floor of a served 512 px image. Results: benchmarks/results/gpu-components-<gpu>.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
from pathlib import Path

log = logging.getLogger("benchmarks.gpu_components")
RESULTS_DIR = Path(__file__).resolve().parent / "results"


def time_ms(fn, repeats: int = 30, warmup: int = 5) -> float:
    """Median of `repeats` calls, each between two CUDA events (after `warmup` untimed calls)."""
    import torch

    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        samples.append(start.elapsed_time(end))
    return statistics.median(samples)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu_components", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="sd15")
    parser.add_argument("--batches", default="2,8,16", help="UNet batches (a request is a CFG pair: 2)")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    import torch

    from benchmarks import machine
    from benchmarks.report import device_label, write_json
    from export.repository import descriptor_for
    from export.sources import load_source
    from serving.runners import TorchRunner

    source = load_source(args.preset)
    rows = []
    plans = [("unet", [int(b) for b in args.batches.split(",")]), ("vae_decoder", [1]), ("text_encoder", [2])]
    for name, batches in plans:
        descriptor = descriptor_for(name, source)
        module = descriptor.wrap(source.module(descriptor.source_attribute))
        names = dict(output_names=tuple(s.name for s in descriptor.outputs),
                     input_names=tuple(s.name for s in descriptor.inputs))
        for label, channels_last, graphs in (("eager", False, False), ("eager channels_last", True, False),
                                             ("cuda graph", None, True)):
            runner = TorchRunner(module, device="cuda", precision="fp16", channels_last=channels_last, **names)
            if graphs:
                runner.capture_graphs(lambda batch: descriptor.sample_inputs(batch), batches)
            for batch in batches:
                inputs = {key: torch.from_numpy(value).cuda()
                          for key, value in descriptor.sample_inputs(batch, seed=batch).items()}
                ms = time_ms(lambda: runner.run_tensors(inputs))
                rows.append({"component": name, "variant": label, "batch": batch, "ms": ms,
                             "channels_last": runner.channels_last})
                log.info("%-12s %-20s batch %2d: %.2f ms", name, label, batch, ms)
            del runner
            torch.cuda.empty_cache()
        module.to("cpu")
    result = {"kind": "gpu_components", "preset": args.preset, "device": "cuda", "precision": "fp16", "rows": rows,
              "machine": machine.collect().to_dict(),
              "command": "python -m benchmarks.gpu_components " + " ".join(sys.argv[1:] if argv is None else argv)}
    path = write_json(result, args.output / f"gpu-components-{args.preset}-{device_label(result)}.json")
    print(json.dumps({"rows": rows, "file": str(path)}))


if __name__ == "__main__":
    main()

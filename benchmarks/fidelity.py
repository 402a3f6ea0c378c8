"""Fidelity of a served pipeline exported for CUDA against diffusers: same weights, seed, scheduler and steps.

    python -m benchmarks.fidelity --preset tiny --precision fp32     # served fp32 on the GPU vs diffusers fp32 on CPU

It exports the preset for CUDA at the given precision, serves it with a fresh tritonserver, and
compares each seed's image with diffusers run in-process on the reference device (CPU for fp32,
the GPU for fp16): max |pixel difference| and PSNR. Results: benchmarks/results/fidelity-<preset>-<precision>-<gpu>.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks import machine
from benchmarks.e2e import psnr
from benchmarks.report import device_label, write_json
from benchmarks.workloads import workload_for

log = logging.getLogger("benchmarks.fidelity")
RESULTS_DIR = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fidelity", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=("tiny", "sd15"), default="tiny")
    parser.add_argument("--precision", choices=("fp32", "fp16"), default="fp32")
    parser.add_argument("--seeds", default="7,8,9")
    parser.add_argument("--steps", type=int, help="denoising steps (default: the CUDA workload's)")
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/imagery-benchmarks"))
    parser.add_argument("--log-dir", type=Path, default=Path("logs/benchmarks"))
    parser.add_argument("--output", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from export.sources import load_source
    from serving.server import ServerPorts, TritonServer

    from benchmarks.targets import DiffusersTarget, TritonTarget

    workload = workload_for(args.preset, "cuda", steps=args.steps)
    reference_device = "cpu" if args.precision == "fp32" else "cuda"
    seeds = [int(seed) for seed in args.seeds.split(",")]
    requests = [{**workload.request(), "seed": seed} for seed in seeds]

    baseline = DiffusersTarget(load_source(args.preset), device=reference_device)
    session = baseline.open_session()
    references = [session(request) for request in requests]
    baseline.close()

    repository = args.work_dir / f"repo-fidelity-{args.preset}-{args.precision}"
    shutil.rmtree(repository, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "export", "--preset", args.preset, "--runtime", "torch", "--device", "cuda",
                    "--precision", args.precision, "--components", "text_encoder,unet,vae_decoder",
                    "--orchestrator-instances", "txt2img=1", "--output", str(repository)], check=True)
    args.log_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    with TritonServer(repository, ServerPorts.free(), log_file=args.log_dir / f"tritonserver-fidelity-{args.preset}.log") as server:
        target = TritonTarget(server.grpc_url, "torch")
        served = target.open_session()
        for seed, request, reference in zip(seeds, requests, references):
            started = time.perf_counter()
            images = served(request)
            rows.append({"seed": seed, "max_abs_diff": int(np.abs(images.astype(np.int16) - reference.astype(np.int16)).max()),
                         "psnr_db": psnr(images, reference), "served_s": time.perf_counter() - started})
            log.info("seed %d: max |diff| %d, PSNR %.1f dB", seed, rows[-1]["max_abs_diff"], rows[-1]["psnr_db"])
        target.close()
    shutil.rmtree(repository, ignore_errors=True)
    result = {"kind": "fidelity", "preset": args.preset, "device": "cuda", "precision": args.precision,
              "reference": f"diffusers {args.precision} on {reference_device}", "workload": workload.to_dict(),
              "seeds": rows, "machine": machine.collect().to_dict(),
              "command": "python -m benchmarks.fidelity " + " ".join(sys.argv[1:] if argv is None else argv)}
    path = write_json(result, args.output / f"fidelity-{args.preset}-{args.precision}-{device_label(result)}.json")
    print(json.dumps({"fidelity": rows, "file": str(path)}, default=str))


if __name__ == "__main__":
    main()

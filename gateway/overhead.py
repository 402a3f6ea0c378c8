"""The gateway's added latency over a direct Triton gRPC call (sequential, same server, same run).

    python -m gateway.overhead [--requests 50] [--steps 20] [--model-repository DIR] [--out result.json]

Without --model-repository the tiny preset is exported into a temporary directory first (in a
subprocess: this module, like the rest of the gateway, never imports torch). One tritonserver and
one gateway process are started; requests alternate between the direct gRPC client and the gateway's
POST /v1/txt2img (PNG response) with identical inputs, so drift affects both paths alike.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from clients.triton_client import TritonTxt2ImgClient
from gateway.launcher import GatewayProcess
from serving.server import ServerPorts, TritonServer, free_port

log = logging.getLogger("gateway.overhead")


def summary(samples_s: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in samples_s)
    return {"median_ms": statistics.median(ms), "p90_ms": ms[int(0.9 * (len(ms) - 1))], "mean_ms": statistics.fmean(ms),
            "min_ms": ms[0], "max_ms": ms[-1]}


def measure(triton_url: str, gateway_url: str, requests: int, steps: int, warmup: int = 5) -> dict:
    inputs = {"prompt": "a walnut sideboard, studio light", "seed": 7, "num_inference_steps": steps}
    direct_client = TritonTxt2ImgClient(triton_url)
    direct, through_gateway = [], []
    with httpx.Client(base_url=gateway_url, timeout=120) as http:
        for index in range(warmup + requests):
            started = time.perf_counter()
            result = direct_client.generate(**inputs)
            direct_s = time.perf_counter() - started

            started = time.perf_counter()
            response = http.post("/v1/txt2img", json=inputs)
            gateway_s = time.perf_counter() - started
            response.raise_for_status()
            if index >= warmup:
                direct.append(direct_s)
                through_gateway.append(gateway_s)
            elif index == 0:  # both paths give the same pixels (checked once)
                same = np.array_equal(np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB")), result.images[0])
                if not same:
                    raise RuntimeError("the gateway's image differs from the direct Triton result")
    direct_client.close()
    pair_deltas = [g - d for g, d in zip(through_gateway, direct)]
    return {
        "requests_each": requests, "steps": steps, "image": "128x128 (tiny preset)",
        "direct_grpc": summary(direct), "gateway_rest": summary(through_gateway),
        "added_median_ms": statistics.median(through_gateway) * 1000 - statistics.median(direct) * 1000,
        "added_median_of_pairs_ms": statistics.median(pair_deltas) * 1000,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m gateway.overhead", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--model-repository", type=Path, help="an exported repository (default: export tiny to a temp dir)")
    parser.add_argument("--out", type=Path, help="also write the result as JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    with tempfile.TemporaryDirectory(prefix="gateway-overhead-") as scratch:
        scratch = Path(scratch)
        repository = args.model_repository
        if repository is None:
            repository = scratch / "repo"
            subprocess.run([sys.executable, "-m", "export", "--preset", "tiny", "--output", str(repository)], check=True)
        with TritonServer(repository, ServerPorts.free(), log_file=scratch / "tritonserver.log") as server, \
                GatewayProcess(free_port(), {"GATEWAY_REPLICAS": server.grpc_url, "GATEWAY_IMAGE_DIR": str(scratch / "images")},
                               log_file=scratch / "gateway.log", inherit_settings=False) as gateway:
            load_before = os.getloadavg()[0]
            result = measure(server.grpc_url, gateway.url, args.requests, args.steps)
            # Other work on the machine shows up as noise in both paths; report it with the numbers.
            result["load_average_1min"] = {"before": load_before, "after": os.getloadavg()[0], "cpus": os.cpu_count()}
    result["command"] = "python -m gateway.overhead " + " ".join(argv if argv is not None else sys.argv[1:])
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    print(text)
    d, g = result["direct_grpc"], result["gateway_rest"]
    print(f"\n| path | median ms | p90 ms | mean ms |\n|---|---|---|---|\n"
          f"| Triton gRPC (direct) | {d['median_ms']:.1f} | {d['p90_ms']:.1f} | {d['mean_ms']:.1f} |\n"
          f"| gateway REST (/v1/txt2img, PNG) | {g['median_ms']:.1f} | {g['p90_ms']:.1f} | {g['mean_ms']:.1f} |\n"
          f"added by the gateway: {result['added_median_ms']:.1f} ms (difference of medians), "
          f"{result['added_median_of_pairs_ms']:.1f} ms (median of paired differences)")


if __name__ == "__main__":
    main()

"""A burst through the gateway: N image requests at concurrency C, counted by HTTP status.

What a new user sees when a burst lands on one tritonserver behind the gateway (issue 12): how many
answers are 200 and how many 429, the Retry-After values given, and the latencies. Starts its own
tritonserver on the given repository (exported tiny preset: `python -m export --preset tiny --components
text_encoder,unet,vae_decoder --output DIR`) and a gateway with default settings (plus any `--set NAME=VALUE`).

    .venv/bin/python -m benchmarks.burst --repository DIR --requests 48 --concurrency 12
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from gateway.launcher import GatewayProcess
from serving.server import ServerPorts, TritonServer, free_port

log = logging.getLogger(__name__)


def burst(url: str, requests: int, concurrency: int, body: dict) -> dict:
    """Sends `requests` POSTs to /v1/images/generations, `concurrency` at a time; returns the tally."""

    def one(index: int) -> tuple[int, str | None, float]:
        started = time.monotonic()
        response = httpx.post(f"{url}/v1/images/generations", json={**body, "seed": index}, timeout=600)
        return response.status_code, response.headers.get("retry-after"), time.monotonic() - started

    started = time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(one, range(requests)))
    wall_s = time.monotonic() - started
    statuses = collections.Counter(status for status, _, _ in results)
    latencies = sorted(seconds for status, _, seconds in results if status == 200)
    return {
        "requests": requests, "concurrency": concurrency, "body": body, "wall_s": round(wall_s, 2),
        "statuses": {str(status): count for status, count in sorted(statuses.items())},
        "retry_after": sorted({value for _, value, _ in results if value is not None}),
        "latency_200_s": {"min": round(latencies[0], 2), "p50": round(latencies[len(latencies) // 2], 2),
                          "max": round(latencies[-1], 2)} if latencies else None,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repository", type=Path, required=True, help="exported model repository (txt2img)")
    parser.add_argument("--requests", type=int, default=48)
    parser.add_argument("--concurrency", type=int, default=12)
    parser.add_argument("--prompt", default="a walnut sideboard")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a gateway setting (GATEWAY_NAME), e.g. --set queue_max_depth=0")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")

    logs = Path(tempfile.mkdtemp(prefix="burst-"))  # kept: the server's and the gateway's logs of the burst
    log.info("tritonserver and gateway logs in %s", logs)
    settings = dict(item.split("=", 1) for item in args.set)
    with TritonServer(args.repository, ServerPorts.free(), log_file=logs / "triton.log") as server:
        env = {"GATEWAY_REPLICAS": server.grpc_url, "GATEWAY_IMAGE_DIR": str(logs / "images"),
               **{f"GATEWAY_{name.upper()}": value for name, value in settings.items()}}
        gateway = GatewayProcess(free_port(), env, log_file=logs / "gateway.log", cwd=logs, inherit_settings=False)
        with gateway.start():
            deadline = time.monotonic() + 60
            while httpx.get(f"{gateway.url}/readyz").status_code != 200:
                if time.monotonic() > deadline:
                    raise SystemExit(f"gateway not ready; see {logs / 'gateway.log'}")
                time.sleep(0.2)
            httpx.post(f"{gateway.url}/v1/images/generations", json={"prompt": "warm-up"}, timeout=120)
            result = burst(gateway.url, args.requests, args.concurrency, {"prompt": args.prompt})
    result["settings"] = settings
    sys.stdout.write(json.dumps(result, indent=2) + "\n")  # the report is the program's output


if __name__ == "__main__":
    main()

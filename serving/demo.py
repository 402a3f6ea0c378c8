"""The README's first command: export the tiny preset, serve it, generate one image, stop.

`python -m serving.demo [--prompt ...] [--out out/txt2img.png]`
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from clients.cli import save_images
from clients.triton_client import TritonTxt2ImgClient
from export.cli import main as export_main
from serving.contracts import TXT2IMG_COMPONENTS
from serving.server import ServerPorts, TritonServer, load_only

log = logging.getLogger("demo")

# The demo's job is one txt2img image: the server loads txt2img and the components it calls, not the other
# orchestrators of the repository (each a process importing torch and diffusers at start). `make serve`
# serves the whole repository.
DEMO_MODELS = ("txt2img", *TXT2IMG_COMPONENTS)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m serving.demo", description=__doc__)
    parser.add_argument("--prompt", default="a velvet armchair in a sunlit scandinavian living room, product photo")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--out", type=Path, default=Path("out/txt2img.png"))
    parser.add_argument("--model-repository", type=Path, default=Path("model_repository"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    # One process per orchestrator: the demo sends one request, and each process imports torch at start.
    single = [arg for name in ("txt2img", "img2img", "inpaint") for arg in ("--orchestrator-instances", f"{name}=1")]
    export_main(["--preset", "tiny", "--output", str(args.model_repository), *single])
    with TritonServer(args.model_repository, ServerPorts.free(), log_file=Path("logs/demo-tritonserver.log"),
                      extra_args=load_only(DEMO_MODELS)) as server:
        client = TritonTxt2ImgClient(server.grpc_url)
        started = time.perf_counter()
        result = client.generate(args.prompt, seed=args.seed, num_inference_steps=args.steps)
        elapsed = time.perf_counter() - started
        client.close()
    paths = save_images(result.images, args.out)
    log.info("txt2img took %.2f s through Triton gRPC (tiny random-weight preset, %d steps, seed %d)",
             elapsed, args.steps, result.seed)
    print(f"image written to {paths[0].resolve()}")


if __name__ == "__main__":
    main()

"""`python -m serving`: serve the model repository with a local tritonserver until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path

from serving.server import ServerPorts, TritonServer

log = logging.getLogger("serving")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m serving", description=__doc__)
    parser.add_argument("--model-repository", type=Path, default=Path("model_repository"))
    parser.add_argument("--http-port", type=int, default=8000)
    parser.add_argument("--grpc-port", type=int, default=8001)
    parser.add_argument("--metrics-port", type=int, default=8002)
    parser.add_argument("--log-file", type=Path, default=Path("logs/tritonserver.log"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    server = TritonServer(args.model_repository, ServerPorts(args.http_port, args.grpc_port, args.metrics_port),
                          log_file=args.log_file)
    with server:
        log.info("serving %s: gRPC %s, HTTP %s (Ctrl-C to stop)", args.model_repository, server.grpc_url, server.http_url)
        while not stop.is_set():
            if not server.running:
                raise SystemExit(f"tritonserver exited unexpectedly; see {args.log_file}")
            stop.wait(1.0)
    log.info("stopped")


if __name__ == "__main__":
    main()

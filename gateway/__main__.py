"""`python -m gateway`: serve the REST gateway.

    python -m gateway --replicas 10.0.0.5:8001,10.0.0.6:8001   # in front of running Triton replicas
    python -m gateway --replicas dns:triton-headless:8001      # every address behind a DNS name, re-resolved
    python -m gateway --with-triton                            # also start a local tritonserver on model_repository/

Every setting is also an environment variable GATEWAY_<NAME> (see gateway/settings.py).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
from pathlib import Path

import uvicorn

from gateway.app import create_app
from gateway.settings import GatewaySettings

log = logging.getLogger("gateway")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m gateway", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--replicas", help="comma-separated Triton gRPC host:port or dns:name:port entries "
                                          "(default: GATEWAY_REPLICAS)")
    local = parser.add_argument_group("local tritonserver (--with-triton)")
    local.add_argument("--with-triton", action="store_true", help="start tritonserver and serve it")
    local.add_argument("--model-repository", type=Path, default=Path("model_repository"))
    local.add_argument("--triton-grpc-port", type=int, default=8001)
    local.add_argument("--triton-http-port", type=int, default=8000)
    local.add_argument("--triton-metrics-port", type=int, default=8002)
    local.add_argument("--triton-log-file", type=Path, default=Path("logs/tritonserver.log"))
    return parser.parse_args(argv)


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal with the previous handler
    # in place; this one turns it into SystemExit, so the `with` below still stops tritonserver.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    signal.signal(signal.SIGINT, _exit_on_signal)
    overrides: dict = {}
    if args.replicas:
        overrides["replicas"] = args.replicas
    with contextlib.ExitStack() as stack:
        if args.with_triton:
            # Imported here: the gateway alone needs no tritonserver installation.
            from serving.server import ServerPorts, TritonServer

            server = stack.enter_context(TritonServer(
                args.model_repository,
                ServerPorts(args.triton_http_port, args.triton_grpc_port, args.triton_metrics_port),
                log_file=args.triton_log_file,
            ))
            overrides["replicas"] = server.grpc_url
            log.info("tritonserver up: gRPC %s, HTTP %s (log %s)", server.grpc_url, server.http_url,
                     args.triton_log_file)
        settings = GatewaySettings(**overrides)
        log.info("gateway on http://%s:%d (docs at /docs), replicas %s", args.host, args.port, settings.replicas)
        uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="info",
                    timeout_graceful_shutdown=10)


if __name__ == "__main__":
    main()

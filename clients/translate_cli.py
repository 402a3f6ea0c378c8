"""`python -m clients translate "TEXT" ...`: translations from the served `translate` model, one line each.

    python -m clients translate "Damen-Bluse aus 100 % Viskose." "Farbe: Blau." --num-beams 4
"""

from __future__ import annotations

import argparse
import logging
import time

from clients.translate_client import TranslateClient
from clients.triton_client import TritonInferenceError

log = logging.getLogger("clients")

COMMAND = "translate"


def add_translate_command(commands) -> None:
    parser = commands.add_parser(COMMAND, help="translate texts (MarianMT, e.g. German -> English) through Triton")
    parser.add_argument("texts", nargs="+", metavar="TEXT", help="texts to translate (one request)")
    parser.add_argument("--url", default="127.0.0.1:8001", help="Triton gRPC (host:8001) or HTTP (host:8000) address")
    parser.add_argument("--protocol", choices=("grpc", "http"), default="grpc")
    parser.add_argument("--num-beams", type=int, help="1 (greedy)..8 (default: the model's generation config)")
    parser.add_argument("--max-new-tokens", type=int, help="tokens per sentence at most (default: the model's)")


def run_translate(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    client = TranslateClient(args.url, args.protocol)
    started = time.perf_counter()
    try:
        translations = client.translate(args.texts, num_beams=args.num_beams, max_new_tokens=args.max_new_tokens)
    except TritonInferenceError as error:
        log.error("translate failed: %s", error)
        return 2
    finally:
        client.close()
    for translation in translations:
        print(translation)  # the command's output: one translation per line, in order
    log.info("%d text(s) translated in %.2f s", len(translations), time.perf_counter() - started)
    return 0

"""Translation benchmark: `translate` served by Triton against `MarianMTModel.generate` in-process on the same
weights, in the same run: latency per sentence (one request at a time, served and in-process alternating) and
throughput at concurrency 4 (four client threads, each translating one sentence per request; in-process: four
threads calling generate on the shared model), greedy and beam search.

    python -m benchmarks.translate --preset tiny        # ~2 min on 2 cores

The served side's decoder sharing is read from Triton's statistics around the concurrent phase
(translator_decoder requests vs executions). Writes benchmarks/results/translate-<preset>-cpu.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

import numpy as np

from benchmarks.stats import ModelStats
from clients.translate_client import TranslateClient
from export.translation.repository import DEFAULT_DECODER_QUEUE_DELAY_US
from serving.server import ServerPorts, TritonServer

log = logging.getLogger("benchmarks.translate")

RESULTS = Path(__file__).resolve().parent / "results"
CONCURRENCY = 4
MODELS = ("translate", "translator_encoder", "translator_decoder")


def sentences(source, count: int) -> list[str]:
    """German sentences of the shipped article texts that fit the model's source length."""
    from export.translation.sources import corpus

    found = [s for text in corpus("de") for s in re.split(r"(?<=[.!?;:])\s+", text) if len(s) > 12]
    fitting = [s for s in found if len(source.tokenizer(s)["input_ids"]) <= source.tokenizer.model_max_length]
    return fitting[:count]


def in_process(source, num_beams: int, max_new_tokens: int) -> Callable[[str], str]:
    import torch

    def translate(text: str) -> str:
        batch = source.tokenizer([text], return_tensors="pt")
        with torch.inference_mode():
            ids = source.model.generate(**batch, num_beams=num_beams, max_new_tokens=max_new_tokens)
        return source.tokenizer.batch_decode(ids, skip_special_tokens=True)[0]

    return translate


def latency(texts: list[str], served: Callable[[str], str], local: Callable[[str], str]) -> dict[str, Any]:
    """One sentence per request, one at a time, served and in-process alternating; checks they agree."""
    served_ms, local_ms, mismatches = [], [], 0
    for text in texts:
        timings = []
        outputs = []
        for call in (served, local):
            started = time.perf_counter()
            outputs.append(call(text))
            timings.append((time.perf_counter() - started) * 1000)
        served_ms.append(timings[0])
        local_ms.append(timings[1])
        mismatches += outputs[0] != outputs[1]
    return {"served_ms": served_ms, "in_process_ms": local_ms, "p50_served_ms": float(np.median(served_ms)),
            "p50_in_process_ms": float(np.median(local_ms)), "mean_served_ms": float(np.mean(served_ms)),
            "mean_in_process_ms": float(np.mean(local_ms)), "mismatches": mismatches}


def throughput(texts: list[str], make_call: Callable[[], Callable[[str], str]]) -> float:
    """Sentences per second with CONCURRENCY threads, each translating its share one sentence at a time."""
    shares = [texts[i::CONCURRENCY] for i in range(CONCURRENCY)]
    barrier = threading.Barrier(CONCURRENCY + 1)

    def worker(share: list[str]) -> None:
        call = make_call()
        barrier.wait()
        for text in share:
            call(text)

    with ThreadPoolExecutor(CONCURRENCY) as pool:
        futures = [pool.submit(worker, share) for share in shares]
        barrier.wait()
        started = time.perf_counter()
        for future in futures:
            future.result()
    return len(texts) / (time.perf_counter() - started)


def run(preset: str, count: int, max_new_tokens: int, beams: list[int], queue_delay_us: int,
        workdir: Path) -> dict[str, Any]:
    from export.translation.repository import export_translation
    from export.translation.sources import load_translation_source

    repository = workdir / "repo"
    export_translation(preset, repository, "onnxruntime", instances=CONCURRENCY, decoder_queue_delay_us=queue_delay_us)
    source = load_translation_source(preset)
    texts = sentences(source, count)
    results: dict[str, Any] = {"sentences": len(texts), "max_new_tokens": max_new_tokens,
                               "decoder_queue_delay_us": queue_delay_us, "modes": {}}
    with TritonServer(repository, ServerPorts.free(), log_file=workdir / "tritonserver.log") as server:
        stats_client = TranslateClient(server.grpc_url)
        for num_beams in beams:
            client = TranslateClient(server.grpc_url)
            served = lambda text: client.translate([text], num_beams=num_beams, max_new_tokens=max_new_tokens)[0]  # noqa: E731
            local = in_process(source, num_beams, max_new_tokens)
            served(texts[0]), local(texts[0])  # warm-up
            mode = latency(texts, served, local)

            def served_caller() -> Callable[[str], str]:
                own = TranslateClient(server.grpc_url)
                return lambda text: own.translate([text], num_beams=num_beams, max_new_tokens=max_new_tokens)[0]

            before = {m: ModelStats.from_triton(stats_client.model_statistics(m)) for m in MODELS}
            mode["served_per_s_c4"] = throughput(texts, served_caller)
            time.sleep(0.5)  # Triton counts a request after its response
            decoder = ModelStats.from_triton(stats_client.model_statistics("translator_decoder")) - before[
                "translator_decoder"]
            mode["in_process_per_s_c4"] = throughput(texts, lambda: local)
            mode["decoder_requests_c4"] = decoder.requests
            mode["decoder_executions_c4"] = decoder.executions
            client.close()
            results["modes"][f"num_beams={num_beams}"] = mode
            log.info("num_beams=%d: %s", num_beams, {k: v for k, v in mode.items() if not k.endswith("_ms")})
        stats_client.close()
    return results


def markdown(preset: str, results: dict[str, Any], command: str) -> str:
    load = os.getloadavg()
    lines = [f"Produced by `{command}` ({results['sentences']} German sentences of catalog/data, one per request, "
             f"max_new_tokens {results['max_new_tokens']}; MarianMT preset {preset}, onnxruntime components, "
             f"translate with {CONCURRENCY} instances, translator_decoder queue delay "
             f"{results['decoder_queue_delay_us']} us). Served over gRPC vs `MarianMTModel.generate` in-process on "
             f"the same weights; load average at the end {load[0]:.1f}.", "",
             "| search | in-process p50 ms/sentence | served p50 ms/sentence | in-process sentences/s at c=4 "
             "| served sentences/s at c=4 | decoder requests / executions at c=4 | outputs differing |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, m in results["modes"].items():
        lines.append(f"| {name} | {m['p50_in_process_ms']:.1f} | {m['p50_served_ms']:.1f} | "
                     f"{m['in_process_per_s_c4']:.1f} | {m['served_per_s_c4']:.1f} | "
                     f"{m['decoder_requests_c4']} / {m['decoder_executions_c4']} | {m['mismatches']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.translate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="tiny", help="tiny, or a MarianMT id / save_pretrained directory")
    parser.add_argument("--sentences", type=int, default=24)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--beams", default="1,4", help="comma-separated num_beams to measure")
    parser.add_argument("--decoder-queue-delay-us", type=int, default=DEFAULT_DECODER_QUEUE_DELAY_US,
                        help="translator_decoder's dynamic batcher delay (python -m export's default)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    beams = [int(b) for b in args.beams.split(",") if b]
    with tempfile.TemporaryDirectory(prefix="bench-translate-") as workdir:
        results = run(args.preset, args.sentences, args.max_new_tokens, beams, args.decoder_queue_delay_us,
                      Path(workdir))
    command = "python -m benchmarks.translate " + " ".join(argv if argv is not None else sys.argv[1:])
    args.output.mkdir(parents=True, exist_ok=True)
    stem = args.output / f"translate-{Path(args.preset).name}-cpu"
    stem.with_suffix(".json").write_text(json.dumps({"command": command.strip(), "preset": args.preset,
                                                     "results": results}, indent=2))
    stem.with_suffix(".md").write_text(markdown(args.preset, results, command.strip()))
    print(stem.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()

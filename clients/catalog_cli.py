"""`python -m clients catalog articles.xlsx --out out/catalog`: a catalog job through Triton, with a progress bar.

The job is kept in `<out>/catalog.sqlite`: run the same command again after an interruption (Ctrl-C, a
kill, a crash) and it resumes where it stopped; no finished article is done again. `--restart` starts over.
A file that cannot be read as a whole (format, size, missing column, encrypted XLSX) exits with status 2
and the reason; row problems are recorded in that article's JSON and the job goes on.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from catalog.backend import TritonBackend
from catalog.job_options import JobOptions
from catalog.job_runner import make_runner, submit
from catalog.job_store import JobStore
from catalog.prompts import TemplateError
from catalog.settings import CatalogSettings
from catalog.sheet import SheetError

log = logging.getLogger("clients")

COMMAND = "catalog"
DATABASE = "catalog.sqlite"
# CLI flag dest -> JobOptions field, where they differ
_OPTION_FLAGS = ("id_column", "text_column", "model", "num_inference_steps", "guidance_scale", "height", "width",
                 "scheduler", "seed", "threshold", "max_retries", "num_beams", "max_new_tokens")


def add_catalog_command(commands) -> None:
    parser = commands.add_parser(COMMAND, help="catalog job: German article sheet -> scored product images",
                                 description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", type=Path, help="article sheet: .xlsx, .csv or a .json list")
    parser.add_argument("--out", type=Path, default=Path("out/catalog"), help="output folder (and the job database)")
    parser.add_argument("--url", default="127.0.0.1:8001", help="Triton gRPC (host:8001) or HTTP (host:8000)")
    parser.add_argument("--protocol", choices=("grpc", "http"), default="grpc")
    parser.add_argument("--triton-model", default="txt2img", help="generation model to call (default: txt2img)")
    parser.add_argument("--translate-model", help="translation model (default: CATALOG_TRANSLATE_MODEL, translate)")
    parser.add_argument("--id-column", help="column (or JSON key) of the article id")
    parser.add_argument("--text-column", help="column (or JSON key) of the German description")
    parser.add_argument("--model", help="exported model variant, e.g. a LoRA-fused one")
    parser.add_argument("--steps", dest="num_inference_steps", type=int)
    parser.add_argument("--guidance-scale", type=float)
    parser.add_argument("--height", type=int)
    parser.add_argument("--width", type=int)
    parser.add_argument("--scheduler")
    parser.add_argument("--seed", type=int, help="base seed (item i, attempt a: seed + 1000 i + a); default 0")
    parser.add_argument("--threshold", type=float, help="CLIP score an image must reach (default 30)")
    parser.add_argument("--max-retries", type=int, help="regenerations below the threshold (default 2)")
    parser.add_argument("--no-translate", dest="translate", action="store_false",
                        help="the descriptions are English already")
    parser.add_argument("--num-beams", type=int)
    parser.add_argument("--max-new-tokens", type=int)
    parser.add_argument("--restart", action="store_true", help="start a new job even if one is unfinished in --out")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")


def _options(args: argparse.Namespace, parser: argparse.ArgumentParser) -> JobOptions:
    from pydantic import ValidationError

    values = {name: getattr(args, name) for name in _OPTION_FLAGS if getattr(args, name) is not None}
    try:
        return JobOptions(translate=args.translate, **values)
    except ValidationError as error:
        parser.error("; ".join(f"--{'-'.join(map(str, e['loc'])).replace('_', '-')}: {e['msg']}"
                               for e in error.errors()))


def run_catalog(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    settings = CatalogSettings()
    options = _options(args, parser)
    store = JobStore(args.out / DATABASE)
    unfinished = [job for job in store.jobs() if job.input_name == args.input.name]
    if unfinished and not args.restart:
        job = unfinished[-1]
        log.info("resuming job %s (%s) in %s", job.id, job.input_name, args.out)
    else:
        for stale in unfinished:  # --restart: the unfinished job is abandoned, not resumed later
            store.set_state(stale.id, "cancelled", only_if=("queued", "running"))
        try:
            job = submit(store, args.input, args.out, options, settings.max_file_bytes)
        except SheetError as error:
            log.error("%s", error)
            return 2
        log.info("job %s: %d articles from %s into %s", job.id, store.counts(job.id).total, args.input, args.out)
    backend = TritonBackend(args.url, args.protocol, args.triton_model,
                            args.translate_model or settings.translate_model)
    try:
        runner = make_runner(store, backend, settings)
    except TemplateError as error:
        log.error("%s", error)
        return 2
    counts = store.counts(job.id)
    bar = None
    if args.progress:
        from tqdm import tqdm

        bar = tqdm(total=counts.total, initial=counts.finished, unit="item", desc=f"catalog {job.id}")

    def on_item(counts, record) -> None:
        if bar is not None:
            bar.update(counts.finished - bar.n)
            bar.set_postfix(passed=counts.passed, errors=counts.failed, score=record["score"])

    try:
        state = runner.run(job.id, on_item)
    finally:
        if bar is not None:
            bar.close()
        backend.close()
    counts = store.counts(job.id)
    log.info("job %s %s: %d of %d articles, %d passed, %d row errors; %s", job.id, state, counts.finished,
             counts.total, counts.passed, counts.failed, args.out / "summary.md")
    return 0 if state == "done" else 1

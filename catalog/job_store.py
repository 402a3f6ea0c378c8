"""Catalog jobs persisted in SQLite: the job, its options and one row per article with its state.

An item is `pending` until its files are written and it is marked `done` or `failed` in one transaction;
a worker killed mid-item leaves it `pending`, so a restart redoes only that one. `runs` counts how often an
item was started and `completions` how often it was finished (the kill/resume tests read both).
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from catalog.job_options import JobOptions
from catalog.rows import ArticleRow

ACTIVE = ("queued", "running")
FINAL = ("done", "cancelled", "failed")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, state TEXT NOT NULL, input_name TEXT NOT NULL, out_dir TEXT NOT NULL,
    options TEXT NOT NULL, created REAL NOT NULL, finished REAL, elapsed_s REAL NOT NULL DEFAULT 0,
    error TEXT);
CREATE TABLE IF NOT EXISTS items (
    job_id TEXT NOT NULL, idx INTEGER NOT NULL, article_id TEXT NOT NULL, stem TEXT NOT NULL, text TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending', score REAL, passed INTEGER, error TEXT, seconds REAL,
    finished REAL, runs INTEGER NOT NULL DEFAULT 0, completions INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, idx));
"""


@dataclass(frozen=True)
class Job:
    id: str
    state: str
    input_name: str
    out_dir: Path
    options: JobOptions
    created: float
    finished: float | None
    elapsed_s: float
    error: str | None


@dataclass(frozen=True)
class Item:
    job_id: str
    index: int
    article_id: str
    stem: str  # file name stem of <stem>.png / <stem>.json (the id made safe and unique)
    text: object
    state: str


@dataclass(frozen=True)
class Counts:
    total: int
    done: int
    failed: int
    pending: int
    passed: int
    seconds: float  # processing time of the finished items

    @property
    def finished(self) -> int:
        return self.done + self.failed


def _stems(rows: list[ArticleRow]) -> list[str]:
    safe = ["".join(c if c.isalnum() or c in "-_." else "_" for c in row.article_id).strip(".") or "item"
            for row in rows]
    seen: dict[str, int] = {}
    stems = []
    for stem in safe:
        seen[stem] = seen.get(stem, 0) + 1
        stems.append(stem if seen[stem] == 1 else f"{stem}-{seen[stem]}")
    return stems


class JobStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.executescript(_SCHEMA)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        """One connection per operation: the worker thread and the request handlers share the file."""
        with closing(sqlite3.connect(self.path, timeout=30)) as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.row_factory = sqlite3.Row
            with db:  # one transaction
                yield db

    @staticmethod
    def new_id() -> str:
        return uuid.uuid4().hex[:12]

    def create(self, input_name: str, out_dir: Path, options: JobOptions, rows: list[ArticleRow],
               job_id: str | None = None) -> Job:
        job_id = job_id or self.new_id()
        with self._db() as db:
            db.execute("INSERT INTO jobs (id, state, input_name, out_dir, options, created) VALUES (?, 'queued', ?, ?, ?, ?)",
                       (job_id, input_name, str(out_dir), options.model_dump_json(), time.time()))
            db.executemany("INSERT INTO items (job_id, idx, article_id, stem, text) VALUES (?, ?, ?, ?, ?)",
                           [(job_id, index, row.article_id, stem, json.dumps(row.text, default=str))
                            for index, (row, stem) in enumerate(zip(rows, _stems(rows)))])
        return self.job(job_id)

    def job(self, job_id: str) -> Job | None:
        with self._db() as db:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            return None
        return Job(row["id"], row["state"], row["input_name"], Path(row["out_dir"]),
                   JobOptions.model_validate_json(row["options"]), row["created"], row["finished"],
                   row["elapsed_s"], row["error"])

    def jobs(self, states: tuple[str, ...] = ACTIVE) -> list[Job]:
        with self._db() as db:
            ids = [r["id"] for r in db.execute(
                f"SELECT id FROM jobs WHERE state IN ({','.join('?' * len(states))}) ORDER BY created", states)]
        return [job for job in map(self.job, ids) if job is not None]

    def set_state(self, job_id: str, state: str, error: str | None = None, only_if: tuple[str, ...] = ()) -> bool:
        """Sets the state (and `finished` for a final one); with `only_if`, only from those states."""
        condition = f" AND state IN ({','.join('?' * len(only_if))})" if only_if else ""
        with self._db() as db:
            cursor = db.execute(f"UPDATE jobs SET state = ?, error = COALESCE(?, error), finished = ? WHERE id = ?"
                                f"{condition}", (state, error, time.time() if state in FINAL else None, job_id,
                                                 *only_if))
        return cursor.rowcount == 1

    def pending_items(self, job_id: str) -> list[Item]:
        with self._db() as db:
            rows = db.execute("SELECT * FROM items WHERE job_id = ? AND state = 'pending' ORDER BY idx",
                              (job_id,)).fetchall()
        return [Item(r["job_id"], r["idx"], r["article_id"], r["stem"], json.loads(r["text"]), r["state"])
                for r in rows]

    def item_started(self, item: Item) -> None:
        with self._db() as db:
            db.execute("UPDATE items SET runs = runs + 1 WHERE job_id = ? AND idx = ?", (item.job_id, item.index))

    def item_finished(self, item: Item, ok: bool, score: float | None, passed: bool | None, error: str | None,
                      seconds: float) -> None:
        with self._db() as db:
            cursor = db.execute("UPDATE items SET state = ?, score = ?, passed = ?, error = ?, seconds = ?, finished = ?, "
                       "completions = completions + 1 WHERE job_id = ? AND idx = ? AND state = 'pending'",
                       ("done" if ok else "failed", score, None if passed is None else int(passed), error, seconds,
                        time.time(), item.job_id, item.index))
            if cursor.rowcount:
                db.execute("UPDATE jobs SET elapsed_s = elapsed_s + ? WHERE id = ?", (seconds, item.job_id))

    def counts(self, job_id: str) -> Counts:
        with self._db() as db:
            r = db.execute("SELECT COUNT(*) AS total, SUM(state = 'done') AS done, SUM(state = 'failed') AS failed, "
                           "SUM(state = 'pending') AS pending, SUM(passed = 1) AS passed, "
                           "SUM(COALESCE(seconds, 0)) AS seconds FROM items WHERE job_id = ?", (job_id,)).fetchone()
        return Counts(r["total"], r["done"] or 0, r["failed"] or 0, r["pending"] or 0, r["passed"] or 0,
                      r["seconds"] or 0.0)

    def finished_items(self, job_id: str, after: float = 0.0) -> list[dict]:
        """Items finished after `after` (a `finished` time), in the order they finished."""
        with self._db() as db:
            rows = db.execute("SELECT idx, article_id, stem, state, score, passed, error, seconds, finished "
                              "FROM items WHERE job_id = ? AND state != 'pending' AND finished > ? ORDER BY finished",
                              (job_id, after)).fetchall()
        return [dict(r) for r in rows]

    def run_counts(self, job_id: str) -> dict[str, tuple[int, int]]:
        """article stem -> (runs, completions)."""
        with self._db() as db:
            rows = db.execute("SELECT stem, runs, completions FROM items WHERE job_id = ?", (job_id,)).fetchall()
        return {r["stem"]: (r["runs"], r["completions"]) for r in rows}

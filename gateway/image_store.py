"""Generated images kept for `url` responses: unguessable ids, one directory, an expiry.

Ids are 256-bit random tokens; a lookup accepts only an id of exactly that form and then checks the
resolved path is a direct child of the store directory, so nothing outside it can ever be read.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import tempfile
import time
from pathlib import Path

log = logging.getLogger(__name__)

_ID = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)
SUFFIX = ".png"


class ImageStoreUnwritable(Exception):
    """An image could not be written (directory gone or read-only, disk full)."""


class ImageStore:
    def __init__(self, directory: Path, ttl_s: float) -> None:
        self.directory = Path(directory).resolve()
        self.ttl_s = ttl_s
        self.directory.mkdir(parents=True, exist_ok=True)

    def save(self, png: bytes) -> str:
        image_id = secrets.token_urlsafe(32)
        temporary = None
        try:
            # Write then rename, so a reader never sees a half-written file.
            fd, temporary = tempfile.mkstemp(dir=self.directory, suffix=".part")
            with os.fdopen(fd, "wb") as handle:
                handle.write(png)
            os.replace(temporary, self.directory / f"{image_id}{SUFFIX}")
        except OSError as error:
            if temporary is not None:
                Path(temporary).unlink(missing_ok=True)
            log.error("image store %s: cannot write an image: %s", self.directory, error)
            raise ImageStoreUnwritable(f"{error.strerror or error} ({self.directory})") from error
        return image_id

    def path_for(self, image_id: str) -> Path | None:
        """The file for a live id, or None (malformed, unknown, expired or outside the directory)."""
        if not _ID.fullmatch(image_id):
            return None
        path = (self.directory / f"{image_id}{SUFFIX}").resolve()
        if path.parent != self.directory or not path.is_file():
            return None
        if self._expired(path, time.time()):
            path.unlink(missing_ok=True)
            return None
        return path

    def purge_expired(self) -> int:
        now, removed = time.time(), 0
        for path in self.directory.glob(f"*{SUFFIX}"):
            if self._expired(path, now):
                path.unlink(missing_ok=True)
                removed += 1
        if removed:
            log.info("removed %d expired images from %s", removed, self.directory)
        return removed

    def _expired(self, path: Path, now: float) -> bool:
        try:
            return now - path.stat().st_mtime > self.ttl_s
        except FileNotFoundError:
            return True

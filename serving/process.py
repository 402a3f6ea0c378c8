"""A child service process: started with its output in a log file, ready when it answers its health
check, stopped with SIGTERM, and never left running when its launcher dies."""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import ClassVar

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


def _stop_with_parent() -> None:
    """Runs in the child before exec: the kernel sends SIGTERM to the service if its launcher dies
    (a killed test run or demo must not leave a server holding ports and memory)."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class ManagedProcess:
    """Mixin for dataclasses that define `log_file`, `command()` and `is_ready()`."""

    service_name: ClassVar[str] = "service"
    poll_interval_s: ClassVar[float] = 0.5
    stop_timeout_s: ClassVar[float] = 30.0
    start_timeout_s: ClassVar[float] = 60.0
    log_file: Path
    _process: subprocess.Popen | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def is_ready(self) -> bool:
        raise NotImplementedError

    def environment(self) -> dict[str, str] | None:
        return None  # inherit this process's environment

    def working_directory(self) -> Path | None:
        return None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout_s: float | None = None):
        """Starts the process and returns self once it is ready."""
        self.spawn()
        self.wait_ready(self.start_timeout_s if timeout_s is None else timeout_s)
        return self

    def spawn(self) -> None:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as handle:
            self._process = subprocess.Popen(
                self.command(), stdout=handle, stderr=subprocess.STDOUT, env=self.environment(),
                cwd=self.working_directory(), start_new_session=True, preexec_fn=_stop_with_parent,
            )

    def wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                code = self._process.returncode
                self.stop()  # tidies up after it (after_exit)
                raise RuntimeError(
                    f"{self.service_name} exited with code {code} during start-up; last log lines:\n{self.tail_log()}"
                )
            if self.is_ready():
                log.info("%s ready (pid %d)", self.service_name, self.pid)
                return
            time.sleep(self.poll_interval_s)
        self.stop()
        raise TimeoutError(f"{self.service_name} not ready after {timeout_s:.0f} s; log tail:\n{self.tail_log()}")

    def tail_log(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    def stop(self, timeout_s: float | None = None) -> None:
        """SIGTERM, then SIGKILL after `timeout_s`; also tidies up after a service that had already exited."""
        timeout_s = self.stop_timeout_s if timeout_s is None else timeout_s
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            log.info("stopping %s (pid %d)", self.service_name, process.pid)
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in %.0f s; killing it", self.service_name, timeout_s)
                process.kill()
                process.wait()
        self.after_exit()

    def kill(self) -> None:
        """Kills the service and its children at once (simulates a crash)."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        self.after_exit()

    def after_exit(self) -> None:
        """Removes what the service leaves behind when it did not shut down cleanly (nothing by default)."""

    def __enter__(self):
        return self.start() if self._process is None else self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

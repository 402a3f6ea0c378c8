"""The serving command: starts on 127.0.0.1, reports failures clearly, stops cleanly on SIGTERM."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from serving.server import SHM_DIR, ServerPorts, TritonServer


@pytest.fixture(scope="module")
def small_repository(tiny_repository, tmp_path_factory):
    """One component of the tiny repository: the launcher's lifecycle does not depend on what it serves,
    and a start without the orchestrators' torch imports keeps these tests short."""
    repository = tmp_path_factory.mktemp("repo-small")
    shutil.copytree(tiny_repository / "text_encoder", repository / "text_encoder")
    return repository


def test_missing_repository_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m export"):
        TritonServer(tmp_path / "nowhere", ServerPorts.free()).start()


def test_broken_model_fails_start_with_log_tail(tiny_repository, tmp_path):
    broken = tmp_path / "repo"
    shutil.copytree(tiny_repository / "txt2img", broken / "txt2img")
    # txt2img without its components or assets cannot initialise.
    shutil.rmtree(broken / "txt2img" / "1" / "assets")
    config = broken / "txt2img" / "config.pbtxt"  # one instance fails as well as four, in a quarter of the time
    config.write_text(config.read_text().replace("instance_group {\n  count: 4\n", "instance_group {\n  count: 1\n"))
    server = TritonServer(broken, ServerPorts.free(), log_file=tmp_path / "server.log")
    with pytest.raises(RuntimeError, match="exited with code"):
        server.start(timeout_s=120)


def test_serving_command_stops_cleanly_on_sigterm(small_repository, tmp_path):
    ports = ServerPorts.free()
    log_file = tmp_path / "server.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "serving", "--model-repository", str(small_repository), "--http-port", str(ports.http),
         "--grpc-port", str(ports.grpc), "--metrics-port", str(ports.metrics), "--log-file", str(log_file)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    url = f"http://127.0.0.1:{ports.http}/v2/health/ready"
    deadline = time.monotonic() + 180
    ready = False
    while time.monotonic() < deadline and not ready:
        try:
            ready = urllib.request.urlopen(url, timeout=1).status == 200
        except OSError:
            time.sleep(0.5)
    assert ready, log_file.read_text()
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    assert "stopped" in output
    with pytest.raises(OSError):
        urllib.request.urlopen(url, timeout=1)


def test_a_killed_server_leaves_no_shared_memory_behind(small_repository, tmp_path):
    """SIGKILL gives the stubs no chance to unlink their regions; the launcher removes them (they are RAM)."""
    server = TritonServer(small_repository, ServerPorts.free(), log_file=tmp_path / "log")
    with server:
        assert list(SHM_DIR.glob(f"{server.shm_prefix}*")), "the stub's region is not under the server's prefix"
        server.kill()
    assert list(SHM_DIR.glob(f"{server.shm_prefix}*")) == []
    with server:  # same prefix after a restart; a clean stop leaves nothing either
        assert list(SHM_DIR.glob(f"{server.shm_prefix}*"))
    assert list(SHM_DIR.glob(f"{server.shm_prefix}*")) == []


def test_server_stops_when_its_launcher_is_killed(small_repository, tmp_path):
    """A killed launcher (crashed test run, kill -9 of the demo) must not leave tritonserver behind."""
    script = (
        "import sys, time; from pathlib import Path; from serving.server import TritonServer, ServerPorts; "
        f"s = TritonServer(Path({str(small_repository)!r}), ServerPorts.free(), log_file=Path({str(tmp_path / 'log')!r})).start(); "
        "print(s.pid, flush=True); time.sleep(600)"
    )
    launcher = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    server_pid = int(launcher.stdout.readline())
    launcher.kill()
    launcher.wait()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and _alive(server_pid):
        time.sleep(0.5)
    assert not _alive(server_pid)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False

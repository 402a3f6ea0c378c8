#!/usr/bin/env bash
# Idempotent setup: .venv with pinned dependencies, the project (editable), tritonserver's Python
# backend stub and the perf_analyzer binary. Re-runs only when pyproject.toml or constraints.txt change.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv
STAMP=$VENV/.setup-stamp
want=$(cat pyproject.toml constraints.txt scripts/setup.sh | sha256sum | cut -d' ' -f1)

if [[ -f $STAMP && "$(cat "$STAMP")" == "$want" ]]; then
    echo "setup: up to date ($VENV)"
    exit 0
fi

echo "setup: creating $VENV and installing pinned dependencies"
[[ -x $VENV/bin/python ]] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade "pip>=24"
"$VENV/bin/python" -m pip install -q -c constraints.txt -e ".[dev]"
# open_clip ships the real CLIP BPE vocabulary; its torchvision dependency has no CPU build here, and we
# only read the vocabulary file, so it is installed without dependencies.
"$VENV/bin/python" -m pip install -q --no-deps "open_clip_torch==3.3.0"
"$VENV/bin/python" -m serving.install
# docker-compose (Debian's 1.29) validates docker-compose.yml without a Docker engine; the compose test uses it
# when present. Best effort: only as root with apt-get, and setup never fails for it (the schema test still runs).
if ! command -v docker-compose >/dev/null && command -v apt-get >/dev/null && [[ $(id -u) == 0 ]]; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-compose; } \
        >/dev/null 2>&1 || echo "setup: docker-compose not installed (tests/gateway/test_compose.py skips its CLI check)"
fi
# Debian's chromium runs the web page's browser tests (Playwright drives it; its own browsers are never
# downloaded). Same best effort as docker-compose: without it those tests skip.
if ! command -v chromium >/dev/null && command -v apt-get >/dev/null && [[ $(id -u) == 0 ]]; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; } \
        >/dev/null 2>&1 || echo "setup: chromium not installed (tests/gateway/test_web_page.py skips)"
fi
echo "$want" > "$STAMP"
echo "setup: done"

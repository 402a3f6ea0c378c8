# The two README commands: `make demo` and `make test`. Both run the idempotent setup first.
PY := .venv/bin/python

.PHONY: setup demo test test-unit serve serve-all gateway export clean

setup:
	@bash scripts/setup.sh

demo: setup
	$(PY) -m serving.demo

test: setup
	$(PY) -m pytest -q

# The tests that need no tritonserver, no ONNX export and no network (under a minute; tests/conftest.py marks them).
test-unit: setup
	$(PY) -m pytest -q -m unit --durations=10

export: setup
	$(PY) -m export --preset tiny

# The CPU report of benchmarks/ (tiny + sd15, < 15 min on 2 cores): results, plots, README Performance section.
.PHONY: bench
bench: setup
	$(PY) -m benchmarks report --update-readme

serve: setup
	$(PY) -m serving

serve-all: setup  # tritonserver on model_repository/ and the REST gateway on :8080
	$(PY) -m gateway --with-triton

gateway: setup  # the gateway alone, in front of GATEWAY_REPLICAS (default 127.0.0.1:8001)
	$(PY) -m gateway

clean:
	rm -rf out logs model_repository/*/1/model.onnx*

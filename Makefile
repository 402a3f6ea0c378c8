# The two README commands: `make demo` and `make test`. Both run the idempotent setup first.
PY := .venv/bin/python

.PHONY: setup demo test serve export clean

setup:
	@bash scripts/setup.sh

demo: setup
	$(PY) -m serving.demo

test: setup
	$(PY) -m pytest -q

export: setup
	$(PY) -m export --preset tiny

# The CPU report of benchmarks/ (tiny + sd15, < 15 min on 2 cores): results, plots, README Performance section.
.PHONY: bench
bench: setup
	$(PY) -m benchmarks report --update-readme

serve: setup
	$(PY) -m serving

clean:
	rm -rf out logs model_repository/*/1/model.onnx*

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

serve: setup
	$(PY) -m serving

clean:
	rm -rf out logs model_repository/*/1/model.onnx*

# Two commands are the contract: `make demo` and `make test` (each installs first).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEPS := requirements.txt requirements-dev.txt setup.py pyproject.toml

.PHONY: install test test-fast demo lint format clean

install: $(STAMP)

# Re-runs only when a dependency file changes; a second `make install` is a no-op.
$(STAMP): $(DEPS)
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q -r requirements.txt -r requirements-dev.txt
	# panopticapi-lite pins numpy<2 without need; its code runs on numpy 2.
	$(BIN)/pip install -q --no-deps panopticapi-lite
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

test: install
	$(BIN)/python -m pytest -q tests

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow" tests

demo: install
	$(BIN)/python tools/demo.py

lint: install
	$(BIN)/ruff check panoptic ops tools tests configs setup.py
	$(BIN)/ruff format --check panoptic ops tools tests setup.py
	$(BIN)/mypy panoptic ops

format: install
	$(BIN)/ruff check --fix panoptic ops tools tests configs setup.py
	$(BIN)/ruff format panoptic ops tools tests setup.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .mypy_cache

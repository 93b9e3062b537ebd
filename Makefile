# The two commands of the README: `make demo` and `make test`.
# Both create the environment in .venv at the repository root when it is missing;
# `demo` installs only what revwatch needs, `test` adds the development tools and extras.
PYTHON ?= python3
VENV := .venv
CORE := $(VENV)/.installed-core
DEV := $(VENV)/.installed-dev

.PHONY: demo test lint bench clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip

$(CORE): pyproject.toml | $(VENV)/bin/python
	$(VENV)/bin/python -m pip install --quiet -e .
	touch $(CORE)

$(DEV): pyproject.toml | $(VENV)/bin/python
	$(VENV)/bin/python -m pip install --quiet -e '.[dev]'
	touch $(DEV) $(CORE)

demo: $(CORE)
	$(VENV)/bin/revwatch demo

test: $(DEV)
	bash scripts/test-prerequisites.sh
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/mypy
	$(VENV)/bin/python scripts/warm-kernels.py
	$(VENV)/bin/python -m pytest -n 2 -q

bench: $(DEV)
	$(VENV)/bin/python benchmarks/bench_scale.py --series 10000 100000 --periods 24

clean:
	rm -rf $(VENV) revwatch-demo .pytest_cache .mypy_cache .ruff_cache

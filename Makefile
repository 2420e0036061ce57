# Two commands do everything on a fresh machine with Python 3.11:
#   make demo   set up, then run the main job on the built-in default
#   make test   set up, then run the test suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup test demo bench lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# The CPU wheel first, so that no multi-GB CUDA build is pulled in by the range in pyproject.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# Two test processes (pytest-xdist), one thread each: the CI machine has two cores.
test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup

demo: $(STAMP)
	$(BIN)/paramgen run

bench: $(STAMP)
	$(BIN)/python bench/zoo_io.py

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) runs .pytest_cache

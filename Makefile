# Two commands set up everything on a fresh machine:
#   make demo   -- create .venv, install, run the main demo on the embedded digits data
#   make test   -- create .venv, install, run the default test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: venv demo test test-all lint docs figures figures-quick bench check-blocks clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# the CPU build of torch first, so that the torch extra's range installs nothing more
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[all]'
	touch $(STAMP)

demo: venv
	$(BIN)/python demos/00_quickstart.py

test: venv
	$(BIN)/python -m pytest -q

test-all: venv
	$(BIN)/python -m pytest -q -m "slow or not slow"

lint: venv
	$(BIN)/ruff check fenchel_cvx tests demos benchmarks paper_figures

# the API reference from the docstrings (pdoc, offline) into docs/api/; fails on any warning
docs: venv
	$(BIN)/python docs/build_api.py docs/api

check-blocks: venv
	$(BIN)/fenchel-cvx check-blocks

figures: venv
	$(BIN)/python paper_figures/make_figures.py

figures-quick: venv
	$(BIN)/python paper_figures/make_figures.py --quick --allow-missing

bench: venv
	OPENBLAS_NUM_THREADS=1 $(BIN)/python benchmarks/blocks.py --threads 1

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info docs/api

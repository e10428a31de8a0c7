# Two commands set up everything on a fresh machine:
#   make demo   -- create .venv, install, run the main demo on the embedded digits data
#   make test   -- create .venv, install, run the default test suite (3.5 minutes measured on a 2-core
#                  machine; `make test-all` adds the slow tests)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# the torch build `make venv` installs: the CPU wheel (override TORCH_INDEX for a mirror of the CPU index)
TORCH_VERSION ?= 2.13.0
TORCH_INDEX   ?= https://download.pytorch.org/whl/cpu

.PHONY: venv demo test test-all lint docs figures figures-quick bench check-blocks clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# the CPU build of torch first, so that the torch extra's range installs nothing more: from the CPU
	# wheel index where it answers, else the +cpu wheel from the configured indexes / --find-links;
	# then checked (a CUDA build would pull gigabytes of nvidia-* packages)
	@if $(BIN)/python -c "import urllib.request; urllib.request.urlopen('$(TORCH_INDEX)/', timeout=10)" \
	    2>/dev/null; then \
	  echo "torch $(TORCH_VERSION): CPU build from $(TORCH_INDEX)"; \
	  $(BIN)/python -m pip install -q --index-url $(TORCH_INDEX) torch==$(TORCH_VERSION); \
	else \
	  echo "torch $(TORCH_VERSION): $(TORCH_INDEX) unreachable; torch==$(TORCH_VERSION)+cpu from the configured indexes"; \
	  $(BIN)/python -m pip install -q "torch==$(TORCH_VERSION)+cpu"; \
	fi
	$(BIN)/python -c "import sys, torch; sys.exit(0 if torch.version.cuda is None else \
	  f'make: torch {torch.__version__} is a CUDA build; expected the CPU build')"
	$(BIN)/python -m pip install -q -e '.[all]'
	touch $(STAMP)

demo: venv
	$(BIN)/python demos/00_quickstart.py

test: venv
	$(BIN)/python -m pytest -q

test-all: venv
	$(BIN)/python -m pytest -q -m "slow or not slow"

lint: venv
	$(BIN)/ruff check fenchel_cvx tests demos benchmarks paper_figures experiments docs

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

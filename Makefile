# `make run` sets up .venv and profiles the default config; `make test` sets up and runs the tests.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CONFIG ?= configs/quickstart.yaml
STAMP  := $(VENV)/.installed

# OpenNMT-py 3.5.1 pins torch<2.3 but runs with current torch: install the packages it imports at
# load time first, then OpenNMT-py itself without its deps, last, so that no later install step
# re-checks its pins (pip would print an ERROR about torch<2.3 and the optional packages it
# names). scripts/check_setup.py then checks the installed set itself and says so in one line.
ONMT_IMPORT_NEEDS := configargparse pyonmttok spacy pyahocorasick rapidfuzz sacrebleu fasttext six

.PHONY: setup run test bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml setup.py constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -c constraints.txt torch torchvision
	$(BIN)/pip install -q -c constraints.txt -e '.[dev,ray]'
	$(BIN)/pip install -q -c constraints.txt $(ONMT_IMPORT_NEEDS)
	$(BIN)/pip install -q --no-deps OpenNMT-py==3.5.1
	$(BIN)/python scripts/check_setup.py
	touch $(STAMP)

run: setup
	$(BIN)/nscharacterize run $(CONFIG)

test: setup
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python benchmarks/classify_throughput.py
	$(BIN)/python benchmarks/profiler_overhead.py
	$(BIN)/python benchmarks/end_to_end.py

clean:
	rm -rf $(VENV) runs

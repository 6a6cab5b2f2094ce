# `make run` sets up .venv and profiles the default config; `make test` sets up and runs the tests.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CONFIG ?= configs/quickstart.yaml
STAMP  := $(VENV)/.installed

# OpenNMT-py 3.5.1 pins torch<2.3 but runs with current torch: install it without its deps and
# add the packages it imports at load time.
ONMT_IMPORT_NEEDS := configargparse pyonmttok spacy pyahocorasick rapidfuzz sacrebleu fasttext six

.PHONY: setup run test bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml setup.py constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -c constraints.txt torch torchvision
	$(BIN)/pip install -q -c constraints.txt -e '.[dev,ray]'
	$(BIN)/pip install -q --no-deps OpenNMT-py==3.5.1
	$(BIN)/pip install -q -c constraints.txt $(ONMT_IMPORT_NEEDS)
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

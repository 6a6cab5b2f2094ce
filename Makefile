# `make run` sets up .venv and profiles the default config; `make test` sets up and runs the tests.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CONFIG ?= configs/quickstart.yaml
STAMP  := $(VENV)/.installed

# OpenNMT-py 3.5.1 pins torch<2.3 but runs with current torch: install the packages it imports at
# load time first, then OpenNMT-py itself without its deps, last, so that no later install step
# re-checks its pins (pip would print an ERROR about torch<2.3 and the optional packages it
# names). scripts/check_setup.py then checks the installed set itself and says so in one line. On
# Python 3.13+ OpenNMT-py's tokenizer (pyonmttok) has no build, so the install fails there, and the
# check says the question parser runs on its torch backend instead.
ONMT_IMPORT_NEEDS := configargparse pyonmttok spacy pyahocorasick rapidfuzz sacrebleu fasttext six

.PHONY: setup run test lint lint-imports docs bench clean compat

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -c constraints.txt torch torchvision
	$(BIN)/pip install -q -c constraints.txt -e '.[dev,ray]'
	$(BIN)/pip install -q -c constraints.txt $(ONMT_IMPORT_NEEDS) && \
	    $(BIN)/pip install -q --no-deps OpenNMT-py==3.5.1 || true   # check_setup.py says whether that may fail here
	$(BIN)/python scripts/check_setup.py
	touch $(STAMP)

run: setup
	$(BIN)/nscharacterize run $(CONFIG)

# The suite in TEST_WORKERS processes (pytest-xdist): most tests wait on a CLI subprocess of one
# thread (the test configs set threads: 1), so two workers keep both of CI's cores busy (19.7 min
# against about twice that one at a time). TEST_WORKERS=0 runs it in this process.
TEST_WORKERS ?= 2

test: setup
	$(BIN)/python -m pytest -q --durations=30 -n $(TEST_WORKERS)

# Static checks, each must pass: ruff (pyproject [tool.ruff]), mypy ([tool.mypy]), the layering
# contracts of import-linter where pyproject.toml declares them ([tool.importlinter]), the docs
# site's strict build (broken links and anchors fail), the generated reference pages current, and
# every repository path cited in docs and code comments present (scripts/check_paths.py).
lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy
	if grep -q '^\[tool\.importlinter\]' pyproject.toml; then $(BIN)/lint-imports; fi
	$(BIN)/python scripts/gen_reference.py --check
	$(BIN)/mkdocs build --strict --quiet
	$(BIN)/python scripts/check_paths.py

# The import layers of docs/architecture.md ("Layers") alone: pyproject.toml [tool.importlinter].
lint-imports: setup
	$(BIN)/lint-imports

# The docs site (mkdocs.yml) into site/; its reference pages regenerated from the code first.
docs: setup
	$(BIN)/python scripts/gen_reference.py
	$(BIN)/mkdocs build --strict

# Every benchmark at its full size (NSC_BENCH_TINY=1 make bench: each at the tiny size of its smoke
# test, tests/benchmarks/test_smoke.py). Each prints numbers and asserts nothing.
bench: setup
	for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) runs site

# The oldest supported torch/torchvision pair (pyproject.toml, README) in a second venv, on the oldest
# supported Python (3.10) where the machine has it (else $(PYTHON)): the profiler, taxonomy and
# attribution tests and one small CLI run, so a torch- or Python-version break shows without a GPU.
# On 3.10 pip also picks pandas 2, so the pandas>=2.0 claim is tested too. PyPI's Linux torch
# wheels bring their CUDA libraries (about 2.6 GB), so the venv is kept between runs under
# ~/.cache; a run that finds it complete only re-checks it (seconds).
OLDEST_TORCH  := torch==2.3.1 torchvision==0.18.1
OLDEST_PYTHON := $(firstword $(foreach p,python3.10 $(wildcard $(HOME)/.pyenv/versions/3.10*/bin/python3.10),\
                   $(shell $(p) -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null && echo $(p))))
COMPAT_PYTHON ?= $(or $(OLDEST_PYTHON),$(PYTHON))
COMPAT_VENV   ?= $(HOME)/.cache/nscharacterize/venv-torch-2.3.1-$(shell $(COMPAT_PYTHON) -c 'import sys; print("py%d.%d" % sys.version_info[:2])')
COMPAT_TESTS := tests/profiler/test_trace_capture.py tests/attribution/test_gpu_views.py tests/taxonomy/test_taxonomy.py tests/attribution/test_attribution.py \
                tests/profiler/test_cuda.py tests/workloads/test_compile.py tests/attribution/test_opcost.py

compat:
	test -x $(COMPAT_VENV)/bin/python || $(COMPAT_PYTHON) -m venv $(COMPAT_VENV)
	$(COMPAT_VENV)/bin/pip install -q $(OLDEST_TORCH)
	$(COMPAT_VENV)/bin/pip freeze | grep -E '^(torch|torchvision)==' > $(COMPAT_VENV)/torch-pin.txt
	$(COMPAT_VENV)/bin/pip install -q -c $(COMPAT_VENV)/torch-pin.txt -e '.[dev]'
	$(COMPAT_VENV)/bin/python -c "import torch; assert torch.__version__.startswith('2.3.'), torch.__version__"
	$(COMPAT_VENV)/bin/python -m pytest -q -n $(TEST_WORKERS) $(COMPAT_TESTS)
	rm -rf runs/compat && $(COMPAT_VENV)/bin/nscharacterize run configs/compat.yaml --quiet --out runs/compat

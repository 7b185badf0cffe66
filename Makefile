# The README's commands. Each sets up what it needs on a fresh machine first. `make` alone (or
# `make help`) lists them.
PYTHON ?= python3
VENV := .venv
# Exact versions where we create the environment here (they install from this machine's disk);
# pyproject.toml itself asks only for torch>=2.5 so users elsewhere get their own build.
TORCH_PINS := torch==2.14.1 torchvision==0.29.1
# Where pip takes torch and torchvision from: its usual index by default, whose Linux torch is the CUDA build
# (with 4.1 GiB of NVIDIA libraries and Triton that only a GPU uses). On a machine without an NVIDIA GPU:
#   make train TORCH_INDEX=https://download.pytorch.org/whl/cpu
# installs the CPU build, which leaves those out.
TORCH_INDEX ?=
FASHION_MNIST := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
RUN := runs/fashion-mnist
LONG_RUN := runs/fashion-mnist-64

# Where Fashion-MNIST comes from: Debian's dataset-fashion-mnist by default (installed if missing);
# DATA_DIR=FOLDER uses the four IDX files in FOLDER instead; DOWNLOAD=1 downloads them.
DATA_DIR ?=
DOWNLOAD ?=
DATA_OPTIONS := $(if $(DATA_DIR),--data-dir $(DATA_DIR)) $(if $(DOWNLOAD),--download)
# More options for `googlenet train`, e.g. TRAIN_OPTIONS=--overwrite to train again into the same run directory.
TRAIN_OPTIONS ?=
SUDO = $(if $(shell command -v sudo >/dev/null && [ "$$(id -u)" != 0 ] && echo sudo),sudo)

.DEFAULT_GOAL := help
.PHONY: help setup python-venv data browser compiler train train-long test docs mutation summary

# make train's time: docs/results.md's "Training time" table (date, machine, split, command).
help:
	@echo 'make train       set up .venv, train GoogLeNet on Fashion-MNIST into $(RUN)/, print the'
	@echo '                 accuracy and the commands to try next (2-core CPU, 2026-12-05, 3 seeds: 4.8-6.3'
	@echo '                 min with AVX-512 + BF16, 7.8-9.3 min with AVX2 only; docs/results.md)'
	@echo 'make test        set up, then run the whole test suite and build the documentation (what CI runs)'
	@echo 'make docs        build the documentation site into site/ (open site/index.html)'
	@echo 'make mutation    how strong the tests are: mutmut'"'"'s surviving mutants per module (not part of'
	@echo '                 make test; one run, about 8 min on a shared 2-core AVX-512 CPU: the sum of the'
	@echo '                 two partial runs measured, 5 and 3 min), see docs/mutation.md'
	@echo 'make summary     Table 1 of the paper, measured on the built network'
	@echo 'make train-long  the longer recipe: 30 epochs at 64x64 into $(LONG_RUN)/, then its 10-crop accuracy'
	@echo 'make setup       only create .venv (torch, torchvision, this package with its test, serve and fast extras)'
	@echo 'make data        only install Fashion-MNIST (Debian package dataset-fashion-mnist)'
	@echo ''
	@echo 'Without the Debian package: make train DATA_DIR=FOLDER (FOLDER holds train-images-idx3-ubyte,'
	@echo 'train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each optionally .gz)'
	@echo 'or make train DOWNLOAD=1. Train again into $(RUN)/: make train TRAIN_OPTIONS=--overwrite'
	@echo 'Afterwards: . $(VENV)/bin/activate, then googlenet --help'
	@echo ''
	@echo 'The set-up (.venv) comes first, once: 6.4 GiB of disk with the default (CUDA) torch, 4.1 GiB of'
	@echo 'it NVIDIA libraries and Triton that only a GPU uses, and about 3 min where the packages are already'
	@echo 'downloaded (more to download them). Without an NVIDIA GPU, the CPU build leaves those out:'
	@echo '  make train TORCH_INDEX=https://download.pytorch.org/whl/cpu'
	@echo 'Python'"'"'s venv module is needed (Debian: python3-venv, installed if missing, with sudo when not root).'

# The fast extra (OpenVINO, NNCF) too: the tests of those backends and of the choice between the two int8
# paths run in CI, not only where someone installed them.
$(VENV)/.installed: pyproject.toml Makefile
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || $(MAKE) --no-print-directory python-venv
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) $(TORCH_PINS)
	$(VENV)/bin/pip install --quiet -e '.[test,serve,fast]'
	touch $@

setup: $(VENV)/.installed

# Debian's own Python leaves venv's bootstrap of pip (ensurepip) to the python3-venv package.
python-venv:
	@command -v apt-get >/dev/null || { \
	  echo '$(PYTHON) cannot create a virtual environment (its ensurepip module is missing) and apt-get is'; \
	  echo 'not available: install your system'"'"'s venv support for Python (or use another Python:'; \
	  echo 'make train PYTHON=/path/to/python3), then run make again'; exit 2; }
	$(SUDO) apt-get update -qq
	$(SUDO) apt-get install -y -qq python3-venv

# Fashion-MNIST, the built-in data set, comes from Debian's dataset-fashion-mnist package.
$(FASHION_MNIST):
	@command -v apt-get >/dev/null || { \
	  echo 'Fashion-MNIST not found in /usr/share/datasets/fashion-mnist and apt-get is not available.'; \
	  echo 'Put the four IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte,'; \
	  echo 't10k-labels-idx1-ubyte; plain or .gz) in one folder and run: make train DATA_DIR=that/folder'; \
	  echo 'or let googlenet download them: make train DOWNLOAD=1'; exit 2; }
	$(SUDO) apt-get update -qq
	$(SUDO) apt-get install -y -qq dataset-fashion-mnist

# With DATA_DIR or DOWNLOAD the library finds (or fetches) the files itself and names any that are missing.
data: $(if $(DATA_DIR)$(DOWNLOAD),,$(FASHION_MNIST))

# The browser test drives Debian's Chromium through Playwright (Playwright's own browser download is not used).
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	$(SUDO) apt-get update -qq
	$(SUDO) apt-get install -y -qq chromium

browser: $(CHROMIUM)

# torch.compile's Inductor compiles C++ on CPUs: the compile backend's test needs a C++ compiler.
compiler:
	@command -v g++ >/dev/null || command -v c++ >/dev/null || command -v clang++ >/dev/null || \
	  { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq g++; }

train: setup data
	$(VENV)/bin/googlenet train $(DATA_OPTIONS) $(TRAIN_OPTIONS)
	@echo ''
	@echo 'The trained model is in $(RUN)/model/; metrics and plots in $(RUN)/.'
	@echo 'Next, in this shell:  . $(VENV)/bin/activate   (or type $(VENV)/bin/googlenet instead of googlenet)'
	@echo '  googlenet predict $(RUN) $(RUN)/examples/Trouser.png   # a test image the run left, one per class'
	@echo '  googlenet evaluate $(RUN) --tta 10crop         # test accuracy, averaged over 10 crops'
	@echo '  googlenet export $(RUN)                        # writes $(RUN)/model/model.onnx'
	@echo '  googlenet serve $(RUN)                         # then open http://127.0.0.1:8000/'

train-long: setup data
	$(VENV)/bin/googlenet train --epochs 30 --input-size 64 --random-erase 0.25 --label-smoothing 0.1 \
		--aux-logits --batch-size 128 --lr 0.1 --output-dir $(LONG_RUN) $(DATA_OPTIONS) $(TRAIN_OPTIONS)
	$(VENV)/bin/googlenet evaluate $(LONG_RUN) --tta 10crop

# The quick tier in parallel (pyproject's -n auto), then the slow tests one at a time: they start processes
# of their own (several training ranks, servers) and time things. GOOGLENET_CI=1: a test that skips for a
# reason not listed in tests/allowed_skips.py fails the run (everything the tests need is installed here).
test: setup data browser compiler
	GOOGLENET_CI=1 $(VENV)/bin/python -m pytest -m "not slow"
	GOOGLENET_CI=1 $(VENV)/bin/python -m pytest -m slow -n 0
	$(MAKE) --no-print-directory docs

# The documentation site from docs/ (mkdocs.yml): the reference pages are generated from the code as it
# builds (tools/docs_hooks.py). --strict: a broken link, a missing page or an API name that does not resolve
# fails the build. Nothing is downloaded while building.
docs: setup
	@$(VENV)/bin/python -c 'import mkdocs, material, mkdocstrings_handlers.python' 2>/dev/null || \
	  $(VENV)/bin/pip install --quiet -e '.[docs]'
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

# Mutation testing (docs/mutation.md): every mutant of the modules in pyproject's [tool.mutmut], each run
# against the quick tests that reach it; then the table of killed and surviving mutants per module. From a
# clean mutants/ each time, so the table describes the code and tests as they are now.
MUTATION_CHILDREN ?= 2
mutation: setup
	@$(VENV)/bin/python -c 'import mutmut' 2>/dev/null || $(VENV)/bin/pip install --quiet -e '.[mutation]'
	rm -rf mutants
	OMP_NUM_THREADS=1 $(VENV)/bin/mutmut run --max-children $(MUTATION_CHILDREN)
	$(VENV)/bin/mutmut results --all true | $(VENV)/bin/python tools/mutation_table.py

summary: setup
	$(VENV)/bin/googlenet summary

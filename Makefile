# The README's commands. Each sets up what it needs on a fresh machine first.
#   make train     the main job: train GoogLeNet on Fashion-MNIST, print the test accuracy
#   make train-long  the longer preset (94.5%; about 1 h 50 min on 2 CPU cores), then its 10-crop accuracy
#   make test      the whole test suite
#   make summary   Table 1 measured on the built network
PYTHON ?= python3
VENV := .venv
# Exact versions where we create the environment here (they install from this machine's disk);
# pyproject.toml itself asks only for torch>=2.5 so users elsewhere get their own build.
TORCH_PINS := torch==2.14.1 torchvision==0.29.1
FASHION_MNIST := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz

.PHONY: setup data browser train train-long test summary

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet $(TORCH_PINS)
	$(VENV)/bin/pip install --quiet -e '.[test,serve]'
	touch $@

setup: $(VENV)/.installed

# Fashion-MNIST, the built-in data set, comes from Debian's dataset-fashion-mnist package.
$(FASHION_MNIST):
	$(if $(shell command -v sudo >/dev/null && [ "$$(id -u)" != 0 ] && echo sudo),sudo) apt-get update -qq
	$(if $(shell command -v sudo >/dev/null && [ "$$(id -u)" != 0 ] && echo sudo),sudo) apt-get install -y -qq dataset-fashion-mnist

data: $(FASHION_MNIST)

# The browser test drives Debian's Chromium through Playwright (Playwright's own browser download is not used).
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	$(if $(shell command -v sudo >/dev/null && [ "$$(id -u)" != 0 ] && echo sudo),sudo) apt-get update -qq
	$(if $(shell command -v sudo >/dev/null && [ "$$(id -u)" != 0 ] && echo sudo),sudo) apt-get install -y -qq chromium

browser: $(CHROMIUM)

train: setup data
	$(VENV)/bin/googlenet train

LONG_RUN := runs/fashion-mnist-64
train-long: setup data
	$(VENV)/bin/googlenet train --epochs 30 --input-size 64 --random-erase 0.25 --label-smoothing 0.1 \
		--output-dir $(LONG_RUN)
	$(VENV)/bin/googlenet evaluate $(LONG_RUN) --data fashion-mnist --tta 10crop

test: setup data browser
	$(VENV)/bin/python -m pytest

summary: setup
	$(VENV)/bin/googlenet summary

# The two commands of the README. Each sets up what it needs on a fresh machine first.
#   make summary   the main job: Table 1 measured on the built network
#   make test      the whole test suite
PYTHON ?= python3
VENV := .venv
# Exact versions where we create the environment here (they install from this machine's disk);
# pyproject.toml itself only asks for torch>=2.4 so users elsewhere get their own build.
TORCH_PINS := torch==2.14.1 torchvision==0.29.1

.PHONY: setup summary test

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet $(TORCH_PINS)
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $@

setup: $(VENV)/.installed

summary: setup
	$(VENV)/bin/googlenet summary

test: setup
	$(VENV)/bin/python -m pytest

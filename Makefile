# Quick start:  make run   (installs what is missing, opens the window on the demo line)
#               make test  (installs what is missing, runs the test suite headless)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test bench lint system-deps screenshots demo-model bundle

run: system-deps $(STAMP)
	$(BIN)/inspector

test: system-deps $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_pipeline.py

lint: $(STAMP)
	$(BIN)/ruff check inspector tests benchmarks
	$(BIN)/lint-imports

# The line-side one-folder bundle (no torch) in dist/inspector/: installer/build_bundle.py
bundle: system-deps $(STAMP)
	$(BIN)/python installer/build_bundle.py

demo-model: $(STAMP)
	$(BIN)/inspector fit-demo --out models/demo-line

screenshots: system-deps $(STAMP)
	installer/install-system-deps.sh --xvfb
	$(BIN)/python installer/take_screenshots.py docs/screenshots

system-deps:
	@installer/install-system-deps.sh

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install -e '.[dev,genicam,installer]'
	touch $(STAMP)

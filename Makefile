# Two commands for a newcomer: `make demo` and `make test` (see README).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml setup.py svdcodec/patch/_patchc.c svdcodec/whole/_storec.c \
		svdcodec/patch/_arithc.c svdcodec/patch/_samples.h
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/svdcodec demo

test: install
	PYTHONDEVMODE=1 $(BIN)/python -m pytest svdcodec tests -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy svdcodec

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis svdcodec/*/*.so

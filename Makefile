# Two commands do all the set-up on a fresh machine with Python 3.11: `make run` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev

.PHONY: run test test-deep bench lint schema clean notebooks

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found; set PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(DEVSTAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP) $@

## make run: set up, run the demonstration, then simulate the default scenario (outputs in out/)
run: $(STAMP)
	$(BIN)/ucsim demo
	$(BIN)/ucsim run --out out/

## make test: set up with dev dependencies, then run the whole test suite (CI profile)
test: $(DEVSTAMP)
	PYTHONHASHSEED=$${PYTHONHASHSEED:-0} UCSIM_HYPOTHESIS_PROFILE=$${UCSIM_HYPOTHESIS_PROFILE:-ci} $(BIN)/python -m pytest -n 2 -q

## make test-deep: the same suite with the deep Hypothesis profile
test-deep: $(DEVSTAMP)
	UCSIM_HYPOTHESIS_PROFILE=deep $(BIN)/python -m pytest -n 2 -q

## make bench: run every benchmark and rebuild benchmarks/REPORT.md from their records
bench: $(DEVSTAMP)
	$(BIN)/python -m benchmarks.run

## make notebooks: install the notebooks extra, then open JupyterLab on notebooks/
notebooks: $(VENV)/.installed-notebooks
	$(BIN)/jupyter lab notebooks/

$(VENV)/.installed-notebooks: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,notebooks]'
	@touch $(STAMP) $(DEVSTAMP) $@

lint: $(DEVSTAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

schema: $(STAMP)
	$(BIN)/ucsim schema --out schema/

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis out build *.egg-info

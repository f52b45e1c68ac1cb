# tff-lstm: every target sets itself up first (see README).
# PYTHON may be overridden: make setup PYTHON=python3.11
PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.tff_lstm_installed
LOCK := requirements/lock.txt
RUN_ARGS ?=
TEST_ARGS ?=

.PHONY: setup data run test bench clean-venv

setup: $(STAMP)

$(STAMP): $(LOCK) setup.py
	@$(PYTHON) tools/check_python.py
	@test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --disable-pip-version-check --no-deps -r $(LOCK)
	$(VPY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(VPY) tools/check_imports.py
	@touch $(STAMP)

data: setup
	$(VPY) datasets/build_shakespeare.py

run: data
	$(VPY) experiments/run_federated.py --experiment_name=make_run $(RUN_ARGS)

test: data
	$(VPY) -m pytest $(TEST_ARGS)

clean-venv:
	rm -rf $(VENV)

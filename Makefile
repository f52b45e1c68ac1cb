# tff-lstm: every target sets itself up first (see README).
# PYTHON may be overridden: make setup PYTHON=python3.11
PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.tff_lstm_installed
LOCK := requirements/lock.txt
# The embedded default of `make run`: real Shakespeare, the McMahan et al. 2x256
# LSTM, 10 clients a round, a few rounds (override: make run RUN_ARGS=...).
RUN_ARGS ?= --total_rounds=5 --rounds_per_eval=5 --max_elements_per_client=16
TEST_ARGS ?=

.PHONY: setup data run test bench bench-memory clean-venv workers

# Local TFF worker services for --worker_addresses (docs/distributed.md).
N ?= 2

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
	$(VPY) experiments/run_federated.py \
	  --experiment_name=make_run_$$(date +%Y%m%d_%H%M%S) $(RUN_ARGS)

# Two pytest processes (pytest-xdist), one a core: the tests are CPU-bound
# (three processes took as long: 23:15 against 22:54). Work stealing keeps one
# long test at the end from running alone. TEST_JOBS=0 runs in one process.
TEST_JOBS ?= 2
test: data
	$(VPY) -m pytest -n $(TEST_JOBS) --dist worksteal $(TEST_ARGS)

# The PyTorch peer's own venv (nothing of ours depends on torch).
TORCH_VENV := benchmarks/.venv-torch
TORCH_STAMP := $(TORCH_VENV)/.installed

$(TORCH_STAMP): benchmarks/requirements-torch.txt
	@test -x $(TORCH_VENV)/bin/python || $(PYTHON) -m venv $(TORCH_VENV)
	$(TORCH_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -r benchmarks/requirements-torch.txt
	@touch $(TORCH_STAMP)

# Round speed of TFF configurations vs the PyTorch peer (30-75 min on 2 cores,
# most of it stock TFF's rounds): results/benchmarks/round_speed.{json,md}.
# BENCH_ARGS=--noscaling skips the grid; BENCH_ARGS=--peer_comparison_only
# times ours and the peer only (results/benchmarks/ours_vs_peer.{json,md}).
BENCH_ARGS ?=
bench: data $(TORCH_STAMP)
	$(VPY) benchmarks/round_speed.py $(BENCH_ARGS)

# Memory growth over many rounds by input path (about 15-20 min):
# results/benchmarks/worker_memory.{json,md}.
MEMORY_ARGS ?=
bench-memory: data
	$(VPY) benchmarks/worker_memory.py $(MEMORY_ARGS)

workers: setup
	$(VPY) experiments/run_worker.py --num_workers=$(N) --plaintext_loopback

clean-venv:
	rm -rf $(VENV)

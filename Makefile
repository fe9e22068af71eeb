# The two commands of the course (see README.md):
#   make lab    open the lessons in JupyterLab (creates .venv on first use)
#   make test   run the unit tests and execute every notebook in quick mode
# Both create the virtual environment .venv when it is missing or out of date.

PYTHON ?= python3
VENV   ?= .venv
TORCH  ?= torch==2.13.0
BIN     = $(VENV)/bin
ROOT_FLAG = $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: lab test lint benchmark clean

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

lab: $(VENV)/.installed
	$(BIN)/jupyter lab $(ROOT_FLAG) notebooks

# Two pytest workers, one notebook file each at a time; one thread per process, since two
# kernels of two OpenMP threads each on a 2-core machine spin against each other (10x slower).
test: $(VENV)/.installed
	OMP_NUM_THREADS=1 TORCHNLP_QUICK=1 $(BIN)/python -m pytest -n 2 --dist loadfile --nbval-lax --nbval-cell-timeout=600

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The README's tables: the training loops (12-16 minutes on our 2-core CPU), then the recurrent layer alone (22).
benchmark: $(VENV)/.installed
	$(BIN)/python benchmarks/bench_loops.py --threads 1
	$(BIN)/python benchmarks/bench_padded.py --threads 1

clean:
	rm -rf $(VENV) *.egg-info

"""Execute lesson notebooks in place and record how their outputs were produced.

    python tools/run_notebook.py notebooks/01-simple-rnn.ipynb [...]
    TORCHNLP_QUICK=1 python tools/run_notebook.py notebooks/01-simple-rnn.ipynb
    python tools/run_notebook.py --threads 2 --native notebooks/05-char-generation.ipynb

Each notebook runs top to bottom in its own folder (as in JupyterLab), in a kernel
whose numerics are pinned, so that a rerun (and CI, which sets the same variables
in ``make test``) computes the same numbers:
- ``OMP_NUM_THREADS`` = ``--threads`` (default 1): the number of threads changes how
  sums are split, hence the rounding, hence every trained number;
- ``MKL_CBWR=AVX2`` (MKL's conditional numerical reproducibility, for matrix products),
  ``ATEN_CPU_CAPABILITY=avx2`` (PyTorch's own vector kernels) and
  ``ONEDNN_MAX_CPU_ISA=AVX2`` (oneDNN, which runs ``nn.LSTM`` on the CPU): the same
  code paths on every x86 CPU with AVX2, whether or not it also has AVX-512 or AMX (set on
  x86 only). A rerun on the same kind of machine reproduces the outputs bit for bit; another CPU
  (another vendor, generation or architecture) still rounds differently, which is why CI compares
  trained figures within a tolerance (``NBVAL_CHECK_FIGURES``, conftest.py).
``--native`` leaves the last three unset, for full-scale runs whose trained numbers CI
does not recompute: the CPU's fastest code paths (AVX-512, bfloat16 units) are then used.
Then:
- the progress-bar widgets are dropped from the outputs (they are live UI; a saved
  copy shows only an empty bar), and so is their saved state (``metadata.widgets``,
  150-340 KB per notebook that nothing reads); every other output is kept as the run
  made it;
- the line of the first cell that starts with ``**Outputs:**`` is rewritten to say
  which command, thread count, machine, software and wall time produced them.
"""

import argparse
import datetime
import os
import platform
import time
from pathlib import Path

import nbformat
import torch
from nbclient import NotebookClient

WIDGET = "application/vnd.jupyter.widget-view+json"
# The same numerics on every x86 machine with AVX2 (see the module docstring); make test sets them too.
PINNED = {"MKL_CBWR": "AVX2", "ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}
X86 = ("x86_64", "amd64", "i686")  # platform.machine() of the CPUs that PINNED names


def machine() -> str:
    if torch.cuda.is_available():
        return f"an NVIDIA {torch.cuda.get_device_name()} GPU"
    return f"a {os.cpu_count()}-core {platform.machine()} CPU, no GPU"


def kernel_env(threads: int, native: bool = False) -> dict:
    """The environment of the notebook's kernel: this one, with the thread count (and, on x86, the numerics) pinned."""
    env = {k: v for k, v in os.environ.items() if k not in PINNED}
    pinned = PINNED if not native and platform.machine().lower() in X86 else {}
    return {**env, "OMP_NUM_THREADS": str(threads), **pinned}


def run(path: Path, threads: int = 1, native: bool = False) -> float:
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    resources = {"metadata": {"path": str(path.parent)}}  # run in the notebook's folder, as JupyterLab does
    client = NotebookClient(nb, timeout=None, kernel_name="python3", resources=resources)
    env = kernel_env(threads, native)
    client.execute(env=env)
    seconds = time.perf_counter() - start
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if WIDGET not in o.get("data", {})]
    nb.metadata.pop("widgets", None)  # the widgets' saved state: nothing shows or reads it once they are gone
    if os.environ.get("TORCHNLP_QUICK", "") not in ("", "0"):
        data = " with `TORCHNLP_QUICK=1`"
    elif os.environ.get("TORCHNLP_DATA"):
        data = " with `TORCHNLP_DATA` pointing at a full copy of the data sets"
    else:
        data = ""
    pinned = "".join(f" {k}={env[k]}" for k in PINNED if k in env)
    option = (f" --threads {threads}" if threads != 1 else "") + (" --native" if native else "")
    info = (
        f"**Outputs:** produced by `python tools/run_notebook.py{option} {path.as_posix()}`{data}, "
        f"{threads} thread{'s' if threads != 1 else ''} (`OMP_NUM_THREADS={threads}{pinned}`), on {machine()}, "
        f"torch {torch.__version__.split('+')[0]}, in {seconds:.0f} s (whole notebook), "
        f"{datetime.date.today().isoformat()}."
    )
    lines = nb.cells[0].source.splitlines()
    if not any(line.startswith("**Outputs:**") for line in lines):
        raise SystemExit(f"{path}: the first cell has no line starting with **Outputs:**")
    nb.cells[0].source = "\n".join(info if line.startswith("**Outputs:**") else line for line in lines)
    nbformat.write(nb, path)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="+", type=Path, help="the notebooks to execute in place")
    parser.add_argument(
        "--threads", type=int, default=1, help="OMP_NUM_THREADS of the kernel (default 1, as make test uses)"
    )
    parser.add_argument(
        "--native", action="store_true", help="do not pin MKL/ATen/oneDNN code paths (fastest; for full-scale runs)"
    )
    args = parser.parse_args()
    if args.threads < 1:
        parser.error(f"--threads must be at least 1, not {args.threads}")
    for path in args.notebooks:
        print(f"{path}: {run(path, args.threads, args.native):.0f} s", flush=True)


if __name__ == "__main__":
    main()

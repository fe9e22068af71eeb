"""Execute lesson notebooks in place and record how their outputs were produced.

    python tools/run_notebook.py notebooks/01-simple-rnn.ipynb [...]
    TORCHNLP_QUICK=1 python tools/run_notebook.py notebooks/01-simple-rnn.ipynb

Each notebook runs top to bottom in its own folder (as in JupyterLab). Then:
- the progress-bar widgets are dropped from the outputs (they are live UI; a saved
  copy shows only an empty bar), every other output is kept as the run made it;
- the line of the first cell that starts with ``**Outputs:**`` is rewritten to say
  which command, machine, software and wall time produced them.
"""

import datetime
import os
import platform
import sys
import time
from pathlib import Path

import nbformat
import torch
from nbclient import NotebookClient

WIDGET = "application/vnd.jupyter.widget-view+json"


def machine() -> str:
    if torch.cuda.is_available():
        return f"an NVIDIA {torch.cuda.get_device_name()} GPU"
    return f"a {os.cpu_count()}-core {platform.machine()} CPU, no GPU"


def run(path: Path) -> float:
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    resources = {"metadata": {"path": str(path.parent)}}  # run in the notebook's folder, as JupyterLab does
    NotebookClient(nb, timeout=None, kernel_name="python3", resources=resources).execute()
    seconds = time.perf_counter() - start
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if WIDGET not in o.get("data", {})]
    if os.environ.get("TORCHNLP_QUICK", "") not in ("", "0"):
        data = " with `TORCHNLP_QUICK=1`"
    elif os.environ.get("TORCHNLP_DATA"):
        data = " with `TORCHNLP_DATA` pointing at a full copy of the data sets"
    else:
        data = ""
    info = (
        f"**Outputs:** produced by `python tools/run_notebook.py {path.as_posix()}`{data} on {machine()}, "
        f"torch {torch.__version__.split('+')[0]}, in {seconds:.0f} s (whole notebook), "
        f"{datetime.date.today().isoformat()}."
    )
    lines = nb.cells[0].source.splitlines()
    if not any(line.startswith("**Outputs:**") for line in lines):
        raise SystemExit(f"{path}: the first cell has no line starting with **Outputs:**")
    nb.cells[0].source = "\n".join(info if line.startswith("**Outputs:**") else line for line in lines)
    nbformat.write(nb, path)
    return seconds


if __name__ == "__main__":
    for name in sys.argv[1:]:
        print(f"{name}: {run(Path(name)):.0f} s", flush=True)

"""Run a lesson notebook in real JupyterLab, in headless Chromium, and fail on any error.

    python tools/browser_check.py notebooks/01-simple-rnn.ipynb --screenshot build/browser-check.png
    make browser-check          # the same for lesson 01 (what CI runs)

nbval (``make test``) executes the notebooks through a kernel only; this check goes through
the front end a learner uses. It needs Debian's ``chromium`` package (``apt-get install -y
chromium``) and the Python package ``playwright`` (requirements-ci.txt); Playwright drives the
system Chromium at /usr/bin/chromium (``--chromium``), so never run ``playwright install``.

Steps:
1. Start JupyterLab on a free localhost port, serving the current folder (the repository root,
   so that a lesson's diagrams in ../images can be served), with no token or
   password and with private config, settings, workspace and checkpoint folders (a temporary
   directory). Autosave is off, so the check never rewrites the notebook. The kernel inherits
   ``TORCHNLP_QUICK=1`` and ``OMP_NUM_THREADS=1``.
2. Open the notebook in headless Chromium, wait for the kernel, choose Run -> Run All Cells.
3. Wait until the kernel is idle and no cell is queued or running.
4. Save a screenshot of the whole notebook, top to bottom (``--screenshot``), then fail (exit 1)
   if any output is an error, if any code cell has no execution count, if a code cell shows
   fewer or more images than its committed outputs hold (a plot that did not render), if an
   image served by JupyterLab (a plot, a diagram) did not load (natural size 0), or if the
   notebook file changed. Images from the internet (the Colab badge) are not checked: the
   check runs offline.

The server and the browser are always stopped; ``--timeout`` bounds the whole check.
"""

import argparse
import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

# Lab's own settings for this run, written to a private user-settings folder.
LAB_SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    # Attach every cell to the page, so that all outputs can be read and screenshot.
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    # No "Jupyter news?" pop-up over the notebook, no request to the internet.
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
}

# As root, Chromium's sandbox cannot start; the rest keeps a headless run quiet and offline.
# Playwright refuses --user-data-dir among the arguments: the fresh profile folder is passed
# to launch_persistent_context instead. A small /dev/shm (as in Docker) would crash Chromium.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

VIEWPORT = {"width": 1280, "height": 900}

# What the page shows of every cell: its type, its prompt ("[3]:", "[ ]:" not run, "[*]:"
# queued or running), each output's MIME type and text, and every image: in an output (a plot
# is an <img>) or not (a diagram in Markdown), served by JupyterLab or inline ("local") or from
# the internet, and its natural size (the decoded picture's, 0 x 0 if it did not load).
READ_CELLS_JS = """() => [...document.querySelectorAll('.jp-NotebookPanel .jp-Notebook .jp-Cell')].map(cell => ({
    code: cell.classList.contains('jp-CodeCell'),
    prompt: (cell.querySelector('.jp-InputPrompt') || {}).textContent || '',
    outputs: [...cell.querySelectorAll('.jp-OutputArea-output')].map(out => ({
        mime: out.getAttribute('data-mime-type'), text: out.innerText})),
    images: [...cell.querySelectorAll('img')].map(img => ({
        output: img.closest('.jp-OutputArea-output') !== null,
        local: img.src.startsWith(location.origin) || img.src.startsWith('data:'),
        src: img.src, width: img.naturalWidth, height: img.naturalHeight})),
}))"""
# The kernel's status as the status bar shows it ("Python 3 (ipykernel) | Idle"); the notebook
# toolbar's execution indicator says "idle" even before a kernel is connected.
KERNEL_STATUS_JS = """() => {
    const item = document.querySelector('.jp-StatusBar-TextItem[title^="Change kernel"]');
    const text = item ? item.textContent : '';
    return text.startsWith('No Kernel') || !text.includes('|') ? '' : text.split('|').pop().trim().toLowerCase();
}"""
# A dialog (no such kernel, "the kernel appears to have died") stops the run: fail with its text.
DIALOG_JS = "() => (document.querySelector('.jp-Dialog') || {}).innerText || ''"
# The notebook scrolls inside its panel, not the page: after Run All the panel shows the last cells.
NOTEBOOK_HEIGHT_JS = """() => {
    const scroller = document.querySelector('.jp-NotebookPanel .jp-WindowedPanel-outer');
    return scroller ? scroller.scrollHeight : 0;
}"""
SCROLL_TO_TOP_JS = """() => {
    const scroller = document.querySelector('.jp-NotebookPanel .jp-WindowedPanel-outer');
    if (scroller) scroller.scrollTop = 0;
}"""

# JupyterLab 4 renders an error (output_type "error") exactly as it renders text written to
# stderr: `.jp-OutputArea-output.jp-RenderedText[data-mime-type="application/vnd.jupyter.stderr"]`,
# with no class of its own (checked in Lab 4.6's DOM). An error is therefore told apart from a
# warning by its text: IPython's traceback header, or a last line such as "SyntaxError: ...".
# Run All also stops at the first error, so an error leaves every later code cell unexecuted,
# which is checked as well.
STDERR = "application/vnd.jupyter.stderr"
ERROR_LAST_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--screenshot", type=Path, help="save a PNG of the whole notebook here")
    parser.add_argument("--timeout", type=float, default=600, help="seconds for the whole check (default 600)")
    parser.add_argument("--chromium", default="/usr/bin/chromium", help="the browser (default /usr/bin/chromium)")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # keeps stdout and stderr in order in a CI log

    notebook = args.notebook.resolve()
    if not notebook.is_file():
        raise SystemExit(f"{args.notebook}: no such notebook")
    if not Path(args.chromium).exists():
        raise SystemExit(f"no browser at {args.chromium}: install Debian's chromium (apt-get install -y chromium)")
    start = time.monotonic()
    try:
        check(notebook, args, deadline=start + args.timeout)
    finally:
        print(f"wall time: {time.monotonic() - start:.0f} s")


def check(notebook: Path, args: argparse.Namespace, deadline: float) -> None:
    before = hashlib.sha256(notebook.read_bytes()).hexdigest()
    with tempfile.TemporaryDirectory(prefix="browser-check-") as tmp:
        server, url, log = start_lab(notebook, Path(tmp), deadline)
        try:
            cells = run_all_in_chromium(url, notebook, args.chromium, Path(tmp) / "profile", args.screenshot, deadline)
        except BaseException:
            print(f"--- JupyterLab's log (last lines) ---\n{tail(log)}", file=sys.stderr)
            raise
        finally:
            stop(server)

    problems = find_problems(cells, json.loads(notebook.read_text())["cells"])
    if hashlib.sha256(notebook.read_bytes()).hexdigest() != before:
        problems.append(f"{args.notebook} was changed on disk during the check")
    if problems:
        print("\n\n".join(problems))
        raise SystemExit(f"browser check FAILED: {args.notebook}, {len(problems)} problem(s)")
    n_code = sum(cell["code"] for cell in cells)
    n_plots = sum(image["output"] for cell in cells for image in cell["images"])
    print(
        f"browser check passed: {args.notebook}, {n_code} code cells run in JupyterLab, no errors, "
        f"{n_plots} images in the outputs as in the committed ones"
    )


def start_lab(notebook: Path, tmp: Path, deadline: float) -> tuple[subprocess.Popen, str, Path]:
    """Start JupyterLab on the current folder; return the process, the notebook's URL and the log."""
    root = Path.cwd()
    if not notebook.is_relative_to(root):
        raise SystemExit(f"{notebook} is not inside the current folder {root}: run the check from the repository root")
    settings = tmp / "settings"
    for plugin, values in LAB_SETTINGS.items():
        path = settings / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    port = free_port()
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}", "--port-retries=0",
        "--IdentityProvider.token=", "--PasswordIdentityProvider.hashed_password=",
        f"--ServerApp.root_dir={root}",
        f"--LabApp.user_settings_dir={settings}",
        f"--LabApp.workspaces_dir={tmp / 'workspaces'}",
        # An absolute folder: Lab's first checkpoint goes there, not into notebooks/.ipynb_checkpoints.
        f"--FileCheckpoints.checkpoint_dir={tmp / 'checkpoints'}",
    ]  # fmt: skip
    if os.geteuid() == 0:
        command.append("--allow-root")
    env = dict(
        os.environ,
        JUPYTER_CONFIG_DIR=str(tmp / "config"),  # ignore the user's ~/.jupyter
        JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
        TORCHNLP_QUICK="1",
        OMP_NUM_THREADS="1",
    )
    log = tmp / "jupyterlab.log"
    server = subprocess.Popen(command, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    while True:
        try:
            with urllib.request.urlopen(f"{base}/api/status", timeout=5):
                break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                stop(server)
                raise SystemExit(f"JupyterLab did not start:\n{tail(log)}") from None
            time.sleep(0.5)
    return server, f"{base}/lab/tree/{notebook.relative_to(root).as_posix()}", log


def run_all_in_chromium(url, notebook, chromium, profile, screenshot, deadline) -> list[dict]:
    """Open the notebook, Run All Cells, wait for the end; return what the page shows of each cell."""
    from playwright.sync_api import sync_playwright  # here, so that the unit tests need no playwright

    n_cells = len(json.loads(notebook.read_text())["cells"])
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            profile, executable_path=chromium, headless=True, args=CHROMIUM_ARGS, viewport=VIEWPORT
        )
        try:
            page = browser.pages[0] if browser.pages else browser.new_page()
            page.set_default_timeout(60_000)
            try:
                page.goto(url)
                # The whole notebook is on the page and its kernel has started.
                wait_for(page, deadline, "the notebook to open", lambda: len(page.evaluate(READ_CELLS_JS)) == n_cells)
                wait_for(page, deadline, "the kernel to start", lambda: page.evaluate(KERNEL_STATUS_JS) == "idle")

                page.click(".lm-MenuBar-itemLabel:text-is('Run')")
                page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")

                def finished() -> bool:
                    status = page.evaluate(KERNEL_STATUS_JS)
                    if status in ("dead", "autorestarting"):
                        raise SystemExit(f"the kernel died (status {status!r}) while running {notebook.name}")
                    queued = any(c["prompt"].startswith("[*]") for c in page.evaluate(READ_CELLS_JS))
                    return status == "idle" and not queued

                wait_for(page, deadline, "Run All Cells to finish", finished, stable=4)
                return page.evaluate(READ_CELLS_JS)
            finally:
                if screenshot:
                    save_screenshot(page, screenshot)
        finally:
            browser.close()


def wait_for(page, deadline: float, what: str, condition, stable: int = 1) -> None:
    """Poll `condition` twice a second until it holds `stable` times in a row."""
    in_a_row = 0
    while in_a_row < stable:
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        if dialog := page.evaluate(DIALOG_JS):
            raise SystemExit(f"JupyterLab shows a dialog while waiting for {what}:\n{dialog}")
        in_a_row = in_a_row + 1 if condition() else 0
        if in_a_row < stable:
            page.wait_for_timeout(500)


def save_screenshot(page, path: Path) -> None:
    """A PNG of the whole notebook (its first 30,000 pixels): the window is made as tall as the notebook,
    and the notebook, which scrolls inside its panel, is scrolled back to its top."""
    try:
        height = min(page.evaluate(NOTEBOOK_HEIGHT_JS) + 200, 30_000)
        page.set_viewport_size({"width": VIEWPORT["width"], "height": max(height, VIEWPORT["height"])})
        page.evaluate(SCROLL_TO_TOP_JS)
        page.wait_for_timeout(1000)  # let the page lay out and draw at the new size
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=path, full_page=True)
        print(f"screenshot: {path}")
    except Exception as error:  # a failed screenshot must not hide the check's own result
        print(f"could not save the screenshot {path}: {error}", file=sys.stderr)


def committed_images(nb_cell: dict) -> int:
    """How many images (plots) a cell of the notebook's JSON holds in its committed outputs."""
    outputs = nb_cell.get("outputs", [])
    return sum(any(mime.startswith("image/") for mime in output.get("data", {})) for output in outputs)


def find_problems(cells: list[dict], nb_cells: list[dict]) -> list[str]:
    """One message per error output, per code cell that did not run (Lab skips empty ones), per
    code cell whose number of output images differs from its committed outputs', and per local
    image (a plot, a diagram) that did not load.

    `cells` is what the page shows (READ_CELLS_JS), `nb_cells` the notebook's JSON cells.
    """
    problems = []
    for number, (cell, nb_cell) in enumerate(zip(cells, nb_cells, strict=True), start=1):
        for image in cell["images"]:
            if image["local"] and not (image["width"] and image["height"]):
                problems.append(f"cell {number}: an image did not load (natural size 0): {image['src'][:100]}")
        if not cell["code"]:
            continue
        if "".join(nb_cell["source"]).strip() and not re.fullmatch(r"\[\d+\]:", cell["prompt"].strip()):
            problems.append(f"cell {number}: not executed (prompt {cell['prompt'].strip() or 'empty'})")
        for output in cell["outputs"]:
            text = output["text"].strip()
            lines = text.splitlines()
            if output["mime"] == STDERR and (
                "Traceback (most recent call last)" in text or (lines and ERROR_LAST_LINE.match(lines[-1]))
            ):
                problems.append(f"cell {number} {cell['prompt'].strip()} error output:\n{text}")
        expected, shown = committed_images(nb_cell), sum(image["output"] for image in cell["images"])
        if expected != shown:
            problems.append(f"cell {number}: {shown} image(s) in the outputs, the committed outputs hold {expected}")
    return problems


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(server: subprocess.Popen) -> None:
    """Stop JupyterLab; on SIGTERM it shuts its kernels down first."""
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def tail(log: Path, lines: int = 20) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""


if __name__ == "__main__":
    main()

"""tools/browser_check.py: what it counts as a problem, read from the page and the notebook's JSON."""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import browser_check  # noqa: E402

PLOT = {"output_type": "display_data", "data": {"image/png": "iVBOR...", "text/plain": "<Figure>"}, "metadata": {}}
TEXT = {"output_type": "stream", "name": "stdout", "text": "done\n"}


def nb_cell(source="plt.show()", outputs=()):
    return {"cell_type": "code", "source": source, "outputs": list(outputs)}


def page_cell(prompt="[1]:", images=(), outputs=()):
    """A code cell as READ_CELLS_JS reads it from the page."""
    return {"code": True, "prompt": prompt, "outputs": list(outputs), "images": list(images)}


def image(output=True, local=True, width=640, height=480, src="data:image/png;base64,iVBOR"):
    return {"output": output, "local": local, "src": src, "width": width, "height": height}


def test_committed_images_counts_image_outputs_only():
    assert browser_check.committed_images(nb_cell(outputs=[TEXT, PLOT, PLOT])) == 2
    assert browser_check.committed_images(nb_cell(outputs=[TEXT])) == 0
    assert browser_check.committed_images({"cell_type": "markdown", "source": "![x](../images/x.svg)"}) == 0


def test_committed_images_of_lesson_01():
    cells = json.loads((ROOT / "notebooks" / "01-simple-rnn.ipynb").read_text())["cells"]
    assert sum(map(browser_check.committed_images, cells)) >= 1  # the lesson's plots, as committed


def test_a_cell_that_shows_its_plots_passes():
    assert browser_check.find_problems([page_cell(images=[image()])], [nb_cell(outputs=[PLOT])]) == []


def test_a_plot_that_did_not_render_fails():
    (problem,) = browser_check.find_problems([page_cell(images=[])], [nb_cell(outputs=[TEXT, PLOT])])
    assert problem == "cell 1: 0 image(s) in the outputs, the committed outputs hold 1"


def test_an_extra_plot_fails():
    assert browser_check.find_problems([page_cell(images=[image()])], [nb_cell(outputs=[TEXT])])


def test_an_empty_image_fails():
    problems = browser_check.find_problems([page_cell(images=[image(width=0, height=0)])], [nb_cell(outputs=[PLOT])])
    assert problems == ["cell 1: an image did not load (natural size 0): data:image/png;base64,iVBOR"]


def test_a_missing_diagram_in_markdown_fails_but_an_image_from_the_internet_is_not_checked():
    markdown = {"cell_type": "markdown", "source": "![](../images/x.svg) ![](https://example.org/badge.svg)"}
    diagram = image(output=False, width=0, height=0, src="http://127.0.0.1:8888/files/images/x.svg")
    badge = image(output=False, local=False, width=0, height=0, src="https://example.org/badge.svg")
    page = [{"code": False, "prompt": "", "outputs": [], "images": [diagram, badge]}]
    assert browser_check.find_problems(page, [markdown]) == [
        "cell 1: an image did not load (natural size 0): http://127.0.0.1:8888/files/images/x.svg"
    ]


def test_errors_and_unexecuted_cells_are_still_found():
    error = {"mime": browser_check.STDERR, "text": "Traceback (most recent call last):\nValueError: bad"}
    problems = browser_check.find_problems(
        [page_cell(outputs=[error]), page_cell(prompt="[ ]:")], [nb_cell("1/0"), nb_cell("x = 1")]
    )
    assert [p.split(":")[0] for p in problems] == ["cell 1 [1]", "cell 2"]

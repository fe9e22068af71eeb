"""The diagrams in images/ (SVG and PNG) are what tools/make_diagrams.py draws: a stale or hand-edited one fails.

The script runs once into a temporary folder (about 2 s). Its SVG is byte-for-byte
deterministic for one Matplotlib version; under another version the drawing code may place
paths a little differently, so there only the text of every figure is compared (Matplotlib
writes each string it draws into the SVG as a comment), and the byte comparison is skipped.
"""

import re
import subprocess
import sys
from pathlib import Path

import matplotlib
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tools" / "make_diagrams.py"
COMMITTED = sorted((ROOT / "images").glob("*.svg"))
NAMES = [path.name for path in COMMITTED]
PNGS = [path.with_suffix(".png").name for path in COMMITTED]
FIX = "regenerate them with `make images` (python tools/make_diagrams.py) and commit the result"


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    out = tmp_path_factory.mktemp("images")
    subprocess.run([sys.executable, SCRIPT, "--out", out], check=True, capture_output=True)
    return out


def texts(svg: str) -> list[str]:
    """The strings drawn in an SVG written by Matplotlib, in drawing order."""
    return re.findall(r"<!-- (.*?) -->", svg, flags=re.S)


def matplotlib_version(svg: str) -> str:
    return re.search(r"Matplotlib v([^,<]+)", svg).group(1)


def test_the_script_draws_exactly_the_committed_diagrams(drawn):
    assert len(NAMES) == 9
    assert sorted(path.name for path in drawn.iterdir()) == sorted(PNGS + NAMES), FIX
    assert sorted(path.name for path in (ROOT / "images").iterdir()) == sorted(PNGS + NAMES), FIX


@pytest.mark.parametrize("name", NAMES)
def test_diagram_text_is_up_to_date(drawn, name):
    committed = (ROOT / "images" / name).read_text()
    assert texts(committed), "no text found: was the SVG written by Matplotlib with svg.fonttype='path'?"
    assert texts((drawn / name).read_text()) == texts(committed), f"{name} is stale: {FIX}"


@pytest.mark.parametrize("name", NAMES)
def test_diagram_is_byte_identical(drawn, name):
    committed = (ROOT / "images" / name).read_bytes()
    made_with = matplotlib_version(committed.decode())
    if made_with != matplotlib.__version__:
        pytest.skip(f"{name} was drawn with Matplotlib {made_with}, this is {matplotlib.__version__}")
    assert (drawn / name).read_bytes() == committed, f"{name} is stale: {FIX}"


@pytest.mark.parametrize("name", PNGS)
def test_png_is_byte_identical(drawn, name):
    made_with = matplotlib_version((ROOT / "images" / name).with_suffix(".svg").read_text())
    if made_with != matplotlib.__version__:
        pytest.skip(f"{name} was drawn with Matplotlib {made_with}, this is {matplotlib.__version__}")
    assert (drawn / name).read_bytes() == (ROOT / "images" / name).read_bytes(), f"{name} is stale: {FIX}"

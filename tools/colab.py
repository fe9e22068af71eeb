"""Write the Colab badges, setup cells and diagram links of every lesson from the one repository address.

    python tools/colab.py            # rewrite notebooks/*.ipynb, solutions/*.ipynb and README.md in place
    python tools/colab.py --check    # exit 1 if any of them is out of date (a unit test runs this)

The address is ``[project.urls] Repository`` in pyproject.toml: change it there, run this
script, and every badge (first line of each lesson and solutions notebook, a lesson's link to its
solutions, the README's lesson table), every setup cell (each notebook's second cell) and every
diagram follows. The setup cell also holds the
quick-mode switch ``QUICK`` that the README points Colab learners to. A lesson shows a diagram
as ``![text](../images/NAME.svg)`` when written; this script turns the link into the PNG's
address on GitHub (``image_url``), because Colab opens a notebook without its folder (a
relative link shows nothing there) and does not display SVG in Markdown.
"""

import argparse
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
BADGE = "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
FOLDERS = ("notebooks", "solutions")  # the lessons, and one worked-solutions notebook per lesson
# A Colab badge anywhere in a notebook's Markdown or in the README; group 1: notebooks/NAME.ipynb or solutions/...
BADGE_LINK = re.compile(
    re.escape(BADGE)
    + r"\(https://colab\.research\.google\.com/github/[^)]*/blob/main/((?:notebooks|solutions)/[^)/]+)\)"
)
IMAGE = re.compile(
    r"\]\((?:\.\./images/|https://raw\.githubusercontent\.com/[^/)]+/[^/)]+/main/images/)([\w-]+)\.(?:svg|png)\)"
)
SETUP = """\
# QUICK = True switches on quick mode: small samples shipped with the course, the lesson in minutes, no download.
# False: the full data, downloaded on first use (lessons 04-08 took 50-145 min each on a 2-core CPU; see the
# README). Back from True to False: restart the kernel first. In Colab this cell also installs the course.
import os
import subprocess
import sys

QUICK = False
if QUICK:
    os.environ["TORCHNLP_QUICK"] = "1"
if "google.colab" in sys.modules:
    REPO, FOLDER = "{repo}", "/content/{name}"
    steps = [] if os.path.isdir(FOLDER) else [["git", "clone", "-q", "--depth", "1", REPO, FOLDER]]
    steps.append([sys.executable, "-m", "pip", "install", "-q", "-e", FOLDER])
    for step in steps:
        if subprocess.run(step).returncode != 0:
            raise RuntimeError(f"Colab setup failed at `{{' '.join(step)}}`: check that {{REPO}} is reachable.")
    sys.path.insert(0, FOLDER)"""


def repository() -> str:
    """The course's GitHub address, e.g. ``https://github.com/owner/name``, from pyproject.toml."""
    found = re.search(r'^Repository = "([^"]+)"', (ROOT / "pyproject.toml").read_text(encoding="utf-8"), re.M)
    if not found:
        raise SystemExit('pyproject.toml has no line `Repository = "https://github.com/..."` under [project.urls]')
    return found.group(1).rstrip("/")


def badge(repo: str, notebook: str) -> str:
    """The Colab badge that opens ``notebook`` (e.g. ``notebooks/01-simple-rnn.ipynb``) of ``repo``'s main branch."""
    path = repo.removeprefix("https://github.com/")
    return f"{BADGE}(https://colab.research.google.com/github/{path}/blob/main/{notebook})"


def link_badges(repo: str, markdown: str) -> str:
    """``markdown`` with every Colab badge of a lesson or solutions notebook pointed at ``repo``."""
    return BADGE_LINK.sub(lambda m: badge(repo, m.group(1)), markdown)


def image_url(repo: str, name: str) -> str:
    """The address of ``images/<name>.png`` on ``repo``'s main branch, which Colab and GitHub both display."""
    return f"https://raw.githubusercontent.com/{repo.removeprefix('https://github.com/')}/main/images/{name}.png"


def link_images(repo: str, markdown: str) -> str:
    """``markdown`` with every link to a diagram of images/ (relative, or on any GitHub address) made ``image_url``."""
    return IMAGE.sub(lambda m: f"]({image_url(repo, m.group(1))})", markdown)


def sync_notebook(path: Path, repo: str, write: bool = True) -> bool:
    """Give one notebook (in notebooks/ or solutions/) its own badge, the setup cell, the badges and the diagram
    links of ``repo``; True if it was out of date."""
    nb = nbformat.read(path, as_version=4)
    first, second = nb.cells[0], nb.cells[1]
    lines = first.source.splitlines()
    lines[0] = badge(repo, f"{path.parent.name}/{path.name}")
    setup = SETUP.format(repo=repo, name=repo.rsplit("/", 1)[-1])
    markdown = [cell for cell in nb.cells if cell.cell_type == "markdown"]
    sources = ["\n".join(lines) if cell is first else cell.source for cell in markdown]
    linked = [link_badges(repo, link_images(repo, source)) for source in sources]
    if second.source == setup and linked == [cell.source for cell in markdown]:
        return False
    if write:
        second.source = setup
        for cell, source in zip(markdown, linked):
            cell.source = source
        nbformat.write(nb, path)
    return True


def sync_readme(repo: str, write: bool = True) -> bool:
    """Point every Colab badge of README.md at ``repo``; True if one was out of date."""
    path = ROOT / "README.md"
    text = path.read_text(encoding="utf-8")
    new = link_badges(repo, text)
    if new == text:
        return False
    if write:
        path.write_text(new, encoding="utf-8")
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file is out of date")
    args = parser.parse_args()
    repo = repository()
    paths = [path for folder in FOLDERS for path in sorted((ROOT / folder).glob("*.ipynb"))]
    stale = [f"{p.parent.name}/{p.name}" for p in paths if sync_notebook(p, repo, not args.check)]
    stale += ["README.md"] if sync_readme(repo, not args.check) else []
    if stale:
        print(("out of date: " if args.check else "rewrote: ") + ", ".join(stale))
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())

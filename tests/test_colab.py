"""The Colab badges and setup cells all come from the one address in pyproject.toml."""

import os
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import colab  # noqa: E402


def test_every_badge_and_setup_cell_is_generated_from_the_repository_address():
    result = subprocess.run([sys.executable, ROOT / "tools" / "colab.py", "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_setup_cell_is_valid_python_that_stops_with_a_clear_message(tmp_path, monkeypatch):
    repo = colab.repository()
    assert repo.startswith("https://github.com/")
    source = colab.SETUP.format(repo=repo, name="course")
    compile(source, "setup", "exec")
    # Run it as Colab would, with a clone that fails: it must raise, naming the address.
    monkeypatch.setitem(sys.modules, "google.colab", object())
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 128))
    try:
        exec(source.replace("/content/course", str(tmp_path / "course")), {})
    except RuntimeError as error:
        assert repo in str(error) and "git clone" in str(error)
    else:
        raise AssertionError("the setup cell did not stop on a failed clone")


def test_notebooks_have_the_badge_of_their_own_file():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        first = nbformat.read(path, as_version=4).cells[0].source.splitlines()[0]
        assert first.endswith(f"/blob/main/notebooks/{path.name})"), path.name


def test_diagram_links_become_the_png_on_github():
    repo = "https://github.com/owner/course"
    png = "https://raw.githubusercontent.com/owner/course/main/images/lstm-cell.png"
    for link in ("../images/lstm-cell.svg", "../images/lstm-cell.png", png.replace("owner/course", "old/name")):
        assert colab.link_images(repo, f"See ![the cell]({link}) here.") == f"See ![the cell]({png}) here."
    assert colab.link_images(repo, "![a plot](https://example.org/x.png)") == "![a plot](https://example.org/x.png)"


def test_every_diagram_a_lesson_shows_is_in_images():
    shown = set()
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "markdown":
                shown |= {m.group(1) for m in colab.IMAGE.finditer(cell.source)}
    assert shown, "no lesson shows a diagram"
    assert {name for name in shown if not (ROOT / "images" / f"{name}.png").is_file()} == set()


def test_setup_cell_quick_switch_turns_quick_mode_on_and_never_off(monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)  # outside Colab: nothing is installed
    source = colab.SETUP.format(repo=colab.repository(), name="course")
    assert "\nQUICK = False\n" in source
    monkeypatch.setenv("TORCHNLP_QUICK", "1")  # as make test and CI run the lessons
    exec(source, {})
    assert os.environ["TORCHNLP_QUICK"] == "1"  # QUICK = False leaves the caller's quick mode on
    monkeypatch.delenv("TORCHNLP_QUICK")
    exec(source.replace("\nQUICK = False\n", "\nQUICK = True\n"), {})
    assert os.environ["TORCHNLP_QUICK"] == "1"


def test_solutions_have_their_own_badge_and_link_to_and_from_their_lesson():
    solutions = sorted((ROOT / "solutions").glob("*.ipynb"))
    assert solutions, "no solutions notebook"
    for path in solutions:
        first = nbformat.read(path, as_version=4).cells[0].source
        assert first.splitlines()[0].endswith(f"/blob/main/solutions/{path.name})"), path.name
        lesson = ROOT / "notebooks" / path.name  # a solutions notebook has its lesson's name
        assert lesson.is_file(), f"solutions/{path.name} has no lesson notebooks/{path.name}"
        assert f"](../notebooks/{path.name})" in first, f"solutions/{path.name} does not link to its lesson"
        markdown = "\n".join(c.source for c in nbformat.read(lesson, as_version=4).cells if c.cell_type == "markdown")
        assert f"](../solutions/{path.name})" in markdown, f"notebooks/{path.name} does not link to its solutions"
        assert colab.badge(colab.repository(), f"solutions/{path.name}") in markdown, path.name


def test_badges_in_markdown_follow_the_repository_address():
    old = "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/old/name/blob/main/solutions/01-x.ipynb)"
    new = colab.badge("https://github.com/owner/course", "solutions/01-x.ipynb")
    assert new.endswith("(https://colab.research.google.com/github/owner/course/blob/main/solutions/01-x.ipynb)")
    assert colab.link_badges("https://github.com/owner/course", f"Solutions: {old} here.") == f"Solutions: {new} here."
    assert colab.link_badges("https://github.com/owner/course", "[a link](../solutions/01-x.ipynb)") == (
        "[a link](../solutions/01-x.ipynb)"
    )


def test_sync_gives_a_solutions_notebook_its_own_badge_and_the_setup_cell(tmp_path):
    repo = "https://github.com/owner/course"
    lesson_badge = colab.badge(repo, "notebooks/01-x.ipynb")  # copied from the lesson: the wrong file
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(f"{lesson_badge}\n\n# Solutions"), nbformat.v4.new_code_cell("# setup")]
    (tmp_path / "solutions").mkdir()
    path = tmp_path / "solutions" / "01-x.ipynb"
    nbformat.write(nb, path)
    assert colab.sync_notebook(path, repo, write=False) is True
    assert nbformat.read(path, as_version=4).cells[0].source.startswith(lesson_badge)  # --check changes nothing
    assert colab.sync_notebook(path, repo) is True
    cells = nbformat.read(path, as_version=4).cells
    assert cells[0].source == f"{colab.badge(repo, 'solutions/01-x.ipynb')}\n\n# Solutions"
    assert cells[1].source == colab.SETUP.format(repo=repo, name="course")
    assert colab.sync_notebook(path, repo) is False  # now up to date

"""python -m lessons.notebooks OUT: one nbformat 4 notebook per lesson, holding the lesson's
Markdown and code in order, every code cell equal to the lesson's block."""
import json
import os
import shutil
import subprocess
import sys

import pytest

from lessons import notebooks
from test_lessons import LESSONS, LESSONS_DIR, ROOT, read_blocks


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("notebooks")
    assert notebooks.main([str(out)]) == 0
    return out


def load(written, lesson):
    with open(written / (lesson[:-3] + ".ipynb"), encoding="utf-8") as f:
        return json.load(f)


def text(source):
    """A cell's source or a stream's text: a string, or a list of strings to join."""
    return source if isinstance(source, str) else "".join(source)


def test_one_notebook_per_lesson(written):
    assert sorted(p.name for p in written.glob("*.ipynb")) == \
        [n[:-3] + ".ipynb" for n in LESSONS]
    assert len(LESSONS) == 11


@pytest.mark.parametrize("lesson", LESSONS)
def test_nbformat_4_required_keys(written, lesson):
    nb = load(written, lesson)
    for key in ("nbformat", "nbformat_minor", "metadata", "cells"):
        assert key in nb, key
    assert nb["nbformat"] == 4 and isinstance(nb["nbformat_minor"], int)
    assert isinstance(nb["metadata"], dict) and nb["cells"]
    ids = [cell["id"] for cell in nb["cells"]]
    assert len(set(ids)) == len(ids)             # nbformat 4.5: unique cell ids
    for cell in nb["cells"]:
        assert cell["cell_type"] in ("markdown", "code")
        assert isinstance(cell["metadata"], dict)
        assert isinstance(text(cell["source"]), str)
        if cell["cell_type"] == "code":
            assert "execution_count" in cell and cell["execution_count"] is None
            assert isinstance(cell["outputs"], list)
            for output in cell["outputs"]:
                assert output["output_type"] == "stream" and output["name"] == "stdout"
                assert isinstance(text(output["text"]), str)
        else:
            assert "outputs" not in cell and "execution_count" not in cell


@pytest.mark.parametrize("lesson", LESSONS)
def test_code_cells_are_the_lessons_blocks_with_their_output(written, lesson):
    nb = load(written, lesson)
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    blocks = read_blocks(os.path.join(LESSONS_DIR, lesson))
    python = [(i, src) for i, (lang, _, src) in enumerate(blocks) if lang == "python"]
    assert [text(c["source"]) for c in code] == [src.rstrip("\n") for _, src in python]
    for cell, (i, src) in zip(code, python):
        follows = blocks[i + 1] if i + 1 < len(blocks) else None
        if follows is not None and follows[0] == "output":
            assert [text(o["text"]) for o in cell["outputs"]] == [follows[2]]
        else:
            assert cell["outputs"] == []
        raises = src.lstrip().startswith("# This raises")
        assert ("raises-exception" in cell["metadata"].get("tags", [])) == raises


@pytest.mark.parametrize("lesson", LESSONS)
def test_every_line_of_the_lesson_is_in_the_notebook_in_order(written, lesson):
    """The Markdown cells hold all the text and the other fenced blocks: reading the cells
    in order meets every non-blank line of the lesson in order (fence lines aside)."""
    nb = load(written, lesson)
    cell_lines = []
    for cell in nb["cells"]:
        cell_lines += text(cell["source"]).split("\n")
        for output in cell.get("outputs", []):
            cell_lines += text(output["text"]).split("\n")
    fences = ("```python", "```output", "```")
    cell_lines = [l for l in cell_lines if l.strip() and l.strip() not in fences]
    lesson_lines = [l for l in open(os.path.join(LESSONS_DIR, lesson), encoding="utf-8")
                    .read().split("\n") if l.strip() and l.strip() not in fences]
    it = iter(cell_lines)
    missing = [l for l in lesson_lines if not any(l == c for c in it)]
    assert not missing, f"{lesson}: not in the notebook, or out of order: {missing[:3]}"


def test_figures_are_copied_beside_the_notebooks(written):
    shown = set()
    for lesson in LESSONS:
        shown |= set(notebooks.FIGURE.findall(open(os.path.join(LESSONS_DIR, lesson),
                                                   encoding="utf-8").read()))
    assert shown and {p.name for p in (written / "figures").glob("*.png")} == shown


def test_notebooks_beside_the_lessons_themselves(tmp_path):
    """OUT may be the lessons folder: the figures are already there and are left alone."""
    lessons = tmp_path / "lessons"
    shutil.copytree(LESSONS_DIR, lessons, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    before = {p.name: p.read_bytes() for p in (lessons / "figures").glob("*.png")}
    written = notebooks.write_notebooks(str(lessons), lessons_dir=str(lessons))
    assert len(written) == len(LESSONS)
    assert {p.name: p.read_bytes() for p in (lessons / "figures").glob("*.png")} == before


def test_the_parser_keeps_other_blocks_as_markdown_and_refuses_an_open_block():
    parts = notebooks.parse("# T\n\ntext\n\n```bash\nls\n```\n\n```python\nx = 1\n```\n"
                            "```output\n1\n```\nend\n")
    assert parts == [("markdown", "# T\n\ntext\n\n```bash\nls\n```"), ("python", "x = 1"),
                     ("output", "1"), ("markdown", "end")]
    with pytest.raises(ValueError, match="line 3 is never closed"):
        notebooks.parse("a\n\n```python\nx = 1\n")
    with pytest.raises(ValueError, match="must follow a python block"):
        notebooks.notebook("```output\n1\n```\n")


def test_the_command_runs_as_a_module_and_refuses_a_file(tmp_path):
    done = subprocess.run([sys.executable, "-m", "lessons.notebooks", str(tmp_path / "nb")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(tmp_path / "nb" / (n[:-3] + ".ipynb")) for n in LESSONS]
    a_file = tmp_path / "taken"
    a_file.write_text("")
    done = subprocess.run([sys.executable, "-m", "lessons.notebooks", str(a_file)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "is a file" in done.stderr

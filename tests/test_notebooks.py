"""python -m lessons.notebooks OUT: one nbformat 4 notebook per lesson, holding the lesson's
Markdown and code in order, every code cell equal to the lesson's block, after a setup cell;
folded answers as code cells to predict before running; and notebooks 04, 10 and 11 executed
by a real Jupyter kernel (nbclient, ipykernel) that cannot import the project by itself."""
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


def lesson_cells(nb):
    """The cells made from the lesson: all but the setup cell, which comes first."""
    assert nb["cells"][0]["id"] == "setup" and "setup" in nb["cells"][0]["metadata"]["tags"]
    return nb["cells"][1:]


def folded_lines(lesson_text):
    """The line indices of the fences and bodies of the python blocks inside folded answers."""
    folded = notebooks.folds(lesson_text)
    return {i for lang, first, src in notebooks.blocks(lesson_text) if lang == "python"
            and any(a < first - 2 < b for a, b in folded)
            for i in range(first - 2, first + src.count("\n"))}


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
            assert cell["metadata"].get("tags", []) in ([], ["raises-exception"], ["setup"],
                                                        ["prediction"],
                                                        ["raises-exception", "prediction"])
            assert isinstance(cell["outputs"], list)
            for output in cell["outputs"]:
                assert output["output_type"] == "stream" and output["name"] == "stdout"
                assert isinstance(text(output["text"]), str)
        else:
            assert "outputs" not in cell and "execution_count" not in cell


@pytest.mark.parametrize("lesson", LESSONS)
def test_code_cells_are_the_lessons_blocks_with_their_output(written, lesson):
    nb = load(written, lesson)
    code = [c for c in lesson_cells(nb) if c["cell_type"] == "code"]
    blocks = read_blocks(os.path.join(LESSONS_DIR, lesson))
    folded = folded_lines(open(os.path.join(LESSONS_DIR, lesson), encoding="utf-8").read())
    python = [(i, src) for i, (lang, _, src) in enumerate(blocks) if lang == "python"]
    assert [text(c["source"]) for c in code] == [src.rstrip("\n") for _, src in python]
    for cell, (i, src) in zip(code, python):
        follows = blocks[i + 1] if i + 1 < len(blocks) else None
        if blocks[i][1] - 2 in folded:        # a folded answer's code: to predict, then run
            assert cell["outputs"] == [] and "prediction" in cell["metadata"]["tags"]
        elif follows is not None and follows[0] == "output":
            assert [text(o["text"]) for o in cell["outputs"]] == [follows[2]]
        else:
            assert cell["outputs"] == []
        raises = src.lstrip().startswith("# This raises")
        assert ("raises-exception" in cell["metadata"].get("tags", [])) == raises


@pytest.mark.parametrize("lesson", LESSONS)
def test_every_line_of_the_lesson_is_in_the_notebook_in_order(written, lesson):
    """The Markdown cells hold all the text and the other fenced blocks: reading the cells
    in order meets every non-blank line of the lesson in order (fence lines aside), but for
    the code of folded answers, which comes out of the fold, before it (tested above)."""
    nb = load(written, lesson)
    cell_lines = []
    for cell in lesson_cells(nb):
        if "prediction" in cell["metadata"].get("tags", []):
            continue
        cell_lines += text(cell["source"]).split("\n")
        for output in cell.get("outputs", []):
            cell_lines += text(output["text"]).split("\n")
    fences = ("```python", "```output", "```")
    cell_lines = [l for l in cell_lines if l.strip() and l.strip() not in fences]
    source = open(os.path.join(LESSONS_DIR, lesson), encoding="utf-8").read()
    folded = folded_lines(source)
    lesson_lines = [l for i, l in enumerate(source.split("\n"))
                    if l.strip() and l.strip() not in fences and i not in folded]
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


# --- folded answers: predict, then run ---------------------------------------------------------

QUESTION = """# T

```python
x = 1
print(x)
```

```output
1
```

**Check your understanding.** What does `x + 1` print?

<details><summary>Answer</summary>

Two: one more than x.

```python
print(x + 1)
```

```output
2
```

</details>

end
"""


def test_a_folded_answer_gives_a_code_cell_to_run_then_the_answer_folded_whole():
    assert notebooks.folds(QUESTION) == [(13, 25)]     # the lines of <details>, </details>
    # the test suite runs the blocks inside the fold like any other
    assert [(lang, src) for lang, _, src in notebooks.blocks(QUESTION)] == [
        ("python", "x = 1\nprint(x)\n"), ("output", "1\n"), ("python", "print(x + 1)\n"),
        ("output", "2\n")]
    assert notebooks.parse(QUESTION) == [
        ("markdown", "# T"), ("python", "x = 1\nprint(x)"), ("output", "1"),
        ("markdown", "**Check your understanding.** What does `x + 1` print?"),
        ("prediction", "print(x + 1)"),
        ("markdown", "<details><summary>Answer</summary>\n\nTwo: one more than x.\n\n"
                     "```output\n2\n```\n\n</details>"),
        ("markdown", "end")]
    cells = lesson_cells(notebooks.notebook(QUESTION))
    run = cells[3]
    assert run["cell_type"] == "code" and text(run["source"]) == "print(x + 1)"
    assert run["outputs"] == [] and run["metadata"]["tags"] == ["prediction"]
    answer = text(cells[4]["source"])
    # one well-formed element in one cell: opened and closed once, the output still folded in
    assert answer.startswith("<details>") and answer.endswith("</details>")
    assert answer.count("<details>") == answer.count("</details>") == 1 and "\n2\n" in answer


def test_a_fold_never_closed_or_nested_is_refused():
    with pytest.raises(ValueError, match="line 3 is never closed"):
        notebooks.parse("a\n\n<details><summary>Answer</summary>\n\ntext\n")
    with pytest.raises(ValueError, match="line 2 opens inside the one opened at line 1"):
        notebooks.parse("<details>\n<details>\n</details>\n</details>\n")
    # a <details> inside a fenced block is code, not a fold
    assert notebooks.folds("```html\n<details>\n```\n") == []


# --- the setup cell, and notebooks that run anywhere -------------------------------------------

def test_the_setup_cell_comes_first_and_records_the_repository(written):
    setup = text(load(written, LESSONS[0])["cells"][0]["source"])
    assert repr(ROOT) in setup and "except ImportError" in setup
    assert "os.chdir(tempfile.mkdtemp(" in setup
    compile(setup, "setup", "exec")


def test_notebooks_written_into_lessons_are_ignored_by_git():
    done = subprocess.run(["git", "check-ignore", "-q", "lessons/04_training.ipynb"], cwd=ROOT)
    assert done.returncode == 0, ".gitignore must ignore notebooks written into lessons/"


KERNEL = """\
import sys
# A Python that cannot import this project by itself: no editable-install finder, no
# repository on sys.path (as in an environment where it was never installed).
sys.meta_path[:] = [f for f in sys.meta_path if "__editable__" not in getattr(f, "__module__", "")
                    and "__editable__" not in type(f).__module__]
sys.path[:] = [p for p in sys.path if p not in ("", {root!r})
               and "__editable__" not in p]
from ipykernel import kernelapp
kernelapp.launch_new_instance()
"""


@pytest.fixture(scope="module")
def kernel_without_the_project(tmp_path_factory):
    """The name of a Jupyter kernel (in a kernelspec folder of its own) whose Python cannot
    import nn: it must come from the notebook's setup cell."""
    spec = tmp_path_factory.mktemp("jupyter") / "kernels" / "bare"
    spec.mkdir(parents=True)
    code = KERNEL.format(root=ROOT)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-c", code, "-f", "{connection_file}"],
        "display_name": "Python without this project", "language": "python",
        "env": {"PYTHONPATH": ""}}))
    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = str(spec.parent.parent)
    yield "bare"
    if old is None:
        del os.environ["JUPYTER_PATH"]
    else:
        os.environ["JUPYTER_PATH"] = old


def repository_files():
    """Every file under the repository but .git, .venv and caches: path -> its time for the
    files under lessons/ (where a lesson's code could overwrite a figure), else None (so that
    editing a file elsewhere while the test runs does not fail it)."""
    found = {}
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in (".git", ".venv", "__pycache__", ".pytest_cache")]
        for f in files:
            path = os.path.join(folder, f)
            found[path] = (os.stat(path).st_mtime_ns if path.startswith(LESSONS_DIR + os.sep)
                           else None)
    return found


@pytest.mark.parametrize("lesson", ["04_training.md", "10_cyclegan.md", "11_gpu.md"])
def test_a_jupyter_kernel_runs_the_notebook_from_outside_the_repository(
        written, kernel_without_the_project, lesson, tmp_path):
    import nbclient
    import nbformat
    nb = nbformat.reads(json.dumps(load(written, lesson)), as_version=4)
    expected = {cell["id"]: [text(o["text"]) for o in cell["outputs"]]
                for cell in nb.cells if cell["cell_type"] == "code"}
    # Before the setup cell, the kernel cannot import the project.
    probe = nbformat.v4.new_code_cell(
        "import importlib.util\nprint('nn found:', importlib.util.find_spec('nn') is not None)")
    nb.cells.insert(0, probe)
    before = repository_files()
    workdir = tmp_path / "opened here"
    workdir.mkdir()
    nbclient.NotebookClient(nb, kernel_name=kernel_without_the_project, timeout=600,
                            resources={"metadata": {"path": str(workdir)}}).execute()
    assert text(nb.cells[0].outputs[0]["text"]) == "nn found: False\n"
    assert f"the project: {ROOT}\n" in text(nb.cells[1].outputs[0]["text"])
    for cell in nb.cells[2:]:
        if cell["cell_type"] != "code":
            continue
        printed = "".join(o["text"] for o in cell.outputs if o["output_type"] == "stream"
                          and o["name"] == "stdout")
        errors = [o for o in cell.outputs if o["output_type"] == "error"]
        assert not errors or "raises-exception" in cell.metadata.get("tags", []), errors
        if expected[cell["id"]]:          # the numbers the lesson shows, printed again
            assert [l.rstrip() for l in printed.rstrip("\n").split("\n")] == \
                [l.rstrip() for l in expected[cell["id"]][0].rstrip("\n").split("\n")], cell.source
    shown = notebooks.FIGURE.findall(open(os.path.join(LESSONS_DIR, lesson), encoding="utf-8")
                                     .read())
    images = [o for cell in nb.cells if cell["cell_type"] == "code" for o in cell.outputs
              if o["output_type"] == "display_data" and "image/png" in o["data"]]
    assert len(images) >= len(set(shown)), "every figure is shown inline"
    assert list(workdir.iterdir()) == [], "nothing is written beside the notebook"
    assert repository_files() == before, "nothing is written into the repository"

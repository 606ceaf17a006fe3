"""Run every lesson: each ```python block, in order, in one fresh namespace per lesson.

Conventions (documented in lessons/README.md):

- A block whose first line is ``# This raises SomeError`` must raise an exception of that class
  (or of a subclass of a class with that name); any other block must not raise.
- A ```output block right after a python block is what that block prints, checked line by line
  (trailing spaces ignored).
- ``![...](figures/NAME.png)`` in a lesson: the lesson's code must write ``NAME.png`` in its
  working directory, and a rendered copy must be committed as ``lessons/figures/NAME.png``.

Each lesson runs in a temporary working directory with the repository root on ``sys.path``.
Code is compiled with the Markdown file as its file name and its own line numbers, so a
traceback points at the line of the lesson to fix.

    python tests/test_lessons.py --figures     # re-render lessons/figures/ from the lessons
"""
import contextlib
import io
import os
import re
import sys
import tempfile
import traceback

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:  # run as a script: python tests/test_lessons.py --figures
    sys.path.insert(0, ROOT)

from lessons.notebooks import FIGURE, RAISES, blocks, lesson_files  # noqa: E402 (after the path)

LESSONS_DIR = os.path.join(ROOT, "lessons")
LESSONS = lesson_files(LESSONS_DIR) if os.path.isdir(LESSONS_DIR) else []


def read_blocks(path):
    """Fenced blocks of a Markdown file: a list of (language, first code line, source)."""
    return blocks(open(path, encoding="utf-8").read(), path)


def _raised_as(error, name):
    return any(cls.__name__ == name for cls in type(error).__mro__)


def run_lesson(name, workdir):
    """Execute lesson ``name`` in ``workdir``; return a list of problems (empty when all is well)."""
    path = os.path.join(LESSONS_DIR, name)
    blocks = read_blocks(path)
    namespace = {"__name__": f"lesson_{name[:2]}"}
    problems, previous_output = [], None
    old_cwd, old_path = os.getcwd(), list(sys.path)
    os.chdir(workdir)
    sys.path.insert(0, ROOT)
    try:
        for lang, line, source in blocks:
            if lang == "output":
                if previous_output is None:
                    problems.append(f"{name}:{line}: an output block must follow a python block")
                    continue
                expected = [s.rstrip() for s in source.rstrip("\n").split("\n")]
                got = [s.rstrip() for s in previous_output.rstrip("\n").split("\n")]
                if expected != got:
                    problems.append(f"{name}:{line}: the block above prints\n"
                                    + "\n".join(got) + "\nbut the lesson shows\n"
                                    + "\n".join(expected))
                previous_output = None
                continue
            previous_output = None
            if lang != "python":
                continue
            expect = RAISES.match(source.lstrip().split("\n")[0])
            code = compile("\n" * (line - 1) + source, path, "exec")
            out = io.StringIO()
            try:
                with contextlib.redirect_stdout(out):
                    exec(code, namespace)
            except Exception as e:  # noqa: BLE001 (the lesson may raise anything)
                if expect and _raised_as(e, expect.group(1)):
                    previous_output = out.getvalue()
                    continue
                problems.append(f"{name}: the block at line {line} raised "
                                f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=-3)}")
                break  # later blocks depend on this one
            if expect:
                problems.append(f"{name}: the block at line {line} says it raises "
                                f"{expect.group(1)} but it ran without error")
            previous_output = out.getvalue()
    finally:
        os.chdir(old_cwd)
        sys.path[:] = old_path
    return problems


@pytest.fixture(autouse=True)
def _headless(monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")


@pytest.mark.parametrize("name", LESSONS)
def test_lesson_runs(name, tmp_path):
    problems = run_lesson(name, str(tmp_path))
    text = open(os.path.join(LESSONS_DIR, name), encoding="utf-8").read()
    for figure in FIGURE.findall(text):
        if not (tmp_path / figure).exists():
            problems.append(f"{name} shows figures/{figure} but its code does not write {figure}")
        if not os.path.exists(os.path.join(LESSONS_DIR, "figures", figure)):
            problems.append(f"{name} shows figures/{figure}, which is not committed in "
                            "lessons/figures/ (run: python tests/test_lessons.py --figures)")
    assert not problems, "\n\n".join(problems)


def test_lessons_exist_in_order():
    numbers = [int(n[:2]) for n in LESSONS]
    assert numbers == list(range(1, 12)), f"expected lessons 1..11, found {LESSONS}"


@pytest.mark.parametrize("name", LESSONS)
def test_lesson_shape(name):
    """Each lesson says what it teaches and assumes, and ends with a summary and exercises."""
    text = open(os.path.join(LESSONS_DIR, name), encoding="utf-8").read()
    headings = re.findall(r"^## (.+)$", text, re.M)
    assert text.startswith("# "), f"{name} must start with a '# ' title"
    for needed in ("What you will learn", "What you should know"):
        assert needed in headings[:3], f"{name}: '## {needed}' should open the lesson"
    assert headings[-2:] == ["Summary", "Exercises"], \
        f"{name} must end with '## Summary' then '## Exercises'; its last headings: {headings[-2:]}"


def _catalog():
    """{lesson number: [exercise IDs]} from lessons/exercises/CATALOG.md, or None."""
    path = os.path.join(LESSONS_DIR, "exercises", "CATALOG.md")
    if not os.path.exists(path):
        return None
    ids = {}
    for match in re.finditer(r"^\|\s*(\d+)\.(\d+)\s*\|", open(path, encoding="utf-8").read(), re.M):
        ids.setdefault(int(match.group(1)), []).append(f"{match.group(1)}.{match.group(2)}")
    return ids


@pytest.mark.parametrize("name", LESSONS)
def test_lesson_names_its_exercises(name):
    catalog = _catalog()
    if catalog is None:
        pytest.skip("lessons/exercises/CATALOG.md does not exist")
    text = open(os.path.join(LESSONS_DIR, name), encoding="utf-8").read()
    section = text.split("## Exercises", 1)[-1]
    for exercise in catalog.get(int(name[:2]), []):
        assert f"python -m lessons.grade {exercise}" in section, \
            f"{name}: its Exercises section should name exercise {exercise} and its grading command"


def render_figures():
    """Run every lesson in a temporary folder and copy the figures it shows to lessons/figures/."""
    import shutil
    os.environ["MPLBACKEND"] = "Agg"
    os.makedirs(os.path.join(LESSONS_DIR, "figures"), exist_ok=True)
    for name in LESSONS:
        text = open(os.path.join(LESSONS_DIR, name), encoding="utf-8").read()
        figures = FIGURE.findall(text)
        if not figures:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            problems = run_lesson(name, tmp)
            if problems:
                print("\n".join(problems))
                continue
            for figure in figures:
                shutil.copy(os.path.join(tmp, figure), os.path.join(LESSONS_DIR, "figures", figure))
                print(f"lessons/figures/{figure}")


if __name__ == "__main__":
    if sys.argv[1:] == ["--figures"]:
        render_figures()
    else:
        sys.exit(pytest.main([__file__, "-q"]))

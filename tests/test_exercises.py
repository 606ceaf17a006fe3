"""The exercise grader is sound: it passes every reference solution and calls every untouched
stub "not attempted"; stubs and solutions share their docstrings; the catalog, POINTS, CHECKS
and the lesson tables' times agree. The catalogue of wrong answers, each graded with the words
that name it, is tests/mistakes/ (run by tests/test_exercise_mistakes.py); the command line is
tested in tests/test_exercises_command.py, the give-away check in
tests/test_exercises_giveaway.py.
"""
import importlib
import os
import re

import numpy as np
import pytest

import nn
from lessons.grading import CORRECT, NOT_ATTEMPTED, WRONG, EXERCISES, POINTS, exercise_ids, grade
from lessons.grading import LESSONS
from lessons.grading import lesson11
from lessons.solutions import ex05_convolution as s5, ex11_devices as s11
from mistakes import variant
from mistakes.lesson05 import col2im_crashes

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IDS = exercise_ids()


# --- every solution passes, every stub is "not attempted" ------------------------------------

# A catalog row: | ID | File | Function | Points | Time | Task |, e.g.
# | 5.2 | `lessons/exercises/ex05_convolution.py` | `im2col_dilated(...)` | 3 | 25 min | ... |
CATALOG_ROW = re.compile(r"^\| (\d+\.\d+) \| `lessons/exercises/(\w+)\.py` \| [^|]+ \| (\d+) \| "
                         r"([^|]+) \| [^|]+ \|$", re.M)


def read(*parts):
    return open(os.path.join(ROOT, *parts), encoding="utf-8").read()


def minutes(text):
    """'1 h 30 min', '1.5 h', '45 min' -> minutes; ValueError for anything else."""
    m = re.fullmatch(r"\s*(?:(\d+(?:\.\d+)?) h)?\s*(?:(\d+) min)?\s*", text)
    if not m or not any(m.groups()):
        raise ValueError(f"not a time like '45 min' or '1 h 15 min': {text!r}")
    return round(float(m[1] or 0) * 60) + int(m[2] or 0)


def catalog():
    """{ID: (file, points, minutes)} from lessons/exercises/CATALOG.md, in its order."""
    return {e: (f, int(p), minutes(t)) for e, f, p, t in CATALOG_ROW.findall(
        read("lessons", "exercises", "CATALOG.md"))}


def test_catalog_lists_every_exercise():
    rows = catalog()
    assert list(rows) == IDS, "CATALOG.md must have one row per exercise, in lesson order"
    for exercise, (file, _, _) in rows.items():
        assert EXERCISES[exercise][0] == file, exercise
    readme = read("lessons", "exercises", "README.md")
    assert [e for e in IDS if re.search(rf"\b{re.escape(e)} `", readme)] == IDS


def test_points_agree_with_the_checks_and_the_catalog():
    """Every lessonNN.py gives POINTS for exactly the exercises of its CHECKS, whole numbers > 0,
    and the catalog shows the same points."""
    for name in LESSONS:
        lesson = importlib.import_module(f"lessons.grading.{name}")
        points = getattr(lesson, "POINTS", None)
        assert points is not None, f"lessons/grading/{name}.py has no POINTS"
        assert sorted(points) == sorted(lesson.CHECKS), (
            f"lessons/grading/{name}.py: POINTS {sorted(points)} and CHECKS "
            f"{sorted(lesson.CHECKS)} name different exercises")
        for exercise, value in points.items():
            assert isinstance(value, int) and value > 0, f"{exercise}: points {value!r}"
    assert {e: p for e, (_, p, _) in catalog().items()} == {e: POINTS[e] for e in IDS}


def test_exercise_times_agree_everywhere():
    """A lesson's exercise time is the sum of its exercises' times in CATALOG.md, in the table of
    lessons/exercises/README.md and in the Exercises column of lessons/README.md."""
    total = {}
    for exercise, (_, _, mins) in catalog().items():
        lesson = int(exercise.split(".")[0])
        total[lesson] = total.get(lesson, 0) + mins
    handout = {int(n): minutes(t) for n, t in re.findall(
        r"^\| (\d+) [^|]+ \| `ex\d\d_\w+\.py` \| [^|]+ \| ([^|]+) \|$",
        read("lessons", "exercises", "README.md"), re.M)}
    assert handout == total, "lessons/exercises/README.md's times against CATALOG.md's sums"
    guide = {int(n): minutes(t.split("(")[0]) for n, t in re.findall(
        r"^\| (\d+) \| \[[^|]+\]\(\d\d_\w+\.md\) \| [^|]+ \| [^|]+ \| ([^|]+) \|$",
        read("lessons", "README.md"), re.M)}
    assert {n: t for n, t in guide.items() if n in total} == total, (
        "lessons/README.md's Exercises column against CATALOG.md's sums")
    assert set(total) <= set(guide), "a lesson with exercises is missing from lessons/README.md"


@pytest.mark.parametrize("exercise", IDS)
def test_reference_solution_is_correct(exercise):
    result = grade(exercise, solutions=True)
    assert result.status == CORRECT, str(result)


@pytest.mark.parametrize("exercise", IDS)
def test_untouched_stub_is_not_attempted(exercise):
    result = grade(exercise)
    assert result.status == NOT_ATTEMPTED, str(result)


@pytest.mark.parametrize("file", sorted({f for f, _ in EXERCISES.values()}))
def test_stubs_and_solutions_share_their_docstrings(file):
    """The handout and the solutions must not drift apart: same names, same instructions."""
    stub = importlib.import_module(f"lessons.exercises.{file}")
    solution = importlib.import_module(f"lessons.solutions.{file}")

    def docs(module):
        out = {}
        for name, obj in vars(module).items():
            if getattr(obj, "__module__", None) == module.__name__:
                out[name] = obj.__doc__
                for attr, member in vars(obj).items() if isinstance(obj, type) else ():
                    if callable(member):
                        out[f"{name}.{attr}"] = member.__doc__
        return out
    assert docs(stub) == docs(solution)


# --- how the grader reports ------------------------------------------------


def test_a_crash_names_the_line_of_the_student_file():
    result = grade("5.3", module=variant(s5, col2im_dilated=col2im_crashes))
    assert "lesson05.py line" in result.message and "reshape(h, w)" in result.message

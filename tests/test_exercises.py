"""The exercise grader is sound: it passes every reference solution, calls every untouched stub
"not attempted", and drives its command line. The catalogue of wrong answers, each graded with
the words that name it, is tests/mistakes/ (run by tests/test_exercise_mistakes.py).
"""
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import nn
from lessons import grade as grade_cli
from lessons.grading import CORRECT, NOT_ATTEMPTED, WRONG, EXERCISES, exercise_ids, grade
from lessons.grading import lesson11
from lessons.solutions import ex05_convolution as s5, ex11_devices as s11
from mistakes import variant
from mistakes.lesson05 import col2im_crashes
from mistakes.lesson11 import normalize_host_constants

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IDS = exercise_ids()


# --- every solution passes, every stub is "not attempted" ------------------------------------

def test_catalog_lists_every_exercise():
    text = open(os.path.join(ROOT, "lessons", "exercises", "CATALOG.md"), encoding="utf-8").read()
    rows = re.findall(r"^\| (\d+\.\d+) \| `lessons/exercises/(\w+)\.py` \|", text, re.M)
    assert [r[0] for r in rows] == IDS
    for exercise, file in rows:
        assert EXERCISES[exercise][0] == file
    readme = open(os.path.join(ROOT, "lessons", "exercises", "README.md"), encoding="utf-8").read()
    assert [e for e in IDS if re.search(rf"\b{re.escape(e)} `", readme)] == IDS


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
    import importlib
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


def test_without_the_device_stand_in_numpy_in_the_source_is_caught(monkeypatch):
    monkeypatch.setattr(lesson11, "device_module", lambda: None)
    result = grade("11.1", module=variant(s11, normalize=normalize_host_constants))
    assert result.status == WRONG and "normalize names NumPy (np.asarray)" in result.message
    assert grade("11.1", solutions=True).status == CORRECT


def test_a_crash_names_the_line_of_the_student_file():
    result = grade("5.3", module=variant(s5, col2im_dilated=col2im_crashes))
    assert "lesson05.py line" in result.message and "reshape(h, w)" in result.message


# --- the command line ------------------------------------------------------------------------

def test_command_grades_one_lesson_and_sets_the_exit_code(capsys):
    assert grade_cli.main(["5", "--solutions"]) == 0
    out = capsys.readouterr().out
    assert "Exercise 5.1: correct" in out and "Exercise 5.3: correct" in out
    assert "3 of 3 correct" in out
    assert grade_cli.main(["5.2"]) == 1
    assert capsys.readouterr().out.strip() == "Exercise 5.2: not attempted"


def test_unknown_exercise_is_refused():
    with pytest.raises(SystemExit, match="unknown exercise '5.9'"):
        grade_cli.main(["5.9"])


def test_documented_command_runs_as_a_module():
    done = subprocess.run([sys.executable, "-m", "lessons.grade", "all", "--solutions"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(IDS)} of {len(IDS)} correct" in done.stdout
    done = subprocess.run([sys.executable, "-m", "lessons.grade", "1.2"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "not attempted" in done.stdout

"""The exercise grader: one check per exercise, in one module per lesson.

``EXERCISES`` maps an exercise ID ("5.2") to (exercise file's module name, check function),
``POINTS`` an exercise ID to what it is worth. Each lessonNN.py defines ``MODULE`` (the name of
its exercise file), ``CHECKS`` ({"5.2": check}) and ``POINTS`` ({"5.2": 2}, the same IDs).
Each check is joined to a ladder of cases (ladder.py): a wrong answer that the check's
catalogue of named mistakes does not know is reported by the smallest case that breaks it.
"""
import importlib
import importlib.util
import os
import pathlib
import sys

from .core import Result, CORRECT, WRONG, NOT_ATTEMPTED, run

# One module per lesson, lessonNN.py, found on disk so that a new lesson needs no edit here.
LESSONS = sorted(p.stem for p in pathlib.Path(__file__).parent.glob("lesson[0-9][0-9].py"))


def _collect():
    exercises, points = {}, {}
    for name in LESSONS:
        lesson = importlib.import_module(f"{__name__}.{name}")
        for exercise, check in lesson.CHECKS.items():
            exercises[exercise] = (lesson.MODULE, check)
        points.update(getattr(lesson, "POINTS", {}))   # tests/test_exercises.py: one per check
    return exercises, points


EXERCISES, POINTS = _collect()


def exercise_ids():
    """All IDs in lesson order: 1.1, 1.2, ..., 11.3."""
    return sorted(EXERCISES, key=lambda e: tuple(int(p) for p in e.split(".")))


def load_handed_in(folder, module_name):
    """The student's ``folder/<module_name>.py``, imported from that file (None when there is
    no such file). Only that file comes from the folder: it is not put on sys.path, so its
    ``import nn`` still finds this project's nn, whatever else the folder holds. Each file is
    imported once per folder (its module is kept in sys.modules under a name of its own)."""
    path = pathlib.Path(folder).resolve() / f"{module_name}.py"
    if not path.is_file():
        return None
    name = f"_handed_in_{abs(hash(str(path.parent)))}_{module_name}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
    return sys.modules[name]


def grade(exercise, module=None, solutions=False, folder=None):
    """Grade one exercise. module: the object holding the student's functions; by default
    lessons.exercises.<file>, lessons.solutions.<file> when ``solutions``, or the file of that
    name in ``folder`` (a student's copy of lessons/exercises/, anywhere on disk)."""
    module_name, check = EXERCISES[exercise]
    if module is None:
        if folder is not None:
            where = os.path.join(folder, f"{module_name}.py")
        else:
            package = "lessons.solutions" if solutions else "lessons.exercises"
            where = os.path.join(*package.split("."), f"{module_name}.py")
        try:
            if folder is not None:
                module = load_handed_in(folder, module_name)
                if module is None:
                    return Result(exercise, NOT_ATTEMPTED, f"there is no {where}")
            else:
                module = importlib.import_module(f"{package}.{module_name}")
        except (Exception, SystemExit) as e:  # a syntax error in the student's file, say
            return Result(exercise, WRONG, f"{where} does not import: {type(e).__name__}: {e}")
    return run(exercise, check, module)


__all__ = ["EXERCISES", "POINTS", "exercise_ids", "grade", "Result", "CORRECT", "WRONG",
           "NOT_ATTEMPTED"]

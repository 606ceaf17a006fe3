"""The exercise grader: one check per exercise, in one module per lesson.

``EXERCISES`` maps an exercise ID ("5.2") to (exercise file's module name, check function),
``POINTS`` an exercise ID to what it is worth. Each lessonNN.py defines ``MODULE`` (the name of
its exercise file), ``CHECKS`` ({"5.2": check}) and ``POINTS`` ({"5.2": 2}, the same IDs).
"""
import importlib
import pathlib

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
    """All IDs in lesson order: 1.1, 1.2, ..., 11.2."""
    return sorted(EXERCISES, key=lambda e: tuple(int(p) for p in e.split(".")))


def grade(exercise, module=None, solutions=False):
    """Grade one exercise. module: the object holding the student's functions; by default
    lessons.exercises.<file> (or lessons.solutions.<file> when ``solutions``)."""
    module_name, check = EXERCISES[exercise]
    if module is None:
        package = "lessons.solutions" if solutions else "lessons.exercises"
        try:
            module = importlib.import_module(f"{package}.{module_name}")
        except Exception as e:  # a syntax error in the student's file, say
            return Result(exercise, WRONG, f"{package}/{module_name}.py does not import: "
                                           f"{type(e).__name__}: {e}")
    return run(exercise, check, module)


__all__ = ["EXERCISES", "POINTS", "exercise_ids", "grade", "Result", "CORRECT", "WRONG",
           "NOT_ATTEMPTED"]

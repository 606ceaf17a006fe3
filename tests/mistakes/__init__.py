"""The catalogue of classic wrong answers to the exercises: one module per lesson, lessonNN.py.

Each module defines ``MISTAKES``, a list of ``Mistake``: the exercise, a short name for the
mistake, the module the grader is handed instead of the student's file (the reference solution
with one name replaced by the wrong answer, built with ``variant``), and the words the grader
must answer with. Those words name the mistake ("the kernel is not flipped", "ddof=1"), so a
student reads what they most likely did, not only "wrong at 92 of 140 elements".

tests/test_exercise_mistakes.py grades every entry and checks those words.
"""
import dataclasses
import importlib
import pathlib
import types

__all__ = ["Mistake", "variant", "catalogue"]


@dataclasses.dataclass(frozen=True)
class Mistake:
    exercise: str     # "5.2"
    name: str         # "the kernel is not flipped"
    module: object    # what the grader grades in place of lessons/exercises/exNN_*.py
    says: str         # a phrase of the grader's message that names this mistake


def variant(solution, **replaced):
    """The solution module's names, with some replaced by wrong versions."""
    names = {k: getattr(solution, k) for k in dir(solution) if not k.startswith("__")}
    names.update(replaced)
    return types.SimpleNamespace(**names)


def catalogue():
    """Every Mistake of every lessonNN.py in this folder, in lesson order."""
    found = []
    for path in sorted(pathlib.Path(__file__).parent.glob("lesson[0-9][0-9].py")):
        found += importlib.import_module(f"{__name__}.{path.stem}").MISTAKES
    return found

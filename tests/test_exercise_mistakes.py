"""The grader names the mistake: every catalogued wrong answer (tests/mistakes/) is graded
"wrong" with words of its own, words that another mistake of the same exercise does not get."""
import collections

import pytest

from lessons.grading import WRONG, exercise_ids, grade
from mistakes import catalogue

MISTAKES = catalogue()


@pytest.mark.parametrize("mistake", MISTAKES, ids=[f"{m.exercise}-{m.name}" for m in MISTAKES])
def test_the_grader_names_the_mistake(mistake):
    result = grade(mistake.exercise, module=mistake.module)
    assert result.status == WRONG, f"{mistake.name}: {result}"
    assert mistake.says in result.message, f"{mistake.name}: {result}"


def test_each_mistake_gets_its_own_message():
    by_exercise = collections.defaultdict(list)
    for m in MISTAKES:
        by_exercise[m.exercise].append(m)
    for exercise, mistakes in by_exercise.items():
        messages = {m.name: grade(exercise, module=m.module).message for m in mistakes}
        for m in mistakes:
            for other in mistakes:
                if other is not m:
                    assert m.says not in messages[other.name], (
                        f"{exercise}: the words for {m.name!r} ({m.says!r}) are also given to "
                        f"{other.name!r}: {messages[other.name]}")


def test_the_catalogue_is_complete():
    assert all(m.exercise in exercise_ids() for m in MISTAKES)
    assert len({(m.exercise, m.name) for m in MISTAKES}) == len(MISTAKES), "names repeat"
    assert len(MISTAKES) >= 40

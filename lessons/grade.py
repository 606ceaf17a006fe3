"""Grade the exercises of the lessons.

    python -m lessons.grade 5.2               # one exercise, from lessons/exercises/
    python -m lessons.grade 5                 # every exercise of lesson 5
    python -m lessons.grade all               # all of them
    python -m lessons.grade all --solutions   # the reference solutions (teachers)

Each exercise is reported as "correct", "not attempted" (its stub is untouched) or "wrong" with
what is wrong: which output or which gradient, the worst element and its error, or the shape.
The exit code is 0 only when every graded exercise is correct.
"""
import argparse
import os
import sys

if __package__ in (None, ""):  # run as a script: python lessons/grade.py 5.2
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from lessons.grading import CORRECT, EXERCISES, exercise_ids, grade


def select(which):
    """The exercise IDs named by ``which``: "all", a lesson number ("4") or IDs ("5.2")."""
    ids = exercise_ids()
    chosen = []
    for w in which:
        if w == "all":
            chosen += ids
        elif w in EXERCISES:
            chosen.append(w)
        elif any(e.split(".")[0] == w for e in ids):
            chosen += [e for e in ids if e.split(".")[0] == w]
        else:
            raise SystemExit(f"unknown exercise {w!r}: use an ID such as 5.2, a lesson number "
                             f"such as 4, or 'all' (IDs: {', '.join(ids)})")
    return list(dict.fromkeys(chosen))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m lessons.grade", description=__doc__.split(
        "\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("exercises", nargs="+", help="exercise IDs (5.2), lessons (5) or 'all'")
    parser.add_argument("--solutions", action="store_true",
                        help="grade lessons/solutions/ instead of lessons/exercises/")
    args = parser.parse_args(argv)
    results = [grade(e, solutions=args.solutions) for e in select(args.exercises)]
    for r in results:
        print(r, flush=True)
    done = sum(r.status == CORRECT for r in results)
    if len(results) > 1:
        print(f"{done} of {len(results)} correct")
    return 0 if done == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())

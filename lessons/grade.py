"""Grade the exercises of the lessons.

    python -m lessons.grade 5.2               # one exercise, from lessons/exercises/
    python -m lessons.grade 5                 # every exercise of lesson 5
    python -m lessons.grade all               # all of them
    python -m lessons.grade all --solutions   # the reference solutions (teachers)
    python -m lessons.grade all --dir PATH    # a student's copy of lessons/exercises/, anywhere
    python -m lessons.grade all --json FILE   # also write Gradescope's results.json to FILE

Each exercise is reported as "correct", "not attempted" (its stub is untouched, or --dir has no
file for it) or "wrong" with what is wrong: which output or which gradient, the worst element
and its error, or the shape, and where the grader recognises a classic mistake, its name.

Each exercise file is graded in a process of its own, each exercise under a time limit
(--timeout, 10 s by default): a loop that never ends fails that exercise ("did not finish in
10 s"), a file that never finishes importing fails the exercises of that file, and the others
are graded. What the student's code prints is shown, trimmed, under the exercise's result.
The --json file is written also when grading is interrupted (Ctrl-C), with what was graded.

Exit status: 0 when every graded exercise is correct; 1 when an attempted exercise is wrong;
3 when none is wrong but some are not attempted (so "all" on a half-done copy is not a pass);
130 when interrupted.
"""
import argparse
import json
import os
import sys
import time

if __package__ in (None, ""):  # run as a script: python lessons/grade.py 5.2
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from lessons.grading import CORRECT, EXERCISES, NOT_ATTEMPTED, POINTS, WRONG, exercise_ids
from lessons.grading.runner import grade_file

ALL_CORRECT, SOME_WRONG, SOME_NOT_ATTEMPTED, INTERRUPTED = 0, 1, 3, 130


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


def by_file(ids):
    """``ids`` in runs of consecutive exercises of one exercise file: 5.1 5.2 6.1 -> [[5.1, 5.2],
    [6.1]], each run graded by one child process."""
    runs = []
    for e in ids:
        if runs and EXERCISES[runs[-1][-1]][0] == EXERCISES[e][0]:
            runs[-1].append(e)
        else:
            runs.append([e])
    return runs


def positive_seconds(text):
    """--timeout's value: a number of seconds > 0."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0")
    return value


def exit_status(results):
    """0 all correct, 1 an attempted exercise is wrong, 3 only some not attempted."""
    if any(r.status == WRONG for r in results):
        return SOME_WRONG
    if any(r.status == NOT_ATTEMPTED for r in results):
        return SOME_NOT_ATTEMPTED
    return ALL_CORRECT


def gradescope_results(results, seconds, chosen=None):
    """Gradescope's autograder results.json: a total "score", and one entry per exercise in
    "tests" with its name, number, score, max_score, status ("passed"/"failed") and output
    (https://gradescope-autograders.readthedocs.io/en/latest/specs/). An exercise scores its
    POINTS when correct, 0 otherwise (wrong or not attempted)."""
    tests = []
    for r in results:
        worth = POINTS[r.exercise]
        score = worth if r.status == CORRECT else 0
        output = r.status + (f": {r.message}" if r.message else "")
        tests.append({"name": f"Exercise {r.exercise} ({EXERCISES[r.exercise][0]}.py)",
                      "number": r.exercise, "score": score, "max_score": worth,
                      "status": "passed" if r.status == CORRECT else "failed",
                      "output": output})
    done = sum(r.status == CORRECT for r in results)
    stopped = (f"; interrupted after {len(results)} of {chosen} exercises"
               if chosen is not None and len(results) < chosen else "")
    return {"score": sum(t["score"] for t in tests),
            "execution_time": round(seconds, 3),
            "output": f"{done} of {len(results)} exercises correct, "
                      f"{sum(t['score'] for t in tests)} of {sum(t['max_score'] for t in tests)} "
                      "points" + stopped,
            "tests": tests}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m lessons.grade", description=__doc__.split(
        "\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("exercises", nargs="+", help="exercise IDs (5.2), lessons (5) or 'all'")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--solutions", action="store_true",
                        help="grade lessons/solutions/ instead of lessons/exercises/")
    source.add_argument("--dir", metavar="PATH",
                        help="grade the exercise files (ex01_chain_rule.py, ...) in PATH, a "
                             "student's copy of lessons/exercises/; nn and the grader still "
                             "come from this project")
    parser.add_argument("--json", metavar="FILE",
                        help="also write the results in Gradescope's results.json format")
    parser.add_argument("--timeout", metavar="SECONDS", type=positive_seconds, default=10.0,
                        help="the time each exercise may take, and the import of each "
                             "exercise file (default 10): past it the exercise is wrong, "
                             "with 'did not finish', and the others are still graded")
    args = parser.parse_args(argv)
    if args.dir is not None and not os.path.isdir(args.dir):
        parser.error(f"--dir {args.dir}: no such folder; give the folder that holds the "
                     "student's ex01_chain_rule.py, ex02_tensors.py, ...")
    if args.json is not None:
        parent = os.path.dirname(os.path.abspath(args.json))
        if not os.path.isdir(parent):
            parser.error(f"--json {args.json}: the folder {parent} does not exist")
    start = time.perf_counter()
    results, chosen = [], select(args.exercises)
    source = args.dir if args.dir is not None else "solutions" if args.solutions else "exercises"
    try:
        for ids in by_file(chosen):
            for result in grade_file(ids, source, args.timeout):
                results.append(result)
                print(result, flush=True)
    except KeyboardInterrupt:
        print(f"interrupted: {len(results)} of {len(chosen)} exercises graded"
              + (f"; {args.json} holds them" if args.json else ""), flush=True)
        return INTERRUPTED
    finally:
        if args.json is not None:
            with open(args.json, "w", encoding="utf-8") as f:
                json.dump(gradescope_results(results, time.perf_counter() - start, len(chosen)),
                          f, indent=2)
                f.write("\n")
    done = sum(r.status == CORRECT for r in results)
    if len(results) > 1:
        print(f"{done} of {len(results)} correct")
    return exit_status(results)


if __name__ == "__main__":
    sys.exit(main())

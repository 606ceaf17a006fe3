"""The grader's command line: exit status, Gradescope's results.json (--json), a student's folder
outside the repository (--dir), the digits of its messages, and a grader that always finishes
(--timeout, Ctrl-C, a student's prints shown trimmed)."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

try:
    import resource          # Unix: the CPU time of child processes
except ImportError:
    resource = None

from lessons import grade as grade_cli
from lessons.grading import CORRECT, NOT_ATTEMPTED, POINTS, WRONG, EXERCISES, exercise_ids, grade
from lessons.grading.core import Wrong, check_array, check_number, distinct_digits

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXERCISES_DIR = os.path.join(ROOT, "lessons", "exercises")
SOLUTIONS_DIR = os.path.join(ROOT, "lessons", "solutions")
IDS = exercise_ids()


def command(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "lessons.grade", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_command_grades_one_lesson_and_sets_the_exit_code(capsys):
    assert grade_cli.main(["5", "--solutions"]) == 0
    out = capsys.readouterr().out
    assert "Exercise 5.1: correct" in out and "Exercise 5.3: correct" in out
    assert "3 of 3 correct" in out
    assert grade_cli.main(["5.2"]) == grade_cli.SOME_NOT_ATTEMPTED == 3
    assert capsys.readouterr().out.strip() == "Exercise 5.2: not attempted"


def test_unknown_exercise_is_refused():
    with pytest.raises(SystemExit, match="unknown exercise '5.9'"):
        grade_cli.main(["5.9"])


def test_documented_command_runs_as_a_module():
    before = resource.getrusage(resource.RUSAGE_CHILDREN) if resource else None
    done = command("all", "--solutions")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(IDS)} of {len(IDS)} correct" in done.stdout
    if resource:
        # Grading every solution must stay quick: under 30 s on 2 cores. CPU time, not wall
        # time, so that a busy machine does not fail it (about 1 s when measured).
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        assert cpu < 30, f"grading all the solutions took {cpu:.1f} s of CPU time"
    done = command("1.2")
    assert done.returncode == 3 and "not attempted" in done.stdout


# --- --json: Gradescope's results.json -------------------------------------------------------

def test_json_is_gradescopes_results_format(tmp_path, capsys):
    out = tmp_path / "results.json"
    assert grade_cli.main(["1", "2", "--solutions", "--json", str(out)]) == 0
    results = json.loads(out.read_text())
    chosen = [e for e in IDS if e.split(".")[0] in ("1", "2")]
    assert isinstance(results["score"], (int, float))
    assert results["score"] == sum(POINTS[e] for e in chosen)
    assert [t["number"] for t in results["tests"]] == chosen
    for t, exercise in zip(results["tests"], chosen):
        assert set(t) >= {"name", "score", "max_score", "output"}
        assert isinstance(t["name"], str) and exercise in t["name"]
        assert t["score"] == t["max_score"] == POINTS[exercise]
        assert t["status"] == "passed" and t["output"] == "correct"
        assert isinstance(t["output"], str)

    # The untouched stubs: every exercise scores 0 of its points and says why.
    assert grade_cli.main(["1", "--json", str(out)]) == 3
    results = json.loads(out.read_text())
    assert results["score"] == 0
    for t in results["tests"]:
        assert t["score"] == 0 and t["max_score"] == POINTS[t["number"]]
        assert t["status"] == "failed" and t["output"].startswith("not attempted")


def test_json_into_a_missing_folder_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit):
        grade_cli.main(["1", "--json", str(tmp_path / "nowhere" / "results.json")])
    assert "does not exist" in capsys.readouterr().err


# --- --dir: a student's copy outside the repository ------------------------------------------

def handed_in(tmp_path, *solved):
    """A copy of lessons/exercises/ in tmp_path, in a folder called "grading" (the grader's own
    folder name, so that a crash's line must still be found in the student's file), with the
    reference solution of each file in ``solved`` copied over its stub, and an nn.py of its own
    that must never be imported."""
    folder = tmp_path / "course" / "grading"
    shutil.copytree(EXERCISES_DIR, folder, ignore=shutil.ignore_patterns("__pycache__"))
    for name in solved:
        shutil.copy(os.path.join(SOLUTIONS_DIR, f"{name}.py"), folder / f"{name}.py")
    (folder / "nn.py").write_text('raise ImportError("the student\'s own nn.py was imported")\n')
    return folder


def test_dir_grades_a_copy_outside_the_repository(tmp_path):
    solved = EXERCISES["2.1"][0]
    folder = handed_in(tmp_path, solved)
    out = tmp_path / "results.json"
    done = command("all", "--dir", str(folder), "--json", str(out))
    assert "student's own nn.py" not in done.stdout + done.stderr
    for e in IDS:
        status = "correct" if EXERCISES[e][0] == solved else "not attempted"
        assert f"Exercise {e}: {status}\n" in done.stdout + "\n", done.stdout + done.stderr
    assert done.returncode == 3, "nothing is wrong, but not everything is attempted"
    results = json.loads(out.read_text())
    assert results["score"] == sum(POINTS[e] for e in IDS if EXERCISES[e][0] == solved)

    # One exercise attempted and wrong: its message, the line of the student's file, exit 1.
    path = folder / f"{solved}.py"
    source = path.read_text()
    path.write_text(source + "\n\ndef sum_to_shape(grad, shape):\n    return grad.reshape(-1)[0]"
                             " + grad.nope\n")
    done = command("2.1", "--dir", str(folder))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Exercise 2.1: wrong" in done.stdout
    assert f"at {solved}.py line" in done.stdout and "grad.nope" in done.stdout, done.stdout


def test_dir_imports_the_students_files_not_the_repositorys(tmp_path):
    solved = EXERCISES["1.1"][0]
    folder = handed_in(tmp_path, solved)
    assert grade("1.1", folder=str(folder)).status == CORRECT
    assert grade("1.1").status == NOT_ATTEMPTED       # lessons/exercises/ is still the stub
    os.remove(folder / f"{solved}.py")
    result = grade("1.1", folder=str(tmp_path / "course" / "grading"))
    assert result.status == NOT_ATTEMPTED and f"no {folder}" in result.message


def test_a_file_that_does_not_import_is_wrong_not_a_crash(tmp_path):
    folder = handed_in(tmp_path)
    (folder / f"{EXERCISES['1.1'][0]}.py").write_text("def broken(:\n")
    result = grade("1.1", folder=str(folder))
    assert result.status == WRONG and "does not import: SyntaxError" in result.message
    (folder / f"{EXERCISES['2.1'][0]}.py").write_text("import sys\nsys.exit(0)\n")
    result = grade("2.1", folder=str(folder))
    assert result.status == WRONG and "SystemExit" in result.message


def test_dir_that_does_not_exist_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit):
        grade_cli.main(["all", "--dir", str(tmp_path / "missing")])
    assert "no such folder" in capsys.readouterr().err


# --- digits ----------------------------------------------------------------------------------

def test_values_that_differ_never_print_alike():
    # Adam's first step with eps inside the square root, against the right one.
    a, b = -0.69373543, -0.69373461
    assert f"{a:.6g}" == f"{b:.6g}"                   # what the grader used to print
    yours, expected = distinct_digits(a, b)
    assert yours != expected and float(yours) != float(expected)
    for x, y in [(1.0, 1.0 + 2 ** -52), (1e-30, 1.0000001e-30), (123456.7, 123456.8)]:
        sx, sy = distinct_digits(x, y)
        assert sx != sy, (x, y)
    assert distinct_digits(0.5, 0.25) == ("0.5", "0.25")    # far apart: the usual 6 digits
    with pytest.raises(Wrong, match="yours -0.69373543, expected -0.69373461"):
        check_number("the step", a, b, atol=0, rtol=1e-9)
    with pytest.raises(Wrong) as e:
        check_array("the step", np.array([a]), np.array([b]), atol=0, rtol=1e-9)
    assert "yours -0.6937354, expected -0.6937346" in str(e.value)


# --- a grader that always finishes -----------------------------------------------------------

def solved_folder(tmp_path, *extra):
    """handed_in with every reference solution, then each (file, text) of ``extra`` appended
    to that file."""
    files = sorted({module for module, _ in EXERCISES.values()})
    folder = handed_in(tmp_path, *files)
    for name, text in extra:
        with open(folder / f"{name}.py", "a", encoding="utf-8") as f:
            f.write("\n" + text + "\n")
    return folder


LOOPS_IN_5_2 = (EXERCISES["5.2"][0], "def im2col_dilated(x, kh, kw, stride=1, dilation=1):\n"
                                     "    while True:\n        pass\n")
LOOPS_AT_IMPORT = (EXERCISES["1.1"][0], "while True:\n    pass\n")


def test_a_loop_that_never_ends_fails_its_exercise_and_the_rest_are_graded(tmp_path):
    folder = solved_folder(tmp_path, LOOPS_IN_5_2, LOOPS_AT_IMPORT)
    out = tmp_path / "results.json"
    start = time.monotonic()
    done = command("all", "--dir", str(folder), "--json", str(out), "--timeout", "2")
    took = time.monotonic() - start
    report = done.stdout + done.stderr
    assert done.returncode == 1, report
    # Two limits are waited out (5.2, and the import of lesson 1's file), the rest is quick.
    assert took < 2 * 2 + 60, f"grading took {took:.0f} s"
    for e in IDS:
        if e == "5.2":
            assert "Exercise 5.2: wrong\n    did not finish in 2 s" in report, report
        elif e.startswith("1."):
            assert (f"Exercise {e}: wrong\n    {folder / EXERCISES[e][0]}.py did not finish "
                    "importing in 2 s") in report, report
        else:
            assert f"Exercise {e}: correct\n" in report, report
    results = json.loads(out.read_text())
    assert [t["number"] for t in results["tests"]] == IDS
    failed = {t["number"] for t in results["tests"] if t["status"] == "failed"}
    assert failed == {"5.2"} | {e for e in IDS if e.startswith("1.")}
    assert results["score"] == sum(POINTS[e] for e in IDS if e not in failed)


def test_the_default_time_limit_is_10_s():
    parser_help = subprocess.run([sys.executable, "-m", "lessons.grade", "--help"], cwd=ROOT,
                                 capture_output=True, text=True, timeout=60).stdout
    assert "--timeout SECONDS" in parser_help and "(default 10)" in parser_help
    with pytest.raises(SystemExit):
        grade_cli.main(["1.1", "--timeout", "0"])
    with pytest.raises(SystemExit):
        grade_cli.main(["1.1", "--timeout", "soon"])


def test_ctrl_c_still_writes_results_json_with_what_was_graded(tmp_path):
    folder = solved_folder(tmp_path, LOOPS_IN_5_2)
    out = tmp_path / "results.json"
    process = subprocess.Popen([sys.executable, "-m", "lessons.grade", "5", "--dir",
                                str(folder), "--json", str(out), "--timeout", "300"], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    first = process.stdout.readline()
    assert first == "Exercise 5.1: correct\n", first
    time.sleep(1)                       # the child is inside 5.2's loop now
    process.send_signal(signal.SIGINT)
    rest = process.communicate(timeout=60)[0]
    assert process.returncode == grade_cli.INTERRUPTED == 130, first + rest
    assert "interrupted: 1 of 3 exercises graded" in rest, rest
    results = json.loads(out.read_text())
    assert [t["number"] for t in results["tests"]] == ["5.1"]
    assert results["score"] == POINTS["5.1"] and "interrupted after 1 of 3" in results["output"]


def test_what_a_students_code_prints_is_shown_trimmed(tmp_path):
    noisy = EXERCISES["8.1"][0]
    folder = solved_folder(tmp_path, (noisy, (
        "for i in range(20000):\n    print('imported', i)\n"
        "_nesterov = nesterov_step\n\n"
        "def nesterov_step(*args):\n"
        "    import sys\n"
        "    for i in range(20000):\n        print('step line', i)\n"
        "    print('to stderr', file=sys.stderr)\n"
        "    return _nesterov(*args)\n")))
    out = tmp_path / "results.json"
    done = command("8", "9", "--dir", str(folder), "--json", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) < 80, f"{len(lines)} lines of report"
    assert lines[0] == "Exercise 8.1: correct"
    assert "your code printed 20000 lines while importing:" in done.stdout
    assert "    | imported 0" in lines and "    | imported 19999" in lines
    assert "    | step line 0" in lines and "    | to stderr" in lines
    assert "imported 5000" not in done.stdout and "step line 5000" not in done.stdout
    # Only 8.1 printed: the others of the file show their results alone.
    assert "Exercise 8.2: correct\nExercise 8.3: correct\nExercise 9.1: correct\n" in done.stdout
    results = json.loads(out.read_text())
    assert "step line 19999" in results["tests"][0]["output"]
    assert len(results["tests"][0]["output"]) < 3000


def test_trimmed_output_keeps_the_first_and_last_lines():
    from lessons.grading.runner import trimmed
    assert trimmed("") == "" and trimmed("\n\n") == ""
    assert trimmed("a\nb\n") == "a\nb"
    text = "\n".join(str(i) for i in range(100))
    assert trimmed(text, head=2, tail=3).split("\n") == ["0", "1", "... (95 more lines) ...",
                                                         "97", "98", "99"]
    assert trimmed("x" * 500, width=10) == "x" * 10 + " ..."


def test_a_file_that_ends_the_process_fails_only_its_exercises(tmp_path):
    folder = solved_folder(tmp_path, (EXERCISES["9.1"][0],
                                      "def optimal_lsgan_discriminator(*args):\n"
                                      "    import os\n    os._exit(7)\n"))
    done = command("9", "--dir", str(folder))
    assert done.returncode == 1
    assert "Exercise 9.1: correct" in done.stdout
    assert "Exercise 9.2: wrong\n    your code ended the grader's process (exit status 7)" \
        in done.stdout, done.stdout
    assert "Exercise 9.3: correct" in done.stdout

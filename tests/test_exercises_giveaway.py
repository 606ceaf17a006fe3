"""No exercise is given away: no three consecutive non-trivial lines of a reference solution
(lessons/solutions/exNN_*.py) appear in a lesson's text (lessons/NN_*.md) or in the stubs
(lessons/exercises/*.py), unless all three are code the stub itself hands out.

The answer is what a solution file adds to its stub: its lines that lessons/exercises/exNN_*.py
does not have. A run of three that holds at least one answer line counts (the code given around
an answer, `out = Value(...)` before it and `return out` after, is what pins it in a lesson);
a run made only of code the stub hands out on purpose does not.

Lines are compared with whitespace normalised (runs of spaces collapsed, spaces dropped except
between two words, so `a+b` is `a + b`) and comments removed. A line is trivial, and skipped
on both sides, when after that it is

- blank, or a comment;
- a `def` or `class` line, a decorator, or an `import` / `from ... import` line: they name
  things and give no step of the answer away;
- a line of at most one word or number: a bare `return`, `else:`, `try:`, `pass`, `)`, `x`.

The solution's docstrings (and other bare strings) are skipped too: the stub has the same
ones. What a student reads is searched whole, its docstrings included, so a hint in a stub
that spells the answer out is found. "Consecutive" counts only non-trivial lines, so blank
lines or comments put between copied lines do not hide a copy. Everything else,
`return grad.sum(axis=0)` included, is non-trivial.

A single line can give an exercise away too, when it is a formula to type: so every formula of
an answer line (the right-hand side of an assignment, or what a `return` returns, each part
between top-level commas) that holds at least two operators and three names or numbers is
looked for, on its own, in every lesson's text and in the stubs' docstrings and comments (not
in a stub's code: code a stub runs is handed out on purpose). Formulas are compared with the
spaces removed (but one between two words), `**` written `^`, and the module or object before
a function dropped (`xp.`, `np.`, `math.`, `nn.`, `self.`), so `param - lr*(grad +
momentum*velocity)` in a docstring is the answer's `param - lr * (grad + momentum * velocity)`. LESSON_FORMULAS lists, each with its
reason, the few formulas a lesson shows on purpose because an exercise builds on them.
"""
import ast
import difflib
import pathlib
import re
import shutil

ROOT = pathlib.Path(__file__).resolve().parent.parent
RUN = 3   # this many consecutive non-trivial answer lines found elsewhere give an exercise away


def strip_comment(line):
    """The line without a trailing # comment (a # inside quotes is kept)."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#":
            return line[:i]
    return line


def normalise(line):
    line = re.sub(r"\s+", " ", strip_comment(line)).strip()
    return re.sub(r"(?<=\W) | (?=\W)", "", line)   # keep a space only between two words


def trivial(normalised):
    if not normalised:
        return True
    if re.match(r"(def|class|async def) ", normalised) or normalised.startswith("@"):
        return True
    if re.match(r"(import \w|from [\w.]+ import )", normalised):
        return True
    return len(re.findall(r"[A-Za-z_]\w*|\d+", normalised)) <= 1


def docstring_lines(source):
    """Line numbers (1-based) of the docstrings and other bare strings of a Python file."""
    lines = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(
                node.value.value, str):
            lines.update(range(node.lineno, node.end_lineno + 1))
    return lines


def code_lines(source):
    """The normalised lines of a Python file, its docstrings blanked (a stub and its solution
    share their docstrings; a hint in a stub's docstring must not count as code it gives)."""
    docs = docstring_lines(source)
    return [("" if n in docs else normalise(l)) for n, l in enumerate(source.splitlines(), 1)]


def exercise_at(source_lines, lineno):
    """The exercise ID named last above line ``lineno`` of a solution ("Exercise 5.2")."""
    for line in reversed(source_lines[:lineno]):
        m = re.search(r"Exercise (\d+\.\d+)", line)
        if m:
            return m[1]
    return "?"


def answers(root):
    """Every run of RUN consecutive non-trivial lines of a solution that holds at least one line
    of its answer: (solution path, exercise, [(line number, normalised line)] * RUN).

    A run may begin or end in the code the stub gives (the two lines around an answer line are
    what locate it in a lesson); a run made only of that given code is not an answer."""
    runs = []
    for solution in sorted((root / "lessons" / "solutions").glob("ex[0-9][0-9]_*.py")):
        stub = root / "lessons" / "exercises" / solution.name
        source = solution.read_text(encoding="utf-8")
        ours = source.splitlines()
        theirs = stub.read_text(encoding="utf-8") if stub.exists() else ""
        code = code_lines(source)
        matcher = difflib.SequenceMatcher(None, code_lines(theirs), code, autojunk=False)
        answer = {n + 1 for op, _, _, j1, j2 in matcher.get_opcodes()
                  if op in ("replace", "insert") for n in range(j1, j2)}
        lines = [(n, l) for n, l in enumerate(code, 1) if not trivial(l)]
        for k in range(len(lines) - RUN + 1):
            run = lines[k:k + RUN]
            mine = [n for n, _ in run if n in answer]
            if mine:
                runs.append((solution, exercise_at(ours, mine[0]), run))
    return runs


def texts(root):
    """What a student reads: every lesson's text and every stub, as (path, [(line number,
    normalised line)]) with the non-trivial lines only."""
    paths = sorted((root / "lessons").glob("[0-9][0-9]_*.md"))
    paths += sorted((root / "lessons" / "exercises").glob("*.py"))
    found = []
    for path in paths:
        lines = [(n, normalise(l)) for n, l in
                 enumerate(path.read_text(encoding="utf-8").splitlines(), 1)]
        found.append((path, [(n, l) for n, l in lines if not trivial(l)]))
    return found


def giveaways(root):
    """One sentence per run of RUN answer lines found in a lesson or a stub."""
    where = {}   # RUN consecutive lines -> where they are read
    for path, lines in texts(root):
        for k in range(len(lines) - RUN + 1):
            run = tuple(l for _, l in lines[k:k + RUN])
            where.setdefault(run, []).append((path, lines[k][0], lines[k + RUN - 1][0]))
    found, reported = [], set()
    for solution, exercise, run in answers(root):
        for path, first, last in where.get(tuple(l for _, l in run), []):
            if (path, exercise) not in reported:   # one sentence per text and exercise
                reported.add((path, exercise))
                found.append(f"{path.relative_to(root)} lines {first}-{last} give Exercise "
                             f"{exercise} away: {solution.relative_to(root)} lines "
                             f"{run[0][0]}-{run[-1][0]} are there: "
                             + " / ".join(l for _, l in run))
    return found


# --- formulas ----------------------------------------------------------------------------------

OPERATOR = re.compile(r"[-+*/@^]")
# (exercise, normalised formula): why the lesson shows it.
LESSON_FORMULAS = {
    ("8.3", "m/(1-b1^t)"): "lesson 8's Adam, bias correction included; AdamW is that step "
                           "after a decoupled decay, and the exercise is the decay",
    ("8.3", "v/(1-b2^t)"): "lesson 8's Adam, as above",
}


def normalise_formula(text):
    """Spaces removed (but one between two words, as in normalise), ``**`` as ``^``, and no
    ``xp.`` / ``np.`` / ``math.`` / ``nn.`` / ``self.`` before a name."""
    text = re.sub(r"\b(?:self|xp|np|math|nn)\.", "", text.replace("**", "^"))
    return re.sub(r"(?<=\W) | (?=\W)", "", re.sub(r"\s+", " ", text).strip())


def formulas(line):
    """The formulas of one line of code: what it assigns (=, +=, ...) or returns, each part
    between top-level commas, normalised; only those with two operators or more and three
    names or numbers or more."""
    m = re.match(r"\s*(?:return\s+|[\w.\[\], ]+?\s*[-+*/@]?=(?!=)\s*)(.+)$",
                 strip_comment(line))
    if not m:
        return []
    parts, depth, start, rhs = [], 0, 0, m.group(1)
    for i, ch in enumerate(rhs + ","):
        depth += (ch in "([{") - (ch in ")]}")
        if ch == "," and depth == 0:
            parts.append(normalise_formula(rhs[start:i]))
            start = i + 1
    return [f for f in parts if len(OPERATOR.findall(f)) >= 2
            and len(re.findall(r"[A-Za-z_]\w*|\d+", f)) >= 3]


def answer_formulas(root):
    """(solution path, exercise, line number, formula) for every formula of an answer line."""
    found = []
    for solution in sorted((root / "lessons" / "solutions").glob("ex[0-9][0-9]_*.py")):
        stub = root / "lessons" / "exercises" / solution.name
        source = solution.read_text(encoding="utf-8")
        ours, docs = source.splitlines(), docstring_lines(source)
        theirs = stub.read_text(encoding="utf-8") if stub.exists() else ""
        matcher = difflib.SequenceMatcher(None, code_lines(theirs), code_lines(source),
                                          autojunk=False)
        for op, _, _, j1, j2 in matcher.get_opcodes():
            if op in ("replace", "insert"):
                for n in range(j1 + 1, j2 + 1):
                    if n not in docs:
                        found += [(solution, exercise_at(ours, n), n, f)
                                  for f in formulas(ours[n - 1])]
    return found


def prose(path):
    """What a student reads as text rather than runs: a lesson whole; a stub's docstrings and
    comments."""
    source = path.read_text(encoding="utf-8")
    if path.suffix == ".md":
        return source
    docs = docstring_lines(source)
    lines = source.splitlines()
    return "\n".join([l for n, l in enumerate(lines, 1) if n in docs]
                     + [l[len(strip_comment(l)):] for l in lines])


def formula_giveaways(root):
    """One sentence per answer formula found in a lesson's text or a stub's prose."""
    paths = sorted((root / "lessons").glob("[0-9][0-9]_*.md"))
    paths += sorted((root / "lessons" / "exercises").glob("*.py"))
    texts = [(path, normalise_formula(prose(path))) for path in paths]
    found = []
    for solution, exercise, n, formula in answer_formulas(root):
        edge = (r"(?<![\w.])" if re.match(r"\w", formula) else "") + re.escape(formula) + (
            r"(?!\w)" if re.search(r"\w$", formula) else "")
        for path, text in texts:
            if path.suffix == ".md" and (exercise, formula) in LESSON_FORMULAS:
                continue
            if re.search(edge, text):
                found.append(f"{path.relative_to(root)} gives Exercise {exercise}'s formula "
                             f"away: {formula} ({solution.relative_to(root)} line {n})")
    return found


def test_no_formula_is_given_away():
    found = formula_giveaways(ROOT)
    assert not found, "a stub or a lesson holds an answer's formula:\n" + "\n".join(found)


def test_the_formulas_looked_for():
    """Enough formulas to look for, among them the ones stubs used to spell out, and every
    exception of LESSON_FORMULAS still an answer's formula."""
    found = {(e, f) for _, e, _, f in answer_formulas(ROOT)}
    assert len(found) >= 20, sorted(found)
    for expected in [("8.1", "param-lr*(grad+momentum*velocity)"),
                     ("8.2", "param-lr*grad/(sqrt(square_avg)+eps)"),
                     ("7.2", "(1-momentum)*running_mean+momentum*mean")]:
        assert expected in found, expected
    assert set(LESSON_FORMULAS) <= found
    assert formulas("    x = a  **  2 + b * c  # why") == ["a^2+b*c"]
    assert formulas("return np.sqrt(a) / b + c, d + e") == ["sqrt(a)/b+c"]
    assert formulas("if a == b + c * d:") == [] and formulas("x = a + b") == []


def test_a_planted_formula_is_found_in_a_stub_and_in_a_lesson(tmp_path):
    root = copy_of_lessons(tmp_path)
    assert formula_giveaways(root) == []
    # In a stub's docstring, spaced otherwise and with ^ for the solution's **:
    stub = root / "lessons" / "exercises" / "ex08_optimizers.py"
    source = stub.read_text(encoding="utf-8")
    stub.write_text(source.replace('"""Exercise 8.3: one step of AdamW',
                                   '"""Exercise 8.3: one step of AdamW, m_hat = m / (1 - b1^t)'),
                    encoding="utf-8")
    found = formula_giveaways(root)
    assert len(found) == 1 and found[0].startswith(
        "lessons/exercises/ex08_optimizers.py gives Exercise 8.3's formula away: m/(1-b1^t)"), found
    # The same formula in the stub's code is code handed out, not a hint.
    stub.write_text(source + "\n\ndef _given(m, b1, t):\n    return m / (1 - b1 ** t)\n",
                    encoding="utf-8")
    assert formula_giveaways(root) == []
    stub.write_text(source, encoding="utf-8")
    # In a lesson's text, as a formula in prose, with ** and other spaces:
    lesson = root / "lessons" / "07_instance_norm.md"
    text = lesson.read_text(encoding="utf-8")
    lesson.write_text(text + "\nThe running mean is `(1-momentum) * running_mean + momentum*mean`."
                      "\n", encoding="utf-8")
    found = formula_giveaways(root)
    assert len(found) == 1 and "07_instance_norm.md gives Exercise 7.2's formula away" \
        in found[0], found
    # A longer name around it is another formula.
    lesson.write_text(text + "\n`(1-momentum) * running_mean + momentum*mean_of_all`.\n",
                      encoding="utf-8")
    assert formula_giveaways(root) == []


def test_no_exercise_is_given_away():
    found = giveaways(ROOT)
    assert not found, "an exercise's answer can be copied:\n" + "\n".join(found)


def test_every_solution_has_an_answer_to_check():
    """The check reads something: every solution file differs from its stub by at least one
    run of RUN non-trivial lines (or the test above could pass by reading nothing)."""
    solutions = sorted((ROOT / "lessons" / "solutions").glob("ex[0-9][0-9]_*.py"))
    with_blocks = {s for s, _, _ in answers(ROOT)}
    assert with_blocks == set(solutions), [s.name for s in solutions if s not in with_blocks]


def copy_of_lessons(tmp_path):
    shutil.copytree(ROOT / "lessons", tmp_path / "lessons",
                    ignore=shutil.ignore_patterns("__pycache__", "figures", "*.png"))
    return tmp_path


def not_given_away(root, before):
    """The answer runs of exercises that nothing gives away yet."""
    return [a for a in answers(root) if not any(f"Exercise {a[1]} away" in b for b in before)]


def test_a_planted_copy_of_a_solution_is_found(tmp_path):
    root = copy_of_lessons(tmp_path)
    before = giveaways(root)   # what the lessons themselves give away, if anything
    solution, exercise, run = not_given_away(root, before)[0]
    source = solution.read_text(encoding="utf-8").splitlines()
    copied = [source[n - 1] for n, _ in run]
    # Re-indented, spaced differently, commented, a blank line and a comment line between:
    # still the same three lines.
    planted = ["```python", "    " + re.sub(" ", "  ", copied[0].strip()) + "  # see?", "",
               "# why not", copied[1].strip(), "\t" + copied[2].strip(), "```"]
    lesson = sorted((root / "lessons").glob("[0-9][0-9]_*.md"))[0]
    text = lesson.read_text(encoding="utf-8").splitlines()
    middle = len(text) // 2
    lesson.write_text("\n".join(text[:middle] + [""] + planted + [""] + text[middle:]) + "\n",
                      encoding="utf-8")
    found = [f for f in giveaways(root) if f not in before]
    assert len(found) == 1 and f"give Exercise {exercise} away" in found[0], found
    assert found[0].startswith(f"lessons/{lesson.name} lines {middle + 3}-"), found

    # Two lines of it are not a give-away.
    lesson.write_text("\n".join(text[:middle] + planted[:-2] + ["```"] + text[middle:]) + "\n",
                      encoding="utf-8")
    assert giveaways(root) == before


def test_a_hint_in_a_stub_that_spells_the_answer_out_is_found(tmp_path):
    root = copy_of_lessons(tmp_path)
    solution, exercise, run = not_given_away(root, giveaways(root))[-1]
    stub = root / "lessons" / "exercises" / solution.name
    source = solution.read_text(encoding="utf-8").splitlines()
    copied = [source[n - 1] for n, _ in run]
    stub.write_text(stub.read_text(encoding="utf-8") + '\n\n"""Hint:\n' + "\n".join(copied)
                    + '\n"""\n', encoding="utf-8")
    found = giveaways(root)
    assert any(f.startswith(f"lessons/exercises/{stub.name}") and f"Exercise {exercise} " in f
               for f in found), found


def test_what_counts_as_trivial():
    for line in ["", "   # a comment", "def f(x, y):", "class Div(nn.Function):", "@staticmethod",
                 "import numpy as np", "from nn import functional as F", "return", "else:",
                 ")", "pass", "grad"]:
        assert trivial(normalise(line)), line
    for line in ["return grad", "x = a + b", "for i in range(n):", "out._backward = _backward"]:
        assert not trivial(normalise(line)), line
    assert normalise("  x[i]  +=  eps   # nudge") == normalise("x[i]+=eps") == "x[i]+=eps"
    assert normalise("return  a if b else c") == "return a if b else c"
    assert strip_comment("s = '#' + x  # c") == "s = '#' + x  "

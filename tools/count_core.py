"""Count the lines of the core a student reads: train.py, cyclegan.py and the files that
``import nn`` loads, the fast layer (nn/fast/) aside.

    python tools/count_core.py            # a table in reading order, and the totals
    python tools/count_core.py --all      # every Python file of nn/, core or not

"code" counts the lines holding code; docstrings, comments and blank lines do not count.
"total" is every line of the file.
"""
import argparse
import ast
import io
import os
import subprocess
import sys
import tokenize

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
READING_ORDER = ["nn/backend.py", "nn/tensor.py", "nn/gradcheck.py", "nn/convolution.py",
                 "nn/functional.py", "nn/modules.py", "nn/init.py", "nn/optim.py",
                 "nn/__init__.py", "cyclegan.py", "train.py"]
LIMITS = {"code": 1500, "total": 2500}


def code_lines(source):
    """(lines holding code, all lines) of Python ``source``."""
    docstrings = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            first = node.body[0] if node.body else None
            if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                    and isinstance(first.value.value, str)):
                docstrings.update(range(first.lineno, first.end_lineno + 1))
    skip = (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
            tokenize.ENDMARKER)
    code = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in skip:
            code.update(n for n in range(token.start[0], token.end[0] + 1) if n not in docstrings)
    return len(code), len(source.splitlines())


def core_files():
    """train.py, cyclegan.py and the nn files a fresh ``import nn`` loads (nn/fast aside),
    in reading order; files not in READING_ORDER come after it."""
    probe = ("import os, sys, nn; print('\\n'.join(os.path.relpath(m.__file__) for name, m in "
             "sys.modules.items() if name.split('.')[0] == 'nn'))")
    loaded = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.split()
    files = {f.replace(os.sep, "/") for f in loaded} | {"cyclegan.py", "train.py"}
    files = {f for f in files if not f.startswith("nn/fast/")}
    return sorted(files, key=lambda f: (READING_ORDER.index(f) if f in READING_ORDER
                                        else len(READING_ORDER), f))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--all", action="store_true", help="list every file of nn/ too")
    args = parser.parse_args(argv)
    files = core_files()
    if args.all:
        for folder, _, names in os.walk(os.path.join(ROOT, "nn")):
            files += sorted(os.path.relpath(os.path.join(folder, n), ROOT).replace(os.sep, "/")
                            for n in names if n.endswith(".py"))
        files = list(dict.fromkeys(files))
    core = set(core_files())
    totals = [0, 0]
    print(f"{'code':>5} {'total':>5}  file")
    for name in files:
        with open(os.path.join(ROOT, name), encoding="utf-8") as f:
            code, total = code_lines(f.read())
        if name in core:
            totals[0] += code
            totals[1] += total
        print(f"{code:5d} {total:5d}  {name}{'' if name in core else '  (not core)'}")
    print(f"{totals[0]:5d} {totals[1]:5d}  core (at most {LIMITS['code']} and "
          f"{LIMITS['total']})")
    return 0 if totals[0] <= LIMITS["code"] and totals[1] <= LIMITS["total"] else 1


if __name__ == "__main__":
    sys.exit(main())

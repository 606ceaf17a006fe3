"""Write every lesson as a Jupyter notebook.

    python -m lessons.notebooks OUT      # OUT/01_chain_rule.ipynb, ..., and OUT/figures/

One notebook per lesson (lessons/NN_*.md), in nbformat 4 JSON written directly (no Jupyter
package is needed to make them). The lesson's Markdown and its code become cells, in order:

- each ```python block becomes a code cell whose source is the block, unchanged;
- the ```output block after it (what that block prints, checked by the test suite) becomes the
  cell's stdout stream output, so the notebook shows the lesson's numbers before it is run, and
  running the cell prints the same lines; the cell's execution_count stays null (not yet run);
- a block whose first line is ``# This raises SomeError`` is tagged ``raises-exception``, the
  tag with which Jupyter's "run all" (nbclient, nbconvert --execute) goes on past the error;
- everything else (text, formulas, ```bash and other blocks) stays Markdown, verbatim.

The figures the lessons show (``figures/NAME.png``) are copied to OUT/figures/, so the images
display beside the notebooks. Links to other files of the repository stay relative to lessons/:
``python -m lessons.notebooks lessons`` writes the notebooks beside the lessons, where the links
and figures work as they are. Run the notebooks in an environment where this project is
installed (``pip install -e .``), so that ``import nn`` works from OUT. Existing notebooks of
the same names in OUT are replaced; nothing else there is touched.
"""
import argparse
import json
import os
import re
import shutil
import sys

LESSONS_DIR = os.path.dirname(os.path.abspath(__file__))
FENCE = re.compile(r"^```(\w*)\s*$")
FIGURE = re.compile(r"!\[[^\]]*\]\(figures/([\w.-]+\.png)\)")
RAISES = re.compile(r"#\s*This raises (\w+)")

__all__ = ["lesson_files", "blocks", "parse", "notebook", "write_notebooks", "main"]


def lesson_files(lessons_dir=LESSONS_DIR):
    """The lessons' file names, NN_name.md, in order."""
    return sorted(n for n in os.listdir(lessons_dir) if re.match(r"\d\d_.*\.md$", n))


def blocks(text, name="lesson"):
    """The fenced blocks of a lesson's text, in order: (language, line number of the block's
    first code line, its source ending in a newline). A block opens with ```language (or a
    bare ```) alone on its line and closes at the next line that starts with ```. Raises
    ValueError naming the line of a block that is never closed."""
    found, lines, i = [], text.split("\n"), 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        end = i + 1
        while end < len(lines) and not lines[end].startswith("```"):
            end += 1
        if end == len(lines):
            raise ValueError(f"{name}: the block opened at line {i + 1} is never closed")
        found.append((m.group(1), i + 2, "\n".join(lines[i + 1:end]) + "\n"))
        i = end + 1
    return found


def parse(text, name="lesson"):
    """A lesson's text -> a list of ("markdown", text), ("python", source) and
    ("output", text) parts, in order; a python or output part is a fenced block's body.

    Fenced blocks of other languages stay inside the Markdown around them. Raises ValueError
    naming the line of a block that is never closed.
    """
    lines = text.split("\n")
    parts, after = [], 0   # after: the index of the first line not yet in a part

    def markdown(chunk):
        chunk = "\n".join(chunk).strip("\n")
        if chunk:
            parts.append(("markdown", chunk))

    for language, first, source in blocks(text, name):
        if language in ("python", "output"):
            markdown(lines[after:first - 2])         # up to the opening fence
            parts.append((language, source[:-1]))
            after = first + source.count("\n")       # past the closing fence
    markdown(lines[after:])
    return parts


def _lines(text):
    """Jupyter's on-disk form of a multi-line string: a list of lines, each but the last
    keeping its newline."""
    return text.splitlines(keepends=True)


def notebook(text, name="lesson"):
    """The nbformat 4 notebook (a dict, ready for json.dump) of a lesson's Markdown text."""
    cells = []
    for kind, body in parse(text, name):
        cell_id = f"cell-{len(cells) + 1}"
        if kind == "markdown":
            cells.append({"cell_type": "markdown", "id": cell_id, "metadata": {},
                          "source": _lines(body)})
        elif kind == "python":
            first = body.lstrip().split("\n")[0]
            metadata = {"tags": ["raises-exception"]} if RAISES.match(first) else {}
            cells.append({"cell_type": "code", "id": cell_id, "metadata": metadata,
                          "execution_count": None, "outputs": [], "source": _lines(body)})
        elif cells and cells[-1]["cell_type"] == "code" and not cells[-1]["outputs"]:
            cells[-1]["outputs"].append({"output_type": "stream", "name": "stdout",
                                         "text": _lines(body + "\n")})
        else:
            raise ValueError(f"{name}: an output block must follow a python block")
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        },
        "cells": cells,
    }


def write_notebooks(out, lessons_dir=LESSONS_DIR):
    """Write OUT/NN_name.ipynb for every lesson and copy the figures they show to
    OUT/figures/; returns the paths written."""
    os.makedirs(out, exist_ok=True)
    written = []
    for name in lesson_files(lessons_dir):
        text = open(os.path.join(lessons_dir, name), encoding="utf-8").read()
        path = os.path.join(out, name[:-3] + ".ipynb")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(notebook(text, name), f, indent=1, ensure_ascii=False)
            f.write("\n")
        written.append(path)
        for figure in FIGURE.findall(text):
            source = os.path.join(lessons_dir, "figures", figure)
            target = os.path.join(out, "figures", figure)
            if os.path.exists(source) and not (os.path.exists(target)
                                               and os.path.samefile(source, target)):
                os.makedirs(os.path.dirname(target), exist_ok=True)
                shutil.copyfile(source, target)
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m lessons.notebooks",
        description="Write each lesson as a Jupyter notebook (nbformat 4) in OUT, with the "
                    "figures it shows in OUT/figures/.")
    parser.add_argument("out", metavar="OUT", help="the folder to write the notebooks to")
    args = parser.parse_args(argv)
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        print(f"error: {args.out} is a file; give a folder for the notebooks", file=sys.stderr)
        return 2
    try:
        written = write_notebooks(args.out)
    except OSError as e:
        print(f"error: cannot write the notebooks to {args.out}: {e.strerror or e}",
              file=sys.stderr)
        return 2
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())

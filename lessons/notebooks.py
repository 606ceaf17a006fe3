"""Write every lesson as a Jupyter notebook.

    python -m lessons.notebooks OUT      # OUT/01_chain_rule.ipynb, ..., and OUT/figures/

One notebook per lesson (lessons/NN_*.md), in nbformat 4 JSON written directly (no Jupyter
package is needed to make them). The notebook opens with a setup cell (SETUP below), then the
lesson's Markdown and its code become cells, in order:

- each ```python block becomes a code cell whose source is the block, unchanged;
- the ```output block after it (what that block prints, checked by the test suite) becomes the
  cell's stdout stream output, so the notebook shows the lesson's numbers before it is run, and
  running the cell prints the same lines; the cell's execution_count stays null (not yet run);
- a block whose first line is ``# This raises SomeError`` is tagged ``raises-exception``, the
  tag with which Jupyter's "run all" (nbclient, nbconvert --execute) goes on past the error;
- a check-your-understanding answer, folded in the lesson as ``<details><summary>Answer
  </summary> ... </details>`` after its question, becomes a code cell for each ```python block
  it holds, WITHOUT the output (the learner predicts, then runs), followed by one Markdown cell
  holding the whole <details> element with everything else it holds (the answer's text, and
  the ```output blocks, kept as fenced text so that the folded answer still shows what the cell
  prints). The code comes out of the fold, before it, and the fold stays one well-formed
  element in one cell: a Markdown cell is rendered on its own, so a <details> opened in one
  cell cannot close in another;
- everything else (text, formulas, ```bash and other blocks) stays Markdown, verbatim.

The setup cell makes the notebook run from wherever it is opened. ``import nn`` finds this
project when it is installed (``pip install -e .``); when it is not, the cell puts the
repository these notebooks were written from (its path is recorded in the cell) first on
sys.path. The lessons' code writes its figures (``fig.savefig("NAME.png")``, for the
Markdown's pictures) into the working folder: the cell moves the kernel into a fresh temporary
folder, so running a notebook writes nothing into the repository or beside the notebook, and
after every cell it shows inline the pictures the cell saved there (matplotlib's or Pillow's),
or else the matplotlib figures it left open, and closes them (the lessons draw with
matplotlib's file-only Agg backend, which shows nothing by itself).

The figures the lessons show (``figures/NAME.png``) are copied to OUT/figures/, so the images
display beside the notebooks. Links to other files of the repository stay relative to lessons/:
``python -m lessons.notebooks lessons`` writes the notebooks beside the lessons, where the links
and figures work as they are (git ignores them there). Existing notebooks of the same names in
OUT are replaced; nothing else there is touched.
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
FOLD_OPEN = re.compile(r"^\s*<details\b")
FOLD_CLOSE = re.compile(r"</details>\s*$")
REPOSITORY = os.path.dirname(LESSONS_DIR)

# The first cell of every notebook; REPOSITORY_PATH becomes where the notebooks were written from.
SETUP = """\
# Setup: run this cell first. It finds this project (installed or not), moves the work folder
# to a temporary one (the lesson's code saves its figures there, not in the repository), and
# shows each figure under the cell that draws it.
import os, sys, tempfile
try:
    import nn
except ImportError:             # not installed: the repository these notebooks came from
    sys.path.insert(0, REPOSITORY_PATH)
    import nn
os.chdir(tempfile.mkdtemp(prefix="lesson-"))


def _show_figures(seen={}):     # seen: picture -> its time, kept from cell to cell
    # After each cell: show the pictures it saved (by matplotlib or Pillow), else the
    # matplotlib figures it left open; then close those figures.
    import glob, io
    from IPython.display import Image, display
    pictures = []
    for path in sorted(glob.glob("*.png")):
        if seen.get(path) != os.stat(path).st_mtime_ns:
            seen[path] = os.stat(path).st_mtime_ns
            with open(path, "rb") as f:
                pictures.append(f.read())
    plt = sys.modules.get("matplotlib.pyplot")
    for number in plt.get_fignums() if plt else []:
        if not pictures:
            png = io.BytesIO()
            plt.figure(number).savefig(png, format="png", dpi=80)
            display(Image(png.getvalue()))
        plt.close(number)
    for picture in pictures:
        display(Image(picture))


_events = get_ipython().events
for _hook in [h for h in _events.callbacks["post_execute"] if h.__name__ == "_show_figures"]:
    _events.unregister("post_execute", _hook)     # this cell run again: one hook, not two
_events.register("post_execute", _show_figures)
print("the project:", os.path.dirname(os.path.dirname(os.path.abspath(nn.__file__))))
print("files written by this notebook go to", os.getcwd())"""

__all__ = ["lesson_files", "blocks", "folds", "parse", "notebook", "write_notebooks", "main"]


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


def folds(text, name="lesson"):
    """The folded answers of a lesson: (first, last) line indices (0-based) of each
    ``<details>`` ... ``</details>`` element, the tags on lines of their own, outside fenced
    blocks. Raises ValueError naming the line of one that is never closed, or nested."""
    lines, found, start = text.split("\n"), [], None
    inside = set()
    for _, first, source in blocks(text, name):
        inside.update(range(first - 2, first + source.count("\n")))   # fence lines included
    for i, line in enumerate(lines):
        if i in inside:
            continue
        if FOLD_OPEN.match(line):
            if start is not None:
                raise ValueError(f"{name}: the <details> at line {i + 1} opens inside the one "
                                 f"opened at line {start + 1}")
            start = i
        if FOLD_CLOSE.search(line) and start is not None:
            found.append((start, i))
            start = None
    if start is not None:
        raise ValueError(f"{name}: the <details> opened at line {start + 1} is never closed")
    return found


def parse(text, name="lesson"):
    """A lesson's text -> a list of ("markdown", text), ("python", source), ("output", text)
    and ("prediction", source) parts, in order; a python or output part is a fenced block's
    body, a prediction part the body of a python block inside a folded answer.

    Fenced blocks of other languages stay inside the Markdown around them. A folded answer
    (see folds) gives its python blocks as prediction parts, then itself, without them, as
    one markdown part. Raises ValueError naming the line of a block or fold never closed.
    """
    lines = text.split("\n")
    parts, after = [], 0   # after: the index of the first line not yet in a part

    def markdown(chunk):
        chunk = re.sub(r"\n{3,}", "\n\n", "\n".join(chunk).strip("\n"))
        if chunk:
            parts.append(("markdown", chunk))

    fenced = [(language, first - 2, first - 1 + source.count("\n"), source[:-1])
              for language, first, source in blocks(text, name)]   # fence lines, body
    folded = folds(text, name)
    pieces = [(a, b, "fold") for a, b in folded] + [
        (begin, end, language) for language, begin, end, _ in fenced
        if language in ("python", "output") and not any(a < begin < b for a, b in folded)]
    for begin, end, kind in sorted(pieces):             # end: the piece's last line
        markdown(lines[after:begin])
        if kind == "fold":
            code = [(b, e, body) for language, b, e, body in fenced
                    if language == "python" and begin < b < end]
            parts += [("prediction", body) for _, _, body in code]
            markdown([line for i, line in enumerate(lines[begin:end + 1], begin)
                      if not any(b <= i <= e for b, e, _ in code)])
        else:
            parts.append((kind, next(body for _, b, _, body in fenced if b == begin)))
        after = end + 1
    markdown(lines[after:])
    return parts


def _lines(text):
    """Jupyter's on-disk form of a multi-line string: a list of lines, each but the last
    keeping its newline."""
    return text.splitlines(keepends=True)


def notebook(text, name="lesson", repository=REPOSITORY):
    """The nbformat 4 notebook (a dict, ready for json.dump) of a lesson's Markdown text,
    whose setup cell looks for the project in ``repository`` when it is not installed."""
    cells = [{"cell_type": "code", "id": "setup", "metadata": {"tags": ["setup"]},
              "execution_count": None, "outputs": [],
              "source": _lines(SETUP.replace("REPOSITORY_PATH",
                                             repr(os.path.abspath(repository))))}]
    previous = None
    for kind, body in parse(text, name):
        cell_id = f"cell-{len(cells)}"
        if kind == "markdown":
            cells.append({"cell_type": "markdown", "id": cell_id, "metadata": {},
                          "source": _lines(body)})
        elif kind in ("python", "prediction"):
            tags = ["raises-exception"] if RAISES.match(body.lstrip().split("\n")[0]) else []
            tags += ["prediction"] if kind == "prediction" else []
            cells.append({"cell_type": "code", "id": cell_id,
                          "metadata": {"tags": tags} if tags else {},
                          "execution_count": None, "outputs": [], "source": _lines(body)})
        elif previous == "python":
            cells[-1]["outputs"].append({"output_type": "stream", "name": "stdout",
                                         "text": _lines(body + "\n")})
        else:
            raise ValueError(f"{name}: an output block must follow a python block")
        previous = kind
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
    OUT/figures/; returns the paths written. The notebooks' setup cell looks for the project
    in the repository above ``lessons_dir`` when it is not installed."""
    os.makedirs(out, exist_ok=True)
    written = []
    for name in lesson_files(lessons_dir):
        text = open(os.path.join(lessons_dir, name), encoding="utf-8").read()
        path = os.path.join(out, name[:-3] + ".ipynb")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(notebook(text, name, os.path.dirname(os.path.abspath(lessons_dir))), f,
                      indent=1, ensure_ascii=False)
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

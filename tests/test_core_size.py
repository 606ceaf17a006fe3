"""The core a student reads stays small: tools/count_core.py's limits (README, "Reading the code")."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))

import count_core  # noqa: E402


def test_the_counter_counts_code_not_docstrings_comments_or_blank_lines():
    source = '"""Module doc,\ntwo lines."""\n\n# a comment\ndef f(x):\n    """Doc."""\n    y = (x +\n         1)  # why\n\n    return y\n'
    assert count_core.code_lines(source) == (4, 10)


def test_the_core_is_within_its_limits(capsys):
    files = count_core.core_files()
    assert files[:2] == ["nn/backend.py", "nn/tensor.py"] and "nn/fast/layers.py" not in files
    assert {"cyclegan.py", "train.py", "nn/functional.py"} <= set(files)
    assert "nn/pth.py" not in files
    assert count_core.main([]) == 0, capsys.readouterr().out

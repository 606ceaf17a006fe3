"""The README's Python example runs as written and prints what its comments say."""
import contextlib
import io
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_readme_python_blocks_run(tmp_path, monkeypatch):
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks, "README.md has no python example"
    monkeypatch.chdir(tmp_path)
    for block in blocks:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(block, "README.md", "exec"), {})
        printed = out.getvalue().splitlines()
        promised = [m.group(1) for m in re.finditer(r"print\(.*\)\s+#\s*(.+)$", block, re.M)]
        assert printed == promised, f"README example printed {printed}, its comments say {promised}"


def test_readme_commands_match_ci():
    """The test command in README.md is the one .ci/run executes."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    test_command = next(line for line in readme.splitlines() if "pytest" in line
                        and line.startswith("python3 -m venv"))
    assert test_command in ci

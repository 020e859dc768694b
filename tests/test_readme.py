"""The README's Python examples run as written: in order, in a fresh directory."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).parent.parent / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", README.read_text(), flags=re.M | re.S)


def test_the_readme_has_python_examples():
    blocks = python_blocks()
    assert len(blocks) >= 4
    assert any("GymTask" in block for block in blocks)


def test_the_readme_python_examples_run_as_written(tmp_path):
    pytest.importorskip("gymnasium")
    script = tmp_path / "readme_examples.py"
    script.write_text("\n\n".join(python_blocks()))
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "runs" / "arm-serene-seed0" / "summary.json").is_file()
    assert (tmp_path / "runs" / "my-task-my-algo-seed0" / "summary.json").is_file()

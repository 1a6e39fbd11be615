"""``examples/quickstart.py`` says it needs ``fairrec[plot]``, and without matplotlib it stops
at once with that advice instead of failing minutes later with a traceback."""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "examples" / "quickstart.py"
ADVICE = 'pip install "fairrec[plot]"'
SMALL = ["--users", "60", "--items", "40", "--factors", "4", "--iterations", "2"]


def test_quickstart_says_it_needs_the_plot_extra():
    script = runpy.run_path(str(QUICKSTART))
    assert ADVICE in script["__doc__"]
    assert ADVICE in script["NEEDS_PLOT"]


def test_quickstart_without_matplotlib_stops_first_with_the_advice(monkeypatch, capsys):
    script = runpy.run_path(str(QUICKSTART))
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if it were not installed
    with pytest.raises(SystemExit) as stop:
        script["main"](SMALL)
    assert ADVICE in str(stop.value.code)
    assert capsys.readouterr().out == ""  # nothing was computed before the check


def test_quickstart_without_matplotlib_from_the_shell():
    code = (
        "import runpy, sys; sys.modules['matplotlib'] = None; "
        f"sys.argv = ['quickstart.py', *{SMALL!r}]; "
        f"runpy.run_path({str(QUICKSTART)!r}, run_name='__main__')"
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 1
    assert ADVICE in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""

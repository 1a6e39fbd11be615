"""Child Python processes for the multi-process and crash tests (one copy, shared)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def spawn(code: str, *args: str) -> subprocess.Popen:
    """Run ``code`` (dedented) in a child interpreter that imports this checkout's fairrec.

    One BLAS thread, unbuffered output, ``src/`` first on ``PYTHONPATH`` (so the child runs
    the same code as the test, installed or not).
    """
    env = dict(
        os.environ,
        OPENBLAS_NUM_THREADS="1",
        PYTHONUNBUFFERED="1",
        PYTHONPATH=os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    )
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def wait_line(proc: subprocess.Popen, prefix: str, timeout: float = 60.0) -> list[str]:
    """Read stdout lines until one starts with ``prefix``; all lines read are returned."""
    deadline = time.monotonic() + timeout
    lines = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"child ended early: {proc.stderr.read()[-3000:]}")
        lines.append(line.strip())
        if line.startswith(prefix):
            return lines
    raise AssertionError(f"no {prefix!r} line from the child within {timeout} s")


def finish(proc: subprocess.Popen, timeout: float = 30.0) -> tuple[str, str]:
    """Wait for the child; the rest of its stdout and stderr.

    Use this, not ``proc.communicate()``, after :func:`wait_line`: ``communicate`` reads the
    pipes' file descriptors directly and drops the lines ``readline`` already pulled into the
    text buffer (under load the child writes several lines between two reads), so a test
    would miss events the child reported.
    """
    got: dict[str, str] = {}

    def drain(name: str, stream: object) -> None:
        got[name] = stream.read()  # type: ignore[attr-defined]

    readers = [
        threading.Thread(target=drain, args=(name, stream), daemon=True)
        for name, stream in (("out", proc.stdout), ("err", proc.stderr))
    ]
    for r in readers:
        r.start()
    proc.wait(timeout=timeout)
    for r in readers:
        r.join(timeout)
    return got.get("out", ""), got.get("err", "")

"""The shared kernel: fairrec._checks (typed validators) and fairrec._durable (durable files)."""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fairrec._checks import (
    check_bool,
    check_choice,
    check_fraction,
    check_int,
    check_real,
    check_time_ns,
)
from fairrec._durable import (
    append_synced,
    atomic_write,
    json_line,
    repair_tail,
    scan_jsonl,
    write_synced,
)
from fairrec.errors import ParameterError

# ------------------------------------------------------------------------------ _checks


@pytest.mark.parametrize("bad", [0, -1, True, np.bool_(True), 1.0, "1", None, np.float64(2)])
def test_check_int_refuses_and_names_parameter(bad: object) -> None:
    with pytest.raises(ParameterError, match=r"The 'k' parameter of MMR must be an int >= 1\. Got"):
        check_int(bad, "k", "MMR")


def test_check_int_accepts_numpy_ints_and_bounds() -> None:
    assert check_int(np.int64(5), "k", "MMR") == 5
    assert type(check_int(np.int32(5), "k", "MMR")) is int
    assert check_int(None, "k", "MMR", none=True) is None
    assert check_int(0, "n", "f", low=0) == 0
    with pytest.raises(ParameterError, match=r"an int in \[1, 3\]\. Got 4"):
        check_int(4, "n", "f", 1, 3)
    with pytest.raises(ParameterError, match="None or an int >= 1"):
        check_int(0, "n", "f", none=True)
    with pytest.raises(ParameterError, match="exactly this"):
        check_int(0, "n", "f", expected="exactly this")


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, True, "0.5", None, 10**400])
def test_check_real_refuses_non_finite_and_non_numbers(bad: object) -> None:
    with pytest.raises(ParameterError, match=r"'x' parameter of f must be a float in"):
        check_real(bad, "x", "f")


def test_check_real_open_and_closed_ends() -> None:
    assert check_real(0, "x", "f", 0, 1) == 0.0
    assert check_real(1, "x", "f", 0, 1) == 1.0
    with pytest.raises(ParameterError, match=r"a float in \(0, 1\]\. Got 0 instead"):
        check_real(0, "x", "f", 0, 1, low_open=True)
    with pytest.raises(ParameterError, match=r"a float in \[0, 1\)\. Got 1 instead"):
        check_real(1, "x", "f", 0, 1, high_open=True)
    with pytest.raises(ParameterError, match=r"a float in \(-inf, 2\.5\]"):
        check_real(3, "x", "f", None, 2.5)
    assert check_real(None, "x", "f", none=True) is None


@settings(max_examples=40, deadline=None)
@given(st.floats(allow_nan=True, allow_infinity=True))
def test_check_fraction_is_exactly_the_closed_unit_interval(x: float) -> None:
    inside = math.isfinite(x) and 0.0 <= x <= 1.0
    if inside:
        assert check_fraction(x, "p", "f") == x
    else:
        with pytest.raises(ParameterError):
            check_fraction(x, "p", "f")


def test_check_choice_and_bool() -> None:
    assert check_choice("a", "c", "f", ("a", "b")) == "a"
    with pytest.raises(ParameterError, match=r"must be one of 'a', 'b'\. Got 'A' instead"):
        check_choice("A", "c", "f", ("a", "b"))
    assert check_choice(None, "c", "f", ("a",), none=True) is None
    assert check_bool(np.bool_(True), "b", "f") is True
    with pytest.raises(ParameterError, match="True or False"):
        check_bool(1, "b", "f")


def test_check_time_ns() -> None:
    assert check_time_ns(0, "at", "f") == 0
    assert check_time_ns("1970-01-01T01:00:00+01:00", "at", "f") == 0  # offsets honoured
    assert check_time_ns("1970-01-01 00:00:02", "at", "f") == 2_000_000_000  # naive = UTC
    assert check_time_ns(np.datetime64("1970-01-01T00:00:03"), "at", "f") == 3_000_000_000
    for bad in (True, "not a time", None, float("nan"), "3000-01-01"):
        with pytest.raises(ParameterError, match="'at' parameter of f"):
            check_time_ns(bad, "at", "f")


# ------------------------------------------------------------------------------ _durable


def test_atomic_write_replaces_whole_file_private_mode(tmp_path: Path) -> None:
    target = tmp_path / "f.jsonl"
    atomic_write(target, b"old\n")
    atomic_write(target, [b"new ", b"content\n"])
    assert target.read_bytes() == b"new content\n"
    if os.name == "posix":
        assert target.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.jsonl"]  # no temp file left


def test_atomic_write_crash_mid_write_keeps_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "f"
    atomic_write(target, b"old")

    def chunks():
        yield b"half of the new"
        raise RuntimeError("crash")

    with pytest.raises(RuntimeError, match="crash"):
        atomic_write(target, chunks())
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f"]


def test_write_synced_and_append_synced(tmp_path: Path) -> None:
    f = tmp_path / "a"
    write_synced(f, b"x", mode=0o600)
    write_synced(f, [b"y", b"z"])
    assert f.read_bytes() == b"yz"
    append_synced(f, b"\n1")
    append_synced(tmp_path / "new", b"2")
    assert f.read_bytes() == b"yz\n1"
    assert (tmp_path / "new").read_bytes() == b"2"


def test_scan_jsonl_torn_last_line_warns_skips_and_repairs(tmp_path: Path) -> None:
    f = tmp_path / "log.jsonl"
    f.write_bytes(json_line({"a": 1}) + json_line({"b": "é"}) + b'{"c": ')

    class MyWarning(UserWarning):
        pass

    with pytest.warns(MyWarning, match="line 3 of the test log is incomplete"):
        scan = scan_jsonl(f, "test log", warning=MyWarning)
    assert [obj for _, obj in scan.records] == [{"a": 1}, {"b": "é"}]
    assert scan.torn_line == 3
    repair_tail(f, scan)
    assert f.read_bytes() == json_line({"a": 1}) + json_line({"b": "é"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(scan_jsonl(f, "test log").records) == 2


def test_scan_jsonl_bad_middle_line_raises_given_error(tmp_path: Path) -> None:
    f = tmp_path / "log.jsonl"
    f.write_bytes(json_line({"a": 1}) + b"garbage\n" + json_line({"b": 2}))

    class MyError(Exception):
        pass

    with pytest.raises(MyError, match="line 2 of the test log is malformed"):
        scan_jsonl(f, "test log", MyError)


def test_repair_tail_adds_missing_newline(tmp_path: Path) -> None:
    f = tmp_path / "log.jsonl"
    f.write_bytes(b'{"a":1}')
    scan = scan_jsonl(f, "log")
    assert scan.needs_newline and scan.torn_line is None
    repair_tail(f, scan)
    assert f.read_bytes() == b'{"a":1}\n'


def test_json_line_refuses_nan() -> None:
    assert json_line({"x": "é"}) == '{"x":"é"}\n'.encode()
    with pytest.raises(ValueError):
        json_line({"x": float("nan")})


def test_append_synced_returns_the_size_and_can_refuse_to_create(tmp_path: Path) -> None:
    f = tmp_path / "log"
    assert append_synced(f, b"ab") == 2
    assert append_synced(f, b"cde", create=False) == 5
    with pytest.raises(FileNotFoundError):
        append_synced(tmp_path / "missing", b"x", create=False)
    assert not (tmp_path / "missing").exists()


def test_finish_keeps_the_lines_wait_line_buffered() -> None:
    """The crash tests count the events a child reported: every line must reach them."""
    from _procs import finish, spawn, wait_line

    code = (
        "import sys, time\n"
        "for i in range(50): print('ok', i, flush=True)\n"
        "print('written', file=sys.stderr, flush=True)\n"
        "time.sleep(0.3)"
    )
    proc = spawn(code)
    assert proc.stderr.readline().strip() == "written"  # every line is in the pipe now
    seen = wait_line(proc, "ok 0")
    out, _ = finish(proc, timeout=30)
    lines = [*seen, *out.split()]
    assert seen == ["ok 0"] and out.count("ok") == 49, lines[:5]

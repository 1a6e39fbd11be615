"""The ``fairrec`` command, tried as a new user would (issue 17's CLI items).

* every option has help text, and the defaults it states are the real ones;
* ``--model`` with a training option is refused, with ``--row-size`` honoured;
* the default row size is the API's;
* a closed pipe (``fairrec demo | head -1``) ends quietly, without a traceback;
* the unknown-viewer hint names a CLI flag, not an API parameter.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import fairrec as fr
from fairrec import cli
from fairrec.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["--factors", "4", "--iterations", "2"]


def _parsers(parser: argparse.ArgumentParser, name: str = "fairrec"):
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from _parsers(sub, f"{name} {sub_name}")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    return env


@pytest.fixture(scope="module")
def plays(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "plays.csv"
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"user_id": rng.integers(0, 30, 400), "item_id": rng.integers(0, 50, 400)})
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def saved(plays, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "model"
    assert main(["train", "--data", str(plays), "--out", str(out), *SMALL]) == 0
    return out


# ---------------------------------------------------------------- help


def test_every_option_of_every_command_has_help_text():
    seen = 0
    for name, parser in _parsers(build_parser()):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for choice in action._choices_actions:
                    assert choice.help, f"{name} {choice.dest}: no help text"
                continue
            seen += 1
            flags = "/".join(action.option_strings) or action.dest
            assert action.help and action.help != argparse.SUPPRESS, f"{name} {flags}: no help"
            assert len(action.help) > 10, f"{name} {flags}: help too short"
    assert seen > 30  # the walk reached the subcommands


def test_stated_defaults_are_the_real_ones():
    """Every ``default: X`` in a help text is what the option really defaults to, and every
    option with a default says it."""
    for name, parser in _parsers(build_parser()):
        for action in parser._actions:
            text = action.help or ""
            if "%(default)s" in text:
                assert action.default is not None, f"{name} {action.option_strings}"
            has_default = action.default not in (None, False, argparse.SUPPRESS)
            if action.option_strings and has_default and not action.required:
                assert "default" in text, f"{name} {action.option_strings}: default not stated"
    demo = dict(_parsers(build_parser()))["fairrec demo"]
    shown = demo.format_help()
    assert "(default: 3000)" in shown and "(default: 5)" in shown


def test_min_rating_help_states_its_default():
    for name, parser in _parsers(build_parser()):
        for action in parser._actions:
            if "--min-rating" in action.option_strings:
                assert action.default is None
                assert "default: none, every rating counts" in action.help, name


# ---------------------------------------------------------------- row size


def test_default_row_size_is_the_apis(plays):
    api = inspect.signature(fr.Recommender).parameters["row_size"].default
    assert cli._API_ROW_SIZE == api
    for name, parser in _parsers(build_parser()):
        for action in parser._actions:
            if "--row-size" in action.option_strings:
                assert action.default is None, name  # so the API's default applies
                assert f"default: {api}," in action.help, name
    args = build_parser().parse_args(["home", "--data", str(plays), "--user", "1", *SMALL])
    assert cli._recommender(args).row_size == api
    args = build_parser().parse_args(["demo"])
    assert cli._serving_overrides(args) == {}


def test_row_size_is_validated_by_the_cli(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["demo", "--row-size", "0"])
    assert exit_.value.code == 2
    assert "argument --row-size: must be an int >= 1, got '0'" in capsys.readouterr().err


# ---------------------------------------------------------------- --model


@pytest.mark.parametrize(
    ("extra", "flag"),
    [
        (["--data", "{plays}"], "--data"),
        (["--catalog", "cat.csv"], "--catalog"),
        (["--min-rating", "4"], "--min-rating"),
        (["--factors", "8"], "--factors"),
        (["--iterations", "3"], "--iterations"),
    ],
)
@pytest.mark.parametrize("command", ["home", "explain", "train"])
def test_model_with_a_training_option_is_refused(
    saved, plays, capsys, tmp_path, extra, flag, command
):
    extra = [e.format(plays=plays) for e in extra]
    argv = [command, "--model", str(saved), *extra]
    argv += ["--out", str(tmp_path / "again")] if command == "train" else ["--user", "3"]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert f"{flag} cannot be combined with --model" in captured.err
    assert "Traceback" not in captured.err and captured.out == ""
    assert not (tmp_path / "again").exists()


def test_model_honours_row_size_and_on_unknown(saved, capsys):
    assert main(["home", "--model", str(saved), "--user", "3", "--format", "json"]) == 0
    page = json.loads(capsys.readouterr().out)
    assert 4 < max(len(r["items"]) for r in page["rows"]) <= cli._API_ROW_SIZE  # as saved
    argv = ["home", "--model", str(saved), "--user", "3", "--format", "json", "--row-size", "4"]
    assert main(argv) == 0
    page = json.loads(capsys.readouterr().out)
    assert page["rows"] and max(len(r["items"]) for r in page["rows"]) == 4
    argv = ["home", "--model", str(saved), "--user", "nobody", "--on-unknown", "ignore"]
    assert main(argv) == 0
    assert "not personalized" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--catalog", "c.csv"], "--catalog needs --data"),
        (["--min-rating", "4"], "--min-rating needs --data"),
        (["--data", "{plays}", "--min-rating", "4"], "--min-rating is for a MovieLens folder"),
        (["--data", "{folder}", "--catalog", "c.csv"], "--catalog is for a --data CSV"),
        (["--consent-key", "k.key"], "--consent-key needs --consent"),
        (["--format", "json", "--show", "3"], "--show is for --format text"),
    ],
)
def test_options_that_would_be_ignored_are_refused(plays, capsys, argv, message):
    argv = [a.format(plays=plays, folder=plays.parent) for a in argv]
    assert main(["home", "--user", "1", *argv, *SMALL]) == 2
    assert message in capsys.readouterr().err


# ---------------------------------------------------------------- unknown viewer


@pytest.mark.parametrize("command", ["home", "explain"])
def test_unknown_viewer_hint_names_cli_flags(plays, capsys, command):
    assert main([command, "--data", str(plays), "--user", "99", *SMALL]) == 2
    err = capsys.readouterr().err
    assert "'99'" in err and "--on-unknown ignore" in err and "--user" in err
    assert "on_unknown=" not in err and "Traceback" not in err
    assert (
        main([command, "--data", str(plays), "--user", "99", "--on-unknown", "ignore", *SMALL]) == 0
    )


# ---------------------------------------------------------------- closed pipe


DEMO = [sys.executable, "-m", "fairrec", "demo", "--users", "120", "--items", "80"]


def test_closed_pipe_ends_quietly():
    """The reader is gone before the first byte: no traceback, SIGPIPE's exit status."""
    proc = subprocess.Popen(
        DEMO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(), cwd=ROOT
    )
    proc.stdout.close()  # nobody reads stdout
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141, err
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception ignored" not in err


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX shell and head")
def test_demo_piped_into_head():
    cmd = " ".join(DEMO) + " | head -1"
    done = subprocess.run(
        ["sh", "-c", cmd], capture_output=True, text=True, env=_env(), cwd=ROOT, timeout=120
    )
    assert done.stdout.startswith("Building the synthetic catalog")
    assert done.stdout.count("\n") == 1
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr

"""The ``fairrec`` command: ``demo``, ``train``, ``home`` and ``explain``.

Errors a person can fix (a bad path, an unknown viewer, malformed data, options that do not
go together) are printed as one readable line on stderr with exit code 2; nothing prints a
traceback for them. Output piped into a command that stops reading early (``fairrec demo |
head -1``) ends quietly with exit code 141 (128 + SIGPIPE), as a shell tool would.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main"]


def _load_data(path: str, min_rating: float | None, catalog: str | None) -> Any:
    """A MovieLens folder, or a CSV of interactions (user_id,item_id[,timestamp][,weight])."""
    import pandas as pd

    import fairrec as fr
    from fairrec.errors import DataError

    p = Path(path)
    if not p.exists():
        raise DataError(f"No such file or folder: {path!r}.")
    if p.is_dir():
        return fr.datasets.load_movielens(p, min_rating=min_rating)
    try:
        frame = pd.read_csv(p)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"Cannot read {path!r} as CSV: {exc}") from exc
    cat = None
    if catalog is not None:
        try:
            cat = pd.read_csv(catalog)
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            raise DataError(f"Cannot read catalog {catalog!r} as CSV: {exc}") from exc
    return fr.Dataset.from_pandas(
        frame,
        cat,
        time_col="timestamp" if "timestamp" in frame.columns else None,
        weight_col="weight" if "weight" in frame.columns else None,
        strict=cat is None,
    )


def _parse_user(raw: str, ids: Any) -> Any:
    """Viewer ids typed on a command line are strings; match int ids too."""
    import numpy as np

    if len(ids) and np.asarray(ids).dtype.kind in "iu":
        try:
            return int(raw)
        except ValueError:
            return raw
    return raw


#: Defaults of the training options (the option defaults are None, so that an option given
#: with --model can be told from one left out).
_FACTORS, _ITERATIONS = 32, 10
#: Titles per row that ``fairrec home`` prints in text.
_HOME_SHOW = 10
#: Options that describe how to train: a saved model (--model) is already trained.
_TRAINING_OPTIONS = {
    "data": "--data",
    "catalog": "--catalog",
    "min_rating": "--min-rating",
    "factors": "--factors",
    "iterations": "--iterations",
}


def _check_source(args: argparse.Namespace) -> None:
    """Refuse options that would be silently ignored with the others given."""
    from fairrec.errors import ParameterError

    if args.consent_key is not None and args.consent is None:
        raise ParameterError("--consent-key needs --consent (the ledger it is the key of).")
    given = [flag for name, flag in _TRAINING_OPTIONS.items() if getattr(args, name) is not None]
    if args.model is not None and given:
        raise ParameterError(
            f"{', '.join(given)} cannot be combined with --model: a saved model is already "
            f"trained on its own data. Drop {'it' if len(given) == 1 else 'them'} to serve the "
            "saved model, or drop --model to train a new one (--row-size, --consent and "
            "--on-unknown work with both)."
        )
    if args.data is None:
        for name in ("catalog", "min_rating"):
            if getattr(args, name) is not None:
                raise ParameterError(
                    f"{_TRAINING_OPTIONS[name]} needs --data (without it fairrec uses the "
                    "synthetic catalog)."
                )
        return
    folder = Path(args.data).is_dir()
    if folder and args.catalog is not None:
        raise ParameterError(
            "--catalog is for a --data CSV; a MovieLens folder brings its own catalog."
        )
    if not folder and args.min_rating is not None and Path(args.data).exists():
        raise ParameterError(
            "--min-rating is for a MovieLens folder; a --data CSV has no star ratings (give "
            "its rows a 'weight' column instead)."
        )


def _serving_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """Serving options given on the command line (the API's defaults otherwise)."""
    out: dict[str, Any] = {}
    if getattr(args, "row_size", None) is not None:
        out["row_size"] = args.row_size
    if getattr(args, "on_unknown", None) is not None:
        out["on_unknown"] = args.on_unknown
    return out


def _recommender(args: argparse.Namespace) -> Any:
    import fairrec as fr

    _check_source(args)
    consent = None
    if getattr(args, "consent", None):
        key = Path(args.consent_key) if getattr(args, "consent_key", None) else None
        consent = fr.ConsentLedger.load(args.consent, key=key)
    if args.model is not None:
        return fr.Recommender.load(args.model, consent=consent, **_serving_overrides(args))
    if args.data is not None:
        data = _load_data(args.data, args.min_rating, args.catalog)
    else:
        data = fr.datasets.synthetic(n_users=2_000, n_items=1_000, seed=0)
    model = fr.models.ALS(
        factors=_FACTORS if args.factors is None else args.factors,
        iterations=_ITERATIONS if args.iterations is None else args.iterations,
        random_state=0,
    )
    return fr.Recommender(model=model, consent=consent, **_serving_overrides(args)).fit(data)


def _unknown_viewer(args: argparse.Namespace) -> Exception:
    """The unknown-viewer error in the command's terms (flags, not API parameters)."""
    from fairrec.errors import UnknownUserError

    source = (
        "--model"
        if args.model is not None
        else ("--data" if args.data else "the synthetic catalog")
    )
    return UnknownUserError(
        f"Unknown viewer {args.user!r}: not in the training data ({source}) nor in the "
        "consent ledger (--consent), or erased. Check --user, or pass --on-unknown ignore to "
        "show the non-personalized page."
    )


def _cmd_demo(args: argparse.Namespace) -> int:
    import numpy as np

    import fairrec as fr

    print(f"Building the synthetic catalog ({args.users} viewers x {args.items} titles)...")
    data = fr.datasets.synthetic(n_users=args.users, n_items=args.items, seed=args.seed)
    consent = fr.ConsentLedger(default="deny")
    ids = [str(u) for u in data.user_ids]
    rng = np.random.default_rng(args.seed)
    # most viewers opted in to training and personalization; some did not
    opted_in = [u for u, ok in zip(ids, rng.random(len(ids)) < 0.8) if ok]
    for u in opted_in:
        consent.grant(u, ["training", "personalization"])
    full, opted_out, stated = opted_in[0], ids[-1], ids[-2]
    consent.grant(full, ["stated_interests"])
    consent.state_interests(full, genres=[data.genre_names[0]])
    for purpose in ("training", "personalization"):
        if consent.allowed(opted_out, purpose):
            consent.revoke(opted_out, purpose)
    for purpose in ("training", "personalization"):
        if consent.allowed(stated, purpose):
            consent.revoke(stated, purpose)
    consent.grant(stated, ["stated_interests"])
    liked, excluded = data.genre_names[1], data.genre_names[2]
    consent.state_interests(stated, genres=[liked])
    consent.exclude(stated, genres=[excluded])

    print(f"Training ALS on the {len(opted_in)} viewers who granted 'training'...")
    rec = fr.Recommender(
        model=fr.models.ALS(factors=32, iterations=10, random_state=args.seed),
        consent=consent,
        **_serving_overrides(args),
    ).fit(data)
    viewers = [
        (full, "fully consented (history + stated interests)"),
        (opted_out, "opted out of personalization and training"),
        (stated, f"stated interest {liked!r}, excluded {excluded!r}, no history use"),
    ]
    pages = []
    for user, label in viewers:
        page = rec.home(user)
        pages.append(page)
        print("\n" + "=" * 100)
        print(f"Viewer {user} - {label}")
        print("=" * 100)
        print(page.to_text(max_items=args.show))
        print("\nWhat data this page used:")
        print(rec.explain_data_use(user).text)
    if args.html:
        out = Path(args.html)
        out.parent.mkdir(parents=True, exist_ok=True)
        from fairrec.page import pages_to_html

        out.write_text(pages_to_html(pages), encoding="utf-8")
        print(f"\nWrote {out}")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    rec = _recommender(args)
    rec.save(args.out)
    print(f"Saved the model to {args.out}")
    return 0


def _cmd_home(args: argparse.Namespace) -> int:
    from fairrec.errors import ParameterError, UnknownUserError

    if args.show is not None and args.format != "text":
        raise ParameterError(
            f"--show is for --format text; --format {args.format} holds every title of a row."
        )
    rec = _recommender(args)
    user = _parse_user(args.user, rec.data_.user_ids)
    try:
        page = rec.home(user)
    except UnknownUserError:
        raise _unknown_viewer(args) from None
    if args.format == "json":
        print(page.to_json(indent=2))
    elif args.format == "html":
        print(page.to_html())
    else:
        print(page.to_text(max_items=_HOME_SHOW if args.show is None else args.show))
    return 0


def _cmd_explain(args: argparse.Namespace) -> int:
    import json

    from fairrec.errors import UnknownUserError

    rec = _recommender(args)
    user = _parse_user(args.user, rec.data_.user_ids)
    try:
        report = rec.explain_data_use(user)
    except UnknownUserError:
        raise _unknown_viewer(args) from None
    print(json.dumps(report, indent=2, default=str) if args.format == "json" else report.text)
    return 0


def _cmd_consent_migrate(args: argparse.Namespace) -> int:
    from fairrec.consent import migrate
    from fairrec.consent.keys import read_key_file

    key = read_key_file(Path(args.key_file)) if args.key_file else None
    done = migrate(args.source, args.target, key=key)
    print(
        f"moved {done['events']} events ({done['viewers']} viewers, {done['tombstones']} "
        f"tombstones) to {done['target']}" + (" (resumed)" if done["resumed"] else "") + "."
    )
    if args.target.lower().startswith(("postgresql://", "postgres://")):
        print(
            "Every replica must pass the same tombstone key: "
            f"ConsentLedger(store=..., key=Path({(args.key_file or args.source + '.key')!r}))."
        )
    return 0


def _count(text: str) -> int:
    """An argparse type: an int >= 1 (argparse names the option in its error)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an int >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an int >= 1, got {text!r}")
    return value


#: The API's default row size (``fairrec.Recommender(row_size=...)``); the CLI passes no row
#: size unless --row-size is given, so both always agree (a test checks this number).
_API_ROW_SIZE = 20


def _add_row_size(p: argparse.ArgumentParser, saved: bool = False) -> None:
    p.add_argument(
        "--row-size",
        type=_count,
        default=None,
        dest="row_size",
        help=f"titles per row (default: {_API_ROW_SIZE}, as fairrec.Recommender"
        + ("; with --model, the saved model's" if saved else "")
        + ")",
    )


def _add_source(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data",
        help="MovieLens folder or CSV of interactions "
        "(user_id,item_id[,timestamp][,weight]); default: the synthetic catalog. Not with "
        "--model",
    )
    p.add_argument(
        "--catalog", help="CSV catalog (item_id,title,genres) for a --data CSV; default: none"
    )
    p.add_argument(
        "--model",
        help="serve a model directory written by 'fairrec train' or save() instead of "
        "training one; refuses --data, --catalog, --min-rating, --factors and --iterations",
    )
    p.add_argument(
        "--consent",
        help="consent ledger: a JSON-lines file, sqlite:///path.db or postgresql://...; "
        "default: none (every purpose counts as granted)",
    )
    p.add_argument(
        "--consent-key",
        dest="consent_key",
        help="the ledger's tombstone key file (default: <file>.key; needed for PostgreSQL)",
    )
    p.add_argument(
        "--min-rating",
        type=float,
        default=None,
        dest="min_rating",
        help="MovieLens folder only: ratings >= this many stars count as positives "
        "(default: none, every rating counts)",
    )
    p.add_argument(
        "--factors",
        type=_count,
        default=None,
        help=f"ALS latent factors when training (default: {_FACTORS})",
    )
    p.add_argument(
        "--iterations",
        type=_count,
        default=None,
        help=f"ALS iterations when training (default: {_ITERATIONS})",
    )
    _add_row_size(p, saved=True)


def _add_viewer(p: argparse.ArgumentParser) -> None:
    p.add_argument("--user", required=True, help="the viewer's id (any spelling: 7, '07', ' 7')")
    p.add_argument(
        "--on-unknown",
        dest="on_unknown",
        choices=("raise", "warn", "ignore"),
        default=None,
        help="a viewer in neither the data nor the ledger: an error (raise, the default), or "
        "the non-personalized page (ignore; warn also prints a warning)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``fairrec`` command."""
    parser = argparse.ArgumentParser(
        prog="fairrec",
        description="Personalized, diverse, consent-aware home pages for streaming catalogs.",
    )
    from fairrec import __version__

    parser.add_argument("--version", action="version", version=f"fairrec {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="train on the synthetic catalog and show three pages")
    demo.add_argument(
        "--users", type=_count, default=3_000, help="synthetic viewers (default: %(default)s)"
    )
    demo.add_argument(
        "--items", type=_count, default=1_500, help="synthetic titles (default: %(default)s)"
    )
    demo.add_argument(
        "--seed", type=int, default=0, help="seed of the catalog and consent (default: %(default)s)"
    )
    _add_row_size(demo)
    demo.add_argument(
        "--show", type=_count, default=5, help="titles shown per row (default: %(default)s)"
    )
    demo.add_argument("--html", help="also write the three pages to this HTML file")
    demo.set_defaults(func=_cmd_demo)

    train = sub.add_parser("train", help="fit a model and save it to a directory")
    _add_source(train)
    train.add_argument("--out", required=True, help="the directory to save the model to")
    train.set_defaults(func=_cmd_train)

    home = sub.add_parser("home", help="show one viewer's home page")
    _add_source(home)
    _add_viewer(home)
    home.add_argument(
        "--format",
        choices=("text", "json", "html"),
        default="text",
        help="output format (default: %(default)s)",
    )
    home.add_argument(
        "--show",
        type=_count,
        default=None,
        help=f"titles shown per row, for --format text (default: {_HOME_SHOW})",
    )
    home.set_defaults(func=_cmd_home)

    explain = sub.add_parser("explain", help="what data is used for a viewer, and why")
    _add_source(explain)
    _add_viewer(explain)
    explain.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="output format (default: %(default)s)",
    )
    explain.set_defaults(func=_cmd_explain)

    consent = sub.add_parser("consent", help="manage the consent ledger's store")
    consent_sub = consent.add_subparsers(dest="consent_command", required=True)
    move = consent_sub.add_parser(
        "migrate",
        help="move a JSON-lines ledger into SQLite or PostgreSQL (all or nothing)",
    )
    move.add_argument("--from", dest="source", required=True, help="the JSON-lines ledger file")
    move.add_argument(
        "--to", dest="target", required=True, help="sqlite:///path.db or postgresql://..."
    )
    move.add_argument(
        "--key-file", dest="key_file", help="the tombstone key file (default: <from>.key)"
    )
    move.set_defaults(func=_cmd_consent_migrate)
    return parser


def _quiet_stdout() -> None:
    """Send what is left for stdout to /dev/null (its reader has gone away), so that the
    interpreter's final flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # not a real file (e.g. captured output)
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``fairrec`` console script; returns the exit code."""
    from fairrec.errors import FairrecError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = int(args.func(args))
        sys.stdout.flush()  # inside the try: a closed pipe is reported here, not at exit
        return code
    except BrokenPipeError:
        _quiet_stdout()
        return 141
    except FairrecError as exc:
        print(f"fairrec {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

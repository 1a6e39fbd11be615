"""The ``fairrec`` command: ``demo``, ``train``, ``home`` and ``explain``.

Errors a person can fix (a bad path, an unknown viewer, malformed data) are printed as one
readable line on stderr with exit code 2; nothing prints a traceback for them.
"""

from __future__ import annotations

import argparse
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


def _recommender(args: argparse.Namespace) -> Any:
    import fairrec as fr

    consent = None
    if getattr(args, "consent", None):
        key = Path(args.consent_key) if getattr(args, "consent_key", None) else None
        consent = fr.ConsentLedger.load(args.consent, key=key)
    if getattr(args, "model", None):
        return fr.Recommender.load(args.model, consent=consent)
    if getattr(args, "data", None):
        data = _load_data(args.data, args.min_rating, getattr(args, "catalog", None))
    else:
        data = fr.datasets.synthetic(n_users=2_000, n_items=1_000, seed=0)
    model = fr.models.ALS(factors=args.factors, iterations=args.iterations, random_state=0)
    return fr.Recommender(model=model, consent=consent, row_size=args.row_size).fit(data)


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
        row_size=args.row_size,
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
    rec = _recommender(args)
    user = _parse_user(args.user, rec.data_.user_ids)
    page = rec.home(user)
    if args.format == "json":
        print(page.to_json(indent=2))
    elif args.format == "html":
        print(page.to_html())
    else:
        print(page.to_text(max_items=args.show))
    return 0


def _cmd_explain(args: argparse.Namespace) -> int:
    import json

    rec = _recommender(args)
    user = _parse_user(args.user, rec.data_.user_ids)
    report = rec.explain_data_use(user)
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


def _add_source(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data",
        help="MovieLens folder or CSV of interactions "
        "(user_id,item_id[,timestamp][,weight]); default: the synthetic catalog",
    )
    p.add_argument("--catalog", help="CSV catalog for --data CSV (item_id,title,genres)")
    p.add_argument("--model", help="a model directory written by 'fairrec train' or save()")
    p.add_argument(
        "--consent",
        help="consent ledger: a JSON-lines file, sqlite:///path.db or postgresql://...",
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
        help="MovieLens: ratings >= this count as positives",
    )
    p.add_argument("--factors", type=int, default=32)
    p.add_argument("--iterations", type=int, default=10)
    p.add_argument("--row-size", type=int, default=10, dest="row_size")


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
    demo.add_argument("--users", type=int, default=3_000)
    demo.add_argument("--items", type=int, default=1_500)
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--row-size", type=int, default=10, dest="row_size")
    demo.add_argument("--show", type=int, default=5, help="titles shown per row")
    demo.add_argument("--html", help="also write the three pages to this HTML file")
    demo.set_defaults(func=_cmd_demo)

    train = sub.add_parser("train", help="fit a model and save it to a directory")
    _add_source(train)
    train.add_argument("--out", required=True)
    train.set_defaults(func=_cmd_train)

    home = sub.add_parser("home", help="show one viewer's home page")
    _add_source(home)
    home.add_argument("--user", required=True)
    home.add_argument("--format", choices=("text", "json", "html"), default="text")
    home.add_argument("--show", type=int, default=10)
    home.set_defaults(func=_cmd_home)

    explain = sub.add_parser("explain", help="what data is used for a viewer, and why")
    _add_source(explain)
    explain.add_argument("--user", required=True)
    explain.add_argument("--format", choices=("text", "json"), default="text")
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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``fairrec`` console script; returns the exit code."""
    from fairrec.errors import FairrecError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except FairrecError as exc:
        print(f"fairrec {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

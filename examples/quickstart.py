"""fairrec quickstart: data -> consent -> fit -> home page -> evaluation -> plot.

Needs the ``plot`` extra for its last step, a figure (matplotlib)::

    pip install "fairrec[plot]"

Without matplotlib it stops at once with that advice, before any work. Runs on the embedded
synthetic catalog in well under a minute::

    python examples/quickstart.py                       # 5,000 viewers x 3,000 titles
    python examples/quickstart.py --users 500 --items 300 --factors 16   # a few seconds

The same steps, cell by cell, are in ``examples/quickstart.ipynb``.
"""

from __future__ import annotations

import argparse
import importlib.util
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

import fairrec as fr

NEEDS_PLOT = (
    'examples/quickstart.py needs the "plot" extra (matplotlib) for its figure: '
    'pip install "fairrec[plot]"'
)


def main(argv: list[str] | None = None) -> pd.DataFrame:
    ap = argparse.ArgumentParser(
        description='fairrec quickstart (needs the plot extra: pip install "fairrec[plot]")'
    )
    ap.add_argument("--users", type=int, default=5_000, help="synthetic viewers")
    ap.add_argument("--items", type=int, default=3_000, help="synthetic titles")
    ap.add_argument("--factors", type=int, default=64, help="ALS latent factors")
    ap.add_argument("--iterations", type=int, default=15, help="ALS iterations")
    ap.add_argument("--out", default=tempfile.gettempdir(), help="folder for the figure")
    args = ap.parse_args(argv)
    try:  # checked first: the figure is the last step, after all the work
        missing = importlib.util.find_spec("matplotlib") is None
    except ValueError:  # matplotlib in sys.modules as None: blocked
        missing = True
    if missing:
        raise SystemExit(NEEDS_PLOT)
    pd.set_option("display.width", 120)

    # 1. Data: interactions + a catalog (titles, genres, popularity). Your own data:
    #    fr.Dataset.from_pandas(interactions_df, catalog_df, time_col="timestamp"), or
    #    fr.datasets.load_movielens("path/to/ml-100k", min_rating=4) for local MovieLens files.
    data = fr.datasets.synthetic(n_users=args.users, n_items=args.items, seed=0)
    print(data)
    print(data.catalog.head(3).to_string(), "\n")

    # 2. Consent: deny by default; each purpose is granted per viewer.
    #    "training" lets a viewer's plays train the shared model, "personalization" lets their
    #    history shape their own page, "stated_interests" lets what they told us be used.
    consent = fr.ConsentLedger(default="deny")
    rng = np.random.default_rng(0)
    viewers = list(data.user_ids)
    for u, draw in zip(viewers, rng.random(len(viewers))):
        if draw < 0.9:  # 90% of viewers opted in; the others get a non-personalized page
            consent.grant(u, ["training", "personalization"])
    fan, opted_out = viewers[0], viewers[1]
    consent.grant(fan, ["training", "personalization", "stated_interests"])
    consent.state_interests(fan, genres=[data.genre_names[3]])
    consent.exclude(fan, genres=[data.genre_names[0]])
    consent.deny(opted_out, ["training", "personalization"])

    # 3. Fit: only the plays of viewers with "training" consent reach the model.
    model = fr.models.ALS(factors=args.factors, iterations=args.iterations, random_state=0)
    rec = fr.Recommender(model=model, consent=consent).fit(data)

    # 4. Home pages: titled rows, every title with a reason and the data it used.
    page = rec.home(fan)
    print(page.to_text(max_items=4), "\n")
    print(rec.explain_data_use(fan), "\n")
    print(rec.home(opted_out).to_text(max_items=4), "\n")  # no personal data used
    pages = rec.home_batch(viewers[:200])  # one frame, one line per (viewer, row, title)
    print(pages[["user_id", "row_title", "position", "title"]].head().to_string(), "\n")

    # 5. Evaluation. Hold out the last 20% of each viewer's titles (in time), fit on the rest
    #    with the same consent, and score the top-10 lists of the held-out viewers.
    split = fr.evaluation.temporal_holdout(data, fraction=0.2)
    model = fr.models.ALS(factors=args.factors, iterations=args.iterations, random_state=0)
    offline = fr.Recommender(model=model, consent=consent).fit(split.train)
    row = fr.evaluate(offline, split, k=10, name="ALS")
    print(row[["ndcg@10", "recall@10", "coverage", "ild", "novelty", "miscalibration"]], "\n")

    # Re-rankers side by side: same fitted model, same 200 candidates per viewer; p-values
    # of a paired t-test against the first method (per viewer) in the "_p" columns.
    R = fr.rerank
    table = fr.compare(
        {
            "ALS": None,
            "MMR λ=0.7": R.MMR(lambda_=0.7),
            "MMR λ=0.5": R.MMR(lambda_=0.5),
            "DPP θ=1": R.DPP(theta=1.0),
            "Calibrated λ=0.6": R.Calibrated(lambda_=0.6),
            "LongTail λ=0.6": R.LongTail(lambda_=0.6),
            "Serendipity w=1": R.Serendipity(weight=1.0),
        },
        split=split,
        recommender=offline,
        n_candidates=200,
    )
    cols = ["ndcg@10", "ndcg@10_p", "ild", "novelty", "coverage", "miscalibration", "seconds"]
    p_value = "{:.1e}".format
    print(table[cols].to_string(float_format="{:.4f}".format, formatters={"ndcg@10_p": p_value}))

    # 6. Plot: the accuracy-diversity frontier (needs the "plot" extra: matplotlib).
    fig = fr.plot.tradeoff(table, x="ild", y="ndcg@10")
    out = Path(args.out) / "quickstart_frontier.png"
    fig.savefig(out, dpi=120)
    print(f"\nfrontier saved to {out}")
    return table


if __name__ == "__main__":
    main()

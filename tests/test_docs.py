"""The documentation site: its build fails on a broken cross-reference, and the statements of
docs/consent.md that no other test covers hold.

The build test needs the ``docs`` extra (sphinx, myst-parser); ``.ci/run`` runs it in its
docs step. Without the extra it is skipped with the reason.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fairrec as fr

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _sphinx(src: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-n",
            "-W",
            "--keep-going",
            "-q",
            "-b",
            "html",
            str(src),
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_docs_build_fails_on_a_broken_cross_reference(tmp_path):
    pytest.importorskip("sphinx", reason="needs the docs extra: pip install -e '.[docs]'")
    pytest.importorskip("myst_parser", reason="needs the docs extra: pip install -e '.[docs]'")
    src = tmp_path / "docs"
    shutil.copytree(DOCS, src, ignore=shutil.ignore_patterns("_build", "_generated"))
    shutil.copy(ROOT / "CHANGELOG.md", tmp_path / "CHANGELOG.md")  # docs/changelog.md includes it
    (tmp_path / "examples").mkdir()
    shutil.copy(ROOT / "examples" / "quickstart.py", tmp_path / "examples" / "quickstart.py")
    page = src / "metrics.md"
    page.write_text(
        page.read_text(encoding="utf-8")
        + "\nSee {func}`fairrec.metrics.no_such_metric` and {class}`fairrec.NoSuchClass`.\n",
        encoding="utf-8",
    )
    broken = _sphinx(src, tmp_path / "html")
    assert broken.returncode != 0, broken.stdout + broken.stderr
    assert "fairrec.metrics.no_such_metric" in broken.stderr
    assert "fairrec.NoSuchClass" in broken.stderr


def _setup(tmp_path):
    data = fr.datasets.synthetic(n_users=120, n_items=80, seed=5)
    consent = fr.ConsentLedger(default="deny")
    for u in data.user_ids[:100]:
        consent.grant(u, ["training", "personalization"])
    rec = fr.Recommender(
        model=fr.models.ALS(factors=4, iterations=2, random_state=0), consent=consent
    ).fit(data)
    return data, consent, rec


def test_consent_page_withdrawing_training_applies_at_the_next_fit(tmp_path):
    """docs/consent.md, "When a change takes effect": after a withdrawal of ``training`` the
    model in memory still uses what it learned (and the data-use report says so) until the
    next fit; ``save`` writes neither the viewer's training row nor their user vector; the
    next fit does not use their plays; ``forget`` removes a viewer from what is saved."""
    data, consent, rec = _setup(tmp_path)
    viewer = str(data.user_ids[3])
    consent.revoke(viewer, "training")
    report = rec.explain_data_use(viewer)
    assert report["trained_on_your_data"] is True
    assert report["training_data_until"] == "the next training"
    rec.save(tmp_path / "before_refit")
    ids = json.loads((tmp_path / "before_refit" / "ids.json").read_text(encoding="utf-8"))
    assert viewer not in ids["train_user_ids"]
    with np.load(tmp_path / "before_refit" / "arrays.npz", allow_pickle=False) as z:
        assert z["model/user_factors"].shape[0] == len(ids["train_user_ids"]) == 99
    rec.fit(data)
    assert rec.explain_data_use(viewer)["trained_on_your_data"] is False
    other = str(data.user_ids[4])
    rec.forget(other)
    rec.save(tmp_path / "after_forget")
    ids = json.loads((tmp_path / "after_forget" / "ids.json").read_text(encoding="utf-8"))
    assert other not in ids["train_user_ids"] and other not in ids["history_user_ids"]


def test_consent_page_model_files_hold_what_the_page_says(tmp_path):
    """docs/consent.md, "Model files": four files; user vectors one per saved training row;
    the histories only of viewers with ``personalization`` at save time."""
    data, consent, rec = _setup(tmp_path)
    no_pers = str(data.user_ids[7])
    consent.revoke(no_pers, "personalization")
    rec.save(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [
        "arrays.npz",
        "catalog.json",
        "ids.json",
        "meta.json",
    ]
    ids = json.loads((tmp_path / "m" / "ids.json").read_text(encoding="utf-8"))
    with np.load(tmp_path / "m" / "arrays.npz", allow_pickle=False) as z:
        assert z["model/user_factors"].shape[0] == len(ids["train_user_ids"]) == 100
        assert len(z["train/indptr"]) == 100 + 1
        assert np.unique(z["history/users"]).size == len(ids["history_user_ids"])
    assert no_pers in ids["train_user_ids"] and no_pers not in ids["history_user_ids"]
    assert set(ids["history_user_ids"]) == {str(u) for u in data.user_ids[:100]} - {no_pers}


def test_tests_named_in_the_docs_exist():
    """The pages cite tests by name as the check of a statement: each must exist."""
    import re

    defined = set()
    for path in (ROOT / "tests").glob("test_*.py"):
        defined |= set(re.findall(r"^\s*def (test_\w+)", path.read_text(encoding="utf-8"), re.M))
    cited = {
        name
        for page in DOCS.glob("*.md")
        for name in re.findall(r"`(test_\w+)`", page.read_text(encoding="utf-8"))
    }
    assert cited, "no test is cited in docs/*.md"
    assert sorted(cited - defined) == []

"""Smoke test of an *installed* fairrec (the wheel), run by ``.ci/run`` in a fresh virtualenv.

Usage (from a temporary directory, with the wheel installed in the active environment)::

    python smoke_wheel.py --wheel dist/fairrec-X.Y.Z-py3-none-any.whl --source src/fairrec

Checks, each printed as one ``ok:`` line, or the script exits non-zero naming the failure:

1. ``import fairrec`` resolves to the environment's site-packages, not the source tree;
   ``fairrec.__version__`` equals the installed distribution's version (single source).
2. The wheel holds every file of the source package that git tracks (so ``py.typed`` and any
   future non-Python data file such as an HTML/CSS template), and ``py.typed`` is installed.
3. The ``fairrec`` console script runs ``fairrec --version`` and ``fairrec demo``.
4. A fitted ``Recommender`` saved with ``save()`` and read back with ``Recommender.load()``
   serves the same home page (same rows, titles and reasons; scores within a tolerance).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.resources
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
import zipfile
from pathlib import Path


def fail(message: str) -> None:
    print(f"FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def check_import(source: Path) -> str:
    import fairrec

    where = Path(fairrec.__file__).resolve()
    site = Path(sysconfig.get_paths()["purelib"]).resolve()
    if source.resolve() in where.parents:
        fail(f"fairrec was imported from the source tree ({where}), not the installed wheel")
    if site not in where.parents:
        fail(f"fairrec was imported from {where}, outside this environment's {site}")
    dist_version = importlib.metadata.version("fairrec")
    if fairrec.__version__ != dist_version:
        fail(f"fairrec.__version__ {fairrec.__version__!r} != distribution {dist_version!r}")
    print(f"ok: import fairrec {fairrec.__version__} from {where.parent}")
    return dist_version


def check_package_data(wheel: Path, source: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    tracked = subprocess.run(
        ["git", "ls-files", "."], cwd=source, check=True, capture_output=True, text=True
    ).stdout.split()
    if not tracked:
        fail(f"git lists no files under {source}")
    missing = [f for f in tracked if f"fairrec/{f}" not in names]
    if missing:
        fail(f"the wheel lacks files of the source package: {missing}")
    data_files = sorted(f for f in tracked if not f.endswith(".py"))
    if not importlib.resources.files("fairrec").joinpath("py.typed").is_file():
        fail("py.typed is not installed")
    print(
        f"ok: the wheel holds all {len(tracked)} tracked files of src/fairrec "
        f"(data files: {', '.join(data_files)}); py.typed installed"
    )


def check_cli(version: str) -> None:
    exe = shutil.which("fairrec", path=sysconfig.get_paths()["scripts"])
    if exe is None:
        fail(f"the fairrec console script is not installed in {sys.prefix}")
    out = subprocess.run([exe, "--version"], check=True, capture_output=True, text=True)
    if out.stdout.strip() != f"fairrec {version}":
        fail(f"fairrec --version printed {out.stdout!r}")
    start = time.perf_counter()
    demo = subprocess.run([exe, "demo"], capture_output=True, text=True)
    if demo.returncode != 0:
        fail(f"fairrec demo exited {demo.returncode}:\n{demo.stdout}\n{demo.stderr}")
    for needle in ("Viewer ", "What data this page used:"):
        if demo.stdout.count(needle) != 3:
            fail(f"fairrec demo output has {demo.stdout.count(needle)} x {needle!r}, expected 3")
    print("\n".join("  | " + line for line in demo.stdout.splitlines()[:12]))
    print(f"ok: fairrec --version; fairrec demo ({time.perf_counter() - start:.1f} s, 3 pages)")


def check_round_trip() -> None:
    import numpy as np

    import fairrec as fr

    data = fr.datasets.synthetic(n_users=300, n_items=200, seed=1)
    consent = fr.ConsentLedger(default="deny")
    for u in data.user_ids[:250]:
        consent.grant(u, ["training", "personalization"])
    rec = fr.Recommender(
        model=fr.models.ALS(factors=8, iterations=3, random_state=0), consent=consent
    ).fit(data)
    viewer = data.user_ids[0]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model"
        rec.save(path)
        files = sorted(p.name for p in path.iterdir())
        again = fr.Recommender.load(path, consent=consent)
    a, b = rec.home(viewer).to_frame(), again.home(viewer).to_frame()
    if len(a) == 0:
        fail("the round-trip page is empty")
    exact = [c for c in a.columns if a[c].dtype.kind not in "fc"]
    if list(a.columns) != list(b.columns) or not a[exact].equals(b[exact]):
        fail("the loaded model serves a different page than the saved one")
    floats = [c for c in a.columns if a[c].dtype.kind in "fc"]
    if not np.allclose(
        a[floats].to_numpy(float), b[floats].to_numpy(float), rtol=1e-5, atol=1e-6, equal_nan=True
    ):
        fail("the loaded model's page scores differ from the saved one's")
    print(f"ok: save/load round-trip ({', '.join(files)}); page of {len(a)} titles identical")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", required=True, type=Path)
    parser.add_argument("--source", required=True, type=Path, help="the src/fairrec folder")
    args = parser.parse_args()
    if Path.cwd().resolve() in {args.source.resolve(), args.source.resolve().parent}:
        fail("run from a directory outside the source tree")
    if any(Path(p or ".").resolve() == args.source.resolve().parent for p in sys.path):
        fail("the source tree is on sys.path")
    os.environ.pop("PYTHONPATH", None)  # the demo subprocess must see the installed copy too
    version = check_import(args.source)
    check_package_data(args.wheel, args.source)
    check_cli(version)
    check_round_trip()
    print("wheel smoke test: all checks passed")


if __name__ == "__main__":
    main()

"""Concurrent serving under consent churn: every page checked against the state it claims.

``--threads`` reader threads each call ``Recommender.home()`` ``--calls`` times on random
viewers (and, every ``--extra-every`` calls, ``recommend()`` or ``explain_data_use()``) while
one writer thread changes consent at random on the same ledger: grant / revoke / deny of
purposes, exclusions of genres, titles and maturity, their lifting, stated interests, and
erasure (``Recommender.forget``). The writer is the only writer; after each change it records
``(ledger version, viewer, ledger.state(viewer))``, so the state of any viewer at any version
can be reconstructed afterwards.

Each page carries ``consent_version``: the version of the snapshot it was built from. After
the run every page is checked against the recorded state of its viewer at that version:

* the claimed version is exactly the version of the viewer's latest change (a page cannot
  claim a version at which the viewer's state was different);
* ``personalized`` or any ``watch_history`` reason only with ``personalization`` granted;
* ``stated_interests`` rows or reasons only with ``stated_interests`` granted;
* no excluded genre, excluded title or title above the maturity cap; no disliked genre or
  title while ``stated_interests`` is granted; no title twice on a page;
* erased viewers get ``UnknownUserError`` (the only expected exception), never a page.

``recommend()`` and ``explain_data_use()`` carry no version; each result must be consistent
with *one* of the states the viewer had between the start and the end of the call.

Throughput: pages/s of ``home()`` with 1, 2, 4, 8 reader threads, with the writer off and on;
the ledger's and the recommender's locks are wrapped to count how often reader threads take
them and how long they wait (serving takes no lock: the expected count is 0).

Usage::

    python benchmarks/stress_serving.py                 # 8 threads x 10,000 home() calls
    python benchmarks/stress_serving.py --quick         # 4 threads x 300 calls, small catalog
    python benchmarks/stress_serving.py --no-stress --threads-list 1,2,4,8   # scaling only

Sizes: ``--users`` viewers (all served) on a synthetic catalog of ``--items`` titles.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import random
import tempfile
import threading
import time
import traceback
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import fairrec as fr  # noqa: E402
from fairrec import _columns as C  # noqa: E402
from fairrec.consent import ConsentState  # noqa: E402

P, T, S = "personalization", "training", "stated_interests"


# ------------------------------------------------------------------------------ locks
class TimedLock:
    """A re-entrant lock that counts acquisitions and waiting time per thread role."""

    def __init__(self) -> None:
        self._inner = threading.RLock()
        self.stats: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        t0 = time.perf_counter()
        ok = self._inner.acquire(blocking, timeout)
        waited = time.perf_counter() - t0
        role = threading.current_thread().name.split("-")[0]
        entry = self.stats[role]  # each role is written by its own threads only
        entry[0] += 1
        entry[1] += waited
        return ok

    def release(self) -> None:
        self._inner.release()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


# ------------------------------------------------------------------------------ history
class ConsentHistory:
    """Per viewer, the states recorded by the single writer, by ledger version."""

    def __init__(self) -> None:
        self._versions: dict[str, list[int]] = defaultdict(list)
        self._states: dict[str, list[ConsentState]] = defaultdict(list)

    def record(self, user: str, state: ConsentState) -> None:
        self._versions[user].append(state.version)
        self._states[user].append(state)

    def at(self, user: str, version: int) -> ConsentState | None:
        """The viewer's state at ``version`` (the latest change at or before it)."""
        vs = self._versions.get(user, [])
        i = bisect.bisect_right(vs, version)
        return self._states[user][i - 1] if i else None

    def between(self, user: str, v0: int, v1: int) -> list[ConsentState]:
        """Every state the viewer had at some version in ``[v0, v1]``."""
        vs = self._versions.get(user, [])
        lo = max(bisect.bisect_right(vs, v0) - 1, 0)
        hi = bisect.bisect_right(vs, v1)
        return self._states[user][lo:hi]


@dataclass
class CatalogInfo:
    """What the checker needs of the catalog, as arrays over title indices."""

    index: dict[str, int]
    genre_bits: dict[str, int]
    item_genres: np.ndarray  # (n_items,) int64 bit mask
    maturity: np.ndarray | None
    popular: list[str]  # most popular titles (targets for exclusions)
    genres_by_size: list[str]

    @classmethod
    def from_dataset(cls, data: fr.Dataset) -> CatalogInfo:
        genre_bits = {g: 1 << j for j, g in enumerate(data.genre_names)}
        masks = np.array(
            [sum(genre_bits[g] for g in gs) for gs in data.catalog[C.GENRES]], dtype=np.int64
        )
        mat = data.catalog[C.MATURITY].to_numpy(np.float64) if C.MATURITY in data.catalog else None
        pop = np.bincount(data.items, minlength=data.n_items)
        order = np.argsort(-pop, kind="stable")
        sizes = {g: int(((masks & b) > 0).sum()) for g, b in genre_bits.items()}
        return cls(
            index={str(i): k for k, i in enumerate(data.item_ids.tolist())},
            genre_bits=genre_bits,
            item_genres=masks,
            maturity=mat,
            popular=[str(data.item_ids[i]) for i in order[:200]],
            genres_by_size=sorted(sizes, key=lambda g: -sizes[g]),
        )

    def banned(self, s: ConsentState, items: np.ndarray) -> np.ndarray:
        """Which of ``items`` (title indices) the state forbids on any page."""
        gmask = sum(self.genre_bits.get(g, 0) for g in s.excluded_genres)
        ids = set(s.excluded_items)
        if S in s.purposes:
            gmask |= sum(self.genre_bits.get(g, 0) for g in s.disliked_genres)
            ids |= set(s.disliked_items)
        bad = (self.item_genres[items] & gmask) != 0
        if ids:
            idx = [self.index[i] for i in ids if i in self.index]
            bad |= np.isin(items, idx)
        if s.max_maturity is not None and self.maturity is not None:
            bad |= self.maturity[items] > float(s.max_maturity)
        return bad


# ------------------------------------------------------------------------------ records
@dataclass
class PageRecord:
    user: str
    version: int | None
    personalized: bool
    used: frozenset
    stated_row: bool
    items: np.ndarray
    duplicated: bool
    user_ok: bool


def page_record(page: fr.HomePage, user: str, cat: CatalogInfo) -> PageRecord:
    used = set(page.data_used)
    ids = []
    for row in page.rows:
        used.update(row.reason.data_used)
        for it in row.items:
            used.update(it.reason.data_used)
            ids.append(str(it.item_id))
    items = np.fromiter((cat.index[i] for i in ids), dtype=np.int64, count=len(ids))
    return PageRecord(
        user=user,
        version=page.consent_version,
        personalized=page.personalized,
        used=frozenset(used),
        stated_row=any(r.kind == "stated_interests" for r in page.rows),
        items=items,
        duplicated=len(set(ids)) != len(ids),
        user_ok=str(page.user_id) == user,
    )


def check_page(rec: PageRecord, history: ConsentHistory, cat: CatalogInfo) -> list[str]:
    """Violations of one page against the state of its viewer at the claimed version."""
    where = f"viewer {rec.user!r} at version {rec.version}"
    if rec.version is None:
        return [f"{where}: the page claims no consent version"]
    s = history.at(rec.user, rec.version)
    if s is None:
        return [f"{where}: no recorded state at or before the claimed version"]
    out = []
    if s.forgotten:
        out.append(f"{where}: a page was served to an erased viewer")
    elif s.version != rec.version:
        out.append(
            f"{where}: the viewer's state changed at version {s.version}, not at the claimed one"
        )
    if not rec.user_ok:
        out.append(f"{where}: page of another viewer")
    if rec.personalized and P not in s.purposes:
        out.append(f"{where}: personalized without personalization consent")
    if "watch_history" in rec.used and P not in s.purposes:
        out.append(f"{where}: watch history used without personalization consent")
    if (rec.stated_row or "stated_interests" in rec.used) and S not in s.purposes:
        out.append(f"{where}: stated interests used without consent")
    bad = cat.banned(s, rec.items)
    if bad.any():
        out.append(f"{where}: {int(bad.sum())} excluded / disliked / too mature title(s) shown")
    if rec.duplicated:
        out.append(f"{where}: a title appears twice")
    return out


def consistent_recommend(frame: Any, s: ConsentState, cat: CatalogInfo) -> bool:
    items = np.fromiter((cat.index[str(i)] for i in frame[C.ITEM]), np.int64, len(frame))
    personal = frame["reason"].str.contains("watch history").any() if len(frame) else False
    return not s.forgotten and (not personal or P in s.purposes) and not cat.banned(s, items).any()


def consistent_report(report: dict, s: ConsentState) -> bool:
    granted = {p for p, v in report["purposes"].items() if v["granted"]}
    ex = report["exclusions"]
    return (
        granted == set(s.purposes)
        and ex["genres"] == sorted(s.excluded_genres)
        and ex["items"] == sorted(s.excluded_items)
        and ex["max_maturity"] == s.max_maturity
    )


# ------------------------------------------------------------------------------ setup
@dataclass
class Setup:
    rec: fr.Recommender
    ledger: fr.ConsentLedger
    data: fr.Dataset
    viewers: list[str]
    history: ConsentHistory
    cat: CatalogInfo
    forgettable: list[str]
    timings: dict[str, float] = field(default_factory=dict)


def build_setup(
    users: int = 2000,
    items: int = 5000,
    factors: int = 64,
    iterations: int = 15,
    seed: int = 0,
    ledger_path: str | None = None,
    row_size: int = 20,
) -> Setup:
    t0 = time.perf_counter()
    data = fr.datasets.synthetic(n_users=users, n_items=items, seed=seed)
    cat = CatalogInfo.from_dataset(data)
    rng = random.Random(seed)
    ledger = fr.ConsentLedger(default="deny", path=ledger_path)
    viewers = [str(u) for u in data.user_ids]
    for u in viewers:
        purposes = [T, P] + ([S] if rng.random() < 0.3 else [])
        ledger.grant(u, purposes)
        if rng.random() < 0.3:
            ledger.exclude(u, genres=[rng.choice(cat.genres_by_size[:6])])
        if rng.random() < 0.3:
            ledger.state_interests(
                u,
                genres=[rng.choice(cat.genres_by_size[:10])],
                disliked_genres=[rng.choice(cat.genres_by_size[10:])],
            )
    t1 = time.perf_counter()
    model = fr.models.ALS(factors=factors, iterations=iterations, random_state=seed)
    rec = fr.Recommender(model=model, consent=ledger, row_size=row_size).fit(data)
    t2 = time.perf_counter()
    history = ConsentHistory()
    for u in viewers:
        history.record(u, ledger.state(u))
    forgettable = rng.sample(viewers, k=max(1, len(viewers) // 50))
    return Setup(
        rec=rec,
        ledger=ledger,
        data=data,
        viewers=viewers,
        history=history,
        cat=cat,
        forgettable=forgettable,
        timings={"data_and_ledger_s": t1 - t0, "fit_s": t2 - t1},
    )


# ------------------------------------------------------------------------------ writer
def _writer_step(setup: Setup, rng: random.Random, forgotten: set[str]) -> str:
    """One random consent change; records the resulting state. Returns the kind of change."""
    ledger, cat = setup.ledger, setup.cat
    u = rng.choice(setup.viewers)
    if u in forgotten:
        return "skip"
    state = ledger.state(u)
    r = rng.random()
    if r < 0.30:
        kind = "personalization"
        (ledger.revoke if P in state.purposes else ledger.grant)(u, P)
    elif r < 0.40:
        kind = "stated_interests"
        (ledger.revoke if S in state.purposes else ledger.grant)(u, S)
    elif r < 0.45:
        kind = "deny"
        ledger.deny(u, rng.choice([P, S]))
    elif r < 0.48:
        kind = "training"
        (ledger.revoke if T in state.purposes else ledger.grant)(u, T)
    elif r < 0.68:
        kind = "exclude"
        what = rng.random()
        if what < 0.4:
            ledger.exclude(u, genres=[rng.choice(cat.genres_by_size[:6])])
        elif what < 0.8:
            ledger.exclude(u, items=rng.sample(cat.popular[:60], k=rng.randint(1, 5)))
        else:
            ledger.exclude(u, max_maturity=rng.choice([7, 13, 16]))
    elif r < 0.83:
        kind = "include"
        if state.excluded_genres or state.excluded_items or state.max_maturity is not None:
            ledger.include(
                u,
                genres=sorted(state.excluded_genres)[:1],
                items=sorted(state.excluded_items)[:2],
                clear_maturity=state.max_maturity is not None
                and (rng.random() < 0.5 or not (state.excluded_genres or state.excluded_items)),
            )
        else:
            ledger.exclude(u, genres=[rng.choice(cat.genres_by_size[:6])])
    elif r < 0.99:
        kind = "interests"
        g = rng.sample(cat.genres_by_size, k=2)
        ledger.state_interests(u, genres=[g[0]], disliked_genres=[g[1]])
    else:
        candidates = [v for v in setup.forgettable if v not in forgotten]
        if not candidates:
            return "skip"
        u = rng.choice(candidates)
        kind = "forget"
        setup.rec.forget(u)
        forgotten.add(u)
    setup.history.record(u, ledger.state(u))
    return kind


# ------------------------------------------------------------------------------ run
@dataclass
class RunResult:
    threads: int
    home_calls: int
    wall_s: float
    pages: int
    unknown_expected: int
    extra_calls: int
    writer_changes: dict[str, int]
    unexpected: list[str]
    violations: list[str]
    lock_stats: dict[str, dict[str, list[float]]]

    @property
    def pages_per_s(self) -> float:
        return self.home_calls / self.wall_s if self.wall_s else 0.0


def run(
    setup: Setup,
    threads: int,
    calls: int,
    *,
    writer: bool = True,
    check: bool = True,
    extra_every: int = 10,
    writer_sleep: float = 0.0005,
    seed: int = 1,
) -> RunResult:
    """``threads`` readers x ``calls`` home() calls, with or without the consent writer."""
    rec, ledger, cat = setup.rec, setup.ledger, setup.cat
    ledger_lock, rec_lock = TimedLock(), TimedLock()
    ledger._lock, rec._lock = ledger_lock, rec_lock  # count who takes the locks
    barrier = threading.Barrier(threads + 1 + int(writer))  # readers, writer, main
    stop = threading.Event()
    per_thread: list[dict[str, Any]] = [
        {"pages": [], "extra": [], "unknown": [], "unexpected": []} for _ in range(threads)
    ]
    changes: dict[str, int] = defaultdict(int)
    forgotten: set[str] = {u for u in setup.viewers if ledger.state(u).forgotten}
    writer_errors: list[str] = []

    def reader(k: int) -> None:
        rng = random.Random(seed * 1000 + k)
        out = per_thread[k]
        viewers = setup.viewers
        barrier.wait()
        for i in range(calls):
            u = rng.choice(viewers)
            try:
                page = rec.home(u)
            except fr.errors.UnknownUserError:
                out["unknown"].append((u, ledger.version + 1))
                continue
            except Exception:  # noqa: BLE001 - counted and reported, never hidden
                out["unexpected"].append(traceback.format_exc())
                continue
            if check:
                out["pages"].append(page_record(page, u, cat))
            else:
                out["pages"].append(None)
            if extra_every and i % extra_every == 0:
                v0 = ledger.version
                try:
                    if i // extra_every % 2:
                        result: Any = ("recommend", rec.recommend(u, k=10))
                    else:
                        result = ("explain", dict(rec.explain_data_use(u)))
                except fr.errors.UnknownUserError:
                    out["unknown"].append((u, ledger.version + 1))
                    continue
                except Exception:  # noqa: BLE001
                    out["unexpected"].append(traceback.format_exc())
                    continue
                if check:
                    out["extra"].append((u, v0, ledger.version + 1, result))

    def write() -> None:
        rng = random.Random(seed)
        barrier.wait()
        while not stop.is_set():
            try:
                changes[_writer_step(setup, rng, forgotten)] += 1
            except Exception:  # noqa: BLE001
                writer_errors.append(traceback.format_exc())
            if writer_sleep:
                time.sleep(writer_sleep)

    readers = [
        threading.Thread(target=reader, args=(k,), name=f"reader-{k}") for k in range(threads)
    ]
    w = threading.Thread(target=write, name="writer-0") if writer else None
    for t in readers:
        t.start()
    if w is not None:
        w.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in readers:
        t.join()
    wall = time.perf_counter() - t0
    stop.set()
    if w is not None:
        w.join()

    unexpected = [e for o in per_thread for e in o["unexpected"]] + [
        "writer: " + e for e in writer_errors
    ]
    violations: list[str] = []
    unknown = [x for o in per_thread for x in o["unknown"]]
    pages = [p for o in per_thread for p in o["pages"]]
    if check:
        for p in pages:
            violations.extend(check_page(p, setup.history, cat))
        for u, v1 in unknown:
            s = setup.history.at(u, v1)
            if s is None or not s.forgotten:
                violations.append(f"viewer {u!r}: UnknownUserError although not erased")
        for u, v0, v1, (kind, result) in (x for o in per_thread for x in o["extra"]):
            states = setup.history.between(u, v0, v1)
            if kind == "recommend":
                ok = any(consistent_recommend(result, s, cat) for s in states)
            else:
                ok = any(consistent_report(result, s) for s in states)
            if not ok:
                violations.append(
                    f"viewer {u!r}: {kind}() result matches none of its states in versions "
                    f"{v0}..{v1}"
                )
    return RunResult(
        threads=threads,
        home_calls=threads * calls,
        wall_s=wall,
        pages=len(pages),
        unknown_expected=len(unknown),
        extra_calls=sum(len(o["extra"]) for o in per_thread),
        writer_changes=dict(changes),
        unexpected=unexpected,
        violations=violations,
        lock_stats={
            "ledger": {k: list(v) for k, v in ledger_lock.stats.items()},
            "recommender": {k: list(v) for k, v in rec_lock.stats.items()},
        },
    )


def _locks_text(res: RunResult) -> str:
    parts = []
    for name, stats in res.lock_stats.items():
        for role in ("reader", "writer"):
            n, waited = stats.get(role, [0, 0.0])
            parts.append(f"{name}/{role} {int(n)}x {waited * 1e3:.1f} ms")
    return "; ".join(parts)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    ap.add_argument("--users", type=int, default=2000)
    ap.add_argument("--items", type=int, default=5000)
    ap.add_argument("--factors", type=int, default=64)
    ap.add_argument("--iterations", type=int, default=15)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--calls", type=int, default=10_000, help="home() calls per thread")
    ap.add_argument("--extra-every", type=int, default=10)
    ap.add_argument("--writer-sleep", type=float, default=0.0005)
    ap.add_argument("--threads-list", default="1,2,4,8")
    ap.add_argument("--scaling-total", type=int, default=2000, help="home() calls per scaling run")
    ap.add_argument("--repeats", type=int, default=3, help="scaling runs per configuration")
    ap.add_argument("--no-scaling", action="store_true")
    ap.add_argument("--no-stress", action="store_true")
    ap.add_argument("--in-memory-ledger", action="store_true", help="no JSON-lines file")
    ap.add_argument("--json", help="write the results to this JSON file")
    args = ap.parse_args(argv)
    if args.quick:
        args.users, args.items, args.factors, args.iterations = 500, 1000, 16, 5
        args.threads, args.calls, args.scaling_total, args.repeats = 4, 300, 400, 1

    tmp = tempfile.mkdtemp(prefix="fairrec-stress-")
    ledger_path = None if args.in_memory_ledger else str(Path(tmp) / "consent.jsonl")
    setup = build_setup(
        args.users, args.items, args.factors, args.iterations, ledger_path=ledger_path
    )
    print(
        f"{setup.data}; ledger of {len(setup.ledger)} viewers "
        f"({'file ' + ledger_path if ledger_path else 'in memory'}); "
        f"built in {setup.timings['data_and_ledger_s']:.1f} s, fit in {setup.timings['fit_s']:.1f} s"
    )
    for u in setup.viewers[:20]:
        setup.rec.home(u)  # warm caches
    out: dict[str, Any] = {"args": vars(args), "setup": setup.timings, "cpus": os.cpu_count()}

    if not args.no_scaling:
        print(
            f"\n| reader threads | writer | home() calls | pages/s (median of {args.repeats}; "
            f"min-max) | consent changes/s | reader lock use | writer lock use (count, wait) |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- |")
        rows = []
        for n in [int(x) for x in args.threads_list.split(",")]:
            runs: dict[bool, list[RunResult]] = {False: [], True: []}
            for _ in range(args.repeats):  # interleaved, so that load drifts hit both alike
                for writer in (False, True):
                    runs[writer].append(
                        run(
                            setup,
                            n,
                            max(1, args.scaling_total // n),
                            writer=writer,
                            check=False,
                            extra_every=0,
                            writer_sleep=args.writer_sleep,
                        )
                    )
            for writer in (False, True):
                rs = runs[writer]
                rates = sorted(r.pages_per_s for r in rs)
                changes = [sum(r.writer_changes.values()) / r.wall_s for r in rs]
                reader_locks = sum(
                    r.lock_stats[k].get("reader", [0])[0] for r in rs for k in r.lock_stats
                )
                w_n = sum(r.lock_stats["ledger"].get("writer", [0, 0])[0] for r in rs)
                w_t = sum(r.lock_stats["ledger"].get("writer", [0, 0.0])[1] for r in rs)
                row = {
                    "threads": n,
                    "writer": writer,
                    "calls": rs[0].home_calls,
                    "pages_per_s": rates,
                    "median_pages_per_s": float(np.median(rates)),
                    "changes_per_s": float(np.median(changes)),
                    "unexpected": sum(len(r.unexpected) for r in rs),
                    "reader_lock_acquisitions": reader_locks,
                    "writer_ledger_lock": [w_n, w_t],
                }
                rows.append(row)
                print(
                    f"| {n} | {'on' if writer else 'off'} | {rs[0].home_calls} | "
                    f"{row['median_pages_per_s']:.0f} ({rates[0]:.0f}-{rates[-1]:.0f}) | "
                    f"{row['changes_per_s']:.0f} | {reader_locks} | "
                    f"{w_n} x, {w_t * 1e3:.1f} ms |"
                )
        out["scaling"] = rows

    if not args.no_stress:
        print(
            f"\nstress: {args.threads} threads x {args.calls} home() calls, writer on, "
            f"every page checked ..."
        )
        res = run(
            setup,
            args.threads,
            args.calls,
            writer=True,
            check=True,
            extra_every=args.extra_every,
            writer_sleep=args.writer_sleep,
        )
        print(
            f"home() calls {res.home_calls}, pages checked {res.pages}, recommend/explain checked "
            f"{res.extra_calls}, UnknownUserError for erased viewers {res.unknown_expected}\n"
            f"consent changes {sum(res.writer_changes.values())} {dict(res.writer_changes)}; "
            f"final ledger version {setup.ledger.version}\n"
            f"wall {res.wall_s:.1f} s, {res.pages_per_s:.0f} pages/s; locks: {_locks_text(res)}\n"
            f"unexpected exceptions: {len(res.unexpected)}; violations: {len(res.violations)}"
        )
        for line in (res.unexpected + res.violations)[:10]:
            print("  ", line.strip().splitlines()[-1] if "\n" in line else line)
        out["stress"] = {
            "threads": res.threads,
            "home_calls": res.home_calls,
            "pages_checked": res.pages,
            "extra_checked": res.extra_calls,
            "unknown_expected": res.unknown_expected,
            "writer_changes": res.writer_changes,
            "wall_s": res.wall_s,
            "pages_per_s": res.pages_per_s,
            "unexpected": res.unexpected[:20],
            "violations": res.violations[:50],
            "n_unexpected": len(res.unexpected),
            "n_violations": len(res.violations),
            "locks": res.lock_stats,
        }
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2, default=str))
    return out


if __name__ == "__main__":
    result = main()
    stress = result.get("stress")
    raise SystemExit(1 if stress and (stress["n_unexpected"] or stress["n_violations"]) else 0)

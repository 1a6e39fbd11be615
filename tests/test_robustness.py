"""Robustness: concurrent serving under consent churn, crash-safe files, bounded batch memory.

* Serving from several threads while another thread grants, revokes, excludes and erases:
  no unexpected exception, every page consistent with the consent state it claims, and
  readers never take a lock (the checker is ``benchmarks/stress_serving.py``, shared with the
  full stress run; a doctored page shows that it catches violations).
* A child process SIGKILLed in the middle of ``save()`` (at random moments and at each rename
  of the swap) leaves a loadable model: the previous one or the new one.
* A child process SIGKILLed while appending to the consent ledger loses no event it reported
  as written; a torn last line is reported with a warning naming the line and skipped.
* ``home_batch`` works in chunks: its working memory beyond the output does not grow with the
  number of viewers.
* Model files under concurrency: a load racing a save reads one whole model; threads saving
  to one path take turns; an interrupted save resolves to the most recent previous model.
* An erased viewer's snapshot never claims a ledger version from before the erasure.
"""

from __future__ import annotations

import gc
import importlib.util
import json
import os
import random
import signal
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

import pytest

import fairrec as fr
from _procs import finish, spawn, wait_line
from fairrec.consent import ConsentFileWarning, ConsentLedger

ROOT = Path(__file__).resolve().parents[1]


def _stress_module():
    spec = importlib.util.spec_from_file_location(
        "fairrec_stress_serving", ROOT / "benchmarks" / "stress_serving.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def stress():
    return _stress_module()


# ------------------------------------------------------------------------------ threads


def test_concurrent_serving_pages_match_their_consent_state(stress, tmp_path):
    setup = stress.build_setup(
        users=250, items=300, factors=8, iterations=3, ledger_path=str(tmp_path / "c.jsonl")
    )
    res = stress.run(setup, threads=4, calls=40, writer=True, extra_every=4, writer_sleep=0.0)
    assert not res.unexpected, res.unexpected[0]
    assert not res.violations, res.violations[:5]
    assert res.pages + res.unknown_expected == 4 * 40
    assert res.pages > 100 and res.extra_calls > 20
    assert sum(res.writer_changes.values()) > 20, res.writer_changes
    # serving reads immutable snapshots: reader threads never take either lock
    assert res.lock_stats["ledger"].get("reader", [0])[0] == 0
    assert res.lock_stats["recommender"].get("reader", [0])[0] == 0
    assert res.lock_stats["ledger"]["writer"][0] > 0
    # the file holds every change the writer made, in order
    back = ConsentLedger.load(tmp_path / "c.jsonl")
    for u in setup.viewers[:50]:
        assert back.state(u).to_dict() | {"version": 0} == setup.ledger.state(u).to_dict() | {
            "version": 0
        }


def test_checker_catches_a_page_that_does_not_match_its_state(stress):
    setup = stress.build_setup(users=120, items=200, factors=4, iterations=2)
    ledger, rec, cat = setup.ledger, setup.rec, setup.cat
    u = next(v for v in setup.viewers if "personalization" in ledger.state(v).purposes)
    page = rec.home(u)
    assert page.personalized
    good = stress.page_record(page, u, cat)
    assert stress.check_page(good, setup.history, cat) == []
    # the viewer revokes personalization and excludes a title shown on the old page
    ledger.revoke(u, "personalization")
    ledger.exclude(u, items=[str(page.rows[0].items[0].item_id)])
    setup.history.record(u, ledger.state(u))
    stale = stress.page_record(page, u, cat)
    stale.version = ledger.state(u).version  # claims the new state: two violations
    problems = stress.check_page(stale, setup.history, cat)
    assert any("personalized without" in p for p in problems), problems
    assert any("excluded" in p for p in problems), problems
    fresh = stress.page_record(rec.home(u), u, cat)
    assert stress.check_page(fresh, setup.history, cat) == []


# ------------------------------------------------------------------------------ SIGKILL


_child, _wait_line = spawn, wait_line

_SAVE_CHILD = """
    import os, signal, sys
    import fairrec as fr
    path, mode = sys.argv[1], sys.argv[2]
    rec = fr.Recommender.load(path, row_size=7)  # the "new" model: row_size 7 instead of 6
    if mode.startswith("rename"):  # die just before the n-th os.replace of the next save
        target, real, calls = int(mode[6:]), os.replace, []
        def replace(src, dst):
            calls.append(dst)
            if len(calls) == target:
                os.kill(os.getpid(), signal.SIGKILL)
            return real(src, dst)
        os.replace = replace
        print("ready", flush=True)
        rec.save(path)
        print("finished", flush=True)
    else:
        print("ready", flush=True)
        n = 0
        while True:
            rec.save(path)
            n += 1
            print("saved", n, flush=True)
"""


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    data = fr.datasets.synthetic(n_users=150, n_items=120, seed=4, mean_plays=15)
    rec = fr.Recommender(model=fr.models.ALS(factors=4, iterations=2, random_state=0), row_size=6)
    rec.fit(data)
    folder = tmp_path_factory.mktemp("model")
    rec.save(folder / "m")
    return folder / "m", data


def _fresh_copy(saved_model, tmp_path) -> Path:
    import shutil

    src, _ = saved_model
    dst = tmp_path / "m"
    shutil.copytree(src, dst)
    return dst


def _load_after_crash(path: Path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rec = fr.Recommender.load(path)
    return rec, [str(w.message) for w in caught]


@pytest.mark.parametrize("mode", ["rename1", "rename2"])
def test_sigkill_at_each_rename_of_save_leaves_a_loadable_model(saved_model, tmp_path, mode):
    path = _fresh_copy(saved_model, tmp_path)
    proc = _child(_SAVE_CHILD, str(path), mode)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, err[-2000:]
    rec, messages = _load_after_crash(path)
    assert rec.row_size == 6  # the previous model: the new one never got into place
    if mode == "rename2":  # killed between the two renames: the target is missing
        assert not path.exists()
        assert any("interrupted save" in m for m in messages), messages
    assert rec.home(saved_model[1].user_ids[0]).rows
    rec.row_size = 7
    rec.save(path)  # a later save recovers the normal layout
    assert fr.Recommender.load(path).row_size == 7
    assert not list(path.parent.glob(".m.old-*")), "a stale copy of the old model remains"


def test_sigkill_at_random_moments_of_repeated_saves(saved_model, tmp_path):
    rng = random.Random(0)
    kinds = set()
    for attempt in range(3):
        path = _fresh_copy(saved_model, tmp_path / str(attempt))
        proc = _child(_SAVE_CHILD, str(path), "loop")
        seen = _wait_line(proc, "ready")
        time.sleep(rng.uniform(0.05, 0.4))
        proc.send_signal(signal.SIGKILL)
        out, _ = finish(proc, timeout=30)
        out = "\n".join(seen) + "\n" + out
        saves = sum(line.startswith("saved") for line in out.splitlines())
        rec, _ = _load_after_crash(path)
        assert rec.row_size in (6, 7)
        if saves:  # a save that completed is never lost: old or new, but complete
            assert rec.row_size == 7
        assert rec.home(saved_model[1].user_ids[1]).rows
        kinds.add((saves > 0, any(p.name.startswith(".m.") for p in path.parent.iterdir())))
    assert kinds  # (completed saves, leftovers) seen, for the record


_LEDGER_CHILD = """
    import os, signal, sys
    from fairrec.consent import ConsentLedger
    path, mode = sys.argv[1], sys.argv[2]
    ledger = ConsentLedger.load(path)
    if mode.startswith("tear"):  # the n-th append writes half its bytes, then the process dies
        target, real, calls = int(mode[4:]), os.write, []
        def write(fd, data):
            calls.append(1)
            if len(calls) == target:
                real(fd, bytes(data)[: len(data) // 2])
                os.kill(os.getpid(), signal.SIGKILL)
            return real(fd, data)
        os.write = write
    print("ready", flush=True)
    i = 0
    while True:
        u = f"u{i % 40}"
        if i % 7 == 3:
            ledger.exclude(u, genres=[f"g{i}"])
        elif i % 11 == 5:
            ledger.forget(f"tmp{i}")  # an erasure of an id with no events: a tombstone line
        else:
            (ledger.grant if i % 2 == 0 else ledger.deny)(u, "personalization")
        print("ok", i, ledger._seq, flush=True)
        i += 1
"""


def _new_ledger(tmp_path) -> Path:
    path = tmp_path / "consent.jsonl"
    led = ConsentLedger(path=path)
    led.grant("u0", ["training", "personalization"])
    return path


def _reported_seqs(out: str) -> list[int]:
    """Seqs of the child's complete ``ok i seq`` lines. The kill can cut the last line before
    its newline: that event was not reported (and may or may not be in the file)."""
    complete = out.split("\n")[:-1]
    return [int(line.split()[2]) for line in complete if line.startswith("ok")]


def test_sigkill_during_ledger_appends_loses_no_reported_event(tmp_path):
    path = _new_ledger(tmp_path)
    proc = _child(_LEDGER_CHILD, str(path), "loop")
    seen = _wait_line(proc, "ok 30")  # at least 30 events written and fsynced
    time.sleep(random.Random(1).uniform(0.0, 0.1))
    proc.send_signal(signal.SIGKILL)
    out, _ = finish(proc, timeout=30)  # not communicate(): it drops lines readline buffered
    reported = _reported_seqs("\n".join(seen) + "\n" + out)
    assert len(reported) > 30
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        back = ConsentLedger.load(path)
    seqs = [ev.seq for ev in back._log]
    assert set(reported) <= set(seqs), sorted(set(reported) - set(seqs))[:5]
    assert len(seqs) - len(reported) <= 2  # the header's grant and at most one in flight
    back.grant("after", "training")  # the file takes appends again


@pytest.mark.parametrize("tear_at", [1, 9])
def test_torn_append_is_reported_and_skipped_without_losing_events(tmp_path, tear_at):
    path = _new_ledger(tmp_path)
    proc = _child(_LEDGER_CHILD, str(path), f"tear{tear_at}")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, err[-2000:]
    reported = _reported_seqs(out)
    assert len(reported) == tear_at - 1
    n_lines = len(path.read_bytes().splitlines())
    with pytest.warns(ConsentFileWarning, match=f"line {n_lines} .*incomplete"):
        back = ConsentLedger.load(path)
    seqs = [ev.seq for ev in back._log]
    assert seqs == [1, *reported]  # every complete event, nothing of the torn one
    back.grant("after", "training")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConsentFileWarning)
        again = ConsentLedger.load(path)  # repaired: no warning any more
    assert [ev.seq for ev in again._log] == [*seqs, seqs[-1] + 1]
    assert json.loads(path.read_bytes().splitlines()[-1])["user"] == "after"


# ------------------------------------------------------------------------------ memory


def _batch_memory(rec: fr.Recommender, users: list) -> tuple[float, float]:
    """(peak, retained) traced bytes of one home_batch call, relative to before it."""
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    frame = rec.home_batch(users, progress=False)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(frame) > 0
    return peak - base, current - base


def test_home_batch_working_memory_does_not_grow_with_viewers():
    data = fr.datasets.synthetic(n_users=300, n_items=2000, seed=3, mean_plays=20)
    rec = fr.Recommender(
        model=fr.models.ALS(factors=8, iterations=2, random_state=0),
        row_size=8,
        n_candidates=300,
        batch_size=40,
    ).fit(data)
    rec.home_batch(list(data.user_ids[:40]), progress=False)  # warm caches
    small = [data.user_ids[i % 300] for i in range(200)]
    large = [data.user_ids[i % 300] for i in range(800)]
    peak_s, kept_s = _batch_memory(rec, small)
    peak_l, kept_l = _batch_memory(rec, large)
    extra_s, extra_l = peak_s - kept_s, peak_l - kept_l
    # beyond what it returns, 4x the viewers needs (about) the same memory: one chunk's worth
    assert extra_l < 1.5 * extra_s + 1e6, (extra_s, extra_l, kept_s, kept_l)
    # control: one chunk for all viewers needs memory in proportion to them
    rec.batch_size = len(large)
    peak_u, kept_u = _batch_memory(rec, large)
    assert peak_u - kept_u > 2 * extra_l, (peak_u - kept_u, extra_l)


def test_interrupted_saves_resolve_to_the_most_recent_previous_model(saved_model, tmp_path):
    import shutil

    src, _ = saved_model
    older, newer = tmp_path / ".m.old-zzzz", tmp_path / ".m.old-aaaa"  # names sort the other way
    shutil.copytree(src, older)
    rec = fr.Recommender.load(src, row_size=7)
    rec.save(tmp_path / "tmp-new")
    (tmp_path / "tmp-new").rename(newer)
    past = time.time() - 3600
    os.utime(older, (past, past))
    with pytest.warns(UserWarning, match="interrupted save"):
        assert fr.Recommender.load(tmp_path / "m").row_size == 7
    rec.save(tmp_path / "m")  # a completed save removes both stale copies
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


# ------------------------------------------------------------------------------ versions


def test_erased_viewer_snapshot_never_claims_a_version_before_the_erasure():
    """A reader between the steps of forget() sees the old state or 'forgotten' stamped
    with the erasure's version, never 'forgotten' under an older version."""
    ledger = ConsentLedger()
    ledger.grant("u1", ["personalization"])
    ledger.exclude("u1", genres=["Horror"])
    old = ledger.state("u1")
    seen = []

    class Spy(dict):
        def pop(self, key, *default):
            out = super().pop(key, *default)
            seen.append(ledger.state("u1"))  # a reader right after the state is unpublished
            return out

    ledger._states = Spy(ledger._states)
    ledger.forget("u1")
    (mid,) = seen
    assert mid.forgotten and mid.version == ledger.version > old.version
    assert ledger.state("u1").version == ledger.version


def test_load_during_a_concurrent_save_reads_one_whole_model(saved_model, tmp_path, monkeypatch):
    """A save that swaps a new directory in while a load has opened meta.json of the old one
    gives one complete model (old or new), never files of both."""
    path = _fresh_copy(saved_model, tmp_path)
    newer = fr.Recommender.load(path, row_size=7)
    real_open, fired = os.open, []

    def open_then_save(file, flags, *args, **kwargs):
        fd = real_open(file, flags, *args, **kwargs)
        if str(file).endswith("meta.json") and not fired:
            fired.append(file)
            newer.save(path)  # a complete save of another model, right now
        return fd

    monkeypatch.setattr(os, "open", open_then_save)
    rec = fr.Recommender.load(path)
    monkeypatch.undo()
    assert fired
    assert rec.row_size in (6, 7)
    assert rec.home(saved_model[1].user_ids[0]).rows
    assert fr.Recommender.load(path).row_size == 7


def test_threads_saving_to_one_path_take_turns(saved_model, tmp_path):
    import threading

    rec = fr.Recommender.load(saved_model[0])
    errors: list[BaseException] = []

    def save_many() -> None:
        try:
            for _ in range(8):
                rec.save(tmp_path / "m")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=save_many) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    assert fr.Recommender.load(tmp_path / "m").home(saved_model[1].user_ids[0]).rows
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".m.")]

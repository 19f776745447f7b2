"""The swap's lock (issue 4): ACCESS EXCLUSIVE is taken only for the swap, each attempt bounded by
bulk_ingest.lock_timeout (default 100ms) and retried with jittered backoff until it succeeds or the run is cancelled,
so a reader queued behind a pending attempt waits at most about lock_timeout; bulk_ingest.terminate_blockers_after
cancels, then terminates, the sessions that keep blocking the swap. 200 concurrent readers of the table and its views
during a migration never see an error, a missing view or a mix of old and new.

Ported from pg-bulk-ingest's suite: test_ingest_with_multiple_views_all_visible_together (200 threads). The bounded
wait is what pg-bulk-ingest gets wrong (a pending lock can stall every reader for minutes)."""

import re
import threading
import time

import psycopg
import pytest

from conftest import TestDB
from rebuild_helpers import (cols, reader, relid, rows, serve, set_db_setting, shape, timed_query,
                             wait_for_swap_attempt, wait_for_swap_retry)
from testdata import wait_for

BASE = cols(("id", "int pk"), ("value_1", "varchar"))
ADDED = BASE + cols(("value_2", "varchar"))
OLD_ROWS = [(1, "a"), (2, "b")]
NEW_ROWS = [(1, "a", None), (2, "b", None), (3, "c", "d")]


def prepare(db, server, name, **settings):
    """A target with two rows, settings for the runs' workers, and a declaration that needs a rebuild."""
    for key, value in settings.items():
        set_db_setting(db, "bulk_ingest." + key, value)
    serve(server, name, [{"id": 1, "value_1": "a"}, {"id": 2, "value_1": "b"}])
    db.register(name, server.url("/" + name), "public." + name, BASE)
    db.run(name)
    serve(server, name, [{"id": 3, "value_1": "c", "value_2": "d"}])
    db.register(name, server.url("/" + name), "public." + name, ADDED)
    return relid(db, "public." + name)


def blocker(db, table):
    """A session idle in a transaction that holds ACCESS SHARE on the table (it has read it)."""
    conn = db.connect(autocommit=False)
    conn.execute("SELECT count(*) FROM %s" % table).fetchall()
    return conn


def test_a_reader_waits_at_most_about_lock_timeout_while_the_swap_is_blocked(db, server):
    oid = prepare(db, server, "lw", lock_timeout="100ms")
    hold = blocker(db, "public.lw")
    run = db.run_in_thread("lw")
    wait_for_swap_attempt(db)

    # For 2.5 s the swap keeps attempting (and failing) to take its lock; a reader keeps reading meanwhile.
    r = reader(db)
    waits = []
    end = time.monotonic() + 2.5
    while time.monotonic() < end:
        wait, result = timed_query(db, "SELECT * FROM public.lw ORDER BY id", r)
        waits.append(wait)
        assert result == OLD_ROWS
    assert run.is_alive()
    longest = max(waits)
    print("\nreader: %d queries while the swap was blocked, longest wait %.1f ms" % (len(waits), longest * 1000))
    # At most about lock_timeout (100 ms) per attempt: 100 ms, plus a margin for a loaded 2-core machine.
    assert longest < 0.3, "a reader waited %.3f s behind the swap (lock_timeout 100ms)" % longest
    assert len(waits) >= 10

    hold.commit()
    result = run.wait()
    assert result["status"] == "succeeded"
    assert result["lock_attempts"] >= 3
    assert result["lock_wait_ms"] >= 2000
    print("swap: %d attempts, %.0f ms" % (result["lock_attempts"], result["lock_wait_ms"]))
    assert rows(db, "SELECT * FROM public.lw ORDER BY id") == NEW_ROWS
    assert relid(db, "public.lw") != oid
    # terminate_blockers_after is off by default: the blocking session was only waited for.
    assert hold.execute("SELECT 1").fetchone() == {"?column?": 1}


def test_lock_timeout_is_what_bounds_each_attempt(db, server):
    prepare(db, server, "lt", lock_timeout="1500ms")
    hold = blocker(db, "public.lt")
    r = reader(db)
    run = db.run_in_thread("lt")
    wait_for_swap_attempt(db)
    # A reader arriving while an attempt is pending queues behind it until the attempt gives up: ~1.5 s here.
    wait, result = timed_query(db, "SELECT * FROM public.lt ORDER BY id", r)
    assert result == OLD_ROWS
    assert 0.7 <= wait <= 3.0, "the reader waited %.3f s; expected about bulk_ingest.lock_timeout (1.5 s)" % wait
    hold.commit()
    assert run.wait()["status"] == "succeeded"
    assert rows(db, "SELECT * FROM public.lt ORDER BY id") == NEW_ROWS


def signalled(log, source, table):
    """[(what, pid, blocked ms)] of the log's lines about blockers of the swap of `table` being signalled."""
    pattern = (r'pg_bulk_ingest: source "%s": swapping the rebuilt table %s in: (cancelling|terminating) process '
               r'(\d+), which has blocked it for (\d+) ms' % (re.escape(source), re.escape(table)))
    return [(m.group(1), int(m.group(2)), int(m.group(3))) for m in re.finditer(pattern, log)]


def test_terminate_blockers_after_terminates_an_idle_in_transaction_blocker(db, server):
    prepare(db, server, "tb", lock_timeout="100ms", terminate_blockers_after="300ms")
    hold = blocker(db, "public.tb")
    hold_pid = hold.info.backend_pid
    offset = db.cluster.log_offset()
    start = time.monotonic()
    result = db.run("tb")
    elapsed = time.monotonic() - start
    assert result["status"] == "succeeded" and elapsed < 15, elapsed
    assert result["lock_attempts"] >= 2
    assert rows(db, "SELECT * FROM public.tb ORDER BY id") == NEW_ROWS
    # A cancel does not end an idle transaction: the session was terminated.
    with pytest.raises(psycopg.OperationalError):
        hold.execute("SELECT 1")
    assert wait_for(lambda: db.scalar("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (hold_pid,)) == 0,
                    timeout=10)
    # Each is logged: cancelled after terminate_blockers_after, terminated after twice as long.
    log = db.cluster.log_since(offset)
    lines = signalled(log, "tb", "public.tb")
    assert [(what, pid) for what, pid, _ in lines] == [("cancelling", hold_pid), ("terminating", hold_pid)], log
    assert 300 <= lines[0][2] < 600 <= lines[1][2], lines
    assert "HINT:  bulk_ingest.terminate_blockers_after is 300 ms." in log


def test_terminate_blockers_after_cancels_a_running_query_first(db, server):
    prepare(db, server, "tq", lock_timeout="100ms", terminate_blockers_after="300ms")
    busy = db.connect()
    failures = []

    def long_query():
        try:
            busy.execute("SELECT count(*) FROM public.tq, pg_sleep(30)")
        except psycopg.Error as e:
            failures.append(e)

    offset = db.cluster.log_offset()
    t = threading.Thread(target=long_query, daemon=True)
    t.start()
    conn = db.connect()
    assert wait_for(lambda: db.scalar("SELECT count(*) FROM pg_stat_activity WHERE pid = %s AND state = 'active'",
                                      (busy.info.backend_pid,), conn=conn) == 1)
    start = time.monotonic()
    result = db.run("tq")
    assert result["status"] == "succeeded" and time.monotonic() - start < 15
    t.join(30)
    assert not t.is_alive()
    assert len(failures) == 1 and isinstance(failures[0], psycopg.errors.QueryCanceled), failures
    # Cancelled, not terminated: the session is still there.
    assert busy.execute("SELECT 1").fetchone() == {"?column?": 1}
    lines = signalled(db.cluster.log_since(offset), "tq", "public.tq")
    assert [(what, pid) for what, pid, _ in lines] == [("cancelling", busy.info.backend_pid)], lines
    assert rows(db, "SELECT * FROM public.tq ORDER BY id") == NEW_ROWS


def test_a_swap_kept_waiting_logs_every_10_seconds_and_each_rebuild_is_logged_once(db, server):
    prepare(db, server, "lw10", lock_timeout="100ms")
    offset = db.cluster.log_offset()
    hold = blocker(db, "public.lw10")
    run = db.run_in_thread("lw10")
    waiting = re.compile(r'pg_bulk_ingest: source "lw10": swapping the rebuilt table public.lw10 in: still waiting for '
                         r'the lock after (\d+) attempts \((\d+) ms\)')
    assert wait_for(lambda: waiting.search(db.cluster.log_since(offset)), timeout=20, interval=0.1), \
        db.cluster.log_since(offset)
    hold.commit()
    result = run.wait()
    assert result["status"] == "succeeded"
    log = db.cluster.log_since(offset)
    lines = waiting.findall(log)
    assert len(lines) == 1 and 10000 <= int(lines[0][1]) < 12000 and int(lines[0][0]) >= 5, lines
    assert result["lock_wait_ms"] >= 10000 and result["lock_attempts"] > int(lines[0][0])
    rebuilt = re.findall(r'pg_bulk_ingest: source "lw10": rebuilt table public.lw10 \((.*)\)', log)
    assert rebuilt == [result["rebuild"]], (rebuilt, result["rebuild"])
    # A run that does not rebuild logs none.
    offset = db.cluster.log_offset()
    serve(server, "lw10", [{"id": 4, "value_1": "e", "value_2": "f"}])
    assert db.run("lw10")["rebuild"] is None
    assert "rebuilt table" not in db.cluster.log_since(offset)


def test_a_run_waiting_for_its_swap_can_be_cancelled_and_changes_nothing(db, server):
    oid = prepare(db, server, "cw", lock_timeout="100ms")
    hold = blocker(db, "public.cw")
    run = db.run_in_thread("cw")
    wait_for_swap_retry(db)  # refused the lock once (lock_timeout), now retrying
    db.execute("SELECT pg_cancel_backend(%s)", (run.pid,))
    with pytest.raises(psycopg.errors.QueryCanceled, match="canceling statement due to user request"):
        run.wait(timeout=30)
    assert wait_for(lambda: db.last_run("cw")["status"] not in ("running", "queued"), timeout=10)
    last = db.last_run("cw")
    assert last["status"] == "cancelled" and last["batches"] == 0 and last["rebuild"] is None
    assert relid(db, "public.cw") == oid
    assert shape(db, "public.cw") == [("id", "integer", True), ("value_1", "character varying", False)]
    assert rows(db, "SELECT * FROM public.cw ORDER BY id") == OLD_ROWS
    assert hold.execute("SELECT 1").fetchone() == {"?column?": 1}

    hold.commit()
    result = db.run("cw")
    assert result["status"] == "succeeded" and result["rebuild"] is not None
    assert rows(db, "SELECT * FROM public.cw ORDER BY id") == NEW_ROWS


# ---- 200 concurrent readers -------------------------------------------------------------------------------------

READERS = 200


@pytest.fixture(scope="module")
def wide_cluster(make_cluster):
    """A cluster that takes more than 200 connections."""
    c = make_cluster("readers", settings={"max_connections": "300"})
    yield c
    c.stop()  # deleted at the end of the session


@pytest.fixture
def wide_db(wide_cluster, request):
    name = "readers"
    offset = wide_cluster.log_offset()
    with wide_cluster.connect() as admin:
        admin.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)
        admin.execute('CREATE DATABASE "%s"' % name)
    d = TestDB(wide_cluster, name)
    d.execute("CREATE EXTENSION pg_bulk_ingest")
    yield d
    d.close()
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    if failed:
        print("\n---- server log of the readers cluster ----\n%s" % wide_cluster.log_since(offset)[-20000:])
    with wide_cluster.connect() as admin:
        admin.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)


def test_200_concurrent_readers_during_a_migration_never_see_an_error_or_a_missing_view(wide_db, server):
    db = wide_db
    prepare(db, server, "many", lock_timeout="100ms")
    db.execute("CREATE VIEW public.many_v1 AS SELECT id, value_1 FROM public.many WHERE id > 1")
    db.execute("CREATE VIEW public.many_v2 AS SELECT id, value_1 FROM public.many WHERE id > 1")
    db.execute("CREATE VIEW public.many_v3 AS SELECT v1.id FROM public.many_v1 v1 JOIN public.many_v2 v2 USING (id)")
    views_old, views_new = [(2, "b"), (2, "b")], [(2, "b"), (2, "b"), (3, "c"), (3, "c")]
    ids_old, ids_new = [(1,), (2,)], [(1,), (2,), (3,)]

    lock = threading.Lock()
    counted = threading.Condition(lock)
    done = threading.Event()
    seen = {"queries": 0, "old": 0, "new": 0, "longest": 0.0}
    errors, inconsistent = [], []

    def check():
        try:
            with db.cluster.connect(dbname=db.name, autocommit=True) as conn:
                while not done.is_set():
                    start = time.monotonic()
                    views = conn.execute("SELECT * FROM public.many_v1 UNION ALL SELECT * FROM public.many_v2 "
                                         "ORDER BY id").fetchall()
                    ids = conn.execute("SELECT id FROM public.many ORDER BY id").fetchall()
                    third = conn.execute("SELECT count(*) FROM public.many_v3").fetchone()[0]
                    took = time.monotonic() - start
                    with lock:
                        seen["queries"] += 1
                        seen["longest"] = max(seen["longest"], took)
                        # Each statement sees the old state or the new one, and once one has seen the new state the
                        # later ones do too (the swap may commit between two statements, never inside one).
                        states = (views_old, views_new).index(views) if views in (views_old, views_new) else None, \
                            (ids_old, ids_new).index(ids) if ids in (ids_old, ids_new) else None, \
                            {1: 0, 2: 1}.get(third)
                        if None not in states and list(states) == sorted(states):
                            seen["new" if states[2] else "old"] += 1
                        else:
                            inconsistent.append((views, ids, third))
                        counted.notify_all()
        except Exception as e:  # noqa: B902 - reported below
            with lock:
                errors.append(e)
                counted.notify_all()

    threads = [threading.Thread(target=check, daemon=True) for _ in range(READERS)]
    for t in threads:
        t.start()
    try:
        with lock:
            assert counted.wait_for(lambda: seen["queries"] > 1000 or errors, timeout=60)
        assert not errors, errors[:3]
        start = time.monotonic()
        result = db.run("many")
        took = time.monotonic() - start
        with lock:
            assert counted.wait_for(lambda: seen["new"] > 1000 or errors, timeout=60)
    finally:
        done.set()
        for t in threads:
            t.join(60)
    print("\n%d readers: %d queries (%d before the swap, %d after), longest %.0f ms; run %.2f s, "
          "%s lock attempts, %.1f ms lock wait"
          % (READERS, seen["queries"], seen["old"], seen["new"], seen["longest"] * 1000, took,
             result["lock_attempts"], result["lock_wait_ms"] or 0))
    assert not errors, "%d readers failed, e.g. %r" % (len(errors), errors[:3])
    assert not inconsistent, inconsistent[:3]
    assert result["status"] == "succeeded" and result["rebuild"] is not None
    assert rows(db, "SELECT * FROM public.many ORDER BY id") == NEW_ROWS
    assert seen["old"] > 0 and seen["new"] > 0
    assert seen["longest"] < 10, "a reader waited %.1f s" % seen["longest"]

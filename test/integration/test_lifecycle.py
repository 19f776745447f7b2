"""The launcher across the cluster's life: DROP EXTENSION, fast shutdown, an immediate-mode restart in the middle
of a run, DROP DATABASE of the launcher's own database.

These stop, restart or drop things, so they have a preloaded cluster of their own (module scope). Each test starts
from the same state whatever ran before it (`-k`, another order, an earlier failure): the cluster running, the
launcher's database there with the extension, the launcher serving it (see launcher_database).
"""

import datetime
import re
import time

import pytest
from psycopg.types.json import Jsonb

from conftest import start_preloaded_cluster, launcher_pids, wait_for_launcher
from server import Fault, Gate, compare
from testdata import ORDER_COLUMNS, orders, tsval, wait_for

DBNAME = "lifecycle"

# Without a primary key the target is appended to: a batch loaded twice would show as duplicates.
COLUMNS_NO_KEY = [dict(c, primary_key=False) if c.get("primary_key") else c for c in ORDER_COLUMNS]


@pytest.fixture(scope="module")
def lc_cluster(make_cluster):
    c = start_preloaded_cluster(make_cluster, "lifecycle", DBNAME)
    wait_for_launcher(c)
    yield c
    c.stop()  # deleted at the end of the session


def launcher_database(c):
    """Bring the cluster back to where every test of this file starts: running, the launcher's database there with
    the extension, and the launcher serving it. A test before may have stopped the server or dropped the database
    (the launcher then leaves, and comes back with a restart)."""
    if not c.is_running():
        c.start()
    with c.connect() as conn:
        missing = conn.execute("SELECT NOT EXISTS (SELECT FROM pg_database WHERE datname = %s)",
                               (DBNAME,)).fetchone()[0]
        if missing:
            conn.execute('CREATE DATABASE "%s"' % DBNAME)
    if missing:
        with c.connect(dbname=DBNAME) as conn:
            conn.execute("CREATE EXTENSION pg_bulk_ingest")
    if missing or not launcher_pids(c):
        c.restart()
    wait_for_launcher(c)


@pytest.fixture
def lcdb(lc_cluster, make_bgdb):
    launcher_database(lc_cluster)
    return make_bgdb(lc_cluster, DBNAME)


def register(db, server, name, columns=ORDER_COLUMNS, conn=None, **kw):
    return db.register(name, server.url("/%s?since={high_watermark}" % name), "public.%s" % name, columns,
                       high_watermark_column="updated_at", conn=conn, **kw)


def test_drop_extension_is_not_blocked_and_the_launcher_carries_on(lcdb, server):
    server.add_dataset("dx1", orders(range(1, 4)), page_size=100)
    register(lcdb, server, "dx1", options={"schedule": "1 hour"})
    assert wait_for(lambda: [r["status"] for r in lcdb.runs("dx1")] == ["succeeded"], timeout=15), lcdb.runs("dx1")
    launcher = lcdb.launcher_pid()
    offset = lcdb.cluster.log_offset()

    conn = lcdb.connect()
    conn.execute("SET lock_timeout = '5s'")
    t0 = time.monotonic()
    conn.execute("DROP EXTENSION pg_bulk_ingest")
    print("\nDROP EXTENSION took %.0f ms" % ((time.monotonic() - t0) * 1000))
    # The launcher carries on without the extension: a whole pass after the drop, it is the same process.
    lcdb.wait_launcher_pass()
    after = launcher_pids(lcdb.cluster)
    print("launcher before %d, after the drop %r" % (launcher, after))
    assert after == [launcher]

    # Created again, it works again: a new scheduled source runs, bulk_ingest_start works.
    conn.execute("CREATE EXTENSION pg_bulk_ingest")
    lcdb.launcher_pid()
    server.add_dataset("dx2", orders(range(1, 5)), page_size=100)
    register(lcdb, server, "dx2", options={"schedule": "1 hour"})
    assert wait_for(lambda: bgstatus(lcdb, "dx2") == ["succeeded"], timeout=20), lcdb.runs("dx2")
    assert lcdb.count("public.dx2") == 4
    assert lcdb.wait_run(lcdb.start("dx2"))["status"] == "succeeded"
    assert launcher_pids(lcdb.cluster) == [launcher]
    assert "pg_bulk_ingest launcher started" not in lcdb.cluster.log_since(offset)  # never restarted


def bgstatus(db, source):
    return [r["status"] for r in db.runs(source)]


def test_fast_shutdown_is_not_blocked_by_a_run_in_flight(lc_cluster, lcdb, server):
    gate = Gate()
    ds = server.add_dataset("fs", orders(range(1, 7)), page_size=3)
    ds.faults.append(Fault(page=2, gate=gate, gate_after=1, times=1))
    register(lcdb, server, "fs")
    run_id = lcdb.start("fs")
    gate.wait_reached()
    lcdb.close()

    offset = lc_cluster.log_offset()
    t0 = time.monotonic()
    lc_cluster.stop(mode="fast")
    stopped_in = time.monotonic() - t0
    gate.release()
    log = lc_cluster.log_since(offset)
    lc_cluster.start()
    wait_for_launcher(lc_cluster)

    # The worker cancelled its run within a fraction of a second of the shutdown request (the server's own clock),
    # whatever the rest of the shutdown took.
    requested = log_time(log, "received fast shutdown request")
    cancelled = log_time(log, 'run %d of source "fs" was cancelled' % run_id)
    print("\nfast shutdown with a run held mid-batch: run cancelled after %.0f ms, server down after %.0f ms"
          % ((cancelled - requested).total_seconds() * 1000, stopped_in * 1000))
    assert (cancelled - requested).total_seconds() < 1.0, log
    assert stopped_in < 10, stopped_in

    db = lcdb.__class__(lc_cluster, DBNAME)
    try:
        run = db.wait_run(run_id, timeout=20)
        print("the run afterwards: %s, %s" % (run["status"], run["error"]))
        assert run["status"] == "cancelled", run
        assert run["batches"] == 1 and "batch 2 was rolled back" in run["error"], run["error"]
        assert [r["id"] for r in db.query("SELECT id FROM public.fs ORDER BY id")] == [1, 2, 3]
        assert db.watermark("fs", as_type="timestamptz") == tsval(3)
    finally:
        db.close()


def log_time(log, text):
    """The server's timestamp of the first log line containing `text` (log_line_prefix starts with %m)."""
    for line in log.splitlines():
        if text in line:
            return datetime.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S.%f")
    raise AssertionError("no log line with %r in:\n%s" % (text, log[-3000:]))


def test_immediate_restart_mid_run_marks_it_failed_and_the_next_run_completes_exactly(lc_cluster, lcdb, server,
                                                                                     make_bgdb):
    records = orders(range(1, 21))
    gate = Gate()
    ds = server.add_dataset("crash", records, page_size=5)
    ds.faults.append(Fault(page=3, gate=gate, gate_after=2, times=1))
    register(lcdb, server, "crash", columns=COLUMNS_NO_KEY, options={"schedule": "2 seconds"})

    gate.wait_reached(timeout=20)
    assert wait_for(lambda: lcdb.count("public.crash") == 10, timeout=10)  # page 3 is asked for while batch 2 loads
    stale = lcdb.one("SELECT * FROM bulk_ingest.runs WHERE source = 'crash' AND status = 'running'")
    watermark_before = lcdb.watermark("crash")
    lcdb.close()

    lc_cluster.restart(mode="immediate")
    gate.release()
    db = make_bgdb(lc_cluster, DBNAME)
    wait_for_launcher(lc_cluster)

    # The launcher marks the run left 'running' as failed, naming the restart.
    assert wait_for(lambda: db.run_row(stale["id"])["status"] != "running", timeout=20), db.run_row(stale["id"])
    failed = db.run_row(stale["id"])
    print("\nthe interrupted run: %s, %r" % (failed["status"], failed["error"]))
    assert failed["status"] == "failed"
    assert re.search(r"restart|crash", failed["error"] or "", re.I), failed["error"]
    assert failed["finished_at"] is not None
    assert failed["batches"] == 2 and failed["rows"] == 10

    # The next scheduled run completes from the committed watermark.
    def next_done():
        return [r for r in db.runs("crash") if r["id"] > stale["id"] and r["status"] == "succeeded"]

    assert wait_for(next_done, timeout=30), db.runs("crash")
    nxt = next_done()[0]
    assert nxt["trigger"] == "schedule"
    assert nxt["high_watermark_before"] == watermark_before
    assert nxt["rows"] == 10
    sent = [r.query.get("since") for r in server.requests_for("crash")]
    # {high_watermark} is the source's own text of that watermark: the same instant.
    assert any(s and compare(s, watermark_before) == 0 for s in sent), (watermark_before, sent)

    # The target equals the source: nothing missing, nothing twice.
    got = db.query("SELECT id, customer, amount::text AS amount, updated_at FROM public.crash ORDER BY id, updated_at")
    want = [{"id": r["id"], "customer": r["customer"], "amount": r["amount"], "updated_at": tsval(r["id"])}
            for r in records]
    assert got == want
    assert db.watermark("crash", as_type="timestamptz") == tsval(20)
    db.schedule("crash", None)


def test_drop_database_of_the_launchers_database_is_not_blocked_and_cancels_its_run(lc_cluster, server):
    """DROP DATABASE is never blocked by our workers, the launcher's own database included: the launcher leaves it
    and the run in flight there is cancelled."""
    launcher_database(lc_cluster)
    launcher = wait_for_launcher(lc_cluster)
    gate = Gate()
    ds = server.add_dataset("dropped", orders(range(1, 7)), page_size=3)
    ds.faults.append(Fault(page=2, gate=gate, gate_after=1, times=1))
    with lc_cluster.connect(dbname=DBNAME) as conn:
        conn.execute("SELECT bulk_ingest_register('dropped', %s, 'public.dropped', %s)",
                     (server.url("/dropped?since={high_watermark}"), Jsonb(ORDER_COLUMNS)))
        run_id = conn.execute("SELECT bulk_ingest_start('dropped')").fetchone()[0]
    gate.wait_reached()
    offset = lc_cluster.log_offset()
    with lc_cluster.connect() as admin:
        worker = admin.execute("SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_bulk_ingest run'"
                               " AND datname = %s", (DBNAME,)).fetchone()[0]
        t0 = time.monotonic()
        admin.execute('DROP DATABASE "%s"' % DBNAME)  # no FORCE: fails if other sessions stay 5 s
        took = time.monotonic() - t0
        left = admin.execute("SELECT pid FROM pg_stat_activity WHERE pid IN (%s, %s)", (worker, launcher)).fetchall()
    gate.release()
    log = lc_cluster.log_since(offset)
    print("\nDROP DATABASE of the launcher's database with run %d in flight: dropped after %.0f ms" %
          (run_id, took * 1000))
    assert took < 3.0, took
    assert left == []
    assert 'run %d of source "dropped" was cancelled' % run_id in log, log[-3000:]
    assert 'launcher: database "%s" is being dropped, so the launcher stops' % DBNAME in log, log[-3000:]


def test_drop_database_of_the_launchers_database_with_force_leaves_the_server_healthy(lc_cluster):
    launcher_database(lc_cluster)
    launcher = wait_for_launcher(lc_cluster)
    offset = lc_cluster.log_offset()
    with lc_cluster.connect() as admin:
        t0 = time.monotonic()
        admin.execute('DROP DATABASE "%s" WITH (FORCE)' % DBNAME)
        took = time.monotonic() - t0
    # The launcher leaves with exit status 0, which tells the postmaster not to start it again (a launcher whose
    # database is gone would only fail to connect, every 10 s).
    assert wait_for(lambda: launcher_pids(lc_cluster) == [], timeout=10), launcher_pids(lc_cluster)
    log = lc_cluster.log_since(offset)
    print("\nDROP DATABASE WITH (FORCE) took %.0f ms; log:\n%s" % (took * 1000, log[-3000:]))
    with lc_cluster.connect() as admin:
        assert admin.execute("SELECT 1").fetchone()[0] == 1
    assert 'launcher: database "%s" is being dropped, so the launcher stops' % DBNAME in log
    assert "(PID %d) exited with exit code" % launcher not in log

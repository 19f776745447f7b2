"""The launcher across the cluster's life: DROP EXTENSION, fast shutdown, an immediate-mode restart in the middle
of a run, DROP DATABASE of the launcher's own database.

These stop, restart or drop things, so they have a preloaded cluster of their own (module scope). The DROP
DATABASE test comes last in the file and leaves the cluster without its launcher's database.
"""

import re
import time

import pytest

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


@pytest.fixture
def lcdb(lc_cluster, make_bgdb):
    if not lc_cluster.is_running():
        lc_cluster.start()
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
    time.sleep(1.0)
    after = launcher_pids(lcdb.cluster)
    print("launcher before %d, after the drop %r" % (launcher, after))

    # Created again, it works again: a new scheduled source runs, bulk_ingest_start works.
    conn.execute("CREATE EXTENSION pg_bulk_ingest")
    lcdb.launcher_pid()
    server.add_dataset("dx2", orders(range(1, 5)), page_size=100)
    register(lcdb, server, "dx2", options={"schedule": "1 hour"})
    assert wait_for(lambda: bgstatus(lcdb, "dx2") == ["succeeded"], timeout=20), lcdb.runs("dx2")
    assert lcdb.count("public.dx2") == 4
    assert lcdb.wait_run(lcdb.start("dx2"))["status"] == "succeeded"
    log = lcdb.cluster.log_since(offset)
    assert "terminated by signal" not in log, log[-3000:]


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

    t0 = time.monotonic()
    lc_cluster.stop(mode="fast")
    stopped_in = time.monotonic() - t0
    print("\nfast shutdown with a run held mid-batch took %.0f ms" % (stopped_in * 1000))
    gate.release()
    lc_cluster.start()
    assert stopped_in < 5, stopped_in
    wait_for_launcher(lc_cluster)

    db = lcdb.__class__(lc_cluster, DBNAME)
    try:
        run = db.wait_run(run_id, timeout=20)
        print("the run afterwards: %s, %s" % (run["status"], run["error"]))
        assert run["status"] in ("cancelled", "failed")
        assert [r["id"] for r in db.query("SELECT id FROM public.fs ORDER BY id")] == [1, 2, 3]
        assert db.watermark("fs", as_type="timestamptz") == tsval(3)
    finally:
        db.close()


def test_immediate_restart_mid_run_marks_it_failed_and_the_next_run_completes_exactly(lc_cluster, lcdb, server,
                                                                                     make_bgdb):
    records = orders(range(1, 21))
    gate = Gate()
    ds = server.add_dataset("crash", records, page_size=5)
    ds.faults.append(Fault(page=3, gate=gate, gate_after=2, times=1))
    register(lcdb, server, "crash", columns=COLUMNS_NO_KEY, options={"schedule": "2 seconds"})

    gate.wait_reached(timeout=20)
    stale = lcdb.one("SELECT * FROM bulk_ingest.runs WHERE source = 'crash' AND status = 'running'")
    assert lcdb.count("public.crash") == 10
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


def test_drop_database_of_the_launchers_database_is_not_blocked(lc_cluster):
    """The issue: DROP DATABASE is never blocked by our workers, the launcher's own database included."""
    if not lc_cluster.is_running():
        lc_cluster.start()
    wait_for_launcher(lc_cluster)
    with lc_cluster.connect() as admin:
        sessions = admin.execute("SELECT pid, backend_type FROM pg_stat_activity WHERE datname = %s",
                                 (DBNAME,)).fetchall()
        print("\nsessions in the launcher's database: %r" % sessions)
        t0 = time.monotonic()
        error = None
        try:
            admin.execute('DROP DATABASE "%s"' % DBNAME)  # no FORCE: waits up to 5 s for other sessions
        except Exception as e:  # noqa: B902 - reported below
            error = str(e).strip()
        took = time.monotonic() - t0
    print("DROP DATABASE of the launcher's database: %s after %.0f ms"
          % ("refused: %s" % error if error else "dropped", took * 1000))
    assert error is None, "DROP DATABASE of the launcher's database is blocked by the launcher: %s" % error


def test_drop_database_of_the_launchers_database_with_force_leaves_the_server_healthy(lc_cluster):
    """Last in the file: drops the launcher's database (if the previous test did not) WITH (FORCE)."""
    if not lc_cluster.is_running():
        lc_cluster.start()
    offset = lc_cluster.log_offset()
    with lc_cluster.connect() as admin:
        t0 = time.monotonic()
        admin.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % DBNAME)
        took = time.monotonic() - t0
    time.sleep(5)
    log = lc_cluster.log_since(offset)
    print("\nDROP DATABASE WITH (FORCE) took %.0f ms; launchers 5 s later: %r; log:\n%s"
          % (took * 1000, launcher_pids(lc_cluster), log[-3000:]))
    with lc_cluster.connect() as admin:
        assert admin.execute("SELECT 1").fetchone()[0] == 1
    assert "terminated by signal" not in log, "a crash"
    # No tight restart loop of a launcher whose database is gone.
    assert log.count("pg_bulk_ingest launcher") <= 6, log[-3000:]

"""The launcher and its run workers (shared_preload_libraries): settings, pg_stat_activity, the progress view,
bulk_ingest_cancel and pg_terminate_backend of a worker, NOTICE progress of bulk_ingest_run, DROP DATABASE, idle
cost, and bulk_ingest_start without the library preloaded.
"""

import os
import re
import time

import psycopg
import pytest
from psycopg.types.json import Jsonb

from server import Fault, Gate
from testdata import ORDER_COLUMNS, orders, tsval, wait_for


# The docs: a cancelled run "exits within a fraction of a second even in the middle of an HTTP transfer (transfers
# check for interrupts every 100 ms)". Measured between the server's clock when asked and the run's finished_at.
FRACTION_OF_A_SECOND = 1.0


def register(db, server, name, conn=None, **kw):
    return db.register(name, server.url("/%s?since={high_watermark}" % name), "public.%s" % name, ORDER_COLUMNS,
                       high_watermark_column="updated_at", conn=conn, **kw)


def proc_stat(pid):
    """(utime + stime in clock ticks, voluntary context switches) of a process."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))
    switches = None
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("voluntary_ctxt_switches:"):
                switches = int(line.split()[1])
    return ticks, switches


def test_settings_exist_with_their_defaults(bgdb):
    assert bgdb.scalar("SELECT current_setting('bulk_ingest.max_workers')") == "4"
    assert bgdb.scalar("SELECT current_setting('bulk_ingest.history_retention')::interval = '7 days'")
    assert bgdb.scalar("SELECT current_setting('bulk_ingest.database_name')") == bgdb.name
    contexts = dict((r["name"], r["context"]) for r in bgdb.query(
        "SELECT name, context FROM pg_settings WHERE name LIKE 'bulk_ingest.%'"))
    assert contexts.get("bulk_ingest.database_name") == "postmaster", contexts
    assert contexts.get("bulk_ingest.max_workers") == "sighup", contexts
    assert contexts.get("bulk_ingest.history_retention") == "sighup", contexts


def test_launcher_and_run_worker_show_in_pg_stat_activity(bgdb, server):
    launcher = bgdb.one("SELECT pid, datname, backend_type FROM pg_stat_activity "
                        "WHERE backend_type = 'pg_bulk_ingest launcher'")
    assert launcher["datname"] == bgdb.name

    owner = bgdb.create_role("owner")
    bgdb.execute('GRANT CREATE ON SCHEMA public TO "%s"' % owner)
    gate = Gate()
    ds = server.add_dataset("act", orders(range(1, 5)), page_size=2)
    ds.faults.append(Fault(page=2, gate=gate, gate_after=1, times=1))
    register(bgdb, server, "act", conn=bgdb.connect(user=owner))

    run_id = bgdb.start("act")
    gate.wait_reached()
    # The worker waits for the rest of the HTTP response, held at the gate: the docs' wait event.
    def worker():
        rows = bgdb.query("SELECT pid, datname, usename, backend_type, state, query, wait_event_type, wait_event "
                          "FROM pg_stat_activity WHERE backend_type = 'pg_bulk_ingest run'")
        return rows[0] if rows and rows[0]["wait_event_type"] == "Extension" else None

    row = wait_for(worker, timeout=10)
    print("\nworker in pg_stat_activity: %r" % row)
    assert row, "no wait event Extension while waiting for the HTTP server: %r" % bgdb.query(
        "SELECT * FROM pg_stat_activity WHERE backend_type = 'pg_bulk_ingest run'")
    assert row["datname"] == bgdb.name
    assert row["usename"] == owner, "the worker must connect as the source's owner"
    assert row["query"].startswith("pg_bulk_ingest: "), row["query"]  # its query column says what it does
    assert bgdb.progress("act")[0]["pid"] == row["pid"]
    gate.release()
    run = bgdb.wait_run(run_id)
    assert run["status"] == "succeeded" and run["rows"] == 4
    # The worker is gone once the run is over.
    assert wait_for(lambda: bgdb.worker_pids() == [], timeout=10)


def test_progress_view_shows_a_long_run_moving(bgdb, server):
    assert bgdb.progress("prog") == []
    ds = server.add_dataset("prog", orders(range(1, 61)), page_size=5)
    ds.faults.append(Fault(delay=0.08))  # 12 pages of ~0.4 s
    register(bgdb, server, "prog")
    run_id = bgdb.start("prog")

    phases = set()

    def look(more_than):
        rows = bgdb.progress("prog")
        if rows:
            phases.add(rows[0]["phase"])
            if rows[0]["rows"] > more_than:
                return rows[0]
        return None

    first = wait_for(lambda: look(0), timeout=20)
    assert first, "the progress view never showed rows of the run"
    second = wait_for(lambda: look(first["rows"]), timeout=20)
    assert second, "the run did not move: %r" % first
    print("\nprogress: %r\nthen:     %r\nphases seen: %s" % (dict(first), dict(second), sorted(phases)))

    assert second["run_id"] == run_id and second["source"] == "prog"
    assert second["pid"] in bgdb.worker_pids()
    assert all(isinstance(p, str) and p for p in phases), phases
    # rows and bytes count the batch in flight, batches only committed ones: the first look may precede a commit.
    assert second["batches"] >= first["batches"] >= 0 and second["batches"] >= 1
    assert second["bytes"] > first["bytes"] > 0
    assert second["rows_per_second"] > 0
    assert "/prog?" in second["url"]
    assert second["started_at"] is not None and second["started_at"] == first["started_at"]
    assert bgdb.run_row(run_id)["status"] == "running"

    run = bgdb.wait_run(run_id)
    assert run["status"] == "succeeded" and run["rows"] == 60 and run["batches"] == 12
    assert wait_for(lambda: bgdb.progress("prog") == [], timeout=10), "the finished run stays in the progress view"


def test_cancel_a_running_run(bgdb, server):
    gate = Gate()
    ds = server.add_dataset("cnl", orders(range(1, 7)), page_size=3)
    ds.faults.append(Fault(page=2, gate=gate, gate_after=1, times=1))
    register(bgdb, server, "cnl")

    run_id = bgdb.start("cnl")
    gate.wait_reached()
    assert wait_for(lambda: bgdb.count("public.cnl") == 3, timeout=10)  # page 2 is asked for while batch 1 loads
    asked = bgdb.one("SELECT clock_timestamp() AS at, bulk_ingest_cancel(%s) AS cancelled", (run_id,))
    assert asked["cancelled"] is True
    # It stops while the HTTP response is still held: interrupts are checked during the transfer (every 100 ms).
    run = bgdb.wait_run(run_id, timeout=10)
    stopped = (run["finished_at"] - asked["at"]).total_seconds()
    print("\nbulk_ingest_cancel -> run recorded %s after %.0f ms" % (run["status"], stopped * 1000))
    assert stopped < FRACTION_OF_A_SECOND, stopped
    assert run["status"] == "cancelled"
    assert run["batches"] == 1 and run["rows"] == 3 and run["finished_at"] is not None
    # The batch in flight left nothing; the first one stays with its watermark.
    assert [r["id"] for r in bgdb.query("SELECT id FROM public.cnl ORDER BY id")] == [1, 2, 3]
    assert bgdb.watermark("cnl", as_type="timestamptz") == tsval(3)
    assert wait_for(lambda: bgdb.progress("cnl") == [], timeout=10)
    # Nothing left to cancel.
    assert bgdb.cancel(run_id) is False
    gate.release()

    # The next run resumes from the committed watermark.
    server.clear_requests()
    nxt = bgdb.wait_run(bgdb.start("cnl"))
    assert nxt["status"] == "succeeded" and nxt["rows"] == 3
    # {high_watermark} is the source's own text of the stored maximum: the same instant.
    assert bgdb.scalar("SELECT %s::timestamptz = %s::timestamptz",
                       (server.requests_for("cnl")[0].query["since"], run["high_watermark_after"]))
    assert bgdb.count("public.cnl") == 6


def test_cancel_a_queued_run(bgdb, server):
    assert bgdb.set_config("bulk_ingest.max_workers", 1) == "1"  # the launcher has acted on it
    gate = Gate()
    busy = server.add_dataset("qbusy", orders(range(1, 4)), page_size=100)
    busy.faults.append(Fault(gate=gate, gate_after=1, times=1))
    server.add_dataset("qwait", orders(range(1, 4)), page_size=100)
    register(bgdb, server, "qbusy")
    register(bgdb, server, "qwait")

    busy_id = bgdb.start("qbusy")
    gate.wait_reached()
    waiting_id = bgdb.start("qwait")
    bgdb.wait_launcher_pass()  # it has seen the run: the one worker allowed is busy, so it stays queued
    assert bgdb.run_row(waiting_id)["status"] == "queued"
    assert bgdb.progress("qwait") == []
    assert bgdb.cancel(waiting_id) is True
    run = bgdb.wait_run(waiting_id, timeout=10)
    assert run["status"] == "cancelled" and run["rows"] == 0
    assert server.requests_for("qwait") == []

    gate.release()
    assert bgdb.wait_run(busy_id)["status"] == "succeeded"
    bgdb.wait_launcher_pass()  # a worker free again: a queued run would start now
    assert server.requests_for("qwait") == [], "a cancelled queued run ran anyway"
    assert bgdb.worker_pids() == []
    again = bgdb.wait_run(bgdb.start("qwait"))
    assert again["status"] == "succeeded" and again["rows"] == 3


def test_terminate_a_running_worker(bgdb, server):
    gate = Gate()
    ds = server.add_dataset("term", orders(range(1, 7)), page_size=3)
    ds.faults.append(Fault(page=2, gate=gate, gate_after=1, times=1))
    register(bgdb, server, "term")
    launcher = bgdb.launcher_pid()

    run_id = bgdb.start("term")
    gate.wait_reached()
    assert wait_for(lambda: bgdb.count("public.term") == 3, timeout=10)  # page 2 is asked for while batch 1 loads
    pid = bgdb.progress("term")[0]["pid"]
    assert bgdb.worker_pids() == [pid]
    asked = bgdb.one("SELECT clock_timestamp() AS at, pg_terminate_backend(%s) AS sent", (pid,))
    assert asked["sent"] is True
    run = bgdb.wait_run(run_id, timeout=10)
    stopped = (run["finished_at"] - asked["at"]).total_seconds()
    print("\npg_terminate_backend -> run recorded %s after %.0f ms: %s" % (run["status"], stopped * 1000,
                                                                          run["error"]))
    assert stopped < FRACTION_OF_A_SECOND, stopped
    assert run["status"] == "cancelled"
    assert "pg_terminate_backend" in run["error"] and "batch 2 was rolled back" in run["error"], run["error"]
    assert [r["id"] for r in bgdb.query("SELECT id FROM public.term ORDER BY id")] == [1, 2, 3]
    assert bgdb.watermark("term", as_type="timestamptz") == tsval(3)
    assert wait_for(lambda: bgdb.worker_pids() == [] and bgdb.progress("term") == [], timeout=10)
    # The launcher is not affected (no crash-restart of the cluster either).
    assert bgdb.launcher_pid() == launcher
    gate.release()

    server.clear_requests()
    nxt = bgdb.wait_run(bgdb.start("term"))
    assert nxt["status"] == "succeeded" and nxt["rows"] == 3
    assert bgdb.scalar("SELECT %s::timestamptz = %s::timestamptz",
                       (server.requests_for("term")[0].query["since"], bgdb.run_row(run_id)["high_watermark_after"]))
    assert bgdb.count("public.term") == 6


def test_synchronous_run_prints_notice_progress_every_five_seconds(bgdb, server):
    ds = server.add_dataset("ntc", orders(range(1, 41)), page_size=4)
    ds.faults.append(Fault(delay=0.3))  # ~12 s: two notices
    register(bgdb, server, "ntc")
    notices = []
    conn = bgdb.connect()
    conn.add_notice_handler(lambda diag: notices.append((time.monotonic(), diag.message_primary)))
    t0 = time.monotonic()
    result = bgdb.run("ntc", conn=conn)
    elapsed = time.monotonic() - t0
    print("\n%.1f s run; notices:\n  %s" % (elapsed, "\n  ".join("%+.1f s %s" % (t - t0, m) for t, m in notices)))
    assert result["status"] == "succeeded" and result["trigger"] == "run" and result["rows"] == 40
    assert elapsed > 10.5
    # One every five seconds (the caller looks once a second), each naming the run and what it has committed.
    assert len(notices) >= 2 and int(elapsed // 5) - 1 <= len(notices) <= int(elapsed // 5), notices
    at = [t - t0 for t, _ in notices]
    assert 4.9 < at[0] < 6.5 and all(4.9 < b - a < 6.5 for a, b in zip(at, at[1:])), at
    pattern = re.compile(r'^source "ntc", run %d: (\d+) batches, (\d+) rows, (\d+) bytes committed \(\d+ rows/s\)$'
                         % result["id"])
    counts = []
    for _, message in notices:
        m = pattern.match(message)
        assert m, message
        counts.append(tuple(int(g) for g in m.groups()))
    assert counts[0][1] >= 4 and counts == sorted(counts) and counts[-1][1] < 40, counts


def test_drop_database_with_the_extension_is_not_blocked(bg_cluster, bgdb, server):
    server.add_dataset("dropme", orders(range(1, 4)), page_size=100)
    name = "bulk_ingest_dropme"
    with bg_cluster.connect() as admin:
        admin.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)
        admin.execute('CREATE DATABASE "%s"' % name)
    with bg_cluster.connect(dbname=name) as conn:
        conn.execute("CREATE EXTENSION pg_bulk_ingest")
        conn.execute("SELECT bulk_ingest_register('dropme', %s, 'public.dropme', %s::jsonb, "
                     "high_watermark_column => 'updated_at', options => '{\"schedule\": \"1 second\"}')",
                     (server.url("/dropme?since={high_watermark}"), Jsonb(ORDER_COLUMNS)))
        status = conn.execute("SELECT status FROM bulk_ingest_run('dropme')").fetchone()[0]
        assert status == "succeeded"
    bgdb.wait_launcher_pass()  # had the launcher served the schedule of this database, it would have started it
    with bg_cluster.connect() as admin:
        others = admin.execute("SELECT pid, backend_type FROM pg_stat_activity WHERE datname = %s "
                               "AND backend_type <> 'autovacuum worker'", (name,)).fetchall()
        t0 = time.monotonic()
        admin.execute('DROP DATABASE "%s"' % name)  # no FORCE: waits up to 5 s for other sessions, then fails
        dropped_in = time.monotonic() - t0
    print("\nDROP DATABASE took %.0f ms (sessions in it just before: %r)" % (dropped_in * 1000, others))
    assert others == []
    assert dropped_in < 3


def test_idle_launcher_uses_no_cpu(bgdb):
    assert bgdb.query("SELECT source FROM bulk_ingest.sources WHERE schedule IS NOT NULL") == []
    assert bgdb.query("SELECT id FROM bulk_ingest.runs WHERE status IN ('queued', 'running')") == []
    pid = bgdb.launcher_pid()
    bgdb.wait_launcher_pass()  # what the previous test's cleanup signalled is done with
    bgdb.close()
    ticks0, switches0 = proc_stat(pid)
    t0 = time.monotonic()
    time.sleep(10)
    ticks1, switches1 = proc_stat(pid)
    elapsed = time.monotonic() - t0
    hz = os.sysconf("SC_CLK_TCK")
    print("\nidle launcher (pid %d) over %.1f s: %d CPU ticks (%.0f ms), %d voluntary context switches (wake-ups)"
          % (pid, elapsed, ticks1 - ticks0, (ticks1 - ticks0) * 1000.0 / hz, switches1 - switches0))
    assert ticks1 - ticks0 <= 3
    assert switches1 - switches0 <= 5, "the idle launcher keeps waking up (polling)"


def test_start_needs_the_library_preloaded(db, server):
    if "pg_bulk_ingest" in db.scalar("SHOW shared_preload_libraries"):
        pytest.skip("the session cluster preloads pg_bulk_ingest")
    server.add_dataset("np", orders(range(1, 3)), page_size=100)
    register(db, server, "np")
    with pytest.raises(psycopg.Error) as e:
        db.scalar("SELECT bulk_ingest_start('np')")
    assert "shared_preload_libraries" in str(e.value), str(e.value)
    assert db.runs("np") == []
    # bulk_ingest_run works without it.
    assert db.run("np")["status"] == "succeeded"
    assert db.count("public.np") == 2


def test_worker_statistics_reach_the_cumulative_statistics(bgdb, server):
    """Autovacuum decides from these counters: a worker must flush them."""
    server.add_dataset("stats", orders(range(1, 51)), page_size=10)
    register(bgdb, server, "stats")
    run = bgdb.wait_run(bgdb.start("stats"))
    assert run["status"] == "succeeded" and run["rows"] == 50

    def inserted():
        return bgdb.scalar("SELECT coalesce(sum(n_tup_ins), 0) FROM pg_stat_user_tables "
                           "WHERE relid = 'public.stats'::regclass")

    assert wait_for(lambda: inserted() == 50, timeout=15), "pg_stat_user_tables.n_tup_ins = %s" % inserted()


def wait_phase(db, source, phase, timeout=10):
    """Wait until the run of `source` shows `phase` in the progress view; returns its row."""
    rows = wait_for(lambda: [r for r in db.progress(source) if r["phase"] == phase], timeout=timeout, interval=0.02)
    assert rows, "the run of %s never showed phase %r: %r" % (source, phase, db.progress(source))
    return rows[0]


def test_the_progress_view_shows_each_phase_of_a_run(bgdb, server):
    # Each phase is held by what the run waits for in it: a lock on the target, the server, a row lock on the run.
    ds = server.add_dataset("ph", orders(range(1, 3)), page_size=2)
    register(bgdb, server, "ph")
    assert bgdb.run("ph")["status"] == "succeeded"  # the target exists with rows: the next run loads in place
    ds.add(orders(range(3, 5)))
    ds.trailing_empty_page = True  # page 2 is empty: the run ends there
    head1, body1, head2 = Gate(), Gate(), Gate()
    ds.faults.append(Fault(page=1, headers_gate=head1, gate=body1, gate_after=1, times=1))
    ds.faults.append(Fault(page=2, headers_gate=head2, times=1))
    locker = bgdb.connect(autocommit=False)

    locker.execute("LOCK TABLE public.ph IN ACCESS EXCLUSIVE MODE")
    run_id = bgdb.start("ph")
    wait_phase(bgdb, "ph", "starting")  # preparing the target before any request
    locker.rollback()
    head1.wait_reached()
    assert "/ph?since=" in wait_phase(bgdb, "ph", "connecting")["url"]
    locker.execute("LOCK TABLE public.ph IN ACCESS EXCLUSIVE MODE")
    head1.release()
    wait_phase(bgdb, "ph", "checking the target")  # the first batch compares the table with the declaration
    locker.rollback()
    body1.wait_reached()
    wait_phase(bgdb, "ph", "loading")
    locker.execute("SELECT FROM bulk_ingest.runs WHERE id = %s FOR UPDATE", (run_id,))
    body1.release()
    wait_phase(bgdb, "ph", "committing")  # the batch's counters wait for the row lock
    locker.rollback()
    head2.wait_reached()
    assert "page=2" in wait_phase(bgdb, "ph", "connecting")["url"]
    locker.execute("SELECT FROM bulk_ingest.runs WHERE id = %s FOR UPDATE", (run_id,))
    head2.release()
    wait_phase(bgdb, "ph", "finishing")  # recording the outcome waits for the row lock
    locker.rollback()

    run = bgdb.wait_run(run_id)
    assert run["status"] == "succeeded" and run["rows"] == 2 and run["batches"] == 1 and run["rebuild"] is None
    assert wait_for(lambda: bgdb.progress("ph") == [], timeout=10)


def test_the_progress_view_shows_the_phases_of_a_rebuild(bgdb, server):
    ds = server.add_dataset("phr", orders(range(1, 3)), page_size=100)
    register(bgdb, server, "phr")
    assert bgdb.run("phr")["status"] == "succeeded"
    # A materialized view whose refresh (in the swap, as its owner) waits for an advisory lock the test holds.
    bgdb.execute("CREATE FUNCTION public.phr_gate() RETURNS int LANGUAGE plpgsql AS "
                 "$$ BEGIN PERFORM pg_advisory_xact_lock_shared(914014); RETURN 1; END $$")
    bgdb.execute("CREATE MATERIALIZED VIEW public.phr_mv AS SELECT id, public.phr_gate() AS g FROM public.phr")
    try:
        bgdb.register("phr", server.url("/phr?since={high_watermark}"), "public.phr",
                      ORDER_COLUMNS + [{"name": "note", "type": "text"}], high_watermark_column="updated_at")
        ds.add(orders(range(3, 5)))
        writer = bgdb.connect(autocommit=False)
        writer.execute("INSERT INTO public.phr (id, customer) VALUES (100, 'written meanwhile')")
        run_id = bgdb.start("phr")
        wait_phase(bgdb, "phr", "rebuilding")  # its SHARE lock waits for the writer
        reader = bgdb.connect(autocommit=False)
        reader.execute("SELECT count(*) FROM public.phr")
        gatekeeper = bgdb.connect()
        gatekeeper.execute("SELECT pg_advisory_lock(914014)")
        writer.commit()
        wait_phase(bgdb, "phr", "waiting for the swap's lock")  # the reader's transaction holds ACCESS SHARE
        reader.commit()
        wait_phase(bgdb, "phr", "swapping")  # the materialized view's refresh waits for the advisory lock
        gatekeeper.execute("SELECT pg_advisory_unlock(914014)")
        run = bgdb.wait_run(run_id)
        assert run["status"] == "succeeded" and run["rebuild"] is not None and run["lock_attempts"] >= 1, run
        assert bgdb.scalar("SELECT count(*) FROM public.phr_mv") == 5  # 1-4 and the row written meanwhile
    finally:
        bgdb.execute("DROP MATERIALIZED VIEW IF EXISTS public.phr_mv")
        bgdb.execute("DROP FUNCTION IF EXISTS public.phr_gate()")

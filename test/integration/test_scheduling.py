"""Scheduling with the launcher (shared_preload_libraries): schedules, bulk_ingest_start, one run per source,
max_workers, skipped ticks, history retention.

Every test uses the launcher's database of the shared preloaded cluster (`bgdb`), with source names of its own; the
fixture clears schedules, cancels runs, unregisters sources and deletes the history after each test.
"""

import datetime
import threading
import time

import psycopg
import pytest

from server import Fault, Gate, compare
from testdata import ORDER_COLUMNS, orders, tsval, wait_for


def register(db, server, name, conn=None, **kw):
    return db.register(name, server.url("/%s?since={high_watermark}" % name), "public.%s" % name, ORDER_COLUMNS,
                       high_watermark_column="updated_at", conn=conn, **kw)


def sinces(server, name):
    return [r.query.get("since") for r in server.requests_for(name)]


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc)


def test_scheduled_source_runs_repeatedly_and_picks_up_new_data(bgdb, server):
    ds = server.add_dataset("sch", orders(range(1, 4)), page_size=10)
    register(bgdb, server, "sch")
    bgdb.schedule("sch", "2 seconds")
    src = bgdb.source_row("sch")
    assert src["schedule"] == datetime.timedelta(seconds=2)

    # Newly scheduled: due at once.
    assert wait_for(lambda: bgdb.rows_in("public.sch") == 3, timeout=15), "the first scheduled run never loaded"
    w3 = bgdb.watermark("sch")
    assert bgdb.watermark("sch", as_type="timestamptz") == tsval(3)
    assert bgdb.source_row("sch")["next_run_at"] is not None

    # New records between ticks arrive with the next tick, fetched from the stored watermark.
    ds.add(orders(range(4, 6)))
    assert wait_for(lambda: bgdb.rows_in("public.sch") == 5, timeout=15), "new records never arrived"
    w5 = bgdb.watermark("sch")
    ds.add(orders(range(6, 9)))
    assert wait_for(lambda: bgdb.rows_in("public.sch") == 8, timeout=15), "newer records never arrived"
    assert bgdb.watermark("sch", as_type="timestamptz") == tsval(8)

    # It keeps running while there is nothing new (two more ticks).
    done_before = len([r for r in bgdb.runs("sch") if r["status"] == "succeeded"])
    assert wait_for(lambda: len([r for r in bgdb.runs("sch") if r["status"] == "succeeded"]) >= done_before + 2,
                    timeout=15), "the schedule stopped ticking: %r" % bgdb.runs("sch")

    seen = sinces(server, "sch")
    assert seen[0] == "", seen                     # the first run had no watermark
    # {high_watermark} is the source's own text of the stored watermarks: the same instants.
    assert all(any(s and compare(s, w) == 0 for s in seen) for w in (w3, w5)), (w3, w5, seen)
    for a, b in zip(seen, seen[1:]):               # the watermark sent only moves forward
        assert a == "" or compare(a, b) <= 0, seen

    runs = bgdb.runs("sch")
    print("\nscheduled runs: %s" % ", ".join("%s %s rows=%s" % (r["started_at"].strftime("%H:%M:%S.%f")[:-3],
                                                                r["status"], r["rows"]) for r in runs))
    assert {r["trigger"] for r in runs} == {"schedule"}
    assert {r["status"] for r in runs} <= {"succeeded", "running"}, runs
    assert sum(r["rows"] for r in runs if r["status"] == "succeeded") == 8
    # Ticks are about 2 seconds apart, not back to back.
    starts = [r["started_at"] for r in runs]
    gaps = [(b - a).total_seconds() for a, b in zip(starts, starts[1:])]
    assert min(gaps) >= 1.0, gaps

    # Clearing the schedule stops the ticks (a run in flight may finish).
    due = bgdb.source_row("sch")["next_run_at"]
    bgdb.schedule("sch", None)
    assert bgdb.source_row("sch")["schedule"] is None
    assert wait_for(lambda: all(r["status"] not in ("queued", "running") for r in bgdb.runs("sch")), timeout=15)
    n = len(bgdb.runs("sch"))
    # The tick that was due has passed, and the launcher has looked since: nothing was queued.
    assert wait_for(lambda: bgdb.scalar("SELECT clock_timestamp() > %s", (due,)), timeout=10)
    bgdb.wait_launcher_pass()
    assert len(bgdb.runs("sch")) == n, bgdb.runs("sch")[n:]


def test_schedule_option_at_registration_runs_at_once_and_then_waits(bgdb, server):
    server.add_dataset("sopt", orders(range(1, 5)), page_size=10)
    t0 = now_utc()
    register(bgdb, server, "sopt", options={"schedule": "1 hour"})
    assert bgdb.source_row("sopt")["schedule"] == datetime.timedelta(hours=1)

    # Due at once, not an hour from now.
    assert wait_for(lambda: bgdb.rows_in("public.sopt") == 4, timeout=15), bgdb.runs("sopt")
    run = bgdb.wait_run(bgdb.runs("sopt")[0]["id"])
    assert run["status"] == "succeeded" and run["trigger"] == "schedule" and run["rows"] == 4
    print("\nregistration -> scheduled run started: %.3f s" % (run["started_at"] - t0).total_seconds())

    # The next run is about an hour later, and nothing runs meanwhile.
    nxt = bgdb.source_row("sopt")["next_run_at"]
    assert nxt is not None and nxt - now_utc() > datetime.timedelta(minutes=55), nxt

    # The launcher now sleeps until then; scheduling another source wakes it: due at once too.
    server.add_dataset("sopt2", orders(range(1, 3)), page_size=10)
    register(bgdb, server, "sopt2")
    bgdb.wait_launcher_pass()
    assert bgdb.runs("sopt2") == []  # registered without a schedule: nothing runs
    t0 = now_utc()
    bgdb.schedule("sopt2", "1 hour")
    assert wait_for(lambda: bgdb.rows_in("public.sopt2") == 2, timeout=15), bgdb.runs("sopt2")
    run2 = bgdb.wait_run(bgdb.runs("sopt2")[0]["id"])
    print("bulk_ingest_schedule -> scheduled run started: %.3f s" % (run2["started_at"] - t0).total_seconds())
    assert run2["trigger"] == "schedule"
    assert len(bgdb.runs("sopt")) == 1


def test_schedule_of_an_unknown_source_is_an_error(bgdb):
    with pytest.raises(psycopg.Error) as e:
        bgdb.schedule("no_such_source", "1 minute")
    assert "no_such_source" in str(e.value)
    with pytest.raises(psycopg.Error) as e:
        bgdb.start("no_such_source")
    assert "no_such_source" in str(e.value)


@pytest.mark.parametrize("every", ["0 seconds", "-1 minute"])
def test_a_schedule_must_be_a_positive_interval(bgdb, server, every):
    server.add_dataset("spos", orders(range(1, 3)), page_size=10)
    register(bgdb, server, "spos")
    with pytest.raises(psycopg.Error) as e:
        bgdb.schedule("spos", every)
    assert "spos" in str(e.value)
    assert bgdb.source_row("spos")["schedule"] is None


def test_only_the_owner_may_start_schedule_or_cancel(bgdb, server):
    owner = bgdb.create_role("alice")
    other = bgdb.create_role("bob")
    bgdb.execute('GRANT CREATE ON SCHEMA public TO "%s"' % owner)
    gate = Gate()
    ds = server.add_dataset("own", orders(range(1, 4)), page_size=100)
    ds.faults.append(Fault(gate=gate, gate_after=1, times=1))
    as_owner = bgdb.connect(user=owner)
    as_other = bgdb.connect(user=other)
    register(bgdb, server, "own", conn=as_owner)

    run_id = bgdb.start("own", conn=as_owner)
    gate.wait_reached()
    for call in (lambda: bgdb.start("own", conn=as_other), lambda: bgdb.schedule("own", "1 hour", conn=as_other),
                 lambda: bgdb.cancel(run_id, conn=as_other)):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            call()
    assert bgdb.run_row(run_id)["status"] == "running"
    assert bgdb.source_row("own")["schedule"] is None
    # Only the owner (and superusers) may watch: another role sees no row of it.
    assert [r["run_id"] for r in bgdb.progress("own", conn=as_owner)] == [run_id]
    assert bgdb.progress("own", conn=as_other) == []
    assert [r["run_id"] for r in bgdb.progress("own")] == [run_id]
    # The owner may cancel.
    assert bgdb.cancel(run_id, conn=as_owner) is True
    assert bgdb.wait_run(run_id, timeout=10)["status"] == "cancelled"
    gate.release()


def test_ten_due_sources_never_more_than_max_workers_at_once(bgdb, server):
    assert bgdb.set_config("bulk_ingest.max_workers", 2) == "2"  # the launcher has acted on it
    names = ["mw%02d" % i for i in range(10)]
    for name in names:
        ds = server.add_dataset(name, orders(range(1, 7)), page_size=100)
        ds.faults.append(Fault(delay=0.25))  # ~1.5 s per run

    # A sampler on its own connection, as fast as it can.
    samples = []
    stop = threading.Event()
    sampler_conn = bgdb.connect()

    sampler_errors = []

    def sample():
        try:
            sample_loop()
        except Exception as e:  # noqa: B902 - handed to the test
            sampler_errors.append(e)

    def sample_loop():
        while not stop.is_set():
            row = sampler_conn.execute(
                "SELECT (SELECT count(*) FROM bulk_ingest.progress WHERE source LIKE 'mw%%') AS progress,"
                "       (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_bulk_ingest run') AS workers,"
                "       (SELECT count(*) FROM bulk_ingest.runs WHERE source LIKE 'mw%%' AND status = 'running')"
                "         AS running").fetchone()
            samples.append(row)
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        # All ten become due in the same commit.
        tx = bgdb.connect(autocommit=False)
        for name in names:
            register(bgdb, server, name, conn=tx, options={"schedule": "1 hour"})
        tx.commit()
        t0 = time.monotonic()
        done = wait_for(lambda: bgdb.scalar(
            "SELECT count(*) FROM bulk_ingest.runs WHERE source LIKE 'mw%%' AND status = 'succeeded'") == 10,
            timeout=90)
        elapsed = time.monotonic() - t0
    finally:
        stop.set()
        sampler.join(10)

    if sampler_errors:
        raise sampler_errors[0]
    max_progress = max(s["progress"] for s in samples)
    max_workers = max(s["workers"] for s in samples)
    max_running = max(s["running"] for s in samples)
    print("\n10 sources, max_workers=2: all done in %.1f s; %d samples; at most %d in progress, %d worker "
          "processes, %d runs 'running'" % (elapsed, len(samples), max_progress, max_workers, max_running))
    assert done, bgdb.query("SELECT source, status, error FROM bulk_ingest.runs WHERE source LIKE 'mw%' ORDER BY id")
    assert len(samples) > 50
    assert max_progress <= 2 and max_workers <= 2 and max_running <= 2, [s for s in samples if max(s.values()) > 2]
    assert max(max_progress, max_workers) == 2, "never two at once: the runs were serialised"
    for name in names:
        assert bgdb.count("public.%s" % name) == 6, name
        runs = bgdb.runs(name)
        assert [(r["status"], r["trigger"]) for r in runs] == [("succeeded", "schedule")], (name, runs)
    # Ten runs of ~1.5 s, two at a time: at least ~7.5 s (serialised would be ~15 s, all at once ~1.5 s).
    assert elapsed >= 6, elapsed


def test_raising_max_workers_starts_queued_runs(bgdb, server):
    assert bgdb.set_config("bulk_ingest.max_workers", 1) == "1"  # the launcher has acted on it
    gate = Gate()
    busy = server.add_dataset("rbusy", orders(range(1, 4)), page_size=100)
    busy.faults.append(Fault(gate=gate, gate_after=1, times=1))
    register(bgdb, server, "rbusy")
    busy_id = bgdb.start("rbusy")
    gate.wait_reached()
    waiting = []
    for name in ("rq1", "rq2"):
        server.add_dataset(name, orders(range(1, 4)), page_size=100)
        register(bgdb, server, name)
        waiting.append(bgdb.start(name))
    bgdb.wait_launcher_pass()  # it has seen both: the one worker allowed is busy
    assert [bgdb.run_row(i)["status"] for i in waiting] == ["queued", "queued"]

    # More workers allowed: the queued runs start while the first is still held.
    bgdb.set_config("bulk_ingest.max_workers", 3)
    for i in waiting:
        assert bgdb.wait_run(i, timeout=15)["status"] == "succeeded"
    assert bgdb.run_row(busy_id)["status"] == "running"
    gate.release()
    assert bgdb.wait_run(busy_id)["status"] == "succeeded"


def test_start_returns_at_once_and_the_run_begins_at_commit(bgdb, server):
    ds = server.add_dataset("st", orders(range(1, 6)), page_size=100)
    register(bgdb, server, "st")

    # Rolled back: nothing runs.
    tx = bgdb.connect(autocommit=False)
    bgdb.start("st", conn=tx)
    tx.rollback()
    bgdb.wait_launcher_pass()
    assert server.requests_for("st") == [] and bgdb.runs("st") == []

    # In a transaction: returns at once, invisible and not started until the commit.
    t0 = time.monotonic()
    run_id = bgdb.start("st", conn=tx)
    call = time.monotonic() - t0
    assert isinstance(run_id, int)
    bgdb.wait_launcher_pass()
    assert server.requests_for("st") == [], "the run began before its transaction committed"
    assert bgdb.run_row(run_id) is None
    tx.commit()
    committed_at = time.time()
    committed_ts = now_utc()
    assert wait_for(lambda: server.requests_for("st"), timeout=15), "the run never began"
    latency = server.requests_for("st")[0].time - committed_at
    run = bgdb.wait_run(run_id)
    print("\nbulk_ingest_start: call %.1f ms; commit -> first HTTP request %.0f ms; commit -> started_at %.0f ms"
          % (call * 1000, latency * 1000, (run["started_at"] - committed_ts).total_seconds() * 1000))
    assert call < 1.0
    assert latency < 3.0, "the run began %.2f s after the commit" % latency
    assert run["status"] == "succeeded" and run["trigger"] == "start" and run["rows"] == 5
    assert bgdb.count("public.st") == 5

    # Autocommit, a slow run: the call returns while the run is still in flight.
    ds.add(orders(range(6, 16)))
    ds.faults.append(Fault(delay=0.2))  # ~2 s
    server.clear_requests()
    t0 = time.monotonic()
    run_id = bgdb.start("st")
    returned_at = time.time()
    call = time.monotonic() - t0
    status = bgdb.run_row(run_id)["status"]
    assert wait_for(lambda: server.requests_for("st"), timeout=15), "the run never began"
    latency = server.requests_for("st")[0].time - returned_at
    print("bulk_ingest_start (autocommit): call %.1f ms, status then %r; first HTTP request %.0f ms later"
          % (call * 1000, status, latency * 1000))
    assert call < 1.0 and status in ("queued", "running")
    assert latency < 3.0
    run = bgdb.wait_run(run_id)
    assert run["status"] == "succeeded" and run["rows"] == 10
    assert bgdb.scalar("SELECT %s::timestamptz = %s::timestamptz",
                       (server.requests_for("st")[0].query["since"], bgdb.runs("st")[0]["high_watermark_after"]))
    assert bgdb.count("public.st") == 15


def test_a_second_request_for_a_running_source_is_refused(bgdb, server):
    gate = Gate()
    ds = server.add_dataset("dup", orders(range(1, 5)), page_size=100)
    ds.faults.append(Fault(gate=gate, gate_after=2, times=1))
    register(bgdb, server, "dup")

    run_id = bgdb.start("dup")
    gate.wait_reached()
    with pytest.raises(psycopg.Error) as e:
        bgdb.start("dup")
    assert "already" in str(e.value), str(e.value)
    assert "dup" in str(e.value)
    with pytest.raises(psycopg.Error) as e:
        bgdb.run("dup")
    assert "already" in str(e.value), str(e.value)
    # The refusals left no run behind.
    assert [r["id"] for r in bgdb.runs("dup")] == [run_id]

    gate.release()
    run = bgdb.wait_run(run_id)
    assert run["status"] == "succeeded" and run["rows"] == 4
    # Once it finished, the source can run again.
    ds.add(orders(range(5, 7)))
    second = bgdb.wait_run(bgdb.start("dup"))
    assert second["status"] == "succeeded" and second["rows"] == 2


def test_a_second_start_while_queued_is_refused(bgdb, server):
    server.add_dataset("dupq", orders(range(1, 3)), page_size=100)
    register(bgdb, server, "dupq")
    tx = bgdb.connect(autocommit=False)
    run_id = bgdb.start("dupq", conn=tx)
    with pytest.raises(psycopg.Error) as e:
        bgdb.start("dupq", conn=tx)
    assert "already" in str(e.value), str(e.value)
    tx.rollback()
    assert bgdb.run_row(run_id) is None


def test_start_while_a_synchronous_run_is_in_flight_is_refused(bgdb, server):
    gate = Gate()
    ds = server.add_dataset("dups", orders(range(1, 5)), page_size=100)
    ds.faults.append(Fault(gate=gate, gate_after=1, times=1))
    register(bgdb, server, "dups")
    sync = bgdb.run_in_thread("dups")
    gate.wait_reached()
    with pytest.raises(psycopg.Error) as e:
        bgdb.start("dups")
    assert "already" in str(e.value), str(e.value)
    gate.release()
    result = sync.wait()
    assert result["status"] == "succeeded" and result["trigger"] == "run" and result["rows"] == 4


def test_ticks_that_find_the_source_running_are_recorded_as_skipped(bgdb, server):
    # Ticks that find the same run still in flight collapse into one 'skipped' row that counts them (skip_count),
    # from the first (started_at) to the last (finished_at): 20 sources due every second with 2 workers used to
    # write about 20 rows a second.
    gate = Gate()
    ds = server.add_dataset("skp", orders(range(1, 5)), page_size=100)
    ds.faults.append(Fault(gate=gate, gate_after=2, times=1))
    register(bgdb, server, "skp")

    samples = []
    bgdb.schedule("skp", "1 second")
    gate.wait_reached(timeout=15)
    first = bgdb.one("SELECT * FROM bulk_ingest.runs WHERE source = 'skp' AND status = 'running'")

    def skipped():
        samples.append(bgdb.one(
            "SELECT count(*) FILTER (WHERE status = 'running') AS running,"
            "       count(*) FILTER (WHERE status = 'queued') AS queued,"
            "       count(*) FILTER (WHERE status = 'skipped') AS skipped,"
            "       coalesce(sum(skip_count) FILTER (WHERE status = 'skipped'), 0) AS ticks"
            "  FROM bulk_ingest.runs WHERE source = 'skp'"))
        return samples[-1]["ticks"] >= 3

    assert wait_for(skipped, timeout=15, interval=0.1), bgdb.runs("skp")
    rows = [r for r in bgdb.runs("skp") if r["status"] == "skipped"]
    assert len(rows) == 1, "one row for the ticks that found run %s in flight: %r" % (first["id"], rows)
    row = rows[0]
    assert row["skip_count"] >= 3 and row["finished_at"] > row["started_at"], row
    assert "run %s" % first["id"] in row["error"], row
    gate.release()
    run = bgdb.wait_run(first["id"])
    assert run["status"] == "succeeded" and run["rows"] == 4
    # Only one run at a time, nothing piled up in a queue.
    assert max(s["running"] for s in samples) == 1 and max(s["queued"] for s in samples) == 0, samples
    assert max(s["skipped"] for s in samples) == 1, samples

    for r in bgdb.runs("skp"):
        if r["status"] == "skipped":
            assert r["trigger"] == "schedule"
            assert r["rows"] == 0 and r["batches"] == 0
            assert r["finished_at"] is not None
            assert r["id"] > first["id"]
        else:
            assert r["skip_count"] is None, r
    # After the long run, ticks run normally again.
    assert wait_for(lambda: any(r["status"] == "succeeded" and r["id"] > first["id"] for r in bgdb.runs("skp")),
                    timeout=15), bgdb.runs("skp")
    bgdb.schedule("skp", None)
    print("\nruns of skp: %s" % [(r["id"], r["status"], r["skip_count"]) for r in bgdb.runs("skp")])


def test_a_new_run_in_flight_starts_a_new_skipped_row(bgdb, server):
    # Skips of different runs in flight are told apart: each run that held ticks up has its own skipped row.
    gates = [Gate(), Gate()]
    ds = server.add_dataset("skp2", orders(range(1, 3)), page_size=100)
    for g in gates:
        ds.faults.append(Fault(gate=g, gate_after=1, times=1))
    register(bgdb, server, "skp2")
    bgdb.schedule("skp2", "1 second")
    for g in gates:
        g.wait_reached(timeout=15)
        running = bgdb.one("SELECT id FROM bulk_ingest.runs WHERE source = 'skp2' AND status = 'running'")["id"]
        assert wait_for(lambda: bgdb.scalar(
            "SELECT coalesce(max(skip_count), 0) FROM bulk_ingest.runs WHERE source = 'skp2' AND status = 'skipped'"
            " AND id > %s", (running,)) >= 2, timeout=15), bgdb.runs("skp2")
        g.release()
        bgdb.wait_run(running)
    bgdb.schedule("skp2", None)
    skipped = [r for r in bgdb.runs("skp2") if r["status"] == "skipped"]
    assert len(skipped) == 2, skipped


def test_history_older_than_the_retention_is_pruned(bgdb, server):
    server.add_dataset("hist", orders(range(1, 4)), page_size=100)
    register(bgdb, server, "hist")
    for _ in range(3):
        assert bgdb.run("hist")["status"] == "succeeded"
    gate = Gate()
    held = server.add_dataset("histheld", orders(range(1, 4)), page_size=100)
    held.faults.append(Fault(gate=gate, gate_after=1, times=1))
    register(bgdb, server, "histheld")
    in_flight = bgdb.start("histheld")
    gate.wait_reached()
    # Every finished run older than the retention about to be set.
    assert wait_for(lambda: bgdb.scalar("SELECT clock_timestamp() - max(finished_at) > interval '1.1 s' "
                                        "FROM bulk_ingest.runs WHERE source = 'hist'"), timeout=10)
    assert [r["status"] for r in bgdb.runs("hist")] == ["succeeded"] * 3

    bgdb.set_config("bulk_ingest.history_retention", "1s")
    t0 = time.monotonic()
    assert wait_for(lambda: bgdb.runs("hist") == [], timeout=30), \
        "finished runs not pruned: %r" % bgdb.runs("hist")
    print("\nhistory pruned %.1f s after the reload" % (time.monotonic() - t0))
    # A run in flight is not history: kept, and it finishes normally.
    assert bgdb.run_row(in_flight)["status"] == "running"
    gate.release()
    assert wait_for(lambda: bgdb.rows_in("public.histheld") == 3, timeout=15)
    # Once finished it is history too (and may already be pruned).
    assert wait_for(lambda: (bgdb.run_row(in_flight) or {"status": "pruned"})["status"] in ("succeeded", "pruned"),
                    timeout=15), bgdb.run_row(in_flight)
    assert wait_for(lambda: bgdb.run_row(in_flight) is None, timeout=30), "a finished run was not pruned"
    # Pruning forgets runs, not data or watermarks.
    assert bgdb.count("public.hist") == 3
    assert bgdb.watermark("hist", as_type="timestamptz") == tsval(3)


def test_a_failed_scheduled_run_does_not_stop_the_schedule(bgdb, server):
    ds = server.add_dataset("sfail", orders(range(1, 4)), page_size=100)
    ds.faults.append(Fault(status=503, body="try later\n", times=1))
    register(bgdb, server, "sfail", options={"schedule": "1 second", "max_retries": 0})

    assert wait_for(lambda: bgdb.rows_in("public.sfail") == 3, timeout=20), bgdb.runs("sfail")
    # The rows commit with the run's last batch; the run's status a moment later.
    assert wait_for(lambda: any(r["status"] == "succeeded" and r["rows"] == 3 for r in bgdb.runs("sfail")[1:]),
                    timeout=10), bgdb.runs("sfail")
    runs = bgdb.runs("sfail")
    assert runs[0]["status"] == "failed" and "503" in runs[0]["error"], runs[0]
    assert {r["trigger"] for r in runs} == {"schedule"}

    # Unregistered, it ticks no more: the tick that was due has passed, and the launcher has looked since.
    due = bgdb.source_row("sfail")["next_run_at"]
    bgdb.execute("SELECT bulk_ingest_unregister('sfail')")
    assert wait_for(lambda: all(r["status"] not in ("queued", "running") for r in bgdb.runs("sfail")), timeout=15)
    n = len(bgdb.runs("sfail"))
    assert wait_for(lambda: bgdb.scalar("SELECT clock_timestamp() > %s", (due,)), timeout=10)
    bgdb.wait_launcher_pass()
    assert len(bgdb.runs("sfail")) == n


def test_a_redeclaration_without_a_schedule_keeps_the_schedule(bgdb, server):
    server.add_dataset("keep", orders(range(1, 4)), page_size=10)
    register(bgdb, server, "keep", options={"schedule": "1 hour"})
    assert wait_for(lambda: [r["status"] for r in bgdb.runs("keep")] == ["succeeded"], timeout=15), bgdb.runs("keep")
    before = bgdb.source_row("keep")

    # Re-declared (another batch size) without options.schedule: the schedule and its next tick stay.
    row = register(bgdb, server, "keep", options={"batch_rows": 2})
    assert row["options"]["batch_rows"] == 2
    after = bgdb.source_row("keep")
    assert after["schedule"] == datetime.timedelta(hours=1) and after["next_run_at"] == before["next_run_at"]
    bgdb.wait_launcher_pass()
    assert len(bgdb.runs("keep")) == 1  # not due again

    # A schedule set with bulk_ingest_schedule is kept the same way; one declared replaces it.
    bgdb.schedule("keep", "2 hours")
    register(bgdb, server, "keep")
    assert bgdb.source_row("keep")["schedule"] == datetime.timedelta(hours=2)
    register(bgdb, server, "keep", options={"schedule": "3 hours"})
    assert bgdb.source_row("keep")["schedule"] == datetime.timedelta(hours=3)


def test_queued_runs_start_oldest_first(bgdb, server):
    assert bgdb.set_config("bulk_ingest.max_workers", 1) == "1"
    gate = Gate()
    busy = server.add_dataset("obusy", orders(range(1, 4)), page_size=100)
    busy.faults.append(Fault(gate=gate, gate_after=1, times=1))
    register(bgdb, server, "obusy")
    busy_id = bgdb.start("obusy")
    gate.wait_reached()
    order = ["oq3", "oq1", "oq2"]  # queued in this order, which is neither the names' nor the registrations'
    for name in sorted(order):
        server.add_dataset(name, orders(range(1, 3)), page_size=100)
        register(bgdb, server, name)
    ids = [bgdb.start(name) for name in order]
    bgdb.wait_launcher_pass()
    assert [bgdb.run_row(i)["status"] for i in ids] == ["queued"] * 3

    gate.release()
    assert bgdb.wait_run(busy_id)["status"] == "succeeded"
    runs = [bgdb.wait_run(i) for i in ids]
    assert [r["status"] for r in runs] == ["succeeded"] * 3
    first_requests = [server.requests_for(name)[0].time for name in order]
    assert first_requests == sorted(first_requests), list(zip(order, first_requests))
    assert [r["started_at"] for r in runs] == sorted(r["started_at"] for r in runs)


def test_a_history_retention_of_0_keeps_every_run(bgdb, server):
    server.add_dataset("keep0", orders(range(1, 4)), page_size=100)
    register(bgdb, server, "keep0")
    for _ in range(2):
        assert bgdb.run("keep0")["status"] == "succeeded"
    assert wait_for(lambda: bgdb.scalar("SELECT clock_timestamp() - max(finished_at) > interval '1.1 s' "
                                        "FROM bulk_ingest.runs WHERE source = 'keep0'"), timeout=10)
    bgdb.set_config("bulk_ingest.history_retention", "0")  # returns after a pass of the launcher with it
    bgdb.wait_launcher_pass()
    assert [r["status"] for r in bgdb.runs("keep0")] == ["succeeded"] * 2
    # The same runs are pruned as soon as the retention is shorter than their age: 0 is what kept them.
    bgdb.set_config("bulk_ingest.history_retention", "1s")
    assert wait_for(lambda: bgdb.runs("keep0") == [], timeout=10), bgdb.runs("keep0")

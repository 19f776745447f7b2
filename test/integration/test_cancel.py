"""Cancelling the caller of bulk_ingest_run (pg_cancel_backend, statement_timeout) or its worker (pg_cancel_backend)
cancels the run: the batch in flight leaves nothing, the run is recorded as cancelled, the next run resumes."""

import time

import psycopg
import pytest

from server import Fault, Gate
from testdata import ORDER_COLUMNS, orders, tsval, wait_for


def test_cancel_the_caller_cancels_the_run(db, server):
    gate = Gate()
    ds = server.add_dataset("cx", orders(range(1, 7)), page_size=3)
    ds.faults.append(Fault(page=2, gate=gate, gate_after=1))
    db.register("cx", server.url("/cx?since={high_watermark}"), "public.cx", ORDER_COLUMNS,
                high_watermark_column="updated_at")

    run = db.run_in_thread("cx")
    gate.wait_reached()
    assert wait_for(lambda: db.count("public.cx") == 3, timeout=10)  # page 2 is asked for while batch 1 loads
    db.execute("SELECT pg_cancel_backend(%s)", (run.pid,))
    with pytest.raises(psycopg.errors.QueryCanceled, match="canceling statement due to user request"):
        run.wait(timeout=30)
    # The run is recorded as finished (the worker may take a moment after the caller returned) while the server
    # still holds the response: the cancel, not the end of the body, stopped it.
    assert wait_for(lambda: db.last_run("cx")["status"] != "running", timeout=10)
    gate.release()
    # Batch 1 stays with its watermark; batch 2 left nothing; the run is recorded as cancelled.
    assert db.count("public.cx") == 3
    assert db.watermark("cx", as_type="timestamptz") == db.scalar("SELECT max(updated_at) FROM public.cx")
    last = db.last_run("cx")
    assert last["status"] == "cancelled"
    assert last["batches"] == 1
    assert last["finished_at"] is not None

    # The next run resumes from the committed watermark.
    server.clear_requests()
    ds.faults.clear()
    result = db.run("cx")
    assert result["status"] == "succeeded" and result["rows"] == 3
    assert db.count("public.cx") == 6


def held_run(db, server, name, conn=None):
    """A run whose batch 2 is held by the server after one record; returns once it is held."""
    gate = Gate()
    ds = server.add_dataset(name, orders(range(1, 7)), page_size=3)
    ds.faults.append(Fault(page=2, gate=gate, gate_after=1, times=1))
    db.register(name, server.url("/%s?since={high_watermark}" % name), "public.%s" % name, ORDER_COLUMNS,
                high_watermark_column="updated_at")
    return gate


def assert_cancelled_and_resumable(db, name, gate):
    """The run recorded as cancelled while the server still holds batch 2 (then let go), batch 1 kept with its
    watermark, batch 2 rolled back; the next run resumes."""
    assert wait_for(lambda: db.last_run(name)["status"] != "running", timeout=10)
    gate.release()
    last = db.last_run(name)
    assert last["status"] == "cancelled" and last["batches"] == 1 and last["rows"] == 3, last
    assert [r["id"] for r in db.query("SELECT id FROM public.%s ORDER BY id" % name)] == [1, 2, 3]
    assert db.watermark(name, as_type="timestamptz") == tsval(3)
    result = db.run(name)
    assert result["status"] == "succeeded" and result["rows"] == 3
    assert db.count("public.%s" % name) == 6


def test_statement_timeout_of_the_caller_cancels_the_run(db, server):
    gate = held_run(db, server, "cst")
    caller = db.connect()
    caller.execute("SET statement_timeout = '2500ms'")
    t0 = time.monotonic()
    with pytest.raises(psycopg.errors.QueryCanceled, match="canceling statement due to statement timeout"):
        db.run("cst", conn=caller)
    took = time.monotonic() - t0
    assert gate.reached.is_set(), "the run timed out before batch 2 was in flight"
    assert 2.4 < took < 4.5, took
    assert_cancelled_and_resumable(db, "cst", gate)


def test_pg_cancel_backend_of_the_worker_cancels_the_run(db, server):
    gate = held_run(db, server, "cwk")
    run = db.run_in_thread("cwk")
    gate.wait_reached()
    assert wait_for(lambda: db.count("public.cwk") == 3, timeout=10)  # page 2 is asked for while batch 1 loads
    worker = db.one("SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_bulk_ingest run' AND datname = %s",
                    (db.name,))["pid"]
    assert db.scalar("SELECT pg_cancel_backend(%s)", (worker,)) is True
    # The caller hears of it as the run's failure: the worker cancelled it (rolled back, recorded).
    with pytest.raises(psycopg.errors.ExternalRoutineException) as e:
        run.wait(timeout=30)
    assert "canceling statement due to user request" in str(e.value), str(e.value)
    assert_cancelled_and_resumable(db, "cwk", gate)

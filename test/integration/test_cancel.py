"""Cancelling the caller of bulk_ingest_run cancels the run: the batch in flight leaves nothing."""

import psycopg
import pytest

from server import Fault, Gate
from testdata import ORDER_COLUMNS, orders, wait_for


def test_cancel_the_caller_cancels_the_run(db, server):
    gate = Gate()
    ds = server.add_dataset("cx", orders(range(1, 7)), page_size=3)
    ds.faults.append(Fault(page=2, gate=gate, gate_after=1))
    db.register("cx", server.url("/cx?since={high_watermark}"), "public.cx", ORDER_COLUMNS,
                high_watermark_column="updated_at")

    run = db.run_in_thread("cx")
    gate.wait_reached()
    db.execute("SELECT pg_cancel_backend(%s)", (run.pid,))
    with pytest.raises(psycopg.errors.QueryCanceled, match="canceling statement due to user request"):
        run.wait(timeout=30)
    gate.release()

    # The run is recorded as finished (the worker may take a moment after the caller returned).
    assert wait_for(lambda: db.last_run("cx")["status"] != "running", timeout=10)
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

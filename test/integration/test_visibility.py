"""Each batch is one transaction: another session sees none of a batch until it commits, then all of it."""

import time

import psycopg

from server import Fault, Gate
from testdata import ORDER_COLUMNS, orders, tsval, wait_for


def test_second_session_sees_whole_batches_only(db, server):
    # Page 1 (3 records) is batch 1; page 2 is held by the server after 2 of its 3 records.
    gate = Gate()
    ds = server.add_dataset("vis", orders(range(1, 7)), page_size=3)
    ds.faults.append(Fault(page=2, gate=gate, gate_after=2))
    db.register("vis", server.url("/vis?since={high_watermark}"), "public.vis", ORDER_COLUMNS,
                high_watermark_column="updated_at")

    run = db.run_in_thread("vis")
    gate.wait_reached()
    other = db.connect()

    # Batch 1 is committed (with its watermark and the run's counters); of batch 2, nothing is visible although
    # two of its records are already in the loading backend's hands.
    assert wait_for(lambda: db.count("public.vis", conn=other) == 3)
    time.sleep(0.5)
    assert db.count("public.vis", conn=other) == 3
    assert [r["id"] for r in db.query("SELECT id FROM public.vis ORDER BY id", conn=other)] == [1, 2, 3]
    assert db.watermark("vis", as_type="timestamptz") is not None
    in_flight = db.one("SELECT status, batches, rows FROM bulk_ingest.runs WHERE source = 'vis'", conn=other)
    assert in_flight["status"] == "running"
    assert in_flight["batches"] == 1 and in_flight["rows"] == 3

    gate.release()
    result = run.wait()
    assert result["status"] == "succeeded"
    assert result["batches"] == 2 and result["rows"] == 6
    # ... then all of it.
    assert [r["id"] for r in db.query("SELECT id FROM public.vis ORDER BY id", conn=other)] == [1, 2, 3, 4, 5, 6]


def test_batch_cut_inside_a_page_commits_on_its_own(db, server):
    # One page of 6 records cut into batches of 3 rows; the server holds the page after record 4.
    gate = Gate()
    ds = server.add_dataset("cut", orders(range(1, 7)), page_size=100)
    ds.faults.append(Fault(page=1, gate=gate, gate_after=4))
    db.register("cut", server.url("/cut"), "public.cut", ORDER_COLUMNS, options={"batch_rows": 3})

    run = db.run_in_thread("cut")
    gate.wait_reached()
    other = db.connect()
    assert wait_for(lambda: db.count("public.cut", conn=other) == 3)
    time.sleep(0.5)
    assert db.count("public.cut", conn=other) == 3

    gate.release()
    result = run.wait()
    assert result["status"] == "succeeded" and result["batches"] == 2
    assert db.count("public.cut", conn=other) == 6


def test_run_does_not_use_the_callers_transaction(db, server):
    # The caller's own transaction is not involved: the worker commits each batch, so another session sees the rows
    # while the caller's transaction is still open, and they stay when the caller rolls back.
    server.add_dataset("tx", orders(range(1, 4)))
    db.register("tx", server.url("/tx"), "public.tx", ORDER_COLUMNS, high_watermark_column="updated_at")
    caller = db.connect(autocommit=False)
    caller.execute("SELECT 1")  # BEGIN
    result = db.run("tx", conn=caller)
    assert result["status"] == "succeeded" and result["rows"] == 3
    assert caller.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
    other = db.connect()
    assert db.count("public.tx", conn=other) == 3
    assert db.watermark("tx", as_type="timestamptz") == tsval(3)
    assert db.one("SELECT status FROM bulk_ingest.runs WHERE source = 'tx'", conn=other)["status"] == "succeeded"
    caller.rollback()
    assert db.count("public.tx", conn=other) == 3
    assert db.watermark("tx", as_type="timestamptz") == tsval(3)
    assert [r["status"] for r in db.runs("tx")] == ["succeeded"]

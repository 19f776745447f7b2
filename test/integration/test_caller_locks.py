"""bulk_ingest_run called inside a transaction that holds a lock its run needs (issue 10).

The run's worker is another backend: when it waits for a lock held by the caller's transaction while the caller
waits for the worker, neither can ever go on, and PostgreSQL's deadlock detector cannot see it (the caller waits on a
latch, not on a lock). bulk_ingest_run sees the cycle, stops the run and fails with an error that says what to do;
the run is recorded as failed with the same reason, nothing of its batch is left, and the next run (outside the
transaction) loads everything."""

import time

import psycopg
import pytest

from testdata import ORDER_COLUMNS, orders


def register(db, server, name, **kw):
    return db.register(name, server.url("/%s?since={high_watermark}" % name), "public.%s" % name, ORDER_COLUMNS,
                       high_watermark_column="updated_at", options={"max_retries": 0}, **kw)


def run_in_transaction(db, source, before):
    """BEGIN; <before>; SELECT bulk_ingest_run(source): returns (error message, seconds it took)."""
    conn = db.connect(autocommit=False)
    conn.execute("SET statement_timeout = '20s'")
    for sql in before:
        conn.execute(sql)
    started = time.monotonic()
    with pytest.raises(psycopg.Error) as e:
        conn.execute("SELECT * FROM bulk_ingest_run(%s)", (source,))
    elapsed = time.monotonic() - started
    conn.rollback()
    return str(e.value), elapsed


def assert_cycle_reported(db, source, msg, elapsed):
    assert "statement timeout" not in msg, "the run waited for its own caller: %s" % msg
    assert elapsed < 10, elapsed
    assert "held by this transaction" in msg and "outside" in msg, msg
    run = db.last_run(source)
    deadline = time.monotonic() + 10
    while run["status"] == "running" and time.monotonic() < deadline:
        time.sleep(0.05)
        run = db.last_run(source)
    assert run["status"] == "failed" and "held by" in run["error"], run


def test_a_run_waiting_for_a_row_its_caller_wrote_fails_with_advice(db, server):
    # The target already has rows (no fast path); the caller inserted key 3 and not committed: the run's upsert of
    # key 3 waits for the caller's transaction.
    ds = server.add_dataset("cyc", orders(range(1, 3)), page_size=100)
    register(db, server, "cyc")
    assert db.run("cyc")["rows"] == 2
    ds.add(orders(range(3, 5)))
    msg, elapsed = run_in_transaction(db, "cyc", [
        "INSERT INTO public.cyc (id, customer) VALUES (3, 'from the caller')"])
    assert_cycle_reported(db, "cyc", msg, elapsed)
    assert db.count("public.cyc") == 2
    assert db.run("cyc")["rows"] == 2  # outside the transaction it goes through
    assert db.count("public.cyc") == 4


def test_a_run_waiting_for_a_table_its_caller_locked_fails_with_advice(db, server):
    server.add_dataset("cyclock", orders(range(1, 3)), page_size=100)
    register(db, server, "cyclock")
    assert db.run("cyclock")["rows"] == 2
    msg, elapsed = run_in_transaction(db, "cyclock", ["LOCK TABLE public.cyclock IN SHARE MODE"])
    assert_cycle_reported(db, "cyclock", msg, elapsed)


def test_a_swap_waiting_for_its_caller_fails_with_advice(db, server):
    # A migration rebuilds the table and swaps it in under ACCESS EXCLUSIVE, which the caller's lock blocks: the
    # swap retries its lock with short timeouts, and the cycle is still seen.
    ds = server.add_dataset("cycswap", orders(range(1, 3)), page_size=100)
    register(db, server, "cycswap")
    assert db.run("cycswap")["rows"] == 2
    db.execute("ALTER TABLE public.cycswap ADD COLUMN extra int")  # a difference from the declaration: rebuild
    ds.add(orders(range(3, 5)))  # (a run without rows migrates nothing)
    msg, elapsed = run_in_transaction(db, "cycswap", ["SELECT count(*) FROM public.cycswap"])
    assert_cycle_reported(db, "cycswap", msg, elapsed)
    assert db.scalar("SELECT count(*) FROM pg_attribute WHERE attrelid = 'public.cycswap'::regclass"
                     " AND attname = 'extra' AND NOT attisdropped") == 1  # the swap did not happen


def test_a_caller_holding_an_unrelated_lock_is_not_disturbed(db, server):
    server.add_dataset("nocyc", orders(range(1, 4)), page_size=100)
    register(db, server, "nocyc")
    db.execute("CREATE TABLE public.other (x int)")
    conn = db.connect(autocommit=False)
    conn.execute("LOCK TABLE public.other IN ACCESS EXCLUSIVE MODE")
    row = conn.execute("SELECT * FROM bulk_ingest_run('nocyc')").fetchone()
    conn.commit()
    assert row["status"] == "succeeded" and row["rows"] == 3

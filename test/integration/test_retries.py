"""Resilience of each request (issue 5): transient failures are retried with backoff, honouring Retry-After; others
fail at once; the attempts are kept in the run's record; a cancel interrupts the wait."""

import time

import psycopg
import pytest

from server import Fault, FixtureServer
from testdata import ORDER_COLUMNS, closed_port, orders, wait_for


def register(db, server, name, **options):
    return db.register(name, server.url("/%s?since={high_watermark}" % name), "public.%s" % name, ORDER_COLUMNS,
                       high_watermark_column="updated_at", options=options)


def test_503_then_success_is_retried_and_the_attempt_is_recorded(db, server):
    ds = server.add_dataset("r503", orders(range(1, 5)), page_size=2)
    ds.faults.append(Fault(page=2, status=503, body="busy\n", times=1))
    register(db, server, "r503")

    run = db.run("r503")
    assert run["status"] == "succeeded" and run["rows"] == 4 and run["batches"] == 2
    assert db.count("public.r503") == 4
    pages = [r.query.get("page") for r in server.requests_for("r503")]
    assert pages == [None, "2", "2"], pages  # page 2 asked twice, nothing else repeated
    assert run["attempts"] is not None and "503" in run["attempts"] and "page=2" in run["attempts"]


def test_429_retry_after_is_honoured(db, server):
    ds = server.add_dataset("r429", orders(range(1, 3)))
    ds.faults.append(Fault(status=429, body="slow down\n", times=1, headers={"Retry-After": "1"}))
    register(db, server, "r429")

    started = time.monotonic()
    run = db.run("r429")
    waited = time.monotonic() - started
    assert run["status"] == "succeeded" and run["rows"] == 2
    assert waited >= 0.95, "Retry-After: 1 was not honoured (%.2f s)" % waited
    assert "429" in run["attempts"]


def test_401_is_not_retried(db, server):
    ds = server.add_dataset("r401", orders(range(1, 3)))
    ds.faults.append(Fault(status=401, body="bad token\n"))
    register(db, server, "r401")

    msg, run = db.run_fails("r401")
    assert "401" in msg and run["status"] == "failed"
    assert len(server.requests_for("r401")) == 1  # asked once: a wrong token does not get better
    assert db.count("public.r401") == 0


def test_retries_are_bounded_by_max_retries(db, server):
    port = closed_port()
    db.register("rmax", "http://127.0.0.1:%d/x" % port, "public.rmax", ORDER_COLUMNS, options={"max_retries": 2})
    msg, run = db.run_fails("rmax")
    assert run["status"] == "failed"
    assert "refused" in msg.lower() or "connect" in msg.lower()
    lines = [l for l in (run["attempts"] or "").splitlines() if l.strip()]
    assert len(lines) == 3, run["attempts"]  # the first request and its 2 retries


@pytest.fixture
def held_server():
    """A fixture server of its own (another port): the Retry-After it sends holds its host:port for the runs of the
    whole server (issue 12's shared pacing), which must not delay later tests that use the shared one."""
    srv = FixtureServer().start()
    yield srv
    srv.stop()


def test_a_cancel_interrupts_the_wait_between_retries(bgdb, held_server):
    # In the launcher's database: its progress view shows the run waiting out Retry-After.
    server = held_server
    ds = server.add_dataset("rcancel", orders(range(1, 3)))
    ds.faults.append(Fault(status=503, body="busy\n", headers={"Retry-After": "30"}))
    register(bgdb, server, "rcancel")

    run = bgdb.run_in_thread("rcancel")
    assert wait_for(lambda: [p["phase"] for p in bgdb.progress("rcancel")] == ["waiting to retry"], timeout=10), \
        bgdb.progress("rcancel")
    assert len(server.requests_for("rcancel")) == 1
    asked = bgdb.scalar("SELECT clock_timestamp() FROM pg_cancel_backend(%s)", (run.pid,))
    with pytest.raises(psycopg.errors.QueryCanceled, match="canceling statement due to user request"):
        run.wait(timeout=10)
    row = bgdb.wait_run(bgdb.last_run("rcancel")["id"], timeout=10)
    assert row["status"] == "cancelled", row
    assert (row["finished_at"] - asked).total_seconds() < 1.0, "the cancel did not interrupt the wait"
    assert len(server.requests_for("rcancel")) == 1  # and it did not retry
    assert "503" in row["attempts"]


def test_a_body_cut_short_is_retried_from_the_start_of_the_page(db, server):
    ds = server.add_dataset("rcut", orders(range(1, 7)), page_size=3)
    ds.faults.append(Fault(page=2, close_after=2, times=1))
    register(db, server, "rcut", max_retries=2)

    run = db.run("rcut")
    assert run["status"] == "succeeded" and run["rows"] == 6 and run["batches"] == 2
    assert [r.query.get("page") for r in server.requests_for("rcut")] == [None, "2", "2"]
    assert db.count("public.rcut") == 6  # the broken attempt left nothing
    assert "page=2" in run["attempts"]


def test_a_page_with_committed_batches_is_not_read_twice(db, server):
    # Batches of 1 row: the first rows of page 1 are committed before the transfer breaks, so reading the page again
    # would load them twice (with appends): the run fails instead, keeping what committed.
    ds = server.add_dataset("rpart", orders(range(1, 5)), page_size=10)
    ds.faults.append(Fault(page=1, close_after=2, times=1))
    db.register("rpart", server.url("/rpart"), "public.rpart", ORDER_COLUMNS, upsert="off",
                high_watermark_column="updated_at", options={"batch_rows": 1, "max_retries": 3})
    msg, run = db.run_fails("rpart")
    assert run["status"] == "failed" and run["batches"] == 2
    assert db.count("public.rpart") == 2
    assert len(server.requests_for("rpart")) == 1

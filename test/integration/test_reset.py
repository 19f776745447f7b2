"""bulk_ingest_reset(source, high_watermark DEFAULT NULL) (issue 12): set or clear the stored watermark, and where a
run stopped, for a backfill; recorded in the run history; the owner's (like every function)."""

import psycopg
import pytest

from server import Fault, Gate
from testdata import ORDER_COLUMNS, orders, ts, tsval


def wm_source(db, server, name, records=6, **options):
    ds = server.add_dataset(name, orders(range(1, records + 1)), page_size=2)
    db.register(name, server.url("/%s?since={high_watermark}" % name), "public." + name, ORDER_COLUMNS,
                high_watermark_column="updated_at", options=options)
    return ds


def reset(db, source, value=None, conn=None):
    return db.one("SELECT * FROM bulk_ingest_reset(%s, %s)", (source, value), conn)


def test_reset_to_an_earlier_watermark_backfills_from_there_and_is_in_the_history(db, server):
    wm_source(db, server, "rs")
    db.run("rs")
    before = db.watermark("rs")
    row = reset(db, "rs", ts(2))
    assert row["trigger"] == "reset" and row["status"] == "succeeded"
    assert row["high_watermark_before"] == before
    assert row["high_watermark_after"] == "2024-01-01 12:00:00+00"        # PostgreSQL's value of it
    assert db.last_run("rs")["id"] == row["id"]
    server.clear_requests()
    run = db.run("rs")
    assert server.requests_for("rs")[0].query["since"] == ts(2)           # sent as it was written
    assert run["rows"] == 4
    assert db.watermark("rs", as_type="timestamptz") == tsval(6)


def test_reset_without_a_value_clears_the_watermark_and_a_kept_page(db, server):
    server.add_dataset("rc", orders(range(1, 7)), field=None, page_size=2)
    db.register("rc", server.url("/rc"), "public.rc", ORDER_COLUMNS, options={"max_pages": 1})
    db.run("rc")
    assert db.scalar("SELECT resume IS NOT NULL FROM bulk_ingest.watermarks WHERE source = 'rc'")
    row = reset(db, "rc")
    assert row["trigger"] == "reset" and row["high_watermark_after"] is None
    server.clear_requests()
    db.run("rc")
    assert server.requests_for("rc")[0].query.get("page") is None         # from the first page again

    wm_source(db, server, "rw")
    db.run("rw")
    reset(db, "rw")
    assert db.watermark("rw") is None
    server.clear_requests()
    assert db.run("rw")["rows"] == 6
    assert server.requests_for("rw")[0].query["since"] == ""


def test_a_value_the_column_cannot_hold_is_refused_and_changes_nothing(db, server):
    wm_source(db, server, "rb")
    db.run("rb")
    before = db.watermark("rb")
    runs = len(db.runs("rb"))
    with pytest.raises(psycopg.Error, match="timestamp with time zone"):
        reset(db, "rb", "yesterday-ish")
    assert db.watermark("rb") == before and len(db.runs("rb")) == runs
    with pytest.raises(psycopg.Error, match="does not exist"):
        reset(db, "no_such_source")
    with pytest.raises(psycopg.Error, match="NULL"):
        reset(db, None)


def test_only_the_owner_may_reset(db, server):
    wm_source(db, server, "ro")
    db.run("ro")
    other = db.create_role("reset_other")
    with pytest.raises(psycopg.Error, match="permission denied for source"):
        reset(db, "ro", None, conn=db.connect(user=other))
    assert db.watermark("ro") is not None


def test_a_running_source_is_not_reset(db, server):
    ds = wm_source(db, server, "rr")
    gate = Gate()
    ds.faults.append(Fault(page=1, gate=gate, gate_after=1))
    thread = db.run_in_thread("rr")
    gate.wait_reached()
    try:
        with pytest.raises(psycopg.Error, match="running"):
            reset(db, "rr", ts(1))
    finally:
        gate.release()
    thread.wait()
    assert db.watermark("rr", as_type="timestamptz") == tsval(6)

"""Failures: malformed JSON, HTTP errors, connection refused, a body cut short. A failed batch leaves nothing,
earlier batches stay, the run is recorded as failed, and the error names the URL, the batch and the line."""

import re

import psycopg
import pytest

from server import Fault
from testdata import ORDER_COLUMNS, closed_port, orders, tsval


def register(db, server, name, path=None, options=None, **kw):
    # No retries: these tests are about how a failure is reported (test_retries.py covers retrying).
    options = dict({"max_retries": 0}, **(options or {}))
    return db.register(name, server.url(path or "/%s?since={high_watermark}" % name), "public.%s" % name,
                       ORDER_COLUMNS, high_watermark_column="updated_at", options=options, **kw)


def assert_names(msg, *patterns):
    for p in patterns:
        assert re.search(p, msg), "%r not found in error: %s" % (p, msg)


def test_malformed_json_in_the_middle_of_a_page(db, server):
    # Pages of 3; the second record of page 2 (line 2 of batch 2) is not JSON.
    ds = server.add_dataset("mj", orders(range(1, 10)), page_size=3)
    ds.faults.append(Fault(page=2, malformed_record=1))
    register(db, server, "mj")

    msg, run = db.run_fails("mj")
    page2 = r"127\.0\.0\.1:%d/mj\?[^ )]*page=2" % server.port
    assert_names(msg, r"\bbatch 2\b", page2, r"\bline 2\b", r"(?i)json")
    # The run is recorded as failed with the same message.
    assert run["status"] == "failed"
    assert run["finished_at"] is not None
    assert_names(run["error"], r"\bbatch 2\b", page2, r"\bline 2\b")
    assert run["error"] in msg
    # Batch 1 stays, with its watermark; batch 2 left nothing (not even its valid first record); page 3 was never
    # asked for.
    assert [r["id"] for r in db.query("SELECT id FROM public.mj ORDER BY id")] == [1, 2, 3]
    assert run["batches"] == 1 and run["rows"] == 3
    assert db.watermark("mj", as_type="timestamptz") == tsval(3)
    assert [r.query.get("page") for r in server.requests_for("mj")] == [None, "2"]


def test_malformed_json_in_a_batch_cut_inside_a_page(db, server):
    # One page of 8, batches of 2 rows: record index 4 (line 5 of the page) is in batch 3.
    ds = server.add_dataset("mk", orders(range(1, 9)), page_size=100)
    ds.faults.append(Fault(page=1, malformed_record=4))
    register(db, server, "mk", options={"batch_rows": 2})

    msg, run = db.run_fails("mk")
    assert_names(msg, r"\bbatch 3\b", r"\bline 5\b", r"127\.0\.0\.1:%d/mk" % server.port)
    assert db.count("public.mk") == 4
    assert run["batches"] == 2
    assert db.watermark("mk", as_type="timestamptz") == tsval(4)


def test_malformed_first_line(db, server):
    ds = server.add_dataset("mf", orders(range(1, 4)))
    ds.faults.append(Fault(page=1, malformed_record=0))
    register(db, server, "mf")
    msg, run = db.run_fails("mf")
    assert_names(msg, r"\bbatch 1\b", r"\bline 1\b")
    assert db.count("public.mf") == 0
    assert db.watermark("mf") is None


def test_http_404(db, server):
    register(db, server, "gone", path="/no/such/dataset?since={high_watermark}")
    msg, run = db.run_fails("gone")
    assert_names(msg, r"\b404\b", r"127\.0\.0\.1:%d/no/such/dataset" % server.port)
    assert run["status"] == "failed" and run["rows"] == 0
    assert_names(run["error"], r"\b404\b")


def test_http_500_on_a_later_page_keeps_earlier_pages(db, server):
    ds = server.add_dataset("e500", orders(range(1, 7)), page_size=2)
    ds.faults.append(Fault(page=2, status=500, body="internal trouble\n"))
    register(db, server, "e500")
    msg, run = db.run_fails("e500")
    assert_names(msg, r"\b500\b", r"\bbatch 2\b", r"page=2")
    assert run["status"] == "failed" and run["batches"] == 1
    assert db.count("public.e500") == 2


def test_connection_refused(db, server):
    port = closed_port()
    db.register("refused", "http://127.0.0.1:%d/x?since={high_watermark}" % port, "public.refused", ORDER_COLUMNS,
                options={"max_retries": 0})
    msg, run = db.run_fails("refused")
    assert_names(msg, r"(?i)refused|connect", r"127\.0\.0\.1:%d" % port)
    assert run["status"] == "failed" and run["rows"] == 0 and run["batches"] == 0


def test_connection_closed_in_the_middle_of_a_body(db, server):
    ds = server.add_dataset("cut", orders(range(1, 7)), page_size=3)
    ds.faults.append(Fault(page=2, close_after=2))
    register(db, server, "cut")
    msg, run = db.run_fails("cut")
    assert_names(msg, r"\bbatch 2\b", r"127\.0\.0\.1:%d/cut" % server.port)
    assert run["status"] == "failed"
    assert db.count("public.cut") == 3  # the two records of page 2 that did arrive are not kept


def test_failed_run_raises_external_routine_exception_with_the_run_id(db, server):
    register(db, server, "gone2", path="/missing")
    with pytest.raises(psycopg.errors.ExternalRoutineException) as e:  # SQLSTATE 38000
        db.run("gone2")
    assert e.value.sqlstate == "38000"
    run = db.last_run("gone2")
    assert run["error"] in str(e.value)
    assert "run %d of source \"gone2\" failed" % run["id"] in str(e.value)


def test_a_failed_run_does_not_block_the_next(db, server):
    ds = server.add_dataset("again", orders(range(1, 4)))
    ds.faults.append(Fault(status=503, times=1))
    register(db, server, "again")
    msg, run = db.run_fails("again")
    assert "503" in msg
    assert db.run("again")["rows"] == 3
    assert [r["status"] for r in db.runs("again")] == ["failed", "succeeded"]


def test_a_broken_transfer_names_the_line_where_it_broke(db, server):
    # Today's finding: a transfer that broke off after complete lines had arrived was reported at "line 1". Page 1
    # is one batch of 5 records; the connection closes after 3 of them, so line 4 is where the body broke.
    ds = server.add_dataset("cutpos", orders(range(1, 6)), page_size=10)
    ds.faults.append(Fault(page=1, close_after=3))
    register(db, server, "cutpos")
    msg, run = db.run_fails("cutpos")
    assert_names(msg, r"\bbatch 1\b", r"\bline 4\b", r"127\.0\.0\.1:%d/cutpos" % server.port)
    assert not re.search(r"\bline 1\b", msg), msg
    assert re.search(r"after \d+ bytes", msg), msg
    assert db.count("public.cutpos") == 0

"""Requests sent ahead of their pages (issue 11, latency-bound APIs): the next page is requested while a page loads,
and options.concurrency sends several offset/page requests at once; rows, order, watermark, errors, cancel and
max_pages stay those of a run that asks for one page after the other."""

import psycopg
import pytest

from server import Fault, Gate
from testdata import ORDER_COLUMNS, orders, wait_for


def pages_asked(server, name, param="page"):
    return [r.query.get(param) for r in server.requests_for(name)]


def page_pagination(concurrency=None, limit=4, **extra):
    options = {"pagination": dict({"type": "page", "param": "page", "start": 1, "limit": limit}, **extra)}
    if concurrency is not None:
        options["concurrency"] = concurrency
    return options


def shuffled_orders():
    """40 records in 10 pages of 4 whose ids repeat across pages with other values: the last one of each id, in page
    order, must win. Not sorted by the server (field=None): page k holds records 4(k-1)..4k-1 as listed."""
    records = []
    for n in range(40):
        rec = orders([n % 13 + 1])[0]
        rec["amount"] = "%d.00" % n
        rec["updated_at"] = "2024-01-%02dT10:00:00Z" % (n % 28 + 1)
        records.append(rec)
    return records


def table_rows(db, table):
    return db.query("SELECT id, customer, amount::text, updated_at, details FROM %s ORDER BY id" % table)


def test_concurrent_pages_load_the_rows_and_watermark_of_a_serial_run(db, server):
    # Page 1 answers late (after the pages sent ahead of it): the rows still go in page order.
    for name in ("cc_serial", "cc_eight"):
        ds = server.add_dataset(name, shuffled_orders(), field=None, page_size=4, link="none")
        ds.faults.append(Fault(page=2, delay_headers=0.3))
    db.register("cc_serial", server.url("/cc_serial"), "public.cc_serial", ORDER_COLUMNS,
                high_watermark_column="updated_at", options=page_pagination())
    db.register("cc_eight", server.url("/cc_eight"), "public.cc_eight", ORDER_COLUMNS,
                high_watermark_column="updated_at", options=page_pagination(concurrency=8))
    serial, eight = db.run("cc_serial"), db.run("cc_eight")
    assert serial["status"] == eight["status"] == "succeeded"
    assert (serial["rows"], serial["batches"]) == (eight["rows"], eight["batches"]) == (40, 10)
    assert table_rows(db, "public.cc_serial") == table_rows(db, "public.cc_eight")
    # Last row wins in page order: id 1 was last sent as record 39 (amount 39.00).
    assert db.scalar("SELECT amount::text FROM public.cc_eight WHERE id = 1") == "39.00"
    assert db.watermark("cc_serial", as_type="timestamptz") == db.watermark("cc_eight", as_type="timestamptz")
    # The serial run asks for each page once; the concurrent one asked for the pages ahead too (and some past the
    # end, which it dropped unread).
    # (page 10 is full: page 11 is asked for, and found empty)
    assert pages_asked(server, "cc_serial") == [str(p) for p in range(1, 12)]
    asked = pages_asked(server, "cc_eight")
    assert set(str(p) for p in range(1, 12)) <= set(asked) and len(asked) == len(set(asked)), asked


def test_concurrency_sends_the_next_pages_while_one_is_awaited(db, server):
    gate = Gate()
    ds = server.add_dataset("cc_gate", orders(range(1, 41)), page_size=4, link="none")
    ds.faults.append(Fault(page=2, headers_gate=gate, times=1))
    db.register("cc_gate", server.url("/cc_gate"), "public.cc_gate", ORDER_COLUMNS,
                options=page_pagination(concurrency=8))
    run = db.run_in_thread("cc_gate")
    gate.wait_reached()
    # Page 2 is held before its headers; pages 3 to 8 were requested all the same (8 requests in flight).
    assert wait_for(lambda: {str(p) for p in range(3, 9)} <= set(pages_asked(server, "cc_gate")), timeout=10), \
        pages_asked(server, "cc_gate")
    assert "9" not in pages_asked(server, "cc_gate")
    gate.release()
    result = run.wait()
    assert result["status"] == "succeeded" and result["rows"] == 40
    assert db.count("public.cc_gate") == 40


def test_offset_concurrency_without_a_declared_limit_steps_by_the_page_size(db, server):
    server.add_dataset("cc_off", orders(range(1, 23)), page_size=5, link="none")
    db.register("cc_off", server.url("/cc_off"), "public.cc_off", ORDER_COLUMNS,
                options={"pagination": {"type": "offset", "param": "offset"}, "concurrency": 4})
    result = db.run("cc_off")
    assert result["status"] == "succeeded" and result["rows"] == 22
    assert db.count("public.cc_off") == 22
    offsets = pages_asked(server, "cc_off", "offset")
    # The serial run's requests (the short page at 20 moves the offset to 22, found empty), and the guesses ahead of
    # them, made with the size of the page before (5, then 2 after the short page), each asked for once.
    assert {"0", "5", "10", "15", "20", "22"} <= set(offsets), offsets
    assert {"25", "30"} <= set(offsets) and len(offsets) == len(set(offsets)), offsets


def test_a_transient_error_in_a_page_sent_ahead_is_retried_in_its_turn(db, server):
    ds = server.add_dataset("cc_retry", orders(range(1, 41)), page_size=4, link="none")
    ds.faults.append(Fault(page=5, status=503, times=1))
    db.register("cc_retry", server.url("/cc_retry"), "public.cc_retry", ORDER_COLUMNS,
                options=dict(page_pagination(concurrency=8), max_retries=2))
    result = db.run("cc_retry")
    assert result["status"] == "succeeded" and result["rows"] == 40
    assert pages_asked(server, "cc_retry").count("5") == 2
    attempts = db.scalar("SELECT attempts::text FROM bulk_ingest.runs WHERE source = 'cc_retry'")
    assert "503" in attempts and "page=5" in attempts, attempts


def test_a_failing_page_sent_ahead_fails_the_run_at_its_batch(db, server):
    ds = server.add_dataset("cc_fail", orders(range(1, 41)), page_size=4, link="none")
    ds.faults.append(Fault(page=5, status=404, body="no such page"))
    db.register("cc_fail", server.url("/cc_fail"), "public.cc_fail", ORDER_COLUMNS,
                high_watermark_column="updated_at", options=page_pagination(concurrency=8))
    message, last = db.run_fails("cc_fail")
    # The batches before it committed, the watermark is the fourth page's; the error names the batch and the URL.
    assert "batch 5" in message and "page=5" in message and "404" in message, message
    assert db.count("public.cc_fail") == 16
    assert db.scalar("SELECT max(updated_at) FROM public.cc_fail") == db.watermark("cc_fail", as_type="timestamptz")
    assert last["status"] == "failed" and last["batches"] == 4


def test_cancel_with_requests_in_flight(db, server):
    gate = Gate()
    ds = server.add_dataset("cc_cancel", orders(range(1, 41)), page_size=4, link="none")
    ds.faults.append(Fault(page=3, headers_gate=gate))
    db.register("cc_cancel", server.url("/cc_cancel"), "public.cc_cancel", ORDER_COLUMNS,
                high_watermark_column="updated_at", options=page_pagination(concurrency=8))
    run = db.run_in_thread("cc_cancel")
    gate.wait_reached()
    assert wait_for(lambda: db.count("public.cc_cancel") == 8, timeout=10)  # pages 1 and 2 committed
    db.execute("SELECT pg_cancel_backend(%s)", (run.pid,))
    with pytest.raises(psycopg.errors.QueryCanceled):
        run.wait(timeout=30)
    # The run stops while the server still holds page 3 (and the pages after it are in flight).
    assert wait_for(lambda: db.last_run("cc_cancel")["status"] != "running", timeout=5)
    gate.release()
    last = db.last_run("cc_cancel")
    assert last["status"] == "cancelled" and last["batches"] == 2
    assert db.count("public.cc_cancel") == 8
    # The next run goes on from the watermark.
    ds.faults.clear()
    assert db.run("cc_cancel")["status"] == "succeeded"
    assert db.count("public.cc_cancel") == 40


def test_max_pages_bounds_the_requests_sent_ahead_and_the_next_run_resumes(db, server):
    server.add_dataset("cc_max", orders(range(1, 41)), page_size=4, link="none")
    db.register("cc_max", server.url("/cc_max"), "public.cc_max", ORDER_COLUMNS,
                options=dict(page_pagination(concurrency=8), max_pages=3))
    first = db.run("cc_max")
    assert first["rows"] == 12 and "page=4" in (db.last_run("cc_max")["next_page"] or "")
    assert sorted(pages_asked(server, "cc_max")) == ["1", "2", "3"]  # nothing past max_pages, even ahead
    server.clear_requests()
    second = db.run("cc_max")
    assert second["rows"] == 12
    assert sorted(pages_asked(server, "cc_max")) == ["4", "5", "6"]
    assert db.count("public.cc_max") == 24


def test_concurrency_is_declared_for_offset_and_page_pagination_only(db, server):
    with pytest.raises(psycopg.Error, match=r'"concurrency" must be an integer from 1 to 16'):
        db.register("cc_bad", server.url("/x"), "public.cc_bad", ORDER_COLUMNS, options=page_pagination(17))
    with pytest.raises(psycopg.Error, match=r'"concurrency" must be an integer from 1 to 16'):
        db.register("cc_bad", server.url("/x"), "public.cc_bad", ORDER_COLUMNS, options=page_pagination(0))
    with pytest.raises(psycopg.Error, match=r'"concurrency" applies to "offset" and "page" pagination'):
        db.register("cc_bad", server.url("/x"), "public.cc_bad", ORDER_COLUMNS, options={"concurrency": 4})
    with pytest.raises(psycopg.Error, match=r'"concurrency" applies to "offset" and "page" pagination'):
        db.register("cc_bad", server.url("/x"), "public.cc_bad", ORDER_COLUMNS,
                    options={"concurrency": 2, "pagination": {"type": "cursor", "path": "/c", "param": "c"}},
                    format="json")
    db.register("cc_one", server.url("/x"), "public.cc_one", ORDER_COLUMNS, options={"concurrency": 1})


@pytest.mark.parametrize("style", ["link", "cursor"])
def test_the_next_page_is_requested_while_a_page_loads(db, server, style):
    # The table holds a row, so batches are merged into it; its trigger waits for an advisory lock the test holds,
    # so batch 1 cannot commit: page 2 is requested meanwhile, once page 1 has been read.
    name = "ahead_" + style
    server.add_dataset(name, orders(range(1, 10)), page_size=3)
    db.execute("CREATE TABLE public.%s (id bigint PRIMARY KEY, customer text NOT NULL, amount numeric(12,2), "
               "updated_at timestamptz, details jsonb)" % name)
    db.execute("INSERT INTO public.%s VALUES (0, 'before', 0, now(), NULL)" % name)
    db.execute("CREATE FUNCTION public.%s_wait() RETURNS trigger LANGUAGE plpgsql AS "
               "$$BEGIN PERFORM pg_advisory_xact_lock_shared(4242); RETURN NEW; END$$" % name)
    db.execute("CREATE TRIGGER wait BEFORE INSERT ON public.%s FOR EACH ROW EXECUTE FUNCTION public.%s_wait()"
               % (name, name))
    if style == "link":
        db.register(name, server.url("/" + name), "public." + name, ORDER_COLUMNS)
        asked = lambda: [r.query.get("page") for r in server.requests_for(name)]  # noqa: E731
        second = "2"
    else:
        db.register(name, server.url("/api/" + name), "public." + name, ORDER_COLUMNS, format="json",
                    options={"records_path": "/data", "pagination": {"type": "cursor", "path": "/next_cursor",
                                                                     "param": "cursor"}})
        asked = lambda: [r.query.get("cursor") for r in server.requests if r.path == "/api/" + name]  # noqa: E731
        second = "c3"
    locker = db.connect()
    locker.execute("SELECT pg_advisory_lock(4242)")
    try:
        run = db.run_in_thread(name)
        assert wait_for(lambda: second in asked(), timeout=10), asked()
        assert db.count("public." + name) == 1  # batch 1 has not committed: its trigger waits
    finally:
        locker.execute("SELECT pg_advisory_unlock(4242)")
        locker.close()
    result = run.wait()
    assert result["status"] == "succeeded" and result["rows"] == 9 and result["batches"] == 3
    assert db.count("public." + name) == 10

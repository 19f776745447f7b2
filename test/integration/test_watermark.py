"""The high watermark: stored between runs, passed URL-encoded in the URL, committed with each batch.

{high_watermark} is sent in the source's own form (the text of the record that holds the maximum); the stored value
is PostgreSQL's (compared in the column's type), which {high_watermark:pg} sends."""

from urllib.parse import quote

from server import Fault
from testdata import ORDER_COLUMNS, orders, ts, tsval


def register(db, server, name, **kw):
    return db.register(name, server.url("/%s?since={high_watermark}" % name), "public.%s" % name, ORDER_COLUMNS,
                       high_watermark_column="updated_at", **kw)


def sinces(server, name):
    return [r.query.get("since") for r in server.requests_for(name)]


def test_watermark_survives_between_runs_and_is_passed_in_the_url(db, server):
    ds = server.add_dataset("wm", orders(range(1, 6)), page_size=2)
    register(db, server, "wm")

    first = db.run("wm")
    assert first["status"] == "succeeded"
    assert first["rows"] == 5 and first["batches"] == 3
    assert first["high_watermark_before"] in (None, "")
    # The first run had no watermark: {high_watermark} became the empty string.
    assert sinces(server, "wm")[0] == ""
    stored = db.watermark("wm")
    assert stored is not None
    assert db.watermark("wm", as_type="timestamptz") == tsval(5)
    assert first["high_watermark_after"] == stored

    # Nothing new: the second run asks for what is after the stored value, gets nothing, keeps the watermark.
    server.clear_requests()
    second = db.run("wm")
    assert second["status"] == "succeeded" and second["rows"] == 0
    assert second["high_watermark_before"] == stored
    requests = server.requests_for("wm")
    assert requests[0].query["since"] == ts(5)  # as the source wrote the newest record's updated_at
    assert db.watermark("wm") == stored

    # PostgreSQL's form, URL-encoded: the decoded value is exact (a "+" of "+00" sent raw would arrive as a blank),
    # and the raw request target carries no blank.
    db.register("wm", server.url("/wm?since={high_watermark:pg}"), "public.wm", ORDER_COLUMNS,
                high_watermark_column="updated_at")
    server.clear_requests()
    db.run("wm")
    requests = server.requests_for("wm")
    assert requests[0].query["since"] == stored
    assert " " not in requests[0].target
    assert "+" in stored and quote("+", safe="") in requests[0].target

    # New records at the source: only they are fetched, and the watermark moves to the newest.
    ds.add(orders(range(6, 9)))
    server.clear_requests()
    third = db.run("wm")
    assert third["rows"] == 3
    assert sinces(server, "wm")[0] == stored
    assert db.watermark("wm", as_type="timestamptz") == tsval(8)
    assert db.scalar("SELECT source_value FROM bulk_ingest.watermarks WHERE source = 'wm'") == ts(8)
    assert db.count("public.wm") == 8

    # The watermark survives a new session and is readable by everyone.
    other = db.connect()
    assert db.watermark("wm", as_type="timestamptz") == tsval(8)
    assert db.scalar("SELECT count(*) FROM bulk_ingest.watermarks WHERE source = 'wm'", conn=other) == 1


def test_watermark_stays_at_last_committed_batch_when_a_later_batch_fails(db, server):
    ds = server.add_dataset("wf", orders(range(1, 7)), page_size=2)
    ds.faults.append(Fault(page=3, status=500, body="upstream exploded\n"))
    register(db, server, "wf", options={"max_retries": 0})

    msg, run = db.run_fails("wf")
    assert "500" in msg
    assert run["status"] == "failed"
    assert run["batches"] == 2 and run["rows"] == 4
    assert db.count("public.wf") == 4
    assert db.watermark("wf", as_type="timestamptz") == tsval(4)
    assert run["high_watermark_after"] == db.watermark("wf")

    # The next run resumes after the last committed batch.
    ds.faults.clear()
    server.clear_requests()
    result = db.run("wf")
    assert result["rows"] == 2
    assert server.requests_for("wf")[0].query["since"] == ts(4)  # the last committed batch's maximum, as written
    assert db.count("public.wf") == 6
    assert db.watermark("wf", as_type="timestamptz") == tsval(6)


def test_earliest_ignores_the_stored_watermark(db, server):
    server.add_dataset("we", orders(range(1, 5)), page_size=10)
    register(db, server, "we")
    db.run("we")
    stored = db.watermark("we")

    server.clear_requests()
    result = db.run("we", "__EARLIEST__")
    assert server.requests_for("we")[0].query["since"] == ""
    assert result["rows"] == 4
    assert db.count("public.we") == 4              # upserted, not duplicated
    assert db.watermark("we") == stored            # the watermark only grows


def test_explicit_watermark_overrides_for_this_run(db, server):
    server.add_dataset("wx", orders(range(1, 7)), page_size=10)
    register(db, server, "wx")

    explicit = "2024-01-01T13:00:00Z"  # = ts(3)
    result = db.run("wx", explicit)
    assert server.requests_for("wx")[0].query["since"] == explicit
    assert result["rows"] == 3
    assert [r["id"] for r in db.query("SELECT id FROM public.wx ORDER BY id")] == [4, 5, 6]
    assert db.watermark("wx", as_type="timestamptz") == tsval(6)

    # An explicit value below the stored watermark fetches again but does not move the watermark back.
    server.clear_requests()
    db.run("wx", "2024-01-01T11:00:00Z")
    assert server.requests_for("wx")[0].query["since"] == "2024-01-01T11:00:00Z"
    assert db.count("public.wx") == 5
    assert db.watermark("wx", as_type="timestamptz") == tsval(6)

    # A later __LATEST__ run starts from the stored one again.
    server.clear_requests()
    assert db.run("wx")["rows"] == 0
    assert server.requests_for("wx")[0].query["since"] == ts(6)


def test_numeric_watermark_and_special_characters_are_url_encoded(db, server):
    records = [{"seq": i, "name": "n%d" % i} for i in range(1, 6)]
    server.add_dataset("wn", records, field="seq", page_size=2)
    db.register("wn", server.url("/wn?since={high_watermark}&x=1"), "public.wn",
                [{"name": "seq", "type": "bigint", "primary_key": True}, {"name": "name", "type": "text"}],
                high_watermark_column="seq")
    db.run("wn")
    assert db.watermark("wn") == "5"
    server.clear_requests()
    server.dataset("wn").add([{"seq": 6, "name": "n6"}])
    assert db.run("wn")["rows"] == 1
    assert server.requests_for("wn")[0].query == {"since": "5", "x": "1"}

    # An explicit value full of URL-special characters arrives intact.
    server.clear_requests()
    weird = "a b&c=d/e?f#g+h%i"
    db.run("wn", weird)
    req = server.requests_for("wn")[0]
    assert req.query["since"] == weird
    assert req.query["x"] == "1"

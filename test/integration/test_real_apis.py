"""What sources of real APIs need (issue 12): a lag for late records, windows with a start and an end, the paging
styles of JSON APIs (has_more, totals, cursors in headers, initial cursors, loops), statuses that end the data, and
POST requests with a JSON body. The fixture's JSON API (/api/<dataset>, test/fixtures/server.py) plays the API."""

import datetime
import json

import psycopg
import pytest

from server import Fault
from testdata import ORDER_COLUMNS, orders, ts

UTC = datetime.timezone.utc
API_COLUMNS = [{"name": "id", "type": "bigint", "primary_key": True}, {"name": "ts", "type": "timestamptz"}]


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def api(server, name):
    return [r for r in server.requests if r.path == "/api/" + name]


# ---- options.lag ----------------------------------------------------------------------------------------------------

def test_lag_asks_again_for_the_late_records_and_keeps_the_true_maximum(db, server):
    ds = server.add_dataset("lag", orders(range(1, 6)), page_size=100)
    db.register("lag", server.url("/lag?since={high_watermark}"), "public.lag", ORDER_COLUMNS,
                high_watermark_column="updated_at", options={"lag": "2 hours"})
    assert db.run("lag")["rows"] == 5
    # A record that arrives late, with a time before the watermark.
    ds.add([dict(orders([4])[0], customer="late", id=40)])
    ds.records[-1]["updated_at"] = "2024-01-01T14:30:00Z"  # ts(4) + 30 minutes < the maximum ts(5)
    server.clear_requests()
    run = db.run("lag")
    assert server.requests_for("lag")[0].query["since"] == ts(3)  # ts(5) minus 2 hours, in the source's form
    assert run["rows"] == 3                                        # 4, the late 40, and 5 again (upserted)
    assert db.count("public.lag") == 6
    assert db.scalar("SELECT customer FROM public.lag WHERE id = 40") == "late"
    assert db.watermark("lag") == "2024-01-01 15:00:00+00"         # still the true maximum


def test_a_numeric_lag(db, server):
    server.add_dataset("lagn", [{"seq": i} for i in range(1, 11)], field="seq")
    db.register("lagn", server.url("/lagn?since={high_watermark}"), "public.lagn",
                [{"name": "seq", "type": "bigint", "primary_key": True}], high_watermark_column="seq",
                options={"lag": 3})
    db.run("lagn")
    server.clear_requests()
    assert db.run("lagn")["rows"] == 3
    assert server.requests_for("lagn")[0].query["since"] == "7"
    assert db.watermark("lagn") == "10"


@pytest.mark.parametrize("column_type, lag, message", [
    ("timestamptz", 5, "interval"),
    ("bigint", "1 hour", "number"),
    ("text", "1 hour", "timestamp or numeric"),
])
def test_a_lag_that_does_not_fit_the_column_is_refused(db, server, column_type, lag, message):
    with pytest.raises(psycopg.Error, match=message):
        db.register("lagx", server.url("/x"), "public.lagx", [{"name": "w", "type": column_type}],
                    high_watermark_column="w", options={"lag": lag})
    with pytest.raises(psycopg.Error, match="high_watermark_column"):
        db.register("lagy", server.url("/x"), "public.lagy", [{"name": "w", "type": column_type}],
                    options={"lag": lag})


# ---- options.window ------------------------------------------------------------------------------------------------

def hourly_records(start, hours):
    return [{"id": h, "ts": iso(start + datetime.timedelta(hours=h))} for h in range(1, hours)]


def window_source(db, server, name, start, **options):
    options = dict({"window": {"step": "1 day", "start": iso(start)}, "max_retries": 0}, **options)
    db.register(name, server.url("/api/%s?from={window_start}&to={window_end}" % name), "public." + name,
                API_COLUMNS, format="json", options=dict(options, records_path="/data"))


def test_windows_cover_the_time_up_to_now_one_after_another(db, server):
    now = datetime.datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = now - datetime.timedelta(hours=72)
    server.add_dataset("win", hourly_records(start, 72), field="ts", page_size=1000)
    window_source(db, server, "win", start)
    run = db.run("win")
    asked = [(r.query["from"], r.query["to"]) for r in api(server, "win")]
    assert [a[0] for a in asked[:4]] == [iso(start + datetime.timedelta(days=d)) for d in range(4)]
    assert all(asked[i][1] == asked[i + 1][0] for i in range(len(asked) - 1))   # contiguous
    assert asked[2][1] == iso(now)
    assert run["rows"] == 71 and db.count("public.win") == 71
    # The next run starts where the last window ended.
    last_end = asked[-1][1]
    server.clear_requests()
    db.run("win")
    assert api(server, "win")[0].query["from"] == last_end


def test_a_failed_window_resumes_with_that_window(db, server):
    now = datetime.datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = now - datetime.timedelta(hours=72)
    ds = server.add_dataset("winf", hourly_records(start, 72), field="ts", page_size=1000)
    third = iso(start + datetime.timedelta(days=2))
    ds.faults.append(Fault(page=third, status=500))
    window_source(db, server, "winf", start)
    msg, run = db.run_fails("winf")
    assert "500" in msg
    assert run["rows"] == 47 and db.count("public.winf") == 47  # the first two windows are committed
    ds.faults.clear()
    server.clear_requests()
    run = db.run("winf")
    assert api(server, "winf")[0].query["from"] == third
    assert db.count("public.winf") == 71


def test_window_placeholders_need_a_window(db, server):
    with pytest.raises(psycopg.Error, match="options.window"):
        db.register("nowin", server.url("/x?from={window_start}"), "public.nowin", API_COLUMNS)
    with pytest.raises(psycopg.Error, match="step"):
        db.register("badwin", server.url("/x?from={window_start}"), "public.badwin", API_COLUMNS,
                    options={"window": {"step": "-1 day", "start": "2024-01-01"}})
    with pytest.raises(psycopg.Error, match="start"):
        db.register("nostart", server.url("/x?from={window_start}"), "public.nostart", API_COLUMNS,
                    options={"window": {"step": "1 day"}})


# ---- pagination of JSON APIs ----------------------------------------------------------------------------------------

def json_source(db, server, name, pagination, records=7, page_size=3, **options):
    server.add_dataset(name, [{"id": i, "ts": ts(i)} for i in range(1, records + 1)], field="ts",
                       page_size=page_size)
    db.register(name, server.url("/api/" + name), "public." + name, API_COLUMNS, format="json",
                options=dict({"records_path": "/data", "pagination": pagination, "max_retries": 0}, **options))


def test_has_more_path_ends_the_data(db, server):
    json_source(db, server, "hm", {"type": "page", "param": "page", "has_more_path": "/has_more"})
    assert db.run("hm")["rows"] == 7
    assert [r.query["page"] for r in api(server, "hm")] == ["1", "2", "3"]  # no request for an empty page 4


def test_total_path_and_total_pages_path_end_the_data(db, server):
    json_source(db, server, "tot", {"type": "offset", "param": "offset", "limit_param": "limit", "limit": 3,
                                    "total_path": "/total"}, records=6)
    assert db.run("tot")["rows"] == 6
    assert [r.query["offset"] for r in api(server, "tot")] == ["0", "3"]
    json_source(db, server, "totp", {"type": "page", "param": "page", "total_pages_path": "/pages"})
    assert db.run("totp")["rows"] == 7
    assert [r.query["page"] for r in api(server, "totp")] == ["1", "2", "3"]


def test_a_cursor_from_a_response_header_with_an_initial_value(db, server):
    json_source(db, server, "hc", {"type": "cursor", "header": "X-Next-Cursor", "param": "cursor", "initial": "0"})
    assert db.run("hc")["rows"] == 7
    assert [r.query["cursor"] for r in api(server, "hc")] == ["0", "c3", "c6"]


def test_a_repeating_cursor_fails_the_run(db, server):
    json_source(db, server, "loop", {"type": "cursor", "path": "/next_cursor", "param": "cursor"})
    server.dataset("loop").loop_cursor = True
    msg, run = db.run_fails("loop")
    assert "c3" in msg and "loops" in msg, msg
    assert len(api(server, "loop")) == 2   # page 1 gives c3, and the page at c3 gives c3 again: no third request


def test_on_status_end_makes_the_last_page_s_404_the_end_of_the_data(db, server):
    json_source(db, server, "st404", {"type": "page", "param": "page"}, records=6)
    server.dataset("st404").end_status = 404
    msg, _ = db.run_fails("st404")
    assert "404" in msg
    db.register("st404", server.url("/api/st404"), "public.st404", API_COLUMNS, format="json",
                options={"records_path": "/data", "pagination": {"type": "page", "param": "page"},
                         "on_status": {"404": "end"}})
    run = db.run("st404")
    assert run["status"] == "succeeded" and run["rows"] == 6
    with pytest.raises(psycopg.Error, match="on_status"):
        db.register("stbad", server.url("/x"), "public.stbad", API_COLUMNS, options={"on_status": {"404": "maybe"}})
    with pytest.raises(psycopg.Error, match="on_status"):
        db.register("stbad", server.url("/x"), "public.stbad", API_COLUMNS, options={"on_status": {"200": "end"}})


# ---- POST with a JSON body -------------------------------------------------------------------------------------------

def test_post_with_a_body_template_and_the_cursor_in_the_body(db, server):
    epoch0 = 1704067200
    server.add_dataset("post", [{"id": i, "ts": epoch0 + i} for i in range(1, 6)], field="ts", page_size=2)
    db.register("post", server.url("/api/post"), "public.post",
                [{"name": "id", "type": "bigint", "primary_key": True},
                 {"name": "ts", "type": "timestamptz", "format": "epoch"}],
                format="json", high_watermark_column="ts",
                options={"records_path": "/data", "method": "POST",
                         "body": {"since": "{high_watermark}", "filter": {"note": "after {high_watermark:date}"}},
                         "pagination": {"type": "cursor", "path": "/next_cursor", "param": "cursor", "in": "body"}})
    assert db.run("post")["rows"] == 5
    bodies = [json.loads(r.body) for r in api(server, "post")]
    assert [r.method for r in api(server, "post")] == ["POST"] * 3
    assert bodies[0] == {"since": None, "filter": {"note": "after "}}
    assert bodies[1] == {"since": None, "filter": {"note": "after "}, "cursor": "c2"}
    assert api(server, "post")[0].headers.get("Content-Type") == "application/json"

    server.dataset("post").add([{"id": 6, "ts": epoch0 + 6}])
    server.clear_requests()
    assert db.run("post")["rows"] == 1
    first = json.loads(api(server, "post")[0].body)
    assert first == {"since": epoch0 + 5, "filter": {"note": "after 2024-01-01"}}  # a number: epoch stays epoch


def test_request_options_are_checked_at_registration(db, server):
    for options, message in [
        ({"method": "DELETE"}, "method"),
        ({"method": "GET", "body": {"a": 1}}, "body"),
        ({"body": "not an object {"}, "body"),
        ({"pagination": {"type": "page", "param": "page", "in": "body"}}, "POST"),
        ({"method": "POST", "body": {"s": "{high_watermark:epoc}"}}, "epoc"),
    ]:
        with pytest.raises(psycopg.Error, match=message):
            db.register("req", server.url("/x"), "public.req", API_COLUMNS, format="json", options=options)


def test_max_pages_inside_a_window_continues_with_that_window_s_next_page(db, server):
    now = datetime.datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = now - datetime.timedelta(hours=48)
    server.add_dataset("winp", hourly_records(start, 48), field="ts", page_size=10)
    window_source(db, server, "winp", start, max_pages=2,
                  pagination={"type": "page", "param": "page", "has_more_path": "/has_more"})
    first = db.run("winp")
    assert first["rows"] == 20 and "page=3" in first["next_page"]
    server.clear_requests()
    second = db.run("winp")
    asked = [(r.query["from"], r.query.get("page")) for r in api(server, "winp")]
    # The rest of the first window (23 records: pages 3), then the second window from its first page.
    assert asked[0] == (iso(start), "3"), asked
    assert asked[1] == (iso(start + datetime.timedelta(days=1)), "1"), asked
    assert second["rows"] == 3 + 10
    while db.last_run("winp")["next_page"] is not None:
        db.run("winp")
    assert db.count("public.winp") == 47

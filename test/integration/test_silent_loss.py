"""Issue 12's findings: setups in which runs reported `succeeded` while data was lost, and the two "also"s.

1. a header watermark (ETag, Last-Modified) on a paginated source: only the first page was compared;
2. the watermark sent in PostgreSQL's text form whatever the API speaks (epoch seconds, ISO 8601 strings);
3. max_pages truncating silently, every run loading the same first pages;
also: the README's example failing when pasted (its schema did not exist, yet registration accepted it), and a real
CSV file whose rows have fewer fields than its header (/usr/share/distro-info/debian.csv) that could not be loaded.
"""

import json
import os

import psycopg
import pytest

from testdata import ORDER_COLUMNS, orders

ITEM_COLUMNS = [{"name": "id", "type": "bigint", "primary_key": True}, {"name": "v", "type": "text"}]


def ndjson(records):
    return "".join(json.dumps(r) + "\n" for r in records)


# ---- 1. header watermarks and pagination --------------------------------------------------------------------------

@pytest.mark.parametrize("pagination", [
    {"type": "link_header"},
    {"type": "page", "param": "page"},
    {"type": "offset", "param": "offset", "limit_param": "limit", "limit": 10},
])
def test_a_header_watermark_with_declared_pagination_is_refused_at_registration(db, server, pagination):
    with pytest.raises(psycopg.Error, match=r"high_watermark_path.*pagination|pagination.*high_watermark_path") as e:
        db.register("hwp", server.url("/hwp"), "public.hwp", ITEM_COLUMNS,
                    options={"high_watermark_path": "header:ETag", "pagination": pagination})
    assert "first page" in str(e.value)
    assert db.scalar("SELECT count(*) FROM bulk_ingest.sources") == 0


def test_a_header_watermark_with_max_pages_is_refused_at_registration(db, server):
    with pytest.raises(psycopg.Error, match="max_pages"):
        db.register("hwm", server.url("/hwm"), "public.hwm", ITEM_COLUMNS,
                    options={"high_watermark_path": "header:Last-Modified", "max_pages": 3})


def test_a_header_watermark_source_that_turns_out_to_paginate_fails_and_stores_nothing(db, server):
    """The finding: ETag + Link-header paging. A record added on page 2 must never be hidden by page 1's 304."""
    server.add_route("/hp", ndjson([{"id": 1, "v": "a"}]),
                     headers={"ETag": '"p1v1"', "Link": '<%s>; rel="next"' % server.url("/hp?page=2")})
    server.add_route("/hp?page=2", ndjson([{"id": 2, "v": "b"}]), headers={"ETag": '"p2v1"'})
    db.register("hp", server.url("/hp"), "public.hp", ITEM_COLUMNS, options={"high_watermark_path": "header:ETag"})

    msg, run = db.run_fails("hp")
    assert run["status"] == "failed"
    assert "next page" in msg and "high_watermark_path" in msg, msg
    assert run["rows"] == 0 and run["batches"] == 0
    assert db.watermark("hp") is None                      # never a watermark that would answer 304 for ever
    assert [r.target for r in server.requests_for("hp")] == ["/hp"]  # page 2 was not fetched either


def test_a_header_watermark_on_a_single_document_still_works(db, server):
    server.add_route("/hs", ndjson([{"id": 1, "v": "a"}]), headers={"ETag": '"v1"'})
    db.register("hs", server.url("/hs"), "public.hs", ITEM_COLUMNS, options={"high_watermark_path": "header:ETag"})
    assert db.run("hs")["status"] == "succeeded"
    assert db.run("hs")["status"] == "unchanged"


# ---- 2. the watermark in the source's own form --------------------------------------------------------------------

EPOCH0 = 1704067200  # 2024-01-01T00:00:00Z


def test_an_epoch_column_sends_its_watermark_as_epoch_seconds(db, server):
    ds = server.add_dataset("ep", [{"id": i, "ts": EPOCH0 + i} for i in range(1, 13)], field="ts", page_size=5)
    db.register("ep", server.url("/ep?since={high_watermark}"), "public.ep",
                [{"name": "id", "type": "bigint", "primary_key": True},
                 {"name": "ts", "type": "timestamptz", "format": "epoch"}],
                high_watermark_column="ts")
    assert db.run("ep")["rows"] == 12
    assert db.scalar("SELECT max(ts) FROM public.ep") == db.scalar("SELECT to_timestamp(%s)", (EPOCH0 + 12,))

    ds.add([{"id": 13, "ts": EPOCH0 + 13}])
    server.clear_requests()
    run = db.run("ep")
    assert server.requests_for("ep")[0].query["since"] == str(EPOCH0 + 12)  # epoch stays epoch
    assert run["rows"] == 1                                                  # the new record is fetched
    assert db.count("public.ep") == 13
    assert db.watermark("ep", as_type="timestamptz") == db.scalar("SELECT to_timestamp(%s)", (EPOCH0 + 13,))


def test_an_api_comparing_iso_strings_gets_the_watermark_as_its_records_wrote_it(db, server):
    records = [{"id": i, "updated_at": "2024-01-01T00:00:%02d+00:00" % i} for i in range(1, 13)]
    ds = server.add_dataset("iso", records, field="updated_at", page_size=5, compare="string")
    db.register("iso", server.url("/iso?since={high_watermark}"), "public.iso",
                [{"name": "id", "type": "bigint", "primary_key": True}, {"name": "updated_at", "type": "timestamptz"}],
                high_watermark_column="updated_at")
    assert db.run("iso")["rows"] == 12

    server.clear_requests()
    second = db.run("iso")
    assert server.requests_for("iso")[0].query["since"] == "2024-01-01T00:00:12+00:00"
    assert second["rows"] == 0                                   # nothing is sent again
    ds.add([{"id": 13, "updated_at": "2024-01-01T00:00:13+00:00"}])
    assert db.run("iso")["rows"] == 1
    # The stored watermark is still PostgreSQL's value, compared in the column's type.
    assert db.watermark("iso") == "2024-01-01 00:00:13+00"


def test_explicit_forms_in_the_url(db, server):
    ds = server.add_dataset("forms", [{"id": 1, "updated_at": "2024-03-05T06:07:08.5Z"}], field=None)
    url = server.url("/forms?s={high_watermark}&iso={high_watermark:iso8601}&e={high_watermark:epoch}"
                     "&ms={high_watermark:epoch_ms}&d={high_watermark:date}&pg={high_watermark:pg}")
    db.register("forms", url, "public.forms",
                [{"name": "id", "type": "bigint", "primary_key": True}, {"name": "updated_at", "type": "timestamptz"}],
                high_watermark_column="updated_at")
    db.run("forms")
    assert server.requests_for("forms")[0].query == {"s": "", "iso": "", "e": "", "ms": "", "d": "", "pg": ""}
    server.clear_requests()
    db.run("forms")
    assert server.requests_for("forms")[0].query == {
        "s": "2024-03-05T06:07:08.5Z", "iso": "2024-03-05T06:07:08.5Z", "e": "1709618828.5", "ms": "1709618828500",
        "d": "2024-03-05", "pg": "2024-03-05 06:07:08.5+00"}
    assert ds.records  # (the dataset is served unfiltered)


# ---- 3. max_pages -------------------------------------------------------------------------------------------------

def test_max_pages_says_so_and_the_next_run_resumes_where_it_stopped(db, server):
    server.add_dataset("mp", orders(range(1, 11)), field=None, page_size=2)
    db.register("mp", server.url("/mp"), "public.mp", ORDER_COLUMNS, options={"max_pages": 2})

    notices = []
    db.conn.add_notice_handler(lambda d: notices.append(d.message_primary))
    first = db.run("mp")
    assert first["status"] == "succeeded" and first["rows"] == 4
    assert first["next_page"] is not None and "page=3" in first["next_page"]   # says so, in the run's row
    assert db.last_run("mp")["next_page"] == first["next_page"]
    assert any("max_pages" in n and "page=3" in n for n in notices), notices

    server.clear_requests()
    second = db.run("mp")
    assert [r.query.get("page") for r in server.requests_for("mp")] == ["3", "4"]   # resumed where it stopped
    assert second["rows"] == 4 and "page=5" in second["next_page"]
    third = db.run("mp")
    assert third["rows"] == 2 and third["next_page"] is None                        # the end of the data
    assert db.count("public.mp") == 10

    server.clear_requests()
    db.run("mp")
    assert server.requests_for("mp")[0].query.get("page") is None                   # then it starts over


# ---- also: the README's example, and a CSV with short rows ---------------------------------------------------------

def test_registration_refuses_a_target_in_a_schema_that_does_not_exist(db, server):
    with pytest.raises(psycopg.Error) as e:
        db.register("orders", server.url("/orders"), "shop.orders", ORDER_COLUMNS)
    assert 'schema "shop" does not exist' in str(e.value)
    assert "CREATE SCHEMA" in str(e.value)  # the hint says what to do
    db.execute("CREATE SCHEMA shop")
    db.register("orders", server.url("/orders"), "shop.orders", ORDER_COLUMNS)


DEBIAN_CSV = "/usr/share/distro-info/debian.csv"
DEBIAN_COLUMNS = [
    {"name": "version", "type": "text"},
    {"name": "codename", "type": "text"},
    {"name": "series", "type": "text", "primary_key": True},
    {"name": "created", "type": "date"},
    {"name": "release", "type": "date"},
    {"name": "eol", "type": "date"},
    {"name": "eol_lts", "type": "date", "path": "/eol-lts"},
    {"name": "eol_elts", "type": "date", "path": "/eol-elts"},
]


@pytest.mark.skipif(not os.path.exists(DEBIAN_CSV), reason="package distro-info-data is not installed "
                                                          "(scripts/install-deps.sh installs it)")
def test_debian_release_csv_with_short_rows_loads_with_missing_fields_null(db, server):
    with open(DEBIAN_CSV, "rb") as f:
        data = f.read()
    server.add_route("/debian.csv", data, content_type="text/csv")
    db.register("debian", server.url("/debian.csv"), "public.debian", DEBIAN_COLUMNS, format="csv",
                options={"csv": {"missing_fields": "null"}})
    run = db.run("debian")
    lines = [line for line in data.decode().splitlines()[1:] if line.strip()]
    assert run["rows"] == len(lines)
    assert db.count("public.debian") == len(lines)
    buzz = db.one("SELECT * FROM public.debian WHERE series = 'buzz'")
    assert str(buzz["release"]) == "1996-06-17" and buzz["eol_lts"] is None and buzz["eol_elts"] is None
    # Every field that the file has is there: the non-null dates count what the file holds.
    filled = sum(1 for line in lines for value in line.split(",")[5:] if value)
    assert db.scalar("SELECT count(eol) + count(eol_lts) + count(eol_elts) FROM public.debian") == filled


def test_csv_short_rows_are_refused_by_default_with_the_option_named(db, server):
    server.add_route("/short.csv", "a,b,c\n1,2,3\n4,5\n", content_type="text/csv")
    cols = [{"name": "a", "type": "int"}, {"name": "b", "type": "int"}, {"name": "c", "type": "int"}]
    db.register("short", server.url("/short.csv"), "public.short", cols, format="csv")
    msg, run = db.run_fails("short")
    assert "line 3" in msg and "missing_fields" in msg, msg


def test_csv_extra_fields_are_refused_or_ignored_by_option(db, server):
    server.add_route("/extra.csv", "a,b\n1,2\n3,4,5\n", content_type="text/csv")
    cols = [{"name": "a", "type": "int"}, {"name": "b", "type": "int"}]
    db.register("extra", server.url("/extra.csv"), "public.extra", cols, format="csv")
    msg, _ = db.run_fails("extra")
    assert "line 3" in msg and "extra_fields" in msg, msg
    db.register("extra", server.url("/extra.csv"), "public.extra", cols, format="csv",
                options={"csv": {"extra_fields": "ignore"}})
    assert db.run("extra")["rows"] == 2
    assert db.query("SELECT a, b FROM public.extra ORDER BY a") == [{"a": 1, "b": 2}, {"a": 3, "b": 4}]
    with pytest.raises(psycopg.Error, match="missing_fields"):
        db.register("extra", server.url("/extra.csv"), "public.extra", cols, format="csv",
                    options={"csv": {"missing_fields": "zero"}})

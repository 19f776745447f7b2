"""Pagination styles that NDJSON sources use (issue 5): offset, page number, Link headers, and max_pages."""

import psycopg
import pytest

from testdata import ORDER_COLUMNS, orders


def test_offset_pagination(db, server):
    server.add_dataset("poff", orders(range(1, 8)), page_size=100, link="none")
    db.register("poff", server.url("/poff?since="), "public.poff", ORDER_COLUMNS,
                options={"pagination": {"type": "offset", "param": "offset", "limit_param": "limit", "limit": 3}})
    run = db.run("poff")
    assert run["rows"] == 7 and run["batches"] == 3
    asked = [(r.query.get("offset"), r.query.get("limit")) for r in server.requests_for("poff")]
    assert asked == [("0", "3"), ("3", "3"), ("6", "3")], asked  # stops after the short page
    assert db.count("public.poff") == 7


def test_page_number_pagination_stops_on_an_empty_page(db, server):
    server.add_dataset("ppage", orders(range(1, 5)), page_size=2, link="none")
    db.register("ppage", server.url("/ppage?since="), "public.ppage", ORDER_COLUMNS,
                options={"pagination": {"type": "page", "param": "page", "start": 1}})
    run = db.run("ppage")
    assert run["rows"] == 4
    assert [r.query.get("page") for r in server.requests_for("ppage")] == ["1", "2", "3"]


def test_max_pages_bounds_a_run(db, server):
    server.add_dataset("pmax", orders(range(1, 11)), page_size=2)
    db.register("pmax", server.url("/pmax?since={high_watermark}"), "public.pmax", ORDER_COLUMNS,
                high_watermark_column="updated_at", options={"max_pages": 2})
    run = db.run("pmax")
    assert run["rows"] == 4 and len(server.requests_for("pmax")) == 2
    # The next run resumes from the watermark.
    run = db.run("pmax")
    assert run["rows"] == 4 and db.count("public.pmax") == 8


def test_body_pagination_needs_a_body_format(db, server):
    with pytest.raises(psycopg.Error, match="ndjson"):
        db.register("pbody", server.url("/x"), "public.pbody", ORDER_COLUMNS,
                    options={"pagination": {"type": "cursor", "path": "/next", "param": "cursor"}})
    with pytest.raises(psycopg.Error, match="pagination"):
        db.register("pbad", server.url("/x"), "public.pbad", ORDER_COLUMNS, options={"pagination": {"type": "nope"}})

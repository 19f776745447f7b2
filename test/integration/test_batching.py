"""Batches: every page is at least one batch; options.batch_rows cuts a page into several; Link: rel="next"."""

from testdata import ORDER_COLUMNS, orders


def test_batch_rows_cuts_pages_into_batches(db, server):
    # Pages of 5 and 2 records; batches of at most 2 rows: 2+2+1 | 2 = 4 batches.
    server.add_dataset("b1", orders(range(1, 8)), page_size=5)
    db.register("b1", server.url("/b1?since={high_watermark}"), "public.b1", ORDER_COLUMNS,
                high_watermark_column="updated_at", options={"batch_rows": 2})
    result = db.run("b1")
    assert result["status"] == "succeeded"
    assert result["batches"] == 4
    assert result["rows"] == 7
    assert result["bytes"] > 0
    assert db.count("public.b1") == 7


def test_every_page_is_at_least_one_batch(db, server):
    server.add_dataset("b2", orders(range(1, 4)), page_size=1)
    db.register("b2", server.url("/b2"), "public.b2", ORDER_COLUMNS)
    result = db.run("b2")
    assert result["batches"] == 3 and result["rows"] == 3
    assert [r.query.get("page") for r in server.requests_for("b2")] == [None, "2", "3"]


def test_default_batch_rows_keeps_a_page_in_one_batch(db, server):
    server.add_dataset("b3", orders(range(1, 501)), page_size=1000)
    db.register("b3", server.url("/b3"), "public.b3", ORDER_COLUMNS)
    result = db.run("b3")
    assert result["batches"] == 1 and result["rows"] == 500


def test_relative_next_links_are_followed(db, server):
    server.add_dataset("b4", orders(range(1, 8)), page_size=3, link="relative")
    db.register("b4", server.url("/b4?since={high_watermark}"), "public.b4", ORDER_COLUMNS,
                high_watermark_column="updated_at")
    result = db.run("b4")
    assert result["batches"] == 3 and result["rows"] == 7
    assert [r.query.get("page") for r in server.requests_for("b4")] == [None, "2", "3"]


def test_chunked_transfer(db, server):
    server.add_dataset("b5", orders(range(1, 21)), page_size=10, chunked=True)
    db.register("b5", server.url("/b5"), "public.b5", ORDER_COLUMNS)
    assert db.run("b5")["rows"] == 20
    assert db.count("public.b5") == 20


def test_bytes_counts_the_bodies(db, server):
    body = '{"id": 1, "v": "x"}\n{"id": 2, "v": "y"}\n'
    server.add_route("/raw", body)
    db.register("b6", server.url("/raw"), "public.b6",
                [{"name": "id", "type": "int", "primary_key": True}, {"name": "v", "type": "text"}])
    result = db.run("b6")
    assert result["rows"] == 2
    assert result["bytes"] == len(body.encode())


def test_empty_source(db, server):
    server.add_dataset("b7", [])
    db.register("b7", server.url("/b7"), "public.b7", ORDER_COLUMNS)
    result = db.run("b7")
    assert result["status"] == "succeeded" and result["rows"] == 0
    assert db.count("public.b7") == 0

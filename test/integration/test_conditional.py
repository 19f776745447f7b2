"""Watermarks from the response (issue 5): options.high_watermark_path takes the watermark from a response header;
the next run sends it back as a conditional request, and a 304 ends the run as "unchanged" without any batch."""

import json

import psycopg
import pytest

COLUMNS = [{"name": "id", "type": "bigint", "primary_key": True}, {"name": "v", "type": "text"}]


def body(ids, version):
    return "".join(json.dumps({"id": i, "v": version}) + "\n" for i in ids)


@pytest.mark.parametrize("header, request_header, v1, v2", [
    ("ETag", "If-None-Match", '"v1"', '"v2"'),
    ("Last-Modified", "If-Modified-Since", "Mon, 02 Nov 2026 10:00:00 GMT", "Tue, 03 Nov 2026 10:00:00 GMT"),
])
def test_an_unchanged_dataset_is_not_downloaded_again(db, server, header, request_header, v1, v2):
    name = "cond_" + header.replace("-", "_").lower()
    server.add_route("/" + name, body([1, 2], "one"), headers={header: v1})
    db.register(name, server.url("/" + name), "public." + name, COLUMNS,
                options={"high_watermark_path": "header:" + header})

    first = db.run(name)
    assert first["status"] == "succeeded" and first["rows"] == 2
    assert db.watermark(name) == v1
    assert request_header not in server.requests_for(name)[0].headers

    second = db.run(name)
    assert second["status"] == "unchanged" and second["batches"] == 0 and second["rows"] == 0
    assert server.requests_for(name)[1].headers.get(request_header) == v1
    assert second["high_watermark_after"] == v1

    server.add_route("/" + name, body([2, 3], "two"), headers={header: v2})  # a new version
    third = db.run(name)
    assert third["status"] == "succeeded" and third["rows"] == 2
    assert db.watermark(name) == v2
    assert [(r["id"], r["v"]) for r in db.query("SELECT id, v FROM public.%s ORDER BY id" % name)] == \
        [(1, "one"), (2, "two"), (3, "two")]


def test_header_watermark_and_column_watermark_exclude_each_other(db, server):
    with pytest.raises(psycopg.Error, match="not both"):
        db.register("both", server.url("/x"), "public.both", COLUMNS, high_watermark_column="id",
                    options={"high_watermark_path": "header:ETag"})
    with pytest.raises(psycopg.Error, match="high_watermark_path"):
        db.register("bad", server.url("/x"), "public.bad", COLUMNS, options={"high_watermark_path": "/version"})

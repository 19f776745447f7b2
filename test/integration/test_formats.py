"""Formats beyond NDJSON (issue 5): JSON documents with the records at a JSON Pointer (and pagination read from the
body), and CSV with its header mapped to the declared columns."""

import json

import psycopg
import pytest

COLUMNS = [
    {"name": "id", "type": "bigint", "primary_key": True},
    {"name": "name", "type": "text"},
    {"name": "score", "type": "numeric"},
]


def doc(ids, **extra):
    body = {"data": {"items": [{"id": i, "name": "n%d" % i, "score": i * 1.5} for i in ids]}}
    body.update(extra)
    return json.dumps(body)


def test_json_records_path_with_next_url_pagination(db, server):
    server.add_route("/j1", doc([1, 2, 3], links={"next": "/j2"}), content_type="application/json")
    server.add_route("/j2", doc([4, 5], links={"next": None}), content_type="application/json")
    db.register("jnext", server.url("/j1"), "public.jnext", COLUMNS, format="json",
                options={"records_path": "/data/items", "pagination": {"type": "next_url", "path": "/links/next"}})
    run = db.run("jnext")
    assert run["rows"] == 5 and run["batches"] == 2
    assert [r["id"] for r in db.query("SELECT id FROM public.jnext ORDER BY id")] == [1, 2, 3, 4, 5]
    assert db.scalar("SELECT score FROM public.jnext WHERE id = 3") == 4.5


def test_json_cursor_pagination(db, server):
    server.add_route("/c", json.dumps({"records": [{"id": 1}, {"id": 2}], "meta": {"next_cursor": "abc"}}))
    server.add_route("/c?cursor=abc", json.dumps({"records": [{"id": 3}], "meta": {"next_cursor": None}}))
    db.register("jcur", server.url("/c"), "public.jcur", COLUMNS, format="json",
                options={"records_path": "/records",
                         "pagination": {"type": "cursor", "path": "/meta/next_cursor", "param": "cursor"}})
    run = db.run("jcur")
    assert run["rows"] == 3 and run["batches"] == 2


def test_json_top_level_array_and_a_bad_record(db, server):
    server.add_route("/arr", '[{"id": 1, "name": "a"}, {"id": 2, "name": "b"}, {"id": "x"}]')
    db.register("jarr", server.url("/arr"), "public.jarr", COLUMNS, format="json", upsert="off")
    with pytest.raises(psycopg.Error) as e:
        db.run("jarr")
    msg = str(e.value)
    assert "batch 1" in msg and "record 3" in msg and "id" in msg, msg
    assert db.count("public.jarr") == 0  # the failed batch left nothing


def test_csv_header_mapped_by_name_with_options(db, server):
    body = "score;name;id;ignored\n1.5;alice;1;x\nNULL;\"bob; jr\";2;y\n2.5;NULL;3;z\n"
    server.add_route("/csv", body, content_type="text/csv")
    db.register("csv1", server.url("/csv"), "public.csv1", COLUMNS, format="csv",
                options={"csv": {"delimiter": ";", "null": "NULL"}})
    run = db.run("csv1")
    assert run["rows"] == 3
    rows = db.query("SELECT id, name, score FROM public.csv1 ORDER BY id")
    assert [(r["id"], r["name"], r["score"]) for r in rows] == [(1, "alice", 1.5), (2, "bob; jr", None),
                                                               (3, None, 2.5)]


def test_csv_header_that_does_not_match_is_a_clear_error(db, server):
    server.add_route("/csvbad", "id,nom\n1,a\n", content_type="text/csv")
    db.register("csv2", server.url("/csvbad"), "public.csv2", COLUMNS[:2], format="csv")
    with pytest.raises(psycopg.Error) as e:
        db.run("csv2")
    assert '"name"' in str(e.value) and '"nom"' in str(e.value), str(e.value)


def test_csv_wrong_field_count_names_the_line(db, server):
    server.add_route("/csvcount", "id,name\n1,a\n2,b,extra\n", content_type="text/csv")
    db.register("csv3", server.url("/csvcount"), "public.csv3", COLUMNS[:2], format="csv")
    with pytest.raises(psycopg.Error) as e:
        db.run("csv3")
    assert "line 3" in str(e.value), str(e.value)


def test_format_options_are_checked_at_registration(db, server):
    with pytest.raises(psycopg.Error, match="records_path"):
        db.register("f1", server.url("/x"), "public.f1", COLUMNS, options={"records_path": "/data"})
    with pytest.raises(psycopg.Error, match="csv"):
        db.register("f2", server.url("/x"), "public.f2", COLUMNS, format="json", options={"csv": {"delimiter": ";"}})
    with pytest.raises(psycopg.Error, match="path"):
        db.register("f3", server.url("/x"), "public.f3", [{"name": "a", "type": "text", "path": "/a/b"}],
                    format="csv")
    with pytest.raises(psycopg.Error, match="json"):
        db.register("f4", server.url("/x"), "public.f4", COLUMNS, format="csv",
                    options={"pagination": {"type": "next_url", "path": "/next"}})
    assert db.scalar("SELECT count(*) FROM bulk_ingest.sources") == 0


def test_csv_empty_unquoted_field_is_an_empty_string_when_a_null_string_is_declared(db, server):
    # As in COPY ... (FORMAT csv, NULL 'NULL'): only the declared NULL string is NULL.
    server.add_route("/csvnull", "id;name\n1;\n2;NULL\n", content_type="text/csv")
    db.register("csv4", server.url("/csvnull"), "public.csv4", COLUMNS[:2], format="csv",
                options={"csv": {"delimiter": ";", "null": "NULL"}})
    db.run("csv4")
    rows = db.query("SELECT id, name FROM public.csv4 ORDER BY id")
    assert [(r["id"], r["name"]) for r in rows] == [(1, ""), (2, None)]


def test_a_declared_charset_is_converted_to_utf8(db, server):
    body = '{"id": 1, "name": "Café Müller"}\n{"id": 2, "name": "€uro"}\n'
    server.add_route("/latin", body.encode("cp1252"), content_type="application/x-ndjson; charset=windows-1252")
    db.register("latin", server.url("/latin"), "public.latin", COLUMNS[:2])
    db.run("latin")
    assert [r["name"] for r in db.query("SELECT name FROM public.latin ORDER BY id")] == ["Café Müller", "€uro"]


def test_invalid_utf8_names_the_line(db, server):
    server.add_route("/badutf", b'{"id": 1, "name": "ok"}\n{"id": 2, "name": "caf\xe9"}\n')
    db.register("badutf", server.url("/badutf"), "public.badutf", COLUMNS[:2])
    with pytest.raises(psycopg.Error) as e:
        db.run("badutf")
    assert "line 2" in str(e.value) and "UTF-8" in str(e.value), str(e.value)
    assert db.count("public.badutf") == 0


def test_an_unknown_charset_is_a_clear_error(db, server):
    server.add_route("/klingon", b'{"id": 1}\n', content_type="application/x-ndjson; charset=klingon-8")
    db.register("klingon", server.url("/klingon"), "public.klingon", COLUMNS[:1])
    with pytest.raises(psycopg.Error, match="unknown charset"):
        db.run("klingon")


def test_csv_quote_and_escape_options(db, server):
    # quote "'" and escape "\": a quoted field may hold the delimiter, the quote (escaped) and a line break.
    body = "id,name\n1,'it\\'s, fine'\n2,'two\nlines'\n3,plain\n"
    server.add_route("/csvq", body, content_type="text/csv")
    db.register("csvq", server.url("/csvq"), "public.csvq", COLUMNS[:2], format="csv",
                options={"csv": {"quote": "'", "escape": "\\"}})
    assert db.run("csvq")["rows"] == 3
    assert db.query("SELECT id, name FROM public.csvq ORDER BY id") == [
        {"id": 1, "name": "it's, fine"}, {"id": 2, "name": "two\nlines"}, {"id": 3, "name": "plain"}]


def test_csv_escape_defaults_to_the_quote(db, server):
    server.add_route("/csvd", 'id,name\n1,"a ""quoted"" word"\n2,""\n3,\n', content_type="text/csv")
    db.register("csvd", server.url("/csvd"), "public.csvd", COLUMNS[:2], format="csv")
    db.run("csvd")
    # A quoted empty field is the empty string; an unquoted empty one is NULL (no null string declared).
    assert db.query("SELECT id, name FROM public.csvd ORDER BY id") == [
        {"id": 1, "name": 'a "quoted" word'}, {"id": 2, "name": ""}, {"id": 3, "name": None}]


def test_csv_without_a_header_by_column_number(db, server):
    server.add_route("/csvn", "alice,1,4.5\nbob,2,\n", content_type="text/csv")
    db.register("csvn", server.url("/csvn"), "public.csvn", [
        {"name": "id", "type": "bigint", "primary_key": True, "path": "/#2"},
        {"name": "name", "type": "text", "path": "/#1"},
        {"name": "score", "type": "numeric", "path": "/#3"}], format="csv", options={"csv": {"header": False}})
    run = db.run("csvn")
    assert run["rows"] == 2  # the first line is a record, not a header
    assert [(r["id"], r["name"], r["score"]) for r in db.query("SELECT * FROM public.csvn ORDER BY id")] == [
        (1, "alice", 4.5), (2, "bob", None)]


def test_csv_column_numbers_with_a_header(db, server):
    # With a header, /#n still picks the n-th field, whatever the header calls it.
    server.add_route("/csvh", "x,y\n7,seven\n", content_type="text/csv")
    db.register("csvh", server.url("/csvh"), "public.csvh", [
        {"name": "id", "type": "bigint", "path": "/#1"}, {"name": "name", "type": "text", "path": "/#2"}],
        format="csv")
    assert db.run("csvh")["rows"] == 1
    assert db.query("SELECT id, name FROM public.csvh") == [{"id": 7, "name": "seven"}]

"""bulk_ingest_register checks the whole declaration itself: invalid arguments fail at registration, not at run
time, and leave nothing behind."""

import psycopg
import pytest

OK = [{"name": "id", "type": "bigint", "primary_key": True}, {"name": "v", "type": "text"}]
URL = "http://127.0.0.1:9/x?since={high_watermark}"


@pytest.mark.parametrize("kwargs, needle", [
    ({"format": "xml"}, "xml"),
    ({"format": "csvish"}, "format"),
    ({"upsert": "always"}, "always"),
    ({"delete": "sometimes"}, "sometimes"),
    ({"columns": [{"name": "a", "type": "no_such_type"}]}, "no_such_type"),
    ({"columns": [{"name": "a", "type": "text", "path": "no/slash"}]}, "no/slash"),
    ({"columns": [{"name": "a", "type": "text", "path": "/bad~2escape"}]}, "~2"),
    ({"columns": []}, "column"),
    ({"columns": {"a": "text"}}, "column"),
    ({"columns": [{"type": "text"}]}, "name"),
    ({"columns": [{"name": "a"}]}, "type"),
    ({"url": "file:///etc/passwd"}, "file"),
    ({"url": "ftp://127.0.0.1/x"}, "ftp"),
    ({"url": "not a url"}, "url"),
    ({"high_watermark_column": "nope"}, "nope"),
    ({"options": {"batch_rows": 0}}, "batch_rows"),
    ({"options": {"batch_rows": "many"}}, "batch_rows"),
], ids=lambda v: repr(v) if isinstance(v, dict) else None)
def test_invalid_declarations_fail_at_registration(db, kwargs, needle):
    args = {"url": URL, "target": "public.t", "columns": OK}
    args.update(kwargs)
    with pytest.raises(psycopg.Error) as excinfo:
        db.register("bad", **args)
    msg = str(excinfo.value)
    assert needle.lower() in msg.lower(), "%r not in error: %s" % (needle, msg)
    assert db.scalar("SELECT count(*) FROM bulk_ingest.sources") == 0
    assert db.scalar("SELECT to_regclass('public.t') IS NULL")


def test_duplicate_column_names_are_named(db):
    with pytest.raises(psycopg.Error) as excinfo:
        db.register("dup", URL, "public.t", [{"name": "amount", "type": "numeric"},
                                             {"name": "amount", "type": "text"}])
    assert "amount" in str(excinfo.value)


def test_valid_registration_returns_the_source_row(db):
    row = db.register("ok", URL, "public.t", OK, high_watermark_column="id", options={"batch_rows": 10})
    assert row["source"] == "ok"
    assert row["url"] == URL
    assert row["format"] == "ndjson"
    assert row["upsert"] == "if_primary_key"
    assert row["delete"] == "off"
    assert row["high_watermark_column"] == "id"
    assert row["options"]["batch_rows"] == 10
    assert row["owner"] is not None
    assert db.scalar("SELECT owner::text FROM bulk_ingest.sources WHERE source = 'ok'") == "postgres"


def test_redeclaring_replaces_the_declaration(db):
    db.register("re", URL, "public.t", OK, high_watermark_column="id")
    first = db.one("SELECT created_at, updated_at FROM bulk_ingest.sources WHERE source = 're'")
    row = db.register("re", "https://example.invalid/v2", "public.t2", OK[:1], upsert="off")
    assert row["url"] == "https://example.invalid/v2"
    assert row["upsert"] == "off"
    assert row["high_watermark_column"] is None
    assert len(row["columns"]) == 1
    again = db.one("SELECT created_at, updated_at FROM bulk_ingest.sources WHERE source = 're'")
    assert again["created_at"] == first["created_at"]
    assert db.scalar("SELECT count(*) FROM bulk_ingest.sources") == 1


def test_unregister(db, server):
    server.add_dataset("un", [{"id": 1, "v": "a"}], field="id")
    db.register("un", server.url("/un?since={high_watermark}"), "public.un", OK, high_watermark_column="id")
    db.run("un")
    assert db.watermark("un") == "1"
    db.execute("SELECT bulk_ingest_unregister('un')")
    assert db.scalar("SELECT count(*) FROM bulk_ingest.sources WHERE source = 'un'") == 0
    assert db.scalar("SELECT count(*) FROM bulk_ingest.watermarks WHERE source = 'un'") == 0
    assert db.scalar("SELECT count(*) FROM bulk_ingest.runs WHERE source = 'un'") == 1  # history kept
    assert db.count("public.un") == 1                                                   # data kept
    with pytest.raises(psycopg.errors.UndefinedObject, match='source "un" does not exist'):
        db.run("un")


def test_run_of_an_unknown_source(db):
    with pytest.raises(psycopg.Error) as excinfo:
        db.run("nobody")
    assert "nobody" in str(excinfo.value)

"""bulk_ingest_preview(source, n): a dry run. It says what a run would do to the target (create, load in place,
rebuild and why), checks the owner's privileges, and converts the first n records of the first page into
pg_temp.bulk_ingest_preview, in the target's declared shape; it loads nothing into the target, advances no
watermark, records no run."""

import datetime
import decimal

import psycopg
import pytest

from server import Fault
from testdata import ORDER_COLUMNS, orders, ts, tsval


def register(db, server, name, conn=None, **kw):
    kw.setdefault("high_watermark_column", "updated_at")
    return db.register(name, server.url("/%s?since={high_watermark}" % name), "public.%s" % name, ORDER_COLUMNS,
                       conn=conn, **kw)


def preview(db, source, n=None, conn=None):
    if n is None:
        return db.one("SELECT * FROM bulk_ingest_preview(%s)", (source,), conn)
    return db.one("SELECT * FROM bulk_ingest_preview(%s, %s)", (source, n), conn)


def untouched(db, source, table_exists, watermark=None, runs=0):
    assert (db.scalar("SELECT to_regclass(%s) IS NOT NULL", ("public." + source,))) == table_exists
    assert db.watermark(source) == watermark
    assert len(db.runs(source)) == runs


def test_a_new_target_is_created_and_the_first_records_converted_as_a_run_would(db, server):
    server.add_dataset("pv", orders(range(1, 8)), page_size=5)
    register(db, server, "pv")
    p = preview(db, "pv", 3)
    assert p["action"] == "create" and "public.pv does not exist" in p["reason"], p
    assert p["rows"] == 3 and p["preview"] == "bulk_ingest_preview"
    assert p["url"] == server.url("/pv?since=")
    assert p["high_watermark"] == "2024-01-01 13:00:00+00"  # the greatest of the three
    rows = db.query("SELECT * FROM bulk_ingest_preview ORDER BY id")
    assert [r["id"] for r in rows] == [1, 2, 3]
    assert rows[0] == {"id": 1, "customer": "customer 1", "amount": decimal.Decimal("10.01"),
                       "updated_at": tsval(1), "details": {"n": 1, "tags": ["t1"]}}
    types = db.query("SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull"
                     "  FROM pg_attribute a WHERE a.attrelid = 'pg_temp.bulk_ingest_preview'::regclass"
                     "   AND a.attnum > 0 ORDER BY a.attnum")
    assert [(t["attname"], t["type"], t["attnotnull"]) for t in types] == [
        ("id", "bigint", True), ("customer", "text", True), ("amount", "numeric(12,2)", False),
        ("updated_at", "timestamp with time zone", False), ("details", "jsonb", False)]
    untouched(db, "pv", table_exists=False)
    assert [r.query.get("page") for r in server.requests_for("pv")] == [None]  # the first page only


def test_load_in_place_from_the_watermark_and_nothing_advances(db, server):
    ds = server.add_dataset("pw", orders(range(1, 4)), page_size=100)
    register(db, server, "pw")
    db.run("pw")
    watermark = db.watermark("pw")
    ds.add(orders(range(4, 7)))
    server.clear_requests()
    p = preview(db, "pw")
    assert (p["action"], p["reason"], p["rows"]) == ("load in place", None, 3), p
    assert p["url"] == server.url("/pw?since=2024-01-01T13%3A00%3A00Z")  # the form the source wrote, as a run sends it
    assert p["high_watermark"] == "2024-01-01 16:00:00+00"
    assert [r["id"] for r in db.query("SELECT id FROM bulk_ingest_preview ORDER BY id")] == [4, 5, 6]
    # A second preview replaces the first one's table.
    assert preview(db, "pw", 1)["rows"] == 1
    assert db.count("bulk_ingest_preview") == 1
    untouched(db, "pw", table_exists=True, watermark=watermark, runs=1)
    assert db.count("public.pw") == 3


def test_rebuilds_and_why(db, server):
    server.add_dataset("rb", orders(range(1, 3)))
    register(db, server, "rb")
    db.execute("CREATE TABLE public.rb (id bigint PRIMARY KEY, customer text NOT NULL, amount numeric(12,2),"
               " updated_at timestamptz, details jsonb)")
    p = preview(db, "rb")
    assert (p["action"], p["reason"]) == ("rebuild", "the table is empty"), p
    db.execute("INSERT INTO public.rb VALUES (100, 'old', 1, now(), NULL)")
    assert preview(db, "rb")["action"] == "load in place"
    db.execute("ALTER TABLE public.rb ALTER COLUMN amount TYPE numeric(10,2)")
    p = preview(db, "rb")
    assert p["action"] == "rebuild" and p["reason"] == "column amount has type numeric(10,2), declared numeric(12,2)"
    db.execute("ALTER TABLE public.rb ALTER COLUMN amount TYPE numeric(12,2)")
    register(db, server, "rb", **{"delete": "before_first_batch"})
    p = preview(db, "rb")
    assert (p["action"], p["reason"]) == ("rebuild", "delete => before_first_batch"), p
    assert [r["id"] for r in db.query("SELECT id FROM public.rb")] == [100]


def test_the_owners_privileges_are_checked_before_any_request(db, server):
    server.add_dataset("pp", orders(range(1, 3)))
    alice = db.create_role("alice")
    mine = db.connect(user=alice)
    register(db, server, "pp", conn=mine)
    # No CREATE on schema public: the run could not create its target.
    for conn in (mine, db.conn):  # a superuser's preview judges the owner's privileges, as the run would
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match='role "%s" lacks CREATE privilege on schema '
                           'public' % alice):
            preview(db, "pp", conn=conn)
    db.execute("CREATE TABLE public.pp (id bigint PRIMARY KEY, customer text NOT NULL, amount numeric(12,2),"
               " updated_at timestamptz, details jsonb)")
    db.execute('GRANT SELECT ON public.pp TO "%s"' % alice)
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match='lacks INSERT privilege on table public.pp'):
        preview(db, "pp", conn=mine)
    assert server.requests_for("pp") == []
    db.execute('GRANT INSERT, UPDATE ON public.pp TO "%s"' % alice)
    p = preview(db, "pp", conn=mine)
    # The owner may load but not rebuild another role's table: an empty table is loaded in place.
    assert (p["action"], p["rows"]) == ("load in place", 2), p
    # Another role may not preview alice's source.
    bob = db.connect(user=db.create_role("bob"))
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match='permission denied for source "pp"'):
        preview(db, "pp", conn=bob)


def test_a_bad_value_is_named_as_a_run_names_it_and_nothing_stays(db, server):
    records = orders(range(1, 5))
    records[2]["amount"] = "twelve"
    server.add_dataset("bad", records)
    register(db, server, "bad")
    with pytest.raises(psycopg.Error) as e:
        preview(db, "bad")
    msg = str(e.value)
    assert 'source "bad": preview: ' + server.url("/bad?since=") in msg, msg
    assert 'line 3, column "amount"' in msg and "twelve" in msg, msg
    assert db.scalar("SELECT to_regclass('pg_temp.bulk_ingest_preview')") is None
    untouched(db, "bad", table_exists=False)


def test_secrets_are_used_and_a_missing_one_is_named(db, server):
    server.add_dataset("sec", orders(range(1, 3)), require_headers={"Authorization": "Bearer pv-t0ken"})
    register(db, server, "sec", options={"headers": {"Authorization": "Bearer {secret:token}"}})
    with pytest.raises(psycopg.Error, match='secret "token" is not set'):
        preview(db, "sec")
    db.execute("SELECT bulk_ingest_set_secret('sec', 'token', 'pv-t0ken')")
    assert preview(db, "sec")["rows"] == 2
    db.register("sec", server.url("/nothing-here?key={secret:token}"), "public.sec", ORDER_COLUMNS)
    with pytest.raises(psycopg.Error) as e:
        preview(db, "sec")
    assert "404" in str(e.value) and "pv-t0ken" not in str(e.value) and "key=***" in str(e.value), str(e.value)


def test_n_0_checks_without_a_request_and_arguments_are_checked(db, server):
    server.add_dataset("z", orders(range(1, 3)))
    register(db, server, "z")
    p = preview(db, "z", 0)
    assert (p["action"], p["rows"], p["url"], p["preview"]) == ("create", 0, None, None), p
    assert server.requests_for("z") == []
    with pytest.raises(psycopg.Error, match="n must be 0 or more, not -1"):
        preview(db, "z", -1)
    with pytest.raises(psycopg.Error, match="source and n must not be NULL"):
        db.execute("SELECT bulk_ingest_preview(NULL)")
    with pytest.raises(psycopg.Error, match='source "nope" does not exist'):
        preview(db, "nope")


def test_a_source_that_has_not_changed_would_end_unchanged(db, server):
    server.add_route("/etag.ndjson", '{"id": 1, "customer": "a"}\n', headers={"ETag": '"v1"'})
    db.register("et", server.url("/etag.ndjson"), "public.et", ORDER_COLUMNS[:2],
                options={"high_watermark_path": "header:ETag"})
    p = preview(db, "et")
    assert (p["action"], p["rows"], p["high_watermark"]) == ("create", 1, '"v1"'), p
    db.run("et")
    p = preview(db, "et")
    assert p["action"] == "unchanged" and "304 Not Modified" in p["reason"] and p["rows"] == 0, p
    assert len(db.runs("et")) == 1

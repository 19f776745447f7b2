"""Text built to smuggle something through the extension is refused or quoted (issue 9): header lines (also when a
secret brings the CR/LF at run time), a Host override, source names and identifiers that try to close their quotes,
JSON pointers, and values substituted into URL placeholders."""

import urllib.parse

import psycopg
import pytest

from rebuild_helpers import cols, serve
from testdata import ORDER_COLUMNS, orders

COLUMNS = cols(("id", "bigint pk"), ("v", "text"))


@pytest.mark.parametrize("value", ["a\r\nX-Injected: 1", "a\nX-Injected: 1", "a\rX-Injected: 1"])
def test_a_secret_cannot_add_a_header_line(db, server, value):
    server.add_dataset("crlf", orders(range(1, 3)))
    db.register("crlf", server.url("/crlf"), "public.crlf", ORDER_COLUMNS,
                options={"headers": {"X-Api-Key": "{secret:key}"}, "max_retries": 0})
    db.execute("SELECT bulk_ingest_set_secret('crlf', 'key', %s)", (value,))
    msg, run = db.run_fails("crlf")
    assert "X-Api-Key" in msg and ("line break" in msg or "control character" in msg), msg
    assert "X-Injected" not in msg and "X-Injected" not in (run["error"] or "")
    assert server.requests_for("crlf") == []  # refused before anything was sent


@pytest.mark.parametrize("name", ["Host", "host", "Content-Length", "Transfer-Encoding", "Connection"])
def test_headers_that_reframe_or_reroute_a_request_are_refused_at_registration(db, server, name):
    with pytest.raises(psycopg.errors.InvalidParameterValue) as e:
        db.register("hosty", server.url("/x"), "public.hosty", COLUMNS, options={"headers": {name: "evil.example"}})
    assert name in str(e.value)
    assert db.scalar("SELECT count(*) FROM bulk_ingest.sources") == 0


@pytest.mark.parametrize("name", ["X-A\r\nX-Injected", "X A", "X:A", ""])
def test_header_names_that_are_not_tokens_are_refused(db, server, name):
    with pytest.raises(psycopg.errors.InvalidParameterValue):
        db.register("hname", server.url("/x"), "public.hname", COLUMNS, options={"headers": {name: "v"}})


HOSTILE = [
    "x'); DROP TABLE public.victim; --",
    'x"; DROP TABLE public.victim; --',
    "x\\'; SELECT pg_sleep(10); --",
    "ü %s %n {secret:token} {high_watermark}",
]


@pytest.mark.parametrize("source", HOSTILE)
def test_a_hostile_source_name_is_only_a_name(db, server, source):
    db.execute("CREATE TABLE public.victim (x int)")
    url = serve(server, "hs", [{"id": 1, "v": "a"}])
    row = db.register(source, url, "public.hs", COLUMNS)
    assert row["source"] == source
    db.execute("SELECT bulk_ingest_set_secret(%s, 'token', 'tok')", (source,))
    assert db.run(source)["rows"] == 1
    assert db.scalar("SELECT bulk_ingest_get_secret(%s, 'token')", (source,)) == "tok"
    db.execute("SELECT bulk_ingest_unregister(%s)", (source,))
    assert db.scalar("SELECT to_regclass('public.victim') IS NOT NULL")


def test_hostile_identifiers_are_quoted_everywhere(db, server):
    db.execute("CREATE TABLE public.victim (x int)")
    target = '"s; DROP TABLE public.victim; --"."t"" ); DROP TABLE public.victim; --"'
    db.execute('CREATE SCHEMA "s; DROP TABLE public.victim; --"')
    column = 'v"); DROP TABLE public.victim; --'
    columns = [{"name": "id", "type": "bigint", "primary_key": True}, {"name": column, "type": "text", "path": "/v"}]
    url = serve(server, "hi", [{"id": 1, "v": "a"}, {"id": 1, "v": "b"}])
    db.register("hi", url, target, columns, options={"indexes": [{"columns": [column]}]})
    assert db.run("hi")["rows"] == 2  # created (fast path, a rebuild), last row wins
    db.register("hi", url, target, columns + [{"name": "w'", "type": "text"}])
    assert db.run("hi")["rebuild"] is not None  # a migration: every statement of a rebuild and a swap
    assert db.scalar('SELECT "%s" FROM %s' % (column.replace('"', '""'), target)) == "b"
    assert db.scalar("SELECT to_regclass('public.victim') IS NOT NULL")


@pytest.mark.parametrize("pointer", ['/a"); DROP TABLE public.victim; --', "/a~1b~0c", "/a/0/\u00fc"])
def test_json_pointers_only_point(db, server, pointer):
    db.execute("CREATE TABLE public.victim (x int)")
    record = {"id": 1, "a\"); DROP TABLE public.victim; --": "x", "a/b~c": "y", "a": [{"\u00fc": "z"}]}
    url = serve(server, "jp", [record])
    db.register("jp", url, "public.jp", cols(("id", "bigint pk"), ("v", "text", {"path": pointer})))
    assert db.run("jp")["rows"] == 1
    assert db.scalar("SELECT v FROM public.jp") in ("x", "y", "z")
    assert db.scalar("SELECT to_regclass('public.victim') IS NOT NULL")


def test_a_watermark_value_cannot_reshape_the_url_or_reveal_a_secret(db, server):
    """A record's watermark value is the source's data: substituted into {high_watermark} it is percent-encoded, so
    it adds no parameter, no fragment, and no {secret:...} reference of its own."""
    hostile = "z&admin=1#frag{secret:token}"
    ds = server.add_dataset("wmi", [{"id": 1, "v": "a", "k": hostile}], field=None)
    db.register("wmi", server.url("/wmi?since={high_watermark}&key={secret:token}"), "public.wmi",
                cols(("id", "bigint pk"), ("v", "text"), ("k", "text")), high_watermark_column="k")
    db.execute("SELECT bulk_ingest_set_secret('wmi', 'token', 'tok-5a1e')")
    db.run("wmi")
    ds.records.append({"id": 2, "v": "b", "k": "zz"})
    db.run("wmi")
    second = server.requests_for("wmi")[-1]
    assert second.query == {"since": hostile, "key": "tok-5a1e"}, second.target
    assert "admin" not in urllib.parse.parse_qs(urllib.parse.urlsplit(second.target).query)
    assert second.target.count("tok-5a1e") == 1

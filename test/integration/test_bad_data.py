"""Bad data (issue 10): a catalogue of inputs that must not load, each a test, plus inputs that look odd but are
valid and must load exactly.

Each bad body is one page of one batch: a good record first, then the bad one. The run must fail with an error that
names the source, the batch and the line (or record), and for a value the column and a short excerpt of it (or, for
text that is not valid JSON or CSV, an excerpt of the text near the error); and the batch must leave nothing: the
good record of the batch is not in the table. The table of these cases is in docs/reliability.md.
"""

import re

import psycopg
import pytest

COLS = [{"name": "id", "type": "int"}, {"name": "name", "type": "text"}]
GOOD = '{"id": 1, "name": "good"}\n'


def col(name, type_, **kw):
    return dict(name=name, type=type_, **kw)


def nest(depth, inner="1"):
    return "[" * depth + inner + "]" * depth


# (case id, format, body, columns, register options, patterns the error must match)
BAD = [
    # ---- NDJSON syntax
    ("truncated_json", "ndjson", GOOD + '{"id": 2, "name": "ab\n', COLS, {},
     [r"line 2\b", r"(?i)invalid JSON", r'near "']),
    ("trailing_garbage", "ndjson", GOOD + '{"id": 2, "name": "b"} trailing\n', COLS, {},
     [r"line 2\b", r"(?i)invalid JSON", r"near .*trailing"]),
    ("unescaped_control_character", "ndjson", GOOD + '{"id": 2, "name": "a\x01b"}\n', COLS, {},
     [r"line 2\b", r"(?i)invalid JSON", r"\\u0001"]),
    ("raw_newline_in_string_splits_the_line", "ndjson", GOOD + '{"id": 2, "name": "a\nb"}\n', COLS, {},
     [r"line 2\b", r"(?i)invalid JSON"]),
    ("nul_escape_for_text", "ndjson", GOOD + '{"id": 2, "name": "a\\u0000b"}\n', COLS, {},
     [r"line 2\b", r'column "name"', r"\\u0000"]),
    ("raw_nul_byte", "ndjson", GOOD + '{"id": 2, "name": "a\x00b"}\n', COLS, {},
     [r"line 2\b", r"(?i)invalid JSON|encoding"]),
    ("invalid_utf8", "ndjson", GOOD.encode() + b'{"id": 2, "name": "caf\xe9"}\n', COLS, {},
     [r"line 2\b", r"(?i)invalid UTF-8 at byte 22", r"\\xE9"]),
    ("overlong_utf8", "ndjson", GOOD.encode() + b'{"id": 2, "name": "\xc0\xaf"}\n', COLS, {},
     [r"line 2\b", r"(?i)invalid UTF-8"]),
    ("lone_surrogate", "ndjson", GOOD + '{"id": 2, "name": "\\udc00"}\n', COLS, {},
     [r"line 2\b", r"(?i)surrogate"]),
    ("invalid_escape", "ndjson", GOOD + '{"id": 2, "name": "\\x41"}\n', COLS, {},
     [r"line 2\b", r"(?i)invalid escape"]),
    ("leading_zero", "ndjson", GOOD + '{"id": 012, "name": "b"}\n', COLS, {},
     [r"line 2\b", r"(?i)invalid JSON"]),
    ("nan_literal", "ndjson", GOOD + '{"id": NaN, "name": "b"}\n', COLS, {},
     [r"line 2\b", r"(?i)invalid JSON", r"near .*NaN"]),
    ("array_line", "ndjson", GOOD + '[1, 2]\n', COLS, {},
     [r"line 2\b", r"expected a JSON object, found an array"]),
    ("scalar_line", "ndjson", GOOD + '42\n', COLS, {},
     [r"line 2\b", r"expected a JSON object, found a number"]),
    ("bom_in_the_middle", "ndjson", GOOD + '\ufeff{"id": 2, "name": "b"}\n', COLS, {},
     [r"line 2\b", r"(?i)invalid JSON"]),
    ("html_error_page_with_200", "ndjson", GOOD + "<html><body><h1>Internal error</h1></body></html>\n", COLS, {},
     [r"line 2\b", r"(?i)invalid JSON", r"near .*<html>"]),
    ("duplicate_key", "ndjson", GOOD + '{"id": 2, "name": "b", "id": 3}\n', COLS, {},
     [r"line 2\b", r'the key "id" occurs more than once']),
    ("nested_100000_deep_in_a_jsonb_value", "ndjson",
     GOOD + '{"id": 2, "doc": %s}\n' % nest(100000), [col("id", "int"), col("doc", "jsonb")], {},
     [r"line 2\b", r"nested deeper than 1000 levels"]),
    ("nested_100000_deep_in_an_undeclared_value", "ndjson",
     GOOD + '{"id": 2, "skip": %s}\n' % nest(100000), COLS, {},
     [r"line 2\b", r"nested deeper than 1000 levels"]),
    # ---- values that do not fit their column (COPY, the type's input function, constraints)
    ("integer_out_of_range", "ndjson", GOOD + '{"id": 99999999999, "name": "b"}\n', COLS, {},
     [r"line 2\b", r'column "id"', r"99999999999", r"(?i)out of range"]),
    ("numeric_overflow", "ndjson", GOOD + '{"id": 2, "amount": 1e20}\n',
     [col("id", "int"), col("amount", "numeric(12,2)")], {},
     [r"line 2\b", r'column "amount"', r"1e20", r"(?i)overflow"]),
    ("string_into_integer", "ndjson", GOOD + '{"id": "abc", "name": "b"}\n', COLS, {},
     [r"line 2\b", r'column "id"', r'"abc"']),
    ("boolean_into_integer", "ndjson", GOOD + '{"id": true, "name": "b"}\n', COLS, {},
     [r"line 2\b", r'column "id"', r'"true"']),
    ("object_into_integer", "ndjson", GOOD + '{"id": {"a": 1}, "name": "b"}\n', COLS, {},
     [r"line 2\b", r'column "id"', r'\{"a": 1\}']),
    ("missing_primary_key_field", "ndjson", GOOD + '{"name": "no key"}\n',
     [col("id", "int", primary_key=True), col("name", "text")], {},
     [r"line 2\b", r'column "id" is null']),
    ("null_for_not_null", "ndjson", GOOD + '{"id": 2, "name": null}\n',
     [col("id", "int"), col("name", "text", nullable=False)], {},
     [r"line 2\b", r'column "name" is null']),
    ("too_long_for_varchar", "ndjson", GOOD + '{"id": 2, "name": "abcdefghijkl"}\n',
     [col("id", "int"), col("name", "varchar(5)")], {},
     [r"line 2\b", r'column "name"', r"abcdefghijkl", r"(?i)too long"]),
    ("invalid_date", "ndjson", GOOD + '{"id": 2, "d": "2024-02-30"}\n', [col("id", "int"), col("d", "date")], {},
     [r"line 2\b", r'column "d"', r"2024-02-30"]),
    ("invalid_time", "ndjson", GOOD + '{"id": 2, "t": "25:61"}\n', [col("id", "int"), col("t", "time")], {},
     [r"line 2\b", r'column "t"', r"25:61"]),
    ("invalid_timestamptz", "ndjson", GOOD + '{"id": 2, "ts": "last tuesday"}\n',
     [col("id", "int"), col("ts", "timestamptz")], {}, [r"line 2\b", r'column "ts"', r"last tuesday"]),
    ("invalid_uuid", "ndjson", GOOD + '{"id": 2, "u": "not-a-uuid"}\n', [col("id", "int"), col("u", "uuid")], {},
     [r"line 2\b", r'column "u"', r"not-a-uuid"]),
    ("invalid_inet", "ndjson", GOOD + '{"id": 2, "ip": "300.1.1.1"}\n', [col("id", "int"), col("ip", "inet")], {},
     [r"line 2\b", r'column "ip"', r"300\.1\.1\.1"]),
    ("invalid_base64", "ndjson", GOOD + '{"id": 2, "b": "@@@"}\n',
     [col("id", "int"), col("b", "bytea", format="base64")], {}, [r"line 2\b", r'column "b"', r"@@@"]),
    ("invalid_epoch", "ndjson", GOOD + '{"id": 2, "ts": "soon"}\n',
     [col("id", "int"), col("ts", "timestamptz", format="epoch")], {}, [r"line 2\b", r'column "ts"', r"soon"]),
    ("object_in_an_array_column", "ndjson", GOOD + '{"id": 2, "tags": [{"a": 1}]}\n',
     [col("id", "int"), col("tags", "text[]")], {}, [r"line 2\b", r'column "tags"', r"(?i)object"]),
    ("duplicate_keys_in_a_batch_without_upsert", "ndjson", GOOD + '{"id": 1, "name": "again"}\n',
     [col("id", "int", primary_key=True), col("name", "text")], {"upsert": "off"},
     [r"(?i)duplicate key", r"\(id\)=\(1\)"]),
    # ---- JSON documents
    ("json_truncated_document", "json", '[{"id": 1, "name": "good"}, {"id": 2, "na', COLS, {},
     [r"record 2\b", r"(?i)truncated"]),
    ("json_trailing_garbage", "json", '[{"id": 1, "name": "good"}] and more', COLS, {},
     [r"(?i)invalid JSON", r"(?i)must not be followed"]),
    ("json_element_not_an_object", "json", '[{"id": 1, "name": "good"}, 5]', COLS, {},
     [r"record 2\b", r"expected a JSON object, found a number"]),
    ("json_records_path_missing", "json", '{"items": [{"id": 1}]}', COLS, {"options": {"records_path": "/data"}},
     [r'records_path "/data" is not in the JSON document']),
    ("json_nested_100000_deep_outside_the_records", "json",
     '{"meta": %s, "data": [{"id": 1}]}' % nest(100000), COLS, {"options": {"records_path": "/data"}},
     [r"nested deeper than 1000 levels"]),
    ("json_nested_100000_deep_in_a_record", "json", '[{"id": 1, "name": "good"}, {"id": 2, "x": %s}]'
     % nest(100000), COLS, {}, [r"record 2\b", r"nested deeper than 1000 levels"]),
    # ---- CSV
    ("csv_ragged_row_too_few", "csv", "id,name\n1,good\n2\n", COLS, {},
     [r"line 3\b", r"expected 2 fields .*found 1", r'near "2"']),
    ("csv_ragged_row_too_many", "csv", "id,name\n1,good\n2,b,extra\n", COLS, {},
     [r"line 3\b", r"expected 2 fields .*found 3", r"near .*extra"]),
    ("csv_unterminated_quote", "csv", 'id,name\n1,good\n2,"never closed\n', COLS, {},
     [r"line 3\b", r"(?i)a quote is missing"]),
    ("csv_text_after_a_closing_quote", "csv", 'id,name\n1,good\n2,"ab"cd\n', COLS, {},
     [r"line 3\b", r"(?i)field 2"]),
    ("csv_invalid_utf8", "csv", b"id,name\n1,good\n2,caf\xe9\n", COLS, {},
     [r"line 3\b", r"(?i)invalid UTF-8 in field 2", r"\\xE9"]),
    ("csv_value_that_does_not_fit", "csv", "id,name\n1,good\n2x,b\n", COLS, {},
     [r"line 3\b", r'column "id"', r'"2x"']),
    ("csv_header_without_a_declared_column", "csv", "id,other\n1,x\n", COLS, {},
     [r'(?i)the CSV header has no column "name"']),
]


def register(db, name, fmt, columns, options=None, **kw):
    opts = {"max_retries": 0}
    opts.update(options or {})
    db.register(name, db._server.url("/" + name), "public." + name, columns, format=fmt, options=opts, **kw)


@pytest.mark.parametrize("case,fmt,body,columns,kw,patterns", BAD, ids=[c[0] for c in BAD])
def test_bad_input_fails_its_batch_with_a_precise_error(db, server, case, fmt, body, columns, kw, patterns):
    name = "bad_" + case[:40]
    db.execute("CREATE TABLE public.%s (%s)" % (name, ", ".join(
        '"%s" %s%s' % (c["name"], c["type"], " PRIMARY KEY" if c.get("primary_key") else "") for c in columns)))
    if kw.get("upsert") == "off":
        db.execute("INSERT INTO public.%s (id) VALUES (0)" % name)  # not empty: loaded in place
    server.add_route("/" + name, body if isinstance(body, bytes) else body.encode())
    db._server = server
    register(db, name, fmt, columns, **kw)
    with pytest.raises(psycopg.Error) as e:
        db.run(name)
    msg = str(e.value).split("\nHINT:")[0]
    assert 'source "%s"' % name in msg, msg
    assert "batch 1" in msg, msg
    for p in patterns:
        assert re.search(p, msg), "%r not in the error of %s: %s" % (p, case, msg)
    assert len(msg) < 2000, "an error must stay short: %d bytes" % len(msg)
    assert db.scalar("SELECT count(*) FROM public.%s WHERE id = 1" % name) == 0  # the good record went too
    run = db.last_run(name)
    assert run["status"] == "failed" and run["rows"] == 0 and run["batches"] == 0, run
    print("\n%s: %s" % (case, msg[msg.index("): ") + 3:] if "): " in msg else msg))


def test_a_single_200_mb_line_fails_early_with_bounded_memory(db, server):
    # The reader stops at bulk_ingest.max_record_size (64 MB): the rest of the line is never read.
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    import threading

    sent = {"bytes": 0}

    class Huge(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ndjson")
            self.send_header("Content-Length", str(200 * 1024 * 1024 + 20))
            self.end_headers()
            block = b"x" * (1024 * 1024)
            try:
                self.wfile.write(b'{"id": 1, "name": "')
                for _ in range(200):
                    self.wfile.write(block)
                    sent["bytes"] += len(block)
                self.wfile.write(b'"}\n')
            except OSError:
                pass

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Huge)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        db.register("huge_line", "http://127.0.0.1:%d/x" % httpd.server_address[1], "public.huge_line", COLS,
                    options={"max_retries": 0})
        with pytest.raises(psycopg.Error) as e:
            db.run("huge_line")
        assert "line 1: the line is longer than 64 MB" in str(e.value), str(e.value)
        assert sent["bytes"] < 120 * 1024 * 1024, "the line was read on after the limit: %d bytes" % sent["bytes"]
    finally:
        httpd.shutdown()


# ---- odd but valid: these load, exactly -------------------------------------------------------------------------

GOODISH = [
    ("empty_body", "ndjson", "", []),
    ("blank_lines_and_crlf", "ndjson", '\r\n{"id": 1, "name": "a"}\r\n\n  \n{"id": 2, "name": "b"}\r\n',
     [(1, "a"), (2, "b")]),
    ("bom_at_the_start", "ndjson", '\ufeff{"id": 1, "name": "a"}\n', [(1, "a")]),
    ("no_newline_at_the_end", "ndjson", '{"id": 1, "name": "a"}', [(1, "a")]),
    ("duplicate_keys_outside_declared_paths", "ndjson", '{"id": 1, "name": "a", "x": 1, "x": 2}\n', [(1, "a")]),
    ("escapes_and_unicode", "ndjson", '{"id": 1, "name": "tab\\t nl\\n \\u00e9 \\ud83d\\ude00 \\\\"}\n',
     [(1, "tab\t nl\n \u00e9 \U0001F600 \\")]),
    ("json_empty_array", "json", "[]", []),
    ("json_bom", "json", '\ufeff[{"id": 1, "name": "a"}]', [(1, "a")]),
    ("csv_header_only", "csv", "id,name\n", []),
    ("csv_bom", "csv", "\ufeffid,name\n1,a\n", [(1, "a")]),
    ("csv_mixed_line_endings", "csv", "id,name\r\n1,a\n2,b\r3,c\r\n", [(1, "a"), (2, "b"), (3, "c")]),
    ("csv_quoted_line_breaks_and_quotes", "csv", 'id,name\n1,"two\nlines ""quoted"""\n',
     [(1, 'two\nlines "quoted"')]),
]


@pytest.mark.parametrize("case,fmt,body,rows", GOODISH, ids=[c[0] for c in GOODISH])
def test_odd_but_valid_input_loads_exactly(db, server, case, fmt, body, rows):
    name = "ok_" + case
    server.add_route("/" + name, body.encode())
    db.register(name, server.url("/" + name), "public." + name, COLS, format=fmt)
    run = db.run(name)
    assert run["status"] == "succeeded" and run["rows"] == len(rows), run
    if rows:
        assert [tuple(r.values()) for r in db.query("SELECT id, name FROM public.%s ORDER BY id" % name)] == rows


def test_duplicate_keys_in_one_batch_with_upserts_keep_the_last_row(db, server):
    server.add_route("/dupbatch", '{"id": 1, "name": "first"}\n{"id": 1, "name": "last"}\n')
    db.register("dupbatch", server.url("/dupbatch"), "public.dupbatch",
                [col("id", "int", primary_key=True), col("name", "text")])
    assert db.run("dupbatch")["rows"] == 2
    assert db.query("SELECT id, name FROM public.dupbatch") == [{"id": 1, "name": "last"}]

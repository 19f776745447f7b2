"""Values: numbers keep every digit, objects and arrays load into json/jsonb, a missing key is NULL, NULL in a
non-nullable column is an error naming the column and the line, text round-trips exactly."""

import json
import re

import psycopg
import pytest



def load(db, server, name, body, columns, **kw):
    server.add_route("/" + name, body)
    db.register(name, server.url("/" + name), "public." + name, columns, **kw)
    return db.run(name)


def test_numbers_keep_every_digit(db, server):
    n39 = "123456789012345678901234567890.123456789"          # 39 digits
    body = ('{"id": 1, "n": %s, "big": 9223372036854775807, "f": 2.0, "e": 1e3, "neg": -0.000000000000000000001}\n'
            % n39)
    load(db, server, "num", body, [
        {"name": "id", "type": "int", "primary_key": True},
        {"name": "n", "type": "numeric"},
        {"name": "big", "type": "bigint"},
        {"name": "f", "type": "numeric"},
        {"name": "e", "type": "numeric"},
        {"name": "neg", "type": "numeric"},
    ])
    row = db.one("SELECT n::text, big::text, f::text, e::text, neg::text FROM public.num")
    assert row == {"n": n39, "big": "9223372036854775807", "f": "2.0", "e": "1000",
                   "neg": "-0.000000000000000000001"}


def test_numbers_into_jsonb_keep_every_digit(db, server):
    n39 = "123456789012345678901234567890.123456789"
    load(db, server, "numj", '{"id": 1, "doc": {"n": %s}}\n' % n39,
         [{"name": "id", "type": "int"}, {"name": "doc", "type": "jsonb"}])
    assert db.scalar("SELECT (doc->'n')::text FROM public.numj") == n39


def test_objects_and_arrays_into_json_columns_via_path(db, server):
    rec = {"id": 1, "meta": {"a": [1, {"b": None}], "s": "x\ty\"z"}, "tags": ["x", "y"], "name": "plain",
           "deep": {"customer": {"address": {"city": "Zürich"}}}, "x/y": "slash", "t~u": "tilde"}
    load(db, server, "js", json.dumps(rec) + "\n", [
        {"name": "id", "type": "int"},
        {"name": "details", "type": "jsonb", "path": "/meta"},
        {"name": "tags", "type": "jsonb"},
        {"name": "tags_json", "type": "json", "path": "/tags"},
        {"name": "name_json", "type": "jsonb", "path": "/name"},
        {"name": "city", "type": "text", "path": "/deep/customer/address/city"},
        {"name": "first_tag", "type": "text", "path": "/tags/0"},
        {"name": "b", "type": "text", "path": "/meta/a/1/b"},
        {"name": "slash", "type": "text", "path": "/x~1y"},
        {"name": "tilde", "type": "text", "path": "/t~0u"},
    ])
    row = db.one("SELECT details, tags, tags_json::text AS tj, name_json, city, first_tag, b, slash, tilde "
                 "FROM public.js")
    assert row["details"] == {"a": [1, {"b": None}], "s": "x\ty\"z"}
    assert row["tags"] == ["x", "y"]
    assert json.loads(row["tj"]) == ["x", "y"]
    assert row["name_json"] == "plain"          # a string into jsonb keeps its quotes: a JSON string
    assert row["city"] == "Zürich"
    assert row["first_tag"] == "x"
    assert row["b"] is None                      # JSON null -> SQL NULL
    assert row["slash"] == "slash" and row["tilde"] == "tilde"


def test_missing_key_and_null_are_sql_null(db, server):
    body = '{"id": 1, "v": null}\n{"id": 2}\n{"id": 3, "v": "x", "n": 5}\n'
    load(db, server, "nulls", body, [{"name": "id", "type": "int", "primary_key": True},
                                     {"name": "v", "type": "text"}, {"name": "n", "type": "int"},
                                     {"name": "j", "type": "jsonb"}])
    rows = db.query("SELECT id, v, n, j FROM public.nulls ORDER BY id")
    assert rows == [{"id": 1, "v": None, "n": None, "j": None}, {"id": 2, "v": None, "n": None, "j": None},
                    {"id": 3, "v": "x", "n": 5, "j": None}]


def test_null_into_non_nullable_column_names_column_and_line(db, server):
    body = '{"id": 1, "customer": "a"}\n{"id": 2, "customer": "b"}\n{"id": 3, "customer": null}\n'
    server.add_route("/nn", body)
    db.register("nn", server.url("/nn"), "public.nn", [{"name": "id", "type": "int", "primary_key": True},
                                                       {"name": "customer", "type": "text", "nullable": False}])
    msg, run = db.run_fails("nn")
    assert "customer" in msg
    assert re.search(r"\bline 3\b", msg), msg
    assert run["status"] == "failed"
    assert db.count("public.nn") == 0


def test_missing_key_into_non_nullable_column_names_column_and_line(db, server):
    body = '{"id": 1, "customer": "a"}\n{"id": 2}\n'
    server.add_route("/nm", body)
    db.register("nm", server.url("/nm"), "public.nm", [{"name": "id", "type": "int", "primary_key": True},
                                                       {"name": "customer", "type": "text", "nullable": False}])
    msg, _ = db.run_fails("nm")
    assert "customer" in msg
    assert re.search(r"\bline 2\b", msg), msg


def test_text_round_trips_exactly(db, server):
    tricky = ["tab\there", "new\nline", "back\\slash", "\\N", "", "carriage\rreturn", "é ✓ 😀", "quote\"s",
              "\\.", "comma,semi;colon", "nul-free \u0001 control"]
    body = "".join(json.dumps({"id": i, "v": s}) + "\n" for i, s in enumerate(tricky))
    load(db, server, "txt", body, [{"name": "id", "type": "int", "primary_key": True},
                                   {"name": "v", "type": "text"}])
    got = [r["v"] for r in db.query("SELECT v FROM public.txt ORDER BY id")]
    assert got == tricky   # "\\N" is the two characters, not NULL; "" is the empty string, not NULL


def test_types_converted_by_their_input_functions(db, server):
    rec = {"id": 1, "flag": True, "off": False, "day": "2024-02-29", "at": "2024-01-01T12:00:00+02:00",
           "ip": "10.0.0.1", "u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "amount": "12.345"}
    load(db, server, "types", json.dumps(rec) + "\n", [
        {"name": "id", "type": "int"}, {"name": "flag", "type": "boolean"}, {"name": "off", "type": "bool"},
        {"name": "day", "type": "date"}, {"name": "at", "type": "timestamptz"}, {"name": "ip", "type": "inet"},
        {"name": "u", "type": "uuid"}, {"name": "amount", "type": "numeric(12,2)"}])
    row = db.one("SELECT flag, off, day::text, (at AT TIME ZONE 'UTC')::text AS at, host(ip) AS ip, u::text, "
                 "amount::text FROM public.types")
    assert row == {"flag": True, "off": False, "day": "2024-02-29", "at": "2024-01-01 10:00:00", "ip": "10.0.0.1",
                   "u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "amount": "12.35"}


def test_a_value_the_type_rejects_names_column_and_line(db, server):
    body = '{"id": 1, "n": 1}\n{"id": 2, "n": "not a number"}\n'
    server.add_route("/bad_int", body)
    db.register("bad_int", server.url("/bad_int"), "public.bad_int",
                [{"name": "id", "type": "int"}, {"name": "n", "type": "int"}])
    msg, _ = db.run_fails("bad_int")
    assert 'column "n"' in msg and '"not a number"' in msg, msg
    assert re.search(r"\bline 2\b", msg), msg
    assert db.count("public.bad_int") == 0


def test_a_duplicate_key_in_one_object_is_refused_naming_the_key(db, server):
    # Today's finding: {"id": 3, "id": 4} loaded silently as 4. The rule: a key that a declared path goes through may
    # occur once per object; a duplicate is an error naming the line and the key, and the batch loads nothing.
    body = '{"id": 1, "name": "a"}\n{"id": 3, "name": "b", "id": 4}\n'
    server.add_route("/dupkey", body)
    db.register("dupkey", server.url("/dupkey"), "public.dupkey",
                [{"name": "id", "type": "int"}, {"name": "name", "type": "text"}], options={"max_retries": 0})
    with pytest.raises(psycopg.Error) as e:
        db.run("dupkey")
    msg = str(e.value)
    assert re.search(r"\bline 2\b", msg) and '"id"' in msg and "more than once" in msg, msg
    assert db.count("public.dupkey") == 0


def test_a_duplicate_key_inside_a_declared_path_is_refused(db, server):
    body = '{"id": 1, "meta": {"n": 1, "n": 2}}\n'
    server.add_route("/dupnested", body)
    db.register("dupnested", server.url("/dupnested"), "public.dupnested",
                [{"name": "id", "type": "int"}, {"name": "n", "type": "int", "path": "/meta/n"}],
                options={"max_retries": 0})
    with pytest.raises(psycopg.Error) as e:
        db.run("dupnested")
    assert '"n"' in str(e.value) and "more than once" in str(e.value), str(e.value)


def test_duplicate_keys_outside_the_declared_paths_do_not_matter(db, server):
    # Keys no declared path goes through change nothing that is loaded; they are not checked (a jsonb column keeps
    # PostgreSQL's own rule for its document: the last value of a key wins).
    body = '{"id": 1, "x": 1, "x": 2, "doc": {"k": 1, "k": 2}}\n'
    server.add_route("/dupother", body)
    db.register("dupother", server.url("/dupother"), "public.dupother",
                [{"name": "id", "type": "int"}, {"name": "doc", "type": "jsonb"}])
    assert db.run("dupother")["rows"] == 1
    assert db.scalar("SELECT doc::text FROM public.dupother") == '{"k": 2}'

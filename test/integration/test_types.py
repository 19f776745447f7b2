"""JSON values into PostgreSQL types (issue 5): each through the type's own input function, with the conversions
JSON needs (arrays, epoch, base64); a value that does not fit names the source, batch, line, column and value."""

import datetime
import ipaddress
import json
import uuid

import psycopg
import pytest

UTC = datetime.timezone.utc


# A number too precise for a Python float, written raw into the JSON text.
EXACT = "123456789012345678901234567890.123456789"


def load(db, server, name, columns, records, **kw):
    body = "".join(json.dumps(r) + "\n" for r in records).replace('"__EXACT__"', EXACT)
    server.add_route("/" + name, body)
    db.register(name, server.url("/" + name), "public." + name, columns, upsert="off", **kw)
    return db.run(name)


def test_type_matrix(db, server):
    db.execute("CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')")
    db.execute("CREATE DOMAIN percent AS integer CHECK (VALUE BETWEEN 0 AND 100)")
    columns = [
        {"name": "i2", "type": "smallint"}, {"name": "i8", "type": "bigint"},
        {"name": "n", "type": "numeric"}, {"name": "f4", "type": "real"}, {"name": "f8", "type": "float8"},
        {"name": "b", "type": "boolean"}, {"name": "bs", "type": "boolean"},
        {"name": "v", "type": "varchar(5)"}, {"name": "d", "type": "date"}, {"name": "t", "type": "time"},
        {"name": "ts", "type": "timestamptz"}, {"name": "ep", "type": "timestamptz", "format": "epoch"},
        {"name": "epms", "type": "timestamp", "format": "epoch_ms"}, {"name": "iv", "type": "interval"},
        {"name": "u", "type": "uuid"}, {"name": "ip", "type": "inet"}, {"name": "net", "type": "cidr"},
        {"name": "hex", "type": "bytea"}, {"name": "b64", "type": "bytea", "format": "base64"},
        {"name": "ints", "type": "int[]"}, {"name": "texts", "type": "text[]"},
        {"name": "j", "type": "json"}, {"name": "jb", "type": "jsonb"},
        {"name": "m", "type": "public.mood"}, {"name": "p", "type": "public.percent"},
    ]
    record = {
        "i2": 32767, "i8": 9223372036854775807, "n": "__EXACT__",
        "f4": "NaN", "f8": 1.5e300, "b": True, "bs": "yes", "v": "abcde", "d": "2024-02-29", "t": "23:59:59.5",
        "ts": "2024-01-01T10:00:00+02:00", "ep": 1700000000.25, "epms": "1700000000250", "iv": "1 day 2 hours",
        "u": "6f1e8a7c-4f1b-4c5e-9a3b-2d1c0b9a8f7e", "ip": "192.168.1.5/24", "net": "10.0.0.0/8",
        "hex": "\\x00ff80", "b64": "AP+A", "ints": [1, None, 3], "texts": ["a,b", "q\"x", None, "ü"],
        "j": {"z": 1, "a": [1, 2.0]}, "jb": "scalar string", "m": "happy", "p": 42,
    }
    run = load(db, server, "types", columns, [record])
    assert run["rows"] == 1
    row = db.one("SELECT * FROM public.types")
    assert row["i2"] == 32767 and row["i8"] == 9223372036854775807
    assert row["f8"] == 1.5e300
    assert row["v"] == "abcde"
    assert row["d"] == datetime.date(2024, 2, 29) and row["t"] == datetime.time(23, 59, 59, 500000)
    assert row["iv"] == datetime.timedelta(days=1, hours=2)
    assert row["ip"] == ipaddress.ip_interface("192.168.1.5/24") and row["net"] == ipaddress.ip_network("10.0.0.0/8")
    assert str(row["n"]) == EXACT  # every digit
    assert row["f4"] != row["f4"]  # NaN
    assert row["b"] is True and row["bs"] is True
    assert row["ts"] == datetime.datetime(2024, 1, 1, 8, 0, tzinfo=UTC)
    assert row["ep"] == datetime.datetime(2023, 11, 14, 22, 13, 20, 250000, tzinfo=UTC)
    assert row["epms"] == datetime.datetime(2023, 11, 14, 22, 13, 20, 250000)
    assert row["u"] == uuid.UUID("6f1e8a7c-4f1b-4c5e-9a3b-2d1c0b9a8f7e")
    assert bytes(row["hex"]) == b"\x00\xff\x80" and bytes(row["b64"]) == b"\x00\xff\x80"
    assert row["ints"] == [1, None, 3] and row["texts"] == ["a,b", 'q"x', None, "ü"]
    assert db.scalar("SELECT j::text FROM public.types") == '{"z": 1, "a": [1, 2.0]}'  # json kept as sent
    assert row["jb"] == "scalar string" and row["m"] == "happy" and row["p"] == 42


@pytest.mark.parametrize("column, value, expect", [
    ({"name": "x", "type": "smallint"}, 40000, "out of range"),
    ({"name": "x", "type": "varchar(3)"}, "abcd", "too long"),
    ({"name": "x", "type": "uuid"}, "not-a-uuid", "uuid"),
    ({"name": "x", "type": "timestamptz", "format": "epoch"}, "soon", "seconds since 1970"),
    ({"name": "x", "type": "bytea", "format": "base64"}, "***", "base64"),
    ({"name": "x", "type": "int[]"}, [1, {"a": 1}], "x"),
    ({"name": "x", "type": "boolean"}, "maybe", "boolean"),
])
def test_a_value_that_does_not_fit_names_source_batch_line_column(db, server, column, value, expect):
    name = "bad_%s" % column["type"].replace("(", "").replace(")", "").replace("[]", "_arr")
    with pytest.raises(psycopg.Error) as e:
        load(db, server, name, [{"name": "id", "type": "int"}, column], [{"id": 1, "x": None}, {"id": 2, "x": value}])
    msg = str(e.value)
    assert name in msg and "batch 1" in msg and "line 2" in msg and '"x"' in msg and expect in msg, msg
    assert db.count("public." + name) == 0


def test_domain_checks_apply(db, server):
    db.execute("CREATE DOMAIN percent AS integer CHECK (VALUE BETWEEN 0 AND 100)")
    with pytest.raises(psycopg.Error, match='violates check constraint "percent_check"'):
        load(db, server, "dom", [{"name": "p", "type": "public.percent"}], [{"p": 50}, {"p": 101}])

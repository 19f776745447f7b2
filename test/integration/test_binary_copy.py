"""Rows in COPY's binary format (issue 11): when every column's type is one the core converts, the rows reach COPY
binary, converted on the read-ahead's core; every value must be exactly what the type's input function makes of the
text (what COPY's text format, bulk_ingest.binary_copy = off, loads), a value the core leaves alone goes through the
input function on the main thread, and a bad one fails its batch naming the line, the column and the value."""

import json
import re
import time

import psycopg
import pytest

COLUMNS = [
    {"name": "id", "type": "bigint", "primary_key": True},
    {"name": "t", "type": "text"}, {"name": "v", "type": "varchar(6)"}, {"name": "c", "type": "char(4)"},
    {"name": "i2", "type": "smallint"}, {"name": "i4", "type": "integer"}, {"name": "i8", "type": "bigint"},
    {"name": "n", "type": "numeric"}, {"name": "money", "type": "numeric(7,2)"}, {"name": "tens", "type": "numeric(4,-1)"},
    {"name": "f4", "type": "real"}, {"name": "f8", "type": "double precision"}, {"name": "b", "type": "boolean"},
    {"name": "d", "type": "date"}, {"name": "ts", "type": "timestamp"}, {"name": "tstz", "type": "timestamptz"},
    {"name": "tstz3", "type": "timestamptz(3)"}, {"name": "u", "type": "uuid"}, {"name": "j", "type": "json"},
    {"name": "jb", "type": "jsonb"},
]

# Per column, texts the core converts and texts it leaves to the input function (other spellings, rounding,
# the session's time zone): all of them valid.
VALUES = {
    "t": ["plain", "tab\there", "new\nline", "back\\slash", "\\N", "", "ünï©ødé 😀", " spaced "],
    "v": ["abc", "abcdef", "éééééé", "abcdef   ", ""],
    "c": ["ab", "abcd", "ab  ", "é"],
    "i2": ["0", "-32768", "32767", "007", "-0", " 12 ", "+5"],
    "i4": ["2147483647", "-2147483648", "42", "  -7"],
    "i8": ["9223372036854775807", "-9223372036854775808", "0", "+1", "000000000000000000000000001"],
    "n": ["12.50", "-12345.6", "0.00001", "100000000", "0", "-0.00", "0007.", "1e3", "NaN", "Infinity", ".5",
          " 3.25 ", "123456789012345678901234567890.123456789012345678901234567890", "-1E-7"],
    "money": ["99.999", "-99.995", "0.005", "12345.67", "99999.994", "1.234e2", "-0.004"],
    "tens": ["1234", "15", "-25", "994"],
    "f4": ["1.5", "0.1", "3.4028235e38", "1e-38", "-0", "NaN", "Infinity", "1e-40", "16777217"],
    "f8": ["1.5", "0.1", "1.7976931348623157e308", "2.2250738585072014e-308", "-0", "1e3", "4.9e-324", "NaN",
           "-Infinity", "0.30000000000000004", "123456789012345678"],
    "b": ["true", "false", "t", "f", "yes", "no", "on", "off", "1", "0", "TRUE", " true "],
    "d": ["2000-01-01", "1999-12-31", "2024-02-29", "0001-01-01", "9999-12-31", "20240301", "2024-3-1",
          "Jan 5, 2024", "epoch"],
    "ts": ["2024-05-01T10:00:00", "2024-05-01 10:00:00.123456", "2000-01-01T00:00:00.5", "2024-05-01T10:00:00Z",
           "2024-05-01T10:00:00.1234567", "2024-05-01T24:00:00", "2016-12-31T23:59:60", "2024-05-01T10:00"],
    "tstz": ["2024-05-01T10:00:00Z", "2024-05-01T10:00:00+02:00", "2024-05-01T10:00:00-0530", "2024-05-01 10:00:00+05",
             "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z", "2024-05-01T10:00:00",
             "2024-03-10T02:30:00", "2024-05-01T10:00:00.9999995Z", "2024-05-01T10:00:00+15:59",
             "2024-05-01T10:00:00 Europe/Paris"],
    "tstz3": ["2024-05-01T10:00:00.1234Z", "2024-05-01T10:00:00.9995Z", "2024-05-01T10:00:00Z"],
    "u": ["0123abcd-4567-89ef-abcd-0123456789ab", "0123ABCD-4567-89EF-ABCD-0123456789AB",
          "{0123abcd-4567-89ef-abcd-0123456789ab}", "0123abcd456789efabcd0123456789ab"],
}
JSON_VALUES = [{"a": 1, "b": [1, 2.50, "x"]}, [], "scalar", 12.5, None, {"nested": {"deep": "\u00e9\\\t"}}, True]


def records():
    """One record per value of each column (the other columns NULL), then one with every first value."""
    out = []
    for name, texts in VALUES.items():
        for text in texts:
            out.append({name: text})
    for value in JSON_VALUES:
        out.append({"j": value, "jb": value})
    out.append({name: texts[0] for name, texts in VALUES.items()})
    for i, record in enumerate(out):
        record["id"] = i + 1
    return out


def set_database(db, setting, value):
    """A setting of the test's database: what a run's worker (a process of its own) starts with."""
    db.execute('ALTER DATABASE "%s" SET %s = %s' % (db.name, setting, value))


def load(db, server, name, body, binary, columns=COLUMNS, fmt="ndjson", options=None, batch_rows=None):
    """Registers and runs the source with bulk_ingest.binary_copy set (for the database: a run has its own worker);
    returns (the run, the COPY format of each batch, from the worker's DEBUG1 lines in the server log). The run's
    error, if any, is raised once the formats are read."""
    set_database(db, "bulk_ingest.binary_copy", "on" if binary else "off")
    set_database(db, "log_min_messages", "debug1")
    set_database(db, "TimeZone", "'America/New_York'")
    options = dict(options or {})
    if batch_rows:
        options["batch_rows"] = batch_rows
    server.add_route("/" + name, body)
    db.register(name, server.url("/" + name), "public." + name, columns, format=fmt, options=options)
    offset = db.cluster.log_offset()
    pattern = re.compile(r'source "%s" loads a batch in COPY\'s (\w+) format' % re.escape(name))
    try:
        run, error = db.run(name), None
    except psycopg.Error as e:
        run, error = None, e
    formats = []
    for _ in range(50):  # (the log may be written a moment after the run returns)
        formats = pattern.findall(db.cluster.log_since(offset))
        if formats:
            break
        time.sleep(0.05)
    if error is not None:
        raise error
    return run, formats


def table_text(db, table):
    """Every row as PostgreSQL prints it, in the key's order (floats printed exactly)."""
    db.execute("SET extra_float_digits = 3")
    return [r["row"] for r in db.query("SELECT %s::text AS row FROM public.%s ORDER BY id" % (table, table))]


def test_binary_rows_are_exactly_what_the_input_functions_make_of_the_texts(db, server):
    body = "".join(json.dumps(r) + "\n" for r in records())
    binary_run, binary_formats = load(db, server, "bin", body, True, batch_rows=40)
    text_run, text_formats = load(db, server, "txt", body, False, batch_rows=40)
    assert binary_formats and set(binary_formats) == {"binary"}
    assert text_formats and set(text_formats) == {"text"}
    assert binary_run["rows"] == text_run["rows"] == len(records())
    binary_rows, text_rows = table_text(db, "bin"), table_text(db, "txt")
    assert len(binary_rows) == len(records())
    for b, t in zip(binary_rows, text_rows):
        assert b == t
    # Spot checks that the comparison compares: values the core converted and ones it left alone.
    db.execute("SET TimeZone = 'UTC'")
    assert db.scalar("SELECT count(*) FROM public.bin WHERE tstz = '2024-05-01T08:00:00Z'") == 2  # +02:00, Paris
    assert db.scalar("SELECT count(*) FROM public.bin WHERE tstz = '2024-05-01T14:00:00Z'") == 1  # New York's 10:00
    assert db.scalar("SELECT count(*) FROM public.bin WHERE money = 100.00") == 2  # 99.999 rounded (twice)
    assert db.scalar("SELECT count(*) FROM public.bin WHERE tens = 1230") == 2
    assert db.scalar("SELECT n::text FROM public.bin WHERE n = 0.00001") == "0.00001"


def test_the_same_rows_arrive_binary_from_csv_and_a_json_array(db, server):
    rows = [r for r in records() if "j" not in r]
    names = [c["name"] for c in COLUMNS if c["name"] not in ("j", "jb")]
    columns = [c for c in COLUMNS if c["name"] not in ("j", "jb")]

    def csv_field(value):
        return "" if value is None else '"%s"' % str(value).replace('"', '""')

    csv_body = ",".join(names) + "\n" + "".join(",".join(csv_field(r.get(n)) for n in names) + "\n" for r in rows)
    csv_run, csv_formats = load(db, server, "csvb", csv_body, True, columns=columns, fmt="csv")
    array_run, array_formats = load(db, server, "arrb", json.dumps(rows), True, columns=columns, fmt="json")
    text_run, _ = load(db, server, "csvt", csv_body, False, columns=columns, fmt="csv")
    assert set(csv_formats) == set(array_formats) == {"binary"}
    assert csv_run["rows"] == array_run["rows"] == text_run["rows"] == len(rows)
    assert table_text(db, "csvb") == table_text(db, "csvt")
    assert table_text(db, "arrb") == table_text(db, "csvt")


@pytest.mark.parametrize("column,bad,expected", [
    ("i8", "12abc", 'invalid input syntax for type bigint: "12abc"'),
    ("money", "123456.789", "numeric field overflow"),
    ("v", "abcdefg", "value too long for type character varying(6)"),
    ("tstz", "2024-02-30T10:00:00Z", 'date/time field value out of range: "2024-02-30T10:00:00Z"'),
    ("b", "maybe", 'invalid input syntax for type boolean: "maybe"'),
    ("u", "0123abcd-4567-89ef-abcd-0123456789", 'invalid input syntax for type uuid'),
])
def test_a_value_its_type_refuses_fails_the_batch_naming_line_column_and_value(db, server, column, bad, expected):
    good = [{"id": i, column: VALUES[column][0]} for i in range(1, 5)]
    body = "".join(json.dumps(r) + "\n" for r in good[:2] + [{"id": 3, column: bad}] + good[3:])
    messages = {}
    for binary in (True, False):
        name = "bad_%s_%s" % (column, "bin" if binary else "txt")
        with pytest.raises(psycopg.Error) as failure:
            load(db, server, name, body, binary, batch_rows=2)
        messages[binary] = re.sub(r"^run \d+ ", "run N ", str(failure.value).replace(name, "SOURCE"))
        run = db.last_run(name)
        assert run["status"] == "failed"
        assert db.count("public." + name) == 2, "the first batch stays, nothing of the failed one"
    assert expected in messages[True]
    assert "batch 2" in messages[True] and 'line 3, column "%s"' % column in messages[True]
    assert messages[True] == messages[False], "binary rows fail as text rows do"


def test_a_type_the_core_does_not_convert_keeps_the_run_on_text_rows(db, server):
    db.execute("CREATE DOMAIN small_int AS integer CHECK (VALUE < 100)")
    for name, column in [("inet_col", {"name": "x", "type": "inet"}), ("array_col", {"name": "x", "type": "int[]"}),
                         ("domain_col", {"name": "x", "type": "public.small_int"})]:
        columns = [{"name": "id", "type": "bigint", "primary_key": True}, column]
        value = {"inet_col": "10.0.0.1", "array_col": [1, 2], "domain_col": 7}[name]
        run, formats = load(db, server, name, json.dumps({"id": 1, "x": value}) + "\n", True, columns=columns)
        assert run["rows"] == 1 and set(formats) == {"text"}, name


def test_rejects_and_a_client_encoding_that_converts_keep_text_rows(db, server):
    columns = [{"name": "id", "type": "bigint", "primary_key": True}, {"name": "t", "type": "text"}]
    body = json.dumps({"id": 1, "t": "ünï"}) + "\n" + json.dumps({"id": "x", "t": "bad"}) + "\n"
    run, formats = load(db, server, "rejecting", body, True, columns=columns, options={"on_error": "skip"})
    assert run["rows"] == 1 and set(formats) == {"text"}
    # client_encoding (as the worker has it) converting: textrecv would read UTF-8 bytes as LATIN1.
    set_database(db, "client_encoding", "LATIN1")
    run, formats = load(db, server, "latin", json.dumps({"id": 1, "t": "ünï"}) + "\n", True, columns=columns)
    assert run["rows"] == 1 and set(formats) == {"text"}
    set_database(db, "client_encoding", "UTF8")
    assert db.scalar("SELECT t FROM public.latin") == "ünï"

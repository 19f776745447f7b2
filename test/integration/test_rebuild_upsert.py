"""Loading through the rebuild path (issue 4): values round-trip exactly (also when a migration copies them), large
rows, upsert on a composite primary key with hostile identifiers (last row wins inside a batch, across runs, and
during a rebuild, where the batch's rows win over the copied old rows), upsert off, tables without a primary key.

Ported from pg-bulk-ingest's suite: test_data_types, test_large_amounts_of_data, test_upsert, test_upsert_off,
test_upsert_with_duplicates_in_batch, test_insert, test_high_watermark_is_preserved_between_ingests_no_primary_key,
test_multiple_tables (two sources, each its own table, in the same database)."""

import datetime
import hashlib

from rebuild_helpers import cols, primary_key, qi, qname, relations_in, relid, rows, serve
from testdata import ts, tsval

# Quotes, dots, blanks, %, commas, capitals and emoji, everywhere.
SCHEMA = 'my.Sche"ma\' %,🍰'
TABLE = 'mY_t"\'able. x%,🍰'
TARGET = qname(SCHEMA, TABLE)
ID_1 = "id_1"
ID_2 = 'id"\'_2🍰'
VALUE_1 = "Value_1🍰 with space"
VALUE_2 = 'va"\'lue.2,%'
HOSTILE = cols((ID_1, "int pk"), (ID_2, "int pk"), (VALUE_1, "varchar"), (VALUE_2, "varchar"))


def hostile(*tuples):
    return [{ID_1: t[0], ID_2: t[1], VALUE_1: t[2], VALUE_2: t[3]} for t in tuples]


def hostile_rows(db, extra=""):
    return rows(db, "SELECT %s, %s, %s, %s%s FROM %s ORDER BY 1, 2"
                % (qi(ID_1), qi(ID_2), qi(VALUE_1), qi(VALUE_2), extra, TARGET))


def test_data_types_round_trip_also_through_a_migration(db, server):
    columns = cols(("integer", "int"), ("varchar", "varchar"), ("date", "date"), ("array", "int[]"),
                   ("json", "json"), ("jsonb", "jsonb"), ("bytes", "bytea"))
    records = [
        {"integer": 4, "varchar": "a", "date": "2023-01-02", "array": [1, 2], "json": {}, "jsonb": {},
         "bytes": "\\x80"},
        {"integer": 5, "varchar": "b", "date": None, "array": [1, 2], "json": {}, "jsonb": {}, "bytes": "\\x00"},
        {"integer": 6, "varchar": "ü 🍰 \\ \" '", "date": "2024-02-29", "array": [None, -3],
         "json": {"z": 1, "a": [1, 2.0]}, "jsonb": {"z": 1, "a": [1, 2.0]}, "bytes": "\\x00ff80"},
        {"integer": 7},  # every other column NULL
    ]
    serve(server, "types", records)
    db.register("types", server.url("/types"), "public.types", columns)
    db.run("types")
    expected = [
        (4, "a", datetime.date(2023, 1, 2), [1, 2], {}, {}, b"\x80"),
        (5, "b", None, [1, 2], {}, {}, b"\x00"),
        (6, "ü 🍰 \\ \" '", datetime.date(2024, 2, 29), [None, -3], {"z": 1, "a": [1, 2.0]},
         {"z": 1, "a": [1, 2.0]}, b"\x00\xff\x80"),
        (7, None, None, None, None, None, None),
    ]

    def table():
        out = []
        for r in rows(db, 'SELECT "integer", "varchar", "date", "array", "json", "jsonb", "bytes" '
                          'FROM public.types ORDER BY 1'):
            out.append(r[:6] + (None if r[6] is None else bytes(r[6]),))
        return out

    assert table() == expected
    json_text = db.scalar('SELECT "json"::text FROM public.types WHERE "integer" = 6')

    # A migration (a column added in the middle) copies every value exactly, json text included.
    db.register("types", server.url("/types"), "public.types", columns[:3] + cols(("extra", "text")) + columns[3:])
    serve(server, "types", [{"integer": 8, "extra": "x", "bytes": "\\x00"}])
    assert db.run("types")["rebuild"] is not None
    assert table() == expected + [(8, None, None, None, None, None, b"\x00")]
    assert db.scalar('SELECT "json"::text FROM public.types WHERE "integer" = 6') == json_text
    assert db.scalar('SELECT count(*) FROM public.types WHERE extra IS NULL') == 4


def test_large_rows(db, server):
    big = ["%d" % i + "x" * (2 * 1024 * 1024) for i in range(3)]  # 2 MiB values
    records = [{"id": i, "v": "a" * 1000} for i in range(10000)] + \
              [{"id": 10000 + i, "v": v} for i, v in enumerate(big)]
    server.add_dataset("large", records, field=None, page_size=len(records))
    db.register("large", server.url("/large"), "public.large", cols(("id", "int pk"), ("v", "text")))
    result = db.run("large")
    assert result["status"] == "succeeded" and result["rows"] == 10003

    def check():
        assert db.scalar("SELECT sum(length(v)) FROM public.large WHERE id < 10000") == 1000 * 10000
        for i, v in enumerate(big):
            assert db.scalar("SELECT md5(v) FROM public.large WHERE id = %s", (10000 + i,)) == \
                hashlib.md5(v.encode()).hexdigest()

    check()
    # ... and through a migration's copy.
    db.register("large", server.url("/large"), "public.large",
                cols(("id", "bigint pk"), ("v", "text"), ("w", "int")))
    server.dataset("large").records[:] = [{"id": 20000, "v": "new", "w": 1}]
    assert db.run("large")["rebuild"] is not None
    check()
    assert db.count("public.large") == 10004


def test_upsert_with_a_composite_key_and_hostile_identifiers(db, server):
    db.execute("CREATE SCHEMA %s" % qi(SCHEMA))
    serve(server, "hostile", hostile((1, 2, "a", "b"), (3, 4, "c", "d")))
    db.register("hostile", server.url("/hostile"), TARGET, HOSTILE)
    first = db.run("hostile")
    assert first["rows"] == 2
    assert primary_key(db, TARGET) == [ID_1, ID_2]
    oid_1 = relid(db, TARGET)

    serve(server, "hostile", hostile((3, 4, "e", "f"), (3, 6, "g", "h")))
    second = db.run("hostile")
    assert second["rebuild"] is None
    assert hostile_rows(db) == [(1, 2, "a", "b"), (3, 4, "e", "f"), (3, 6, "g", "h")]
    assert relid(db, TARGET) == oid_1

    # A migration that adds a hostile column in the middle: the batch's rows win over the copied old rows, and the
    # last row of the batch wins over earlier ones.
    new_column = 'new.column%with"spaces, and.dots🍰'
    declared = HOSTILE[:2] + cols((new_column, "text")) + HOSTILE[2:]
    db.register("hostile", server.url("/hostile"), TARGET, declared)
    serve(server, "hostile", [
        {ID_1: 3, ID_2: 4, new_column: "first", VALUE_1: "x", VALUE_2: "y"},
        {ID_1: 5, ID_2: 6, new_column: "n", VALUE_1: "i", VALUE_2: "j"},
        {ID_1: 3, ID_2: 4, new_column: "last", VALUE_1: "X", VALUE_2: "Y"},
    ])
    third = db.run("hostile")
    assert third["rebuild"] is not None and "spaces, and.dots" in third["rebuild"]
    assert hostile_rows(db, ", %s" % qi(new_column)) == [
        (1, 2, "a", "b", None), (3, 4, "X", "Y", "last"), (3, 6, "g", "h", None), (5, 6, "i", "j", "n")]
    assert [c["attname"] for c in db.query(
        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped "
        "ORDER BY attnum", (TARGET,))] == [ID_1, ID_2, new_column, VALUE_1, VALUE_2]
    assert primary_key(db, TARGET) == [ID_1, ID_2]


def test_upsert_off_with_hostile_identifiers_fails_on_an_existing_key_and_changes_nothing(db, server):
    db.execute("CREATE SCHEMA %s" % qi(SCHEMA))
    serve(server, "hostile_off", hostile((1, 2, "a", "b"), (3, 4, "c", "d")))
    db.register("hostile_off", server.url("/hostile_off"), TARGET, HOSTILE)
    db.run("hostile_off")
    oid = relid(db, TARGET)

    db.register("hostile_off", server.url("/hostile_off"), TARGET, HOSTILE, upsert="off")
    serve(server, "hostile_off", hostile((3, 4, "e", "f"), (3, 6, "g", "h")))
    msg, run = db.run_fails("hostile_off")
    assert "duplicate key" in msg or "unique" in msg, msg
    assert run["status"] == "failed"
    assert hostile_rows(db) == [(1, 2, "a", "b"), (3, 4, "c", "d")]

    # Also when the batch migrates the table: the rebuild fails on the old row's key, nothing changes.
    db.register("hostile_off", server.url("/hostile_off"), TARGET, HOSTILE + cols(("more", "int")), upsert="off")
    msg, run = db.run_fails("hostile_off")
    assert "duplicate" in msg or "unique" in msg, msg
    assert relid(db, TARGET) == oid
    assert hostile_rows(db) == [(1, 2, "a", "b"), (3, 4, "c", "d")]


def test_upsert_with_duplicates_inside_batches(db, server):
    columns = cols(("id_1", "int pk"), ("id_2", "int pk"), ("Value_1", "varchar"), ("value_2", "varchar"))

    def recs(*tuples):
        return [{"id_1": a, "id_2": b, "Value_1": c, "value_2": d} for a, b, c, d in tuples]

    db.execute('CREATE SCHEMA "my_Schema"')
    target = '"my_Schema"."mY_t""\'able"'
    # Batch 1 is the new table's fast path: the last of the duplicates wins there too.
    serve(server, "dups", recs((1, 2, "a", "b"), (3, 4, "c", "d"), (1, 2, "a", "c")))
    db.register("dups", server.url("/dups"), target, columns)
    db.run("dups")
    oid = relid(db, target)
    serve(server, "dups", recs((3, 4, "e", "f"), (3, 6, "g", "h"), (3, 6, "i", "j")))
    assert db.run("dups")["rebuild"] is None
    assert rows(db, "SELECT * FROM %s ORDER BY 1, 2" % target) == [
        (1, 2, "a", "c"), (3, 4, "e", "f"), (3, 6, "i", "j")]
    assert relid(db, target) == oid


def test_without_a_primary_key_rows_are_appended_also_through_a_migration(db, server):
    columns = cols(("integer", "int"), ("updated_at", "timestamptz"))
    ds = server.add_dataset("nopk", [{"integer": 1, "updated_at": ts(1)}])
    url = server.url("/nopk?since={high_watermark}")
    db.register("nopk", url, "public.nopk", columns, high_watermark_column="updated_at")
    db.run("nopk")
    wm = db.watermark("nopk")
    ds.add([{"integer": 1, "updated_at": ts(2)}])
    db.run("nopk")
    assert rows(db, "SELECT \"integer\" FROM public.nopk ORDER BY 1") == [(1,), (1,)]
    assert db.watermark("nopk") != wm

    # A migration copies every old row and appends the batch, duplicates included.
    migrated = cols(("integer", "bigint"), ("note", "text"), ("updated_at", "timestamptz"))
    db.register("nopk", url, "public.nopk", migrated, high_watermark_column="updated_at")
    ds.add([{"integer": 1, "note": "n", "updated_at": ts(3)}, {"integer": 1, "note": "n", "updated_at": ts(4)}])
    assert db.run("nopk")["rebuild"] is not None
    assert rows(db, 'SELECT "integer", note FROM public.nopk ORDER BY 2, 1') == [
        (1, "n"), (1, "n"), (1, None), (1, None)]
    assert db.watermark("nopk", as_type="timestamptz") == tsval(4)


def test_upsert_off_appends_into_a_table_without_a_key(db, server):
    serve(server, "append", [{"integer": 1}])
    db.register("append", server.url("/append"), "public.append", cols(("integer", "int")), upsert="off")
    db.run("append")
    serve(server, "append", [{"integer": 2}, {"integer": 2}])
    db.run("append")
    assert rows(db, 'SELECT "integer" FROM public.append ORDER BY 1') == [(1,), (2,), (2,)]


def test_two_sources_two_tables_in_one_database(db, server):
    # pg-bulk-ingest's multiple tables: each source fills its own table, and leaves nothing else behind.
    serve(server, "one", [{"id_1": i} for i in range(2000)])
    serve(server, "two", [{"id_1": i} for i in range(2000)])
    db.register("one", server.url("/one"), "public.table_1", cols(("id_1", "int pk")))
    db.register("two", server.url("/two"), "public.table_2", cols(("id_1", "int pk")))
    db.run("one")
    db.run("two")
    assert rows(db, "SELECT id_1 FROM public.table_1 ORDER BY 1") == [(i,) for i in range(2000)]
    assert rows(db, "SELECT id_1 FROM public.table_2 ORDER BY 1") == [(i,) for i in range(2000)]
    assert relations_in(db, "public") == [("table_1", "r"), ("table_1_pkey", "i"), ("table_2", "r"),
                                          ("table_2_pkey", "i")]
    assert db.last_run("one")["rebuild"] is not None  # the fast path of a new table

"""Auto-migration (issue 4): the declaration (columns in order, types, nullability, primary key, indexes) is the truth.
When the live table differs, the run's FIRST BATCH builds a new table, loads the batch, copies the old rows (with
casts), builds the indexes and swaps it in, in that batch's transaction together with the watermark; until then every
reader sees the old table. A run with no batch changes nothing; a declaration that matches the table never rebuilds.
Each run records why it rebuilt (runs.rebuild, NULL when it did not) and its lock attempts.

Ported from pg-bulk-ingest's suite: test_migrate_add_column_at_end, test_migrate_add_column_not_at_end (+ its
_batch_fails_high_watermark_preserved and _no_data variants), test_batches,
test_batch_visible_only_after_batch_complete,
test_if_no_batches_then_only_target_table_visible, test_high_watermark_is_preserved_between_ingests/_if_exception
(across migrations), plus what pg-bulk-ingest gets wrong (rebuilding on every run for float columns and some type
spellings)."""

import datetime
import threading
import time

import psycopg
import pytest

from rebuild_helpers import (cols, column_names, primary_key, reader, relation_count, relid, rows, shape,
                             wait_for_swap_attempt)
from server import Fault, Gate
from testdata import ts, tsval, wait_for

V1 = cols(("id", "int pk"), ("value_a", "varchar"), ("value_b", "varchar"))


def dataset(server, name, records, **kw):
    """Records served in this order (no watermark filtering), one page unless page_size says otherwise."""
    kw.setdefault("field", None)
    return server.add_dataset(name, records, **kw)


def sort_key(row):
    return tuple((v is None, v if v is not None else 0) for v in row)


def select_star(db, table, conn=None):
    """(column names, rows as sorted tuples) of SELECT *: what a reader sees, shape included."""
    cur = (conn or db.conn).execute("SELECT * FROM %s" % table)
    names = [d.name for d in cur.description]
    return names, sorted((tuple(r.values()) for r in cur.fetchall()), key=sort_key)


def assert_unchanged(db, table, oid, names, data):
    assert relid(db, table) == oid, "the table was replaced"
    assert select_star(db, table) == (names, data)


# ---- columns ----------------------------------------------------------------------------------------------------

def test_add_column_at_the_end_readers_see_the_old_table_until_the_batch_commits(db, server):
    ds = dataset(server, "end", [{"id": 1, "value_a": "a", "value_b": "b"}])
    db.register("end", server.url("/end"), "public.t_end", V1)
    assert db.run("end")["status"] == "succeeded"
    oid_1 = relid(db, "public.t_end")

    db.register("end", server.url("/end"), "public.t_end", V1 + cols(("value_c", "varchar")))
    ds.records[:] = [{"id": 2, "value_a": "a2", "value_b": "b2", "value_c": "c2"},
                     {"id": 3, "value_a": "a3", "value_b": "b3", "value_c": "c3"}]
    gate = Gate()
    ds.faults.append(Fault(page=1, gate=gate, gate_after=1, times=1))
    run = db.run_in_thread("end")
    gate.wait_reached()

    # The first batch (and so the rebuild) is in flight: a reader is not blocked and sees the old table.
    r = reader(db, statement_timeout_ms=3000)
    assert select_star(db, "public.t_end", r) == (["id", "value_a", "value_b"], [(1, "a", "b")])
    assert relid(db, "public.t_end", conn=r) == oid_1

    gate.release()
    result = run.wait()
    assert result["status"] == "succeeded" and result["batches"] == 1 and result["rows"] == 2
    assert select_star(db, "public.t_end", r) == (
        ["id", "value_a", "value_b", "value_c"],
        [(1, "a", "b", None), (2, "a2", "b2", "c2"), (3, "a3", "b3", "c3")])
    assert relid(db, "public.t_end") != oid_1
    assert result["rebuild"] is not None and "value_c" in result["rebuild"]
    # The swap's lock attempts and wait are recorded.
    assert result["lock_attempts"] >= 1
    assert result["lock_wait_ms"] is not None and 0 <= result["lock_wait_ms"] < 5000
    assert db.last_run("end")["rebuild"] == result["rebuild"]


def test_add_column_in_the_middle_a_reader_keeps_the_old_table_and_watermark_until_the_swap(db, server):
    columns_1 = cols(("id", "int pk"), ("value_a", "varchar"), ("value_b", "varchar"), ("updated_at", "timestamptz"))
    columns_2 = columns_1[:2] + cols(("value_c", "varchar")) + columns_1[2:]
    ds = server.add_dataset("mid", [{"id": 1, "value_a": "a", "value_b": "b", "updated_at": ts(1)}])
    url = server.url("/mid?since={high_watermark}")
    db.register("mid", url, "public.t_mid", columns_1, high_watermark_column="updated_at")
    db.run("mid")
    oid_1 = relid(db, "public.t_mid")
    wm_1 = db.watermark("mid")
    old = (["id", "value_a", "value_b", "updated_at"], [(1, "a", "b", tsval(1))])

    db.register("mid", url, "public.t_mid", columns_2, high_watermark_column="updated_at")
    ds.add([{"id": 2, "value_a": "a2", "value_c": "c2", "value_b": "b2", "updated_at": ts(2)},
            {"id": 3, "value_a": "a3", "value_c": "c3", "value_b": "b3", "updated_at": ts(3)}])
    gate = Gate()
    ds.faults.append(Fault(page=1, gate=gate, gate_after=1, times=1))
    server.clear_requests()

    # A REPEATABLE READ reader, in a transaction open across the whole run.
    rr = db.connect(autocommit=False)
    rr.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    run = db.run_in_thread("mid")
    gate.wait_reached()
    assert select_star(db, "public.t_mid", rr) == old
    gate.release()

    # The batch is loaded and the swap waits for the reader's lock: the reader, and everyone else, still see the old
    # table, its rows and the old watermark.
    wait_for_swap_attempt(db)
    assert select_star(db, "public.t_mid", rr) == old
    other = reader(db, statement_timeout_ms=5000)
    assert select_star(db, "public.t_mid", other) == old
    assert db.watermark("mid") == wm_1
    assert run.is_alive()

    rr.commit()
    result = run.wait()
    assert result["status"] == "succeeded" and result["rows"] == 2
    assert result["lock_attempts"] >= 2
    assert "value_c" in result["rebuild"]
    assert select_star(db, "public.t_mid", other) == (
        ["id", "value_a", "value_c", "value_b", "updated_at"],
        [(1, "a", None, "b", tsval(1)), (2, "a2", "c2", "b2", tsval(2)), (3, "a3", "c3", "b3", tsval(3))])
    assert relid(db, "public.t_mid") != oid_1
    # The migrating run asked for what followed the watermark, and moved it in the swap's transaction.
    assert db.scalar("SELECT %s::timestamptz = %s::timestamptz", (server.requests_for("mid")[0].query["since"], wm_1))
    assert db.watermark("mid", as_type="timestamptz") == tsval(3)
    rr.close()


def test_remove_a_column(db, server):
    ds = dataset(server, "rm", [{"id": 1, "value_a": "a", "value_b": "b"}])
    db.register("rm", server.url("/rm"), "public.t_rm", V1)
    db.run("rm")
    db.register("rm", server.url("/rm"), "public.t_rm", V1[:2])
    ds.records[:] = [{"id": 2, "value_a": "x", "value_b": "ignored"}]
    result = db.run("rm")
    assert "value_b" in result["rebuild"]
    assert select_star(db, "public.t_rm") == (["id", "value_a"], [(1, "a"), (2, "x")])


def test_reorder_columns(db, server):
    ds = dataset(server, "ro", [{"id": 1, "value_a": "a", "value_b": "b"}])
    db.register("ro", server.url("/ro"), "public.t_ro", V1)
    db.run("ro")
    db.register("ro", server.url("/ro"), "public.t_ro", [V1[0], V1[2], V1[1]])
    ds.records[:] = [{"id": 2, "value_a": "a2", "value_b": "b2"}]
    result = db.run("ro")
    assert result["rebuild"] is not None
    assert select_star(db, "public.t_ro") == (["id", "value_b", "value_a"], [(1, "b", "a"), (2, "b2", "a2")])
    # Now it matches: the next run loads in place.
    again = db.run("ro")
    assert again["rebuild"] is None


def test_change_types_with_casts(db, server):
    old = cols(("id", "int pk"), ("n", "text"), ("small", "int"), ("name", "varchar(10)"), ("amount", "numeric(12,2)"),
               ("flag", "text"), ("day", "text"))
    new = cols(("id", "bigint pk"), ("n", "int"), ("small", "bigint"), ("name", "text"), ("amount", "float8"),
               ("flag", "boolean"), ("day", "date"))
    ds = dataset(server, "cast", [{"id": 1, "n": "42", "small": 7, "name": "abc", "amount": "1.50", "flag": "true",
                                   "day": "2024-02-29"},
                                  {"id": 2, "n": None, "small": None, "name": None, "amount": None, "flag": None,
                                   "day": None}])
    db.register("cast", server.url("/cast"), "public.t_cast", old)
    db.run("cast")
    db.register("cast", server.url("/cast"), "public.t_cast", new)
    ds.records[:] = [{"id": 3, "n": 5, "small": 9, "name": "xyz", "amount": 2.25, "flag": False, "day": "2024-03-01"}]
    result = db.run("cast")
    assert result["status"] == "succeeded" and result["rebuild"] is not None
    assert shape(db, "public.t_cast") == [
        ("id", "bigint", True), ("n", "integer", False), ("small", "bigint", False), ("name", "text", False),
        ("amount", "double precision", False), ("flag", "boolean", False), ("day", "date", False)]
    assert rows(db, "SELECT * FROM public.t_cast ORDER BY id") == [
        (1, 42, 7, "abc", 1.5, True, datetime.date(2024, 2, 29)),
        (2, None, None, None, None, None, None),
        (3, 5, 9, "xyz", 2.25, False, datetime.date(2024, 3, 1))]


@pytest.mark.parametrize("old_type, values, new_type, bad", [
    ("text", ["1", "abc", "3"], "int", "abc"),
    ("varchar(10)", ["ok", "abcdefgh"], "varchar(3)", "abcdefgh"),
    ("int", [5, 70000], "smallint", "70000"),
])
def test_a_failing_cast_names_the_column_and_a_value_and_changes_nothing(db, server, old_type, values, new_type, bad):
    records = [{"id": i + 1, "odd col": v, "updated_at": ts(i + 1)} for i, v in enumerate(values)]
    ds = server.add_dataset("badcast", records)
    columns = cols(("id", "int pk"), ("odd col", old_type), ("updated_at", "timestamptz"))
    url = server.url("/badcast?since={high_watermark}")
    db.register("badcast", url, "public.t_badcast", columns, high_watermark_column="updated_at")
    db.run("badcast")
    oid = relid(db, "public.t_badcast")
    before = select_star(db, "public.t_badcast")
    wm = db.watermark("badcast")

    db.register("badcast", url, "public.t_badcast",
                cols(("id", "int pk"), ("odd col", new_type), ("updated_at", "timestamptz")),
                high_watermark_column="updated_at")
    ds.add([{"id": 100, "odd col": 1, "updated_at": ts(100)}])
    msg, run = db.run_fails("badcast")
    assert "odd col" in msg and bad in msg, msg
    assert run["status"] == "failed" and "odd col" in run["error"]
    assert run["batches"] == 0 and run["rows"] == 0
    # Nothing changed: the old table with its rows, the watermark.
    assert_unchanged(db, "public.t_badcast", oid, *before)
    assert db.watermark("badcast") == wm


def test_make_a_column_not_null_and_back(db, server):
    ds = dataset(server, "nn", [{"id": 1, "value_a": "a", "value_b": "b"}])
    db.register("nn", server.url("/nn"), "public.t_nn", V1)
    db.run("nn")
    strict = [V1[0], dict(V1[1], nullable=False), V1[2]]
    db.register("nn", server.url("/nn"), "public.t_nn", strict)
    ds.records[:] = [{"id": 2, "value_a": "x", "value_b": None}]
    result = db.run("nn")
    assert "value_a" in result["rebuild"]
    assert shape(db, "public.t_nn")[1] == ("value_a", "character varying", True)

    db.register("nn", server.url("/nn"), "public.t_nn", V1)
    ds.records[:] = [{"id": 3, "value_a": None, "value_b": "c"}]
    result = db.run("nn")
    assert "value_a" in result["rebuild"]
    assert shape(db, "public.t_nn")[1] == ("value_a", "character varying", False)
    assert rows(db, "SELECT * FROM public.t_nn ORDER BY id") == [(1, "a", "b"), (2, "x", None), (3, None, "c")]


def test_not_null_over_existing_nulls_names_the_column_and_changes_nothing(db, server):
    ds = dataset(server, "nulls", [{"id": 1, "value_a": None, "value_b": "b"}])
    db.register("nulls", server.url("/nulls"), "public.t_nulls", V1)
    db.run("nulls")
    oid = relid(db, "public.t_nulls")
    db.register("nulls", server.url("/nulls"), "public.t_nulls", [V1[0], dict(V1[1], nullable=False), V1[2]])
    ds.records[:] = [{"id": 2, "value_a": "x", "value_b": "y"}]
    msg, run = db.run_fails("nulls")
    assert "value_a" in msg and run["status"] == "failed"
    assert_unchanged(db, "public.t_nulls", oid, ["id", "value_a", "value_b"], [(1, None, "b")])
    assert shape(db, "public.t_nulls")[1] == ("value_a", "character varying", False)


def test_change_the_primary_key(db, server):
    plain = cols(("id", "int"), ("k", "text"), ("v", "text"))
    ds = dataset(server, "pk", [{"id": 1, "k": "x", "v": "a"}, {"id": 2, "k": "x", "v": "b"}])
    db.register("pk", server.url("/pk"), "public.t_pk", plain)
    db.run("pk")
    assert primary_key(db, "public.t_pk") == []

    # A composite key added: the next run rebuilds with it, then upserts on it.
    keyed = cols(("id", "int pk"), ("k", "text pk"), ("v", "text"))
    db.register("pk", server.url("/pk"), "public.t_pk", keyed)
    ds.records[:] = [{"id": 3, "k": "y", "v": "c"}]
    result = db.run("pk")
    assert "primary key" in result["rebuild"].lower()
    assert primary_key(db, "public.t_pk") == ["id", "k"]
    ds.records[:] = [{"id": 1, "k": "x", "v": "A"}]
    assert db.run("pk")["rebuild"] is None
    assert rows(db, "SELECT * FROM public.t_pk ORDER BY id") == [(1, "x", "A"), (2, "x", "b"), (3, "y", "c")]

    # The key changed to another column, then dropped.
    db.register("pk", server.url("/pk"), "public.t_pk", cols(("id", "int pk"), ("k", "text"), ("v", "text")))
    ds.records[:] = [{"id": 4, "k": "z", "v": "d"}]
    assert db.run("pk")["rebuild"] is not None
    assert primary_key(db, "public.t_pk") == ["id"]
    db.register("pk", server.url("/pk"), "public.t_pk", plain)
    ds.records[:] = [{"id": 4, "k": "z", "v": "dup"}]
    assert db.run("pk")["rebuild"] is not None
    assert primary_key(db, "public.t_pk") == []
    assert db.count("public.t_pk") == 5  # no key: appended


def test_a_primary_key_over_duplicate_rows_with_upsert_off_fails_and_changes_nothing(db, server):
    plain = cols(("id", "int"), ("v", "text"))
    ds = dataset(server, "dupk", [{"id": 1, "v": "a"}, {"id": 1, "v": "b"}])
    db.register("dupk", server.url("/dupk"), "public.t_dupk", plain, upsert="off")
    db.run("dupk")
    oid = relid(db, "public.t_dupk")
    db.register("dupk", server.url("/dupk"), "public.t_dupk", cols(("id", "int pk"), ("v", "text")), upsert="off")
    ds.records[:] = [{"id": 2, "v": "c"}]
    msg, run = db.run_fails("dupk")
    assert "duplicate" in msg.lower() or "unique" in msg.lower(), msg
    assert run["status"] == "failed"
    assert_unchanged(db, "public.t_dupk", oid, ["id", "v"], [(1, "a"), (1, "b")])
    assert primary_key(db, "public.t_dupk") == []


# ---- watermarks and runs without data ---------------------------------------------------------------------------

@pytest.mark.parametrize("fault", [
    Fault(page=1, malformed_record=1),  # the first batch fails in the middle, after the rebuild began
    Fault(page=1, status=404),           # no batch at all
], ids=["malformed_record", "http_404"])
def test_a_failed_first_batch_of_a_migration_changes_nothing_and_keeps_the_watermark(db, server, fault):
    columns_1 = cols(("id", "int pk"), ("value_a", "varchar"), ("updated_at", "timestamptz"))
    columns_2 = columns_1[:1] + cols(("value_c", "varchar")) + columns_1[1:]
    ds = server.add_dataset("wmf", [{"id": i, "value_a": "a%d" % i, "updated_at": ts(i)} for i in (1, 2)])
    url = server.url("/wmf?since={high_watermark}")
    db.register("wmf", url, "public.t_wmf", columns_1, high_watermark_column="updated_at")
    db.run("wmf")
    oid = relid(db, "public.t_wmf")
    before = select_star(db, "public.t_wmf")
    wm = db.watermark("wmf")

    db.register("wmf", url, "public.t_wmf", columns_2, high_watermark_column="updated_at")
    ds.add([{"id": i, "value_a": "a%d" % i, "value_c": "c%d" % i, "updated_at": ts(i)} for i in (3, 4)])
    ds.faults.append(fault)
    msg, run = db.run_fails("wmf")
    assert run["status"] == "failed" and run["batches"] == 0
    assert run["rebuild"] is None
    assert_unchanged(db, "public.t_wmf", oid, *before)
    assert db.watermark("wmf") == wm

    # The next run starts from the same watermark and migrates.
    ds.faults.clear()
    server.clear_requests()
    result = db.run("wmf")
    assert db.scalar("SELECT %s::timestamptz = %s::timestamptz", (server.requests_for("wmf")[0].query["since"], wm))
    assert result["status"] == "succeeded" and result["rows"] == 2 and "value_c" in result["rebuild"]
    assert select_star(db, "public.t_wmf") == (
        ["id", "value_c", "value_a", "updated_at"],
        [(1, None, "a1", tsval(1)), (2, None, "a2", tsval(2)), (3, "c3", "a3", tsval(3)), (4, "c4", "a4", tsval(4))])
    assert db.watermark("wmf", as_type="timestamptz") == tsval(4)


def test_watermark_kept_across_several_migrations(db, server):
    ds = server.add_dataset("wms", [])
    url = server.url("/wms?since={high_watermark}")
    declarations = [
        cols(("id", "int pk"), ("updated_at", "timestamptz")),
        cols(("id", "int pk"), ("a", "text"), ("updated_at", "timestamptz")),
        cols(("id", "bigint pk"), ("b", "int"), ("a", "text"), ("updated_at", "timestamptz")),
        cols(("id", "bigint pk"), ("updated_at", "timestamptz"), ("b", "int")),
    ]
    sinces = []
    for n, columns in enumerate(declarations):
        db.register("wms", url, "public.t_wms", columns, high_watermark_column="updated_at")
        ds.add([{"id": 10 * n + i, "a": "x", "b": i, "updated_at": ts(10 * n + i)} for i in (1, 2)])
        server.clear_requests()
        result = db.run("wms")
        sinces.append(server.requests_for("wms")[0].query["since"])
        assert result["rows"] == 2 and (n == 0 or result["rebuild"] is not None)
        assert db.watermark("wms", as_type="timestamptz") == tsval(10 * n + 2)
        assert db.count("public.t_wms") == 2 * (n + 1)
    assert sinces[0] == ""
    # Each run asked for what followed the previous run's watermark.
    assert all(s != "" for s in sinces[1:]) and len(set(sinces)) == len(sinces)


def test_a_run_without_data_does_not_migrate(db, server):
    columns_1 = cols(("id", "int pk"), ("value_a", "varchar"), ("value_b", "varchar"), ("updated_at", "timestamptz"))
    columns_2 = columns_1[:2] + cols(("value_c", "varchar")) + columns_1[2:]
    ds = server.add_dataset("nodata", [{"id": 1, "value_a": "a", "value_b": "b", "updated_at": ts(1)}])
    url = server.url("/nodata?since={high_watermark}")
    db.register("nodata", url, "public.t_nodata", columns_1, high_watermark_column="updated_at")
    db.run("nodata")
    oid = relid(db, "public.t_nodata")
    before = select_star(db, "public.t_nodata")

    db.register("nodata", url, "public.t_nodata", columns_2, high_watermark_column="updated_at")
    result = db.run("nodata")  # nothing after the watermark
    assert result["status"] == "succeeded" and result["batches"] == 0 and result["rows"] == 0
    assert result["rebuild"] is None and result["lock_attempts"] is None and result["lock_wait_ms"] is None
    assert_unchanged(db, "public.t_nodata", oid, *before)
    with pytest.raises(psycopg.errors.UndefinedColumn):
        db.query("SELECT value_c FROM public.t_nodata")

    # Data arrives: now it migrates.
    ds.add([{"id": 2, "value_a": "a2", "value_c": "c2", "value_b": "b2", "updated_at": ts(2)}])
    assert db.run("nodata")["rebuild"] is not None
    assert column_names(db, "public.t_nodata") == ["id", "value_a", "value_c", "value_b", "updated_at"]


def test_a_run_of_empty_pages_does_not_migrate(db, server):
    # Pages come, but without a row: still no batch, no migration.
    ds = dataset(server, "empties", [{"id": 1, "value_a": "a", "value_b": "b"}])
    db.register("empties", server.url("/empties"), "public.t_empties", V1)
    db.run("empties")
    oid = relid(db, "public.t_empties")
    db.register("empties", server.url("/empties"), "public.t_empties", V1 + cols(("value_c", "text")))
    ds.records[:] = []
    result = db.run("empties")
    assert result["rows"] == 0 and result["rebuild"] is None
    assert_unchanged(db, "public.t_empties", oid, ["id", "value_a", "value_b"], [(1, "a", "b")])


# ---- no rebuild when nothing differs ----------------------------------------------------------------------------

def test_a_matching_declaration_never_rebuilds_whatever_the_spelling(db, server):
    db.execute("CREATE TABLE public.spelled (id integer PRIMARY KEY, f double precision, r real, n numeric(12,2), "
               "v character varying(10), at timestamp with time zone, b boolean, arr integer[], t text, big int8, "
               "d decimal(5,1), c character(3), tags text[], doc jsonb, i2 int2)")
    db.execute("INSERT INTO public.spelled (id, f) VALUES (0, 0.5)")
    oid = relid(db, "public.spelled")
    columns = cols(("id", "int pk"), ("f", "float"), ("r", "float4"), ("n", "numeric(12, 2)"), ("v", "varchar(10)"),
                   ("at", "timestamptz"), ("b", "bool"), ("arr", "int[]"), ("t", "text"), ("big", "bigint"),
                   ("d", "numeric(5,1)"), ("c", "char(3)"), ("tags", "text[]"), ("doc", "jsonb"), ("i2", "smallint"))
    ds = dataset(server, "spelled", [{"id": 1, "f": 1.5, "arr": [1, 2]}])
    db.register("spelled", server.url("/spelled"), "public.spelled", columns)
    for i in range(2, 5):
        result = db.run("spelled")
        assert result["status"] == "succeeded" and result["rows"] == 1
        assert result["rebuild"] is None, result["rebuild"]
        assert result["lock_attempts"] is None and result["lock_wait_ms"] is None
        ds.records[:] = [{"id": i, "f": 2.5}]
    assert relid(db, "public.spelled") == oid
    assert db.count("public.spelled") == 4


def test_no_change_runs_record_no_rebuild(db, server):
    columns = cols(("id", "bigint pk"), ("f", "float"), ("v", "varchar(10)"), ("n", "int"))
    ds = dataset(server, "same", [{"id": 1, "f": 1.0, "v": "a", "n": 1}])
    db.register("same", server.url("/same"), "public.t_same", columns)
    first = db.run("same")
    assert first["rebuild"] is not None and "new" in first["rebuild"]  # the fast path of a new table
    oid = relid(db, "public.t_same")
    for i in range(2, 4):
        ds.records[:] = [{"id": i, "f": i / 2, "v": "v%d" % i, "n": i}]
        result = db.run("same")
        assert result["rebuild"] is None and result["lock_attempts"] is None and result["lock_wait_ms"] is None
    # Re-registering the same declaration changes nothing either.
    db.register("same", server.url("/same"), "public.t_same", columns)
    ds.records[:] = [{"id": 9, "f": 9.0, "v": "z", "n": 9}]
    assert db.run("same")["rebuild"] is None
    assert relid(db, "public.t_same") == oid
    assert [r["rebuild"] for r in db.runs("same")][1:] == [None, None, None]


def test_an_existing_empty_table_takes_the_fast_path(db, server):
    db.execute("CREATE TABLE public.empty_t (id bigint PRIMARY KEY, v text)")
    dataset(server, "fast", [{"id": 1, "v": "a"}, {"id": 1, "v": "b"}, {"id": 2, "v": "c"}])
    db.register("fast", server.url("/fast"), "public.empty_t", cols(("id", "bigint pk"), ("v", "text")))
    result = db.run("fast")
    assert result["status"] == "succeeded"
    assert result["rebuild"] is not None and "empty" in result["rebuild"]
    assert rows(db, "SELECT * FROM public.empty_t ORDER BY id") == [(1, "b"), (2, "c")]  # last row wins
    assert primary_key(db, "public.empty_t") == ["id"]


def test_no_batches_leave_only_the_target_and_rebuilds_leave_nothing_behind(db, server):
    db.execute("CREATE SCHEMA s")
    before = relation_count(db)
    dataset(server, "nb", [])
    int_only = cols(("n", "int"))
    db.register("nb", server.url("/nb"), "s.nb", int_only)
    result = db.run("nb")
    assert result["batches"] == 0 and result["rebuild"] is None
    assert db.count("s.nb") == 0
    assert relation_count(db) == before + 1  # the target, nothing else

    dataset(server, "nb_replace", [])
    db.register("nb_replace", server.url("/nb_replace"), "s.nb_replace", int_only, delete="before_first_batch")
    db.run("nb_replace")
    assert db.count("s.nb_replace") == 0
    assert relation_count(db) == before + 2

    # Rebuilds (fast path, migration, replace) leave no table, index or sequence behind.
    server.dataset("nb").records[:] = [{"n": 1}, {"n": 2}]
    assert db.run("nb")["rebuild"] is not None
    db.register("nb", server.url("/nb"), "s.nb", cols(("n", "int"), ("m", "int")))
    server.dataset("nb").records[:] = [{"n": 3, "m": 3}]
    assert db.run("nb")["rebuild"] is not None
    server.dataset("nb_replace").records[:] = [{"n": 7}]
    assert db.run("nb_replace")["rebuild"] is not None
    assert db.run("nb_replace")["rebuild"] is not None
    assert relation_count(db) == before + 2
    assert rows(db, "SELECT * FROM s.nb ORDER BY n") == [(1, None), (2, None), (3, 3)]
    assert rows(db, "SELECT * FROM s.nb_replace") == [(7,)]


# ---- visibility -------------------------------------------------------------------------------------------------

def test_batches_are_visible_only_once_committed_also_on_the_rebuild_path(db, server):
    gate_1, gate_2 = Gate(), Gate()
    ds = dataset(server, "vis", [{"n": i} for i in (1, 2, 3, 4)], page_size=2)
    ds.faults.append(Fault(page=1, gate=gate_1, gate_after=1))
    ds.faults.append(Fault(page=2, gate=gate_2, gate_after=1))
    db.register("vis", server.url("/vis"), "public.t_vis", cols(("n", "int")))
    run = db.run_in_thread("vis")
    r = reader(db, statement_timeout_ms=3000)

    # Batch 1 (which builds the new table) in flight: nothing visible, and the reader is not blocked.
    gate_1.wait_reached()
    exists = db.scalar("SELECT to_regclass('public.t_vis') IS NOT NULL", conn=r)
    assert not exists or rows(db, "SELECT n FROM public.t_vis", conn=r) == []
    gate_1.release()

    # Batch 1 committed, batch 2 in flight: batch 1 only.
    gate_2.wait_reached()
    assert wait_for(lambda: rows(db, "SELECT n FROM public.t_vis ORDER BY n", conn=r) == [(1,), (2,)])
    time.sleep(0.3)
    assert rows(db, "SELECT n FROM public.t_vis ORDER BY n", conn=r) == [(1,), (2,)]
    gate_2.release()
    result = run.wait()
    assert result["batches"] == 2
    assert rows(db, "SELECT n FROM public.t_vis ORDER BY n", conn=r) == [(1,), (2,), (3,), (4,)]


def test_rows_another_session_writes_during_a_migration_are_kept(db, server):
    ds = dataset(server, "conc", [{"id": 1, "value_a": "a", "value_b": "b"}])
    db.register("conc", server.url("/conc"), "public.t_conc", V1)
    db.run("conc")
    db.register("conc", server.url("/conc"), "public.t_conc", V1 + cols(("value_c", "varchar")))
    ds.records[:] = [{"id": 2, "value_a": "a2", "value_b": "b2", "value_c": "c2"},
                     {"id": 3, "value_a": "a3", "value_b": "b3", "value_c": "c3"}]
    gate = Gate()
    ds.faults.append(Fault(page=1, gate=gate, gate_after=1, times=1))
    run = db.run_in_thread("conc")
    gate.wait_reached()

    # Another session writes while the batch loads (its INSERT may wait for the rebuild; it must not be lost).
    writer = db.connect()
    errors = []

    def write():
        try:
            writer.execute("INSERT INTO public.t_conc (id, value_a, value_b) VALUES (100, 'w', 'w')")
        except Exception as e:  # noqa: B902 - reported below
            errors.append(e)

    pid = writer.info.backend_pid
    t = threading.Thread(target=write, daemon=True)
    t.start()
    # The write has happened, or waits for the rebuild's lock on the old table.
    assert wait_for(lambda: not t.is_alive() or db.scalar(
        "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = %s", (pid,)), timeout=10)
    gate.release()
    assert run.wait()["status"] == "succeeded"
    t.join(30)
    assert not t.is_alive() and errors == []
    assert rows(db, "SELECT * FROM public.t_conc ORDER BY id") == [
        (1, "a", "b", None), (2, "a2", "b2", "c2"), (3, "a3", "b3", "c3"), (100, "w", "w", None)]

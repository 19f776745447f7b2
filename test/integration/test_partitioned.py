"""Native partitioned targets (issue 4): options.partition_by (e.g. "RANGE (updated_at)") creates the target as a
partitioned table; the user creates the partitions; COPY routes each row to its partition, upserts included.
Migrating or replacing a partitioned target is refused with a clear error, before anything changes; replace mode
together with partition_by is refused at registration."""

import psycopg
import pytest

from rebuild_helpers import cols, index_forms, relid, rows, shape
from testdata import ts, tsval

COLUMNS = cols(("id", "bigint pk"), ("updated_at", "timestamptz pk"), ("customer", "text"))
OPTIONS = {"partition_by": "RANGE (updated_at)", "indexes": [{"columns": ["customer"]}]}
URL = "/parts?since={high_watermark}"


def records(ids, **fixed):
    out = [{"id": i, "updated_at": ts(i), "customer": "c%d" % i} for i in ids]
    for r in out:
        r.update(fixed)
    return out


def create_partitions(db, parent):
    # ts(i) is 2024-01-01 10:00 UTC + i hours: i = 1..13 fall on January 1st, later ones after it.
    db.execute("CREATE TABLE public.p_jan1 PARTITION OF %s "
               "FOR VALUES FROM ('2024-01-01 00:00:00+00') TO ('2024-01-02 00:00:00+00')" % parent)
    db.execute("CREATE TABLE public.p_later PARTITION OF %s "
               "FOR VALUES FROM ('2024-01-02 00:00:00+00') TO ('2025-01-01 00:00:00+00')" % parent)


def per_partition(db, parent):
    return {r[0]: r[1] for r in rows(db, "SELECT tableoid::regclass::text, count(*) FROM %s GROUP BY 1" % parent)}


def test_a_partitioned_target_is_created_and_rows_are_routed(db, server):
    ds = server.add_dataset("parts", [])
    db.register("parts", server.url(URL), "public.parts", COLUMNS, high_watermark_column="updated_at",
                options=OPTIONS)
    first = db.run("parts")  # no data: the partitioned table is created, empty
    assert first["batches"] == 0
    assert db.scalar("SELECT relkind::text FROM pg_class WHERE oid = 'public.parts'::regclass") == "p"
    assert db.scalar("SELECT pg_get_partkeydef('public.parts'::regclass)") == "RANGE (updated_at)"
    assert shape(db, "public.parts") == [("id", "bigint", True), ("updated_at", "timestamp with time zone", True),
                                         ("customer", "text", False)]
    assert index_forms(db, "public.parts") == [("btree", False, ("customer",), None, None)]
    oid = relid(db, "public.parts")

    create_partitions(db, "public.parts")
    ds.add(records(range(1, 21)))
    second = db.run("parts")
    assert second["status"] == "succeeded" and second["rows"] == 20
    assert second["rebuild"] is None
    assert per_partition(db, "public.parts") == {"p_jan1": 13, "p_later": 7}
    assert db.watermark("parts", as_type="timestamptz") == tsval(20)
    assert relid(db, "public.parts") == oid
    # The declared index is on every partition too.
    assert index_forms(db, "public.p_jan1") == [("btree", False, ("customer",), None, None)]
    assert index_forms(db, "public.p_later") == [("btree", False, ("customer",), None, None)]


def test_upsert_into_a_partitioned_target(db, server):
    ds = server.add_dataset("pup", records([1, 2, 20]), field=None)
    db.register("pup", server.url("/pup"), "public.pup", COLUMNS, options=OPTIONS)
    db.execute("CREATE TABLE public.pup (id bigint, updated_at timestamptz, customer text, "
               "PRIMARY KEY (id, updated_at)) PARTITION BY RANGE (updated_at)")
    db.execute("CREATE INDEX ON public.pup (customer)")
    create_partitions(db, "public.pup")
    oid = relid(db, "public.pup")
    result = db.run("pup")
    assert result["rows"] == 3 and result["rebuild"] is None  # a hand-made table that matches: used as it is

    ds.records[:] = records([2], customer="first") + records([20, 2], customer="changed") + records([3])
    result = db.run("pup")
    assert result["rebuild"] is None
    assert rows(db, "SELECT id, customer, tableoid::regclass::text FROM public.pup ORDER BY id") == [
        (1, "c1", "p_jan1"), (2, "changed", "p_jan1"), (3, "c3", "p_jan1"), (20, "changed", "p_later")]
    assert relid(db, "public.pup") == oid


def test_a_row_without_a_partition_fails_and_changes_nothing(db, server):
    ds = server.add_dataset("nopart", [])
    db.register("nopart", server.url("/nopart?since={high_watermark}"), "public.nopart", COLUMNS,
                high_watermark_column="updated_at", options=OPTIONS)
    db.run("nopart")
    create_partitions(db, "public.nopart")
    ds.add(records([1, 2]))
    assert db.run("nopart")["rows"] == 2
    wm = db.watermark("nopart")

    ds.add([{"id": 3, "updated_at": "2030-01-01T00:00:00Z", "customer": "nowhere"}])
    msg, run = db.run_fails("nopart")
    assert "partition" in msg.lower(), msg
    assert run["status"] == "failed"
    assert db.count("public.nopart") == 2
    assert db.watermark("nopart") == wm


def test_a_partitioned_target_is_not_migrated(db, server):
    ds = server.add_dataset("pmig", [], field=None)
    db.register("pmig", server.url("/pmig"), "public.pmig", COLUMNS, options=OPTIONS)
    db.run("pmig")
    create_partitions(db, "public.pmig")
    ds.records[:] = records([1, 20])
    db.run("pmig")
    oid = relid(db, "public.pmig")
    before = shape(db, "public.pmig")

    db.register("pmig", server.url("/pmig"), "public.pmig", COLUMNS + cols(("extra_col", "int")), options=OPTIONS)
    ds.records[:] = [dict(r, extra_col=1) for r in records([2])]
    msg, run = db.run_fails("pmig")
    assert "partition" in msg.lower() and "extra_col" in msg, msg
    assert run["status"] == "failed"
    assert relid(db, "public.pmig") == oid and shape(db, "public.pmig") == before
    assert rows(db, "SELECT id FROM public.pmig ORDER BY id") == [(1,), (20,)]


def test_a_hand_made_partitioned_table_is_not_replaced(db, server):
    db.execute("CREATE TABLE public.prep (id bigint, updated_at timestamptz, customer text, "
               "PRIMARY KEY (id, updated_at)) PARTITION BY RANGE (updated_at)")
    create_partitions(db, "public.prep")
    db.execute("INSERT INTO public.prep VALUES (1, '2024-01-01 12:00:00+00', 'old')")
    server.add_dataset("prep", records([2]), field=None)
    # Declared without partition_by (else refused at registration), in replace mode.
    db.register("prep", server.url("/prep"), "public.prep", COLUMNS, delete="before_first_batch")
    msg, run = db.run_fails("prep")
    assert "partition" in msg.lower(), msg
    assert rows(db, "SELECT id, customer FROM public.prep") == [(1, "old")]
    assert db.scalar("SELECT relkind::text FROM pg_class WHERE oid = 'public.prep'::regclass") == "p"


def test_replace_mode_with_partition_by_is_refused_at_registration(db, server):
    with pytest.raises(psycopg.Error) as e:
        db.register("prefused", server.url("/prefused"), "public.prefused", COLUMNS, options=OPTIONS,
                    delete="before_first_batch")
    assert "partition" in str(e.value) and "before_first_batch" in str(e.value), str(e.value)
    assert db.scalar("SELECT count(*) FROM bulk_ingest.sources") == 0


@pytest.mark.parametrize("partition_by, columns, fragment", [
    ("NONSENSE", COLUMNS, "partition_by"),
    ("RANGE (nope)", COLUMNS, "nope"),
    ("RANGE (updated_at); DROP TABLE victim", COLUMNS, "partition_by"),
    ("RANGE (updated_at)", cols(("id", "bigint pk"), ("updated_at", "timestamptz")), "updated_at"),
], ids=["not_a_clause", "unknown_column", "injection", "key_without_partition_column"])
def test_a_bad_partition_by_is_refused_at_registration(db, server, partition_by, columns, fragment):
    db.execute("CREATE TABLE public.victim (id int)")
    options = {"partition_by": partition_by}
    with pytest.raises(psycopg.Error) as e:
        db.register("pbad", server.url("/pbad"), "public.pbad", columns, options=options)
    msg = str(e.value)
    assert fragment in msg and "partition_by" in msg, msg
    assert db.scalar("SELECT count(*) FROM bulk_ingest.sources") == 0
    assert db.scalar("SELECT to_regclass('public.pbad') IS NULL")
    assert db.scalar("SELECT to_regclass('public.victim') IS NOT NULL")

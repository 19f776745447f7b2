"""Deletes at the source (issue 12): options.deleted_path names a boolean of the record (a JSON Pointer, or a CSV
column); a record whose value there is true deletes the row with its key, in the batch's transaction, the last
record of a key in a batch deciding (as upserts do)."""

import psycopg
import pytest

from server import Fault
from testdata import ts

COLUMNS = [{"name": "id", "type": "bigint", "primary_key": True}, {"name": "v", "type": "text"},
           {"name": "updated_at", "type": "timestamptz"}]


def rec(i, v, t, deleted=None):
    r = {"id": i, "v": v, "updated_at": ts(t)}
    if deleted is not None:
        r["deleted"] = deleted
    return r


def source(db, server, name, records, **options):
    ds = server.add_dataset(name, records, page_size=100)
    db.register(name, server.url("/%s?since={high_watermark}" % name), "public." + name, COLUMNS,
                high_watermark_column="updated_at", options=dict({"deleted_path": "/deleted"}, **options))
    return ds


def ids(db, table):
    return [r["id"] for r in db.query("SELECT id FROM %s ORDER BY id" % table)]


def test_a_deleted_record_deletes_its_row(db, server):
    ds = source(db, server, "del", [rec(1, "a", 1), rec(2, "b", 2), rec(3, "c", 3)])
    db.run("del")
    assert ids(db, "public.del") == [1, 2, 3]
    ds.add([rec(2, "b", 4, deleted=True), rec(4, "d", 5, deleted=False)])
    run = db.run("del")
    assert ids(db, "public.del") == [1, 3, 4]
    assert run["rows"] == 1 and run["deleted"] == 1
    assert db.watermark("del") == "2024-01-01 15:00:00+00"   # a deleted record's time counts for the watermark


def test_the_last_record_of_a_key_in_a_batch_decides(db, server):
    ds = source(db, server, "dlast", [rec(1, "a", 1), rec(2, "b", 2)])
    db.run("dlast")
    ds.add([rec(1, "deleted", 3, deleted=True), rec(1, "back", 4),          # deleted, then back: kept
            rec(2, "updated", 5), rec(2, "deleted", 6, deleted=True),      # updated, then deleted: gone
            rec(5, "new and gone", 7), rec(5, "x", 8, deleted=True)])      # new, then deleted: never there
    db.run("dlast")
    assert db.query("SELECT id, v FROM public.dlast ORDER BY id") == [{"id": 1, "v": "back"}]


def test_deletes_in_the_first_batch_of_a_migration_remove_old_rows(db, server):
    ds = source(db, server, "dmig", [rec(1, "a", 1), rec(2, "b", 2), rec(3, "c", 3)])
    db.run("dmig")
    ds.add([rec(3, "c", 4, deleted=True)])
    # A new column: the next run's first batch rebuilds the table, copying the old rows over.
    db.register("dmig", server.url("/dmig?since={high_watermark}"), "public.dmig",
                COLUMNS + [{"name": "note", "type": "text"}], high_watermark_column="updated_at",
                options={"deleted_path": "/deleted"})
    run = db.run("dmig")
    assert run["rebuild"] is not None
    assert ids(db, "public.dmig") == [1, 2]


def test_a_batch_of_deletes_only_commits_them(db, server):
    ds = source(db, server, "donly", [rec(1, "a", 1), rec(2, "b", 2)])
    db.run("donly")
    ds.add([rec(1, "a", 3, deleted=True), rec(2, "b", 4, deleted=True)])
    run = db.run("donly")
    assert ids(db, "public.donly") == [] and run["deleted"] == 2 and run["batches"] == 1


def test_a_failed_batch_deletes_nothing(db, server):
    ds = source(db, server, "dfail", [rec(1, "a", 1), rec(2, "b", 2)], max_retries=0)
    db.run("dfail")
    ds.add([rec(1, "a", 3, deleted=True)])
    ds.faults.append(Fault(page=1, malformed_record=1))
    ds.add([rec(9, "z", 5)])
    db.run_fails("dfail")
    assert ids(db, "public.dfail") == [1, 2]


def test_csv_deleted_column(db, server):
    body = "id,v,updated_at,gone\n1,a,%s,false\n2,b,%s,true\n3,c,%s,\n" % (ts(1), ts(2), ts(3))
    server.add_route("/dcsv", body, content_type="text/csv")
    db.execute("CREATE TABLE public.dcsv (id bigint PRIMARY KEY, v text, updated_at timestamptz)")
    db.execute("INSERT INTO public.dcsv VALUES (2, 'old', now())")
    db.register("dcsv", server.url("/dcsv"), "public.dcsv", COLUMNS, format="csv",
                options={"deleted_path": "/gone"})
    db.run("dcsv")
    assert ids(db, "public.dcsv") == [1, 3]


def test_deleted_path_is_checked_at_registration(db, server):
    with pytest.raises(psycopg.Error, match="primary key"):
        db.register("dnok", server.url("/x"), "public.dnok", [{"name": "id", "type": "bigint"}],
                    options={"deleted_path": "/deleted"})
    with pytest.raises(psycopg.Error, match="upsert"):
        db.register("dnok", server.url("/x"), "public.dnok", COLUMNS, upsert="off",
                    options={"deleted_path": "/deleted"})
    with pytest.raises(psycopg.Error, match="deleted_path"):
        db.register("dnok", server.url("/x"), "public.dnok", COLUMNS, options={"deleted_path": "deleted"})

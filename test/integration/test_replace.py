"""Replace mode (issue 4): "delete" => 'before_first_batch'. Each run's first batch goes into a fresh table that
replaces the old one when that batch commits; readers see the old data until then; later batches of the run add to
it; a run with no batch (an empty source, a 304) deletes nothing; a failed first batch changes nothing.

Ported from pg-bulk-ingest's suite: test_delete, test_if_no_batches_then_only_target_table_visible (replace flavour,
see test_migration.py), test_on_before_batch_visible (what others see between batches)."""

import json
import time

from rebuild_helpers import cols, comments, reader, relid, rows, serve, shape, table_acl
from server import Fault, Gate
from testdata import ts, wait_for

INT = cols(("integer", "int"))


def ints(db, table, conn=None):
    return [r[0] for r in rows(db, 'SELECT "integer" FROM %s ORDER BY 1' % table, conn=conn)]


def test_replace_mode(db, server):
    serve(server, "rep", [{"integer": 1}])
    db.register("rep", server.url("/rep"), "public.rep", INT)
    db.run("rep")
    db.register("rep", server.url("/rep"), "public.rep", INT, delete="before_first_batch")
    assert db.one("SELECT \"delete\" FROM bulk_ingest.sources WHERE source = 'rep'")["delete"] == "before_first_batch"

    serve(server, "rep", [{"integer": 2}])
    second = db.run("rep")
    assert second["status"] == "succeeded" and second["rows"] == 1
    assert "before_first_batch" in second["rebuild"]
    assert ints(db, "public.rep") == [2]

    # No batch: nothing deleted.
    serve(server, "rep", [])
    third = db.run("rep")
    assert third["batches"] == 0 and third["rebuild"] is None
    assert ints(db, "public.rep") == [2]

    # Every run with data replaces.
    serve(server, "rep", [{"integer": 3}, {"integer": 4}])
    db.run("rep")
    assert ints(db, "public.rep") == [3, 4]


def test_readers_see_the_old_data_until_the_first_batch_commits_then_later_batches_add(db, server):
    ds = server.add_dataset("repvis", [{"integer": i} for i in (1, 2, 3)], field=None)
    db.register("repvis", server.url("/repvis"), "public.repvis", INT, delete="before_first_batch")
    db.run("repvis")
    assert ints(db, "public.repvis") == [1, 2, 3]

    ds.records[:] = [{"integer": i} for i in (10, 11, 12)]
    ds.page_size = 2
    gate_1, gate_2 = Gate(), Gate()
    ds.faults.append(Fault(page=1, gate=gate_1, gate_after=1))
    ds.faults.append(Fault(page=2, gate=gate_2, gate_after=0))
    run = db.run_in_thread("repvis")
    r = reader(db, statement_timeout_ms=3000)

    gate_1.wait_reached()
    assert ints(db, "public.repvis", conn=r) == [1, 2, 3]  # not blocked, the old rows
    time.sleep(0.2)
    assert ints(db, "public.repvis", conn=r) == [1, 2, 3]
    gate_1.release()

    # The first batch committed: the old rows are gone, the first page is there; the second adds to it.
    gate_2.wait_reached()
    assert wait_for(lambda: ints(db, "public.repvis", conn=r) == [10, 11])
    gate_2.release()
    result = run.wait()
    assert result["batches"] == 2 and result["rows"] == 3
    assert ints(db, "public.repvis", conn=r) == [10, 11, 12]


def test_a_304_or_an_empty_source_deletes_nothing(db, server):
    body = "".join(json.dumps({"id": i, "v": "one"}) + "\n" for i in (1, 2))
    server.add_route("/rep304", body, headers={"ETag": '"v1"'})
    columns = cols(("id", "bigint pk"), ("v", "text"))
    db.register("rep304", server.url("/rep304"), "public.rep304", columns, delete="before_first_batch",
                options={"high_watermark_path": "header:ETag"})
    assert db.run("rep304")["rows"] == 2
    oid = relid(db, "public.rep304")

    second = db.run("rep304")
    assert second["status"] == "unchanged" and second["batches"] == 0
    assert second["rebuild"] is None
    assert rows(db, "SELECT id, v FROM public.rep304 ORDER BY id") == [(1, "one"), (2, "one")]
    assert relid(db, "public.rep304") == oid

    server.add_route("/rep304", "", headers={"ETag": '"v2"'})  # a new version, empty
    third = db.run("rep304")
    assert third["status"] == "succeeded" and third["batches"] == 0 and third["rebuild"] is None
    assert rows(db, "SELECT id, v FROM public.rep304 ORDER BY id") == [(1, "one"), (2, "one")]


def test_a_failed_first_batch_changes_nothing(db, server):
    ds = server.add_dataset("repfail", [{"integer": i, "updated_at": ts(i)} for i in (1, 2)])
    columns = cols(("integer", "int"), ("updated_at", "timestamptz"))
    db.register("repfail", server.url("/repfail?since={high_watermark}"), "public.repfail", columns,
                high_watermark_column="updated_at", delete="before_first_batch")
    db.run("repfail")
    oid = relid(db, "public.repfail")
    wm = db.watermark("repfail")

    ds.add([{"integer": i, "updated_at": ts(i)} for i in (3, 4, 5)])
    ds.faults.append(Fault(page=1, malformed_record=2))
    msg, run = db.run_fails("repfail")
    assert run["status"] == "failed" and run["batches"] == 0 and run["rebuild"] is None
    assert ints(db, "public.repfail") == [1, 2]
    assert relid(db, "public.repfail") == oid
    assert db.watermark("repfail") == wm

    ds.faults.clear()
    assert db.run("repfail")["rows"] == 3
    assert ints(db, "public.repfail") == [3, 4, 5]


def test_replace_with_a_changed_declaration_does_not_copy_the_old_rows(db, server):
    # The old values could not be cast to the new type; replace mode does not need them.
    serve(server, "repmig", [{"id": 1, "v": "abc"}])
    db.register("repmig", server.url("/repmig"), "public.repmig", cols(("id", "int pk"), ("v", "text")))
    db.run("repmig")
    db.register("repmig", server.url("/repmig"), "public.repmig",
                cols(("id", "bigint pk"), ("w", "text"), ("v", "int")), delete="before_first_batch")
    serve(server, "repmig", [{"id": 2, "w": "x", "v": 5}, {"id": 2, "w": "y", "v": 6}])
    result = db.run("repmig")
    assert result["status"] == "succeeded" and result["rebuild"] is not None
    assert shape(db, "public.repmig") == [("id", "bigint", True), ("w", "text", False), ("v", "integer", False)]
    assert rows(db, "SELECT * FROM public.repmig") == [(2, "y", 6)]  # last row wins in the batch


def test_replace_keeps_grants_comments_views_and_indexes(db, server):
    role = db.create_role("rep_reader")
    columns = cols(("id", "int pk"), ("v", "text"))
    serve(server, "repkeep", [{"id": 1, "v": "a"}])
    db.register("repkeep", server.url("/repkeep"), "public.repkeep", columns, delete="before_first_batch",
                options={"indexes": [{"columns": ["v"]}]})
    db.run("repkeep")
    db.execute('GRANT SELECT ON public.repkeep TO "%s"' % role)
    db.execute("COMMENT ON TABLE public.repkeep IS 'kept'")
    db.execute("COMMENT ON COLUMN public.repkeep.v IS 'the v'")
    db.execute("CREATE VIEW public.repkeep_v AS SELECT id, upper(v) AS v FROM public.repkeep")
    db.execute('GRANT SELECT ON public.repkeep_v TO "%s"' % role)
    acl = table_acl(db, "public.repkeep")

    serve(server, "repkeep", [{"id": 2, "v": "b"}])
    assert db.run("repkeep")["rebuild"] is not None
    assert table_acl(db, "public.repkeep") == acl
    assert comments(db, "public.repkeep") == ("kept", {"v": "the v"})
    as_role = db.connect(user=role)
    assert rows(db, "SELECT * FROM public.repkeep_v", conn=as_role) == [(2, "B")]
    assert rows(db, "SELECT * FROM public.repkeep", conn=as_role) == [(2, "b")]
    assert db.scalar("SELECT count(*) FROM pg_indexes WHERE tablename = 'repkeep' AND indexdef LIKE '%%(v)%%'") == 1

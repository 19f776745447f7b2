"""Rejects instead of stopping (issue 10): options.on_error = 'skip' sends a record that cannot be loaded to
bulk_ingest.rejects (run, source, batch, url, line, column, error, the record) and the run goes on; the rows loaded are
exactly the good ones; the rejects of a batch commit with it; options.max_rejects bounds them (past it the batch
rolls back and the run fails); bulk_ingest.runs.rejected counts them; each role sees its own."""

import json

import psycopg
import pytest

from testdata import ts, tsval

COLS = [{"name": "id", "type": "int", "primary_key": True},
        {"name": "name", "type": "varchar(8)", "nullable": False},
        {"name": "n", "type": "int"},
        {"name": "updated_at", "type": "timestamptz"}]


def rec(i, **kw):
    r = {"id": i, "name": "r%d" % i, "n": i, "updated_at": ts(i)}
    r.update(kw)
    return json.dumps(r)


def register(db, server, name, body, options=None, columns=COLS, **kw):
    server.add_route("/" + name, body)
    opts = {"on_error": "skip", "max_retries": 0}
    opts.update(options or {})
    db.register(name, server.url("/" + name), "public." + name, columns, options=opts, **kw)


def rejects(db, source):
    return db.query("SELECT batch, line, \"column\", error, record, url, run_id FROM bulk_ingest.rejects"
                    " WHERE source = %s ORDER BY id", (source,))


def ids(db, table):
    return [r["id"] for r in db.query("SELECT id FROM public.%s ORDER BY id" % table)]


def test_bad_records_go_to_rejects_and_the_good_ones_load(db, server):
    lines = [
        rec(1),
        '{"id": 2, "name": "broken',                     # not JSON: the reader refuses it
        rec(3, name="much too long"),                     # varchar(8): COPY refuses it
        rec(4),
        rec(5, n="five"),                                 # not an int: COPY refuses it
        json.dumps({"id": 6, "n": 6}),                    # name is declared NOT NULL: the reader refuses it
        rec(7, n=2 ** 40),                                # out of range for int
        rec(8),
    ]
    register(db, server, "rj", "\n".join(lines) + "\n", high_watermark_column="updated_at")
    run = db.run("rj")
    assert run["status"] == "succeeded" and run["rows"] == 3 and run["rejected"] == 5, run
    assert ids(db, "rj") == [1, 4, 8]
    got = rejects(db, "rj")
    assert [(r["line"], r["column"]) for r in got] == [(2, None), (3, "name"), (5, "n"), (6, None), (7, "n")], got
    assert all(r["batch"] == 1 and r["run_id"] == run["id"] and r["url"].endswith("/rj") for r in got)
    assert "invalid JSON" in got[0]["error"] and got[0]["record"] == '{"id": 2, "name": "broken'
    assert "too long" in got[1]["error"] and "much too long" in got[1]["record"]
    assert '"five"' in got[2]["error"] and "five" in got[2]["record"]
    assert '"name" is null' in got[3]["error"] and got[3]["record"] == '{"id": 6, "n": 6}'
    assert "out of range" in got[4]["error"]
    assert db.watermark("rj", as_type="timestamptz") == tsval(8)


def test_a_record_postgresql_refuses_still_moves_the_watermark_one_the_reader_refuses_does_not(db, server):
    # A record whose values were read is past (it is in bulk_ingest.rejects, and it would only be refused again);
    # a record that could not be read has no watermark value to count.
    register(db, server, "rjwm", rec(1) + "\n" + rec(2, n="bad") + "\n", high_watermark_column="updated_at")
    assert db.run("rjwm")["rejected"] == 1
    assert db.watermark("rjwm", as_type="timestamptz") == tsval(2)
    register(db, server, "rjwm2", rec(1) + "\n" + '{"id": 2, "updated_at": "%s", oops}' % ts(2) + "\n",
             high_watermark_column="updated_at")
    assert db.run("rjwm2")["rejected"] == 1
    assert db.watermark("rjwm2", as_type="timestamptz") == tsval(1)


def test_the_rejects_of_a_batch_commit_with_it_and_max_rejects_fails_the_batch_past_it(db, server):
    # Batches of 3: batch 1 has one bad record, batch 2 two more (3 in all, over max_rejects 2): batch 2 rolls back
    # with its rejects, batch 1 and its reject stay.
    lines = [rec(1), rec(2, n="x"), rec(3), rec(4, n="y"), rec(5), rec(6, n="z"), rec(7)]
    register(db, server, "rjmax", "\n".join(lines) + "\n", options={"batch_rows": 3, "max_rejects": 2},
             high_watermark_column="updated_at")
    with pytest.raises(psycopg.Error) as e:
        db.run("rjmax")
    msg = str(e.value)
    assert "more than max_rejects (2)" in msg and "batch 2" in msg and "line 6" in msg, msg
    run = db.last_run("rjmax")
    assert run["status"] == "failed" and run["batches"] == 1 and run["rejected"] == 1, run
    assert ids(db, "rjmax") == [1, 3]
    assert [r["line"] for r in rejects(db, "rjmax")] == [2]
    assert db.watermark("rjmax", as_type="timestamptz") == tsval(3)


def test_max_rejects_zero_fails_at_the_first(db, server):
    register(db, server, "rj0", rec(1) + "\n" + rec(2, n="x") + "\n", options={"max_rejects": 0})
    with pytest.raises(psycopg.Error) as e:
        db.run("rj0")
    assert "more than max_rejects (0)" in str(e.value)
    assert db.count("public.rj0") == 0 and rejects(db, "rj0") == []


def test_upserts_keep_the_last_good_row_of_a_key_across_copies_of_the_batch(db, server):
    # Rows 1 and 3 have key 10; row 2 is refused (COPY copies the batch again without it): the last row wins still.
    lines = [rec(10, name="first"), rec(11, n="bad"), rec(10, name="last"), rec(12), rec(13, n="bad")]
    register(db, server, "rjup", "\n".join(lines) + "\n")
    db.execute("CREATE TABLE public.rjup (id int PRIMARY KEY, name varchar(8) NOT NULL, n int, updated_at timestamptz)")
    db.execute("INSERT INTO public.rjup VALUES (10, 'old', 0, now())")  # populated: merged through staging
    run = db.run("rjup")
    assert run["rows"] == 3 and run["rejected"] == 2, run
    assert db.query("SELECT id, name FROM public.rjup ORDER BY id") == [{"id": 10, "name": "last"},
                                                                         {"id": 12, "name": "r12"}]


def test_the_first_load_of_a_new_table_skips_too(db, server):
    lines = [rec(1), rec(2, n="bad"), rec(3)]
    register(db, server, "rjnew", "\n".join(lines) + "\n")
    run = db.run("rjnew")
    assert run["rows"] == 2 and run["rejected"] == 1 and run["rebuild"] == "the table is new", run
    assert ids(db, "rjnew") == [1, 3]


def test_a_batch_of_rejects_only_commits_them_and_the_run_goes_on(db, server):
    lines = [rec(1, n="a"), rec(2, n="b"), rec(3), rec(4)]
    register(db, server, "rjall", "\n".join(lines) + "\n", options={"batch_rows": 2})
    run = db.run("rjall")
    assert run["status"] == "succeeded" and run["rows"] == 2 and run["rejected"] == 2 and run["batches"] == 2, run
    assert ids(db, "rjall") == [3, 4]
    assert [(r["batch"], r["line"]) for r in rejects(db, "rjall")] == [(1, 1), (1, 2)]


def test_csv_rows_of_the_wrong_width_are_rejected(db, server):
    body = "id,name,n,updated_at\n1,a,1,%s\n2,b\n3,c,3,%s,extra\n4,d,4,%s\n" % (ts(1), ts(3), ts(4))
    register(db, server, "rjcsv", body, format="csv")
    run = db.run("rjcsv")
    assert run["rows"] == 2 and run["rejected"] == 2, run
    got = rejects(db, "rjcsv")
    assert [r["line"] for r in got] == [3, 4] and "expected 4 fields" in got[0]["error"]
    assert got[0]["record"] == "2,b"
    assert ids(db, "rjcsv") == [1, 4]


def test_each_role_sees_its_own_rejects(db, server):
    alice = db.create_role("alice")
    db.execute('GRANT CREATE ON SCHEMA public TO "%s"' % alice)
    conn = db.connect(user=alice)
    server.add_route("/rjrole", rec(1) + "\n" + rec(2, n="x") + "\n")
    db.register("rjrole", server.url("/rjrole"), "public.rjrole", COLS, conn=conn,
                options={"on_error": "skip", "max_retries": 0})
    db.run("rjrole", conn=conn)
    assert [r["line"] for r in db.query("SELECT line FROM bulk_ingest.rejects", conn=conn)] == [2]
    bob = db.create_role("bob")
    assert db.query("SELECT * FROM bulk_ingest.rejects", conn=db.connect(user=bob)) == []
    nobody = db.create_role("nobody", ingest=False)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        db.query("SELECT * FROM bulk_ingest.rejects", conn=db.connect(user=nobody))


def test_rejects_go_with_their_run(db, server):
    register(db, server, "rjgone", rec(1) + "\n" + rec(2, n="x") + "\n")
    run = db.run("rjgone")
    assert len(rejects(db, "rjgone")) == 1
    db.execute("DELETE FROM bulk_ingest.runs WHERE id = %s", (run["id"],))  # as the history's pruning does
    assert rejects(db, "rjgone") == []


def test_on_error_is_checked_at_registration(db, server):
    with pytest.raises(psycopg.Error, match="on_error"):
        db.register("rjbad", server.url("/x"), "public.rjbad", COLS, options={"on_error": "ignore"})
    with pytest.raises(psycopg.Error, match="max_rejects"):
        db.register("rjbad", server.url("/x"), "public.rjbad", COLS, options={"max_rejects": -1})

"""upsert => 'if_primary_key' (last row wins, inside a batch and across runs) and upsert => 'off'."""

from testdata import ORDER_COLUMNS, orders

COLUMNS = [{"name": "id", "type": "bigint", "primary_key": True}, {"name": "v", "type": "text"}]


def rows(db, table):
    return [(r["id"], r["v"]) for r in db.query("SELECT id, v FROM %s ORDER BY id" % table)]


def test_upsert_last_wins_inside_a_batch(db, server):
    # field=None: served in this order, no filtering; one page = one batch.
    server.add_dataset("u1", [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}, {"id": 1, "v": "c"}, {"id": 1, "v": "d"},
                              {"id": 2, "v": "e"}, {"id": 3, "v": "f"}], field=None)
    db.register("u1", server.url("/u1"), "public.u1", COLUMNS)
    result = db.run("u1")
    assert result["status"] == "succeeded" and result["batches"] == 1
    assert rows(db, "public.u1") == [(1, "d"), (2, "e"), (3, "f")]


def test_upsert_last_wins_across_batches_and_runs(db, server):
    ds = server.add_dataset("u2", [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}, {"id": 1, "v": "c"}], field=None,
                            page_size=2)
    db.register("u2", server.url("/u2"), "public.u2", COLUMNS)
    assert db.run("u2")["batches"] == 2
    assert rows(db, "public.u2") == [(1, "c"), (2, "b")]

    ds.records[:] = [{"id": 2, "v": "B"}, {"id": 3, "v": "C"}]
    db.run("u2")
    assert rows(db, "public.u2") == [(1, "c"), (2, "B"), (3, "C")]


def test_upsert_replaces_the_whole_row(db, server):
    # A key that comes back with a missing key gets NULL there: the row is replaced, not merged.
    ds = server.add_dataset("u3", orders([1, 2]), field=None)
    db.register("u3", server.url("/u3"), "public.u3", ORDER_COLUMNS)
    db.run("u3")
    ds.records[:] = [{"id": 1, "customer": "new name", "updated_at": "2025-01-01T00:00:00Z"}]
    db.run("u3")
    row = db.one("SELECT customer, amount, details FROM public.u3 WHERE id = 1")
    assert row == {"customer": "new name", "amount": None, "details": None}
    assert db.count("public.u3") == 2


def test_upsert_off_fails_on_a_duplicate_key_inside_a_batch_and_changes_nothing(db, server):
    server.add_dataset("o1", [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}, {"id": 1, "v": "c"}], field=None)
    db.register("o1", server.url("/o1"), "public.o1", COLUMNS, upsert="off")
    msg, run = db.run_fails("o1")
    assert "duplicate key" in msg
    assert run["status"] == "failed"
    assert run["rows"] == 0 and run["batches"] == 0
    assert "duplicate key" in run["error"]
    assert db.count("public.o1") == 0


def test_upsert_off_appends_and_fails_on_a_key_from_an_earlier_run(db, server):
    ds = server.add_dataset("o2", [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}], field=None)
    db.register("o2", server.url("/o2"), "public.o2", COLUMNS, upsert="off")
    assert db.run("o2")["rows"] == 2

    ds.records[:] = [{"id": 3, "v": "c"}, {"id": 2, "v": "B"}]
    msg, run = db.run_fails("o2")
    assert "duplicate key" in msg
    assert rows(db, "public.o2") == [(1, "a"), (2, "b")]  # not even id 3 of the failed batch


def test_upsert_off_without_primary_key_appends_everything(db, server):
    server.add_dataset("o3", [{"id": 1, "v": "a"}, {"id": 1, "v": "a"}], field=None)
    db.register("o3", server.url("/o3"), "public.o3",
                [{"name": "id", "type": "bigint"}, {"name": "v", "type": "text"}], upsert="off")
    db.run("o3")
    db.run("o3")
    assert db.count("public.o3") == 4

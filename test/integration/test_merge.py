"""How a batch is merged into a table in place (upserts): unchanged rows are not rewritten, and the last row of a
key wins however the key is spelt."""

COLUMNS = [{"name": "id", "type": "bigint", "primary_key": True}, {"name": "v", "type": "text"}]


def versions(db, table):
    """Each row's key, value, place and writing transaction."""
    return {r["id"]: (r["v"], r["ctid"], r["xmin"])
            for r in db.query("SELECT id, v::text AS v, ctid::text AS ctid, xmin::text AS xmin FROM %s" % table)}


def updates(db, table):
    db.execute("SELECT pg_stat_clear_snapshot()")
    return db.scalar("SELECT n_tup_upd FROM pg_stat_user_tables WHERE relid = %s::regclass", (table,))


def test_a_reingest_of_unchanged_rows_writes_no_row_version(db, server):
    records = [{"id": i, "v": "value %d " % i + "x" * 1500} for i in range(1, 301)]
    ds = server.add_dataset("same", records, field=None, page_size=100)
    db.register("same", server.url("/same"), "public.same", COLUMNS)
    assert db.run("same")["batches"] == 3
    before = versions(db, "public.same")
    wal_before = db.scalar("SELECT pg_current_wal_insert_lsn()::text")

    result = db.run("same", "__EARLIEST__")
    assert result["status"] == "succeeded" and result["rows"] == 300 and result["batches"] == 3
    assert versions(db, "public.same") == before
    # The run's catalog rows and staging tables are written, not the table's 300 rows of 1.5 kB (rewritten, or
    # even only locked, they would be more than 450 kB of WAL).
    wal = db.scalar("SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), %s)", (wal_before,))
    assert wal < 150000
    assert updates(db, "public.same") == 0

    # Only the rows that changed get a new version; the others keep theirs.
    ds.records[:] = [dict(r, v="changed") if r["id"] % 50 == 0 else r for r in records]
    db.run("same", "__EARLIEST__")
    after = versions(db, "public.same")
    assert {k for k in after if after[k] != before[k]} == {50, 100, 150, 200, 250, 300}
    assert all(after[k][0] == "changed" for k in (50, 100, 150, 200, 250, 300))


def test_unchanged_means_the_same_bytes_in_every_column(db, server):
    # numeric 1.0 and 1.00 are equal numbers but show differently: a change. jsonb normalizes key order and
    # spacing: no change. json has no equality operator at all: compared by its text.
    columns = [{"name": "id", "type": "bigint", "primary_key": True}, {"name": "n", "type": "numeric"},
               {"name": "jb", "type": "jsonb", "path": "/jb"}, {"name": "j", "type": "json", "path": "/j"},
               {"name": "t", "type": "timestamptz"}]
    first = [{"id": 1, "n": "1.0", "jb": {"a": 1, "b": 2}, "j": {"x": 1}, "t": "2024-01-01T00:00:00Z"},
             {"id": 2, "n": "5", "jb": {"a": 1}, "j": {"x": 1}, "t": "2024-01-01T00:00:00Z"},
             {"id": 3, "n": "5", "jb": {"a": 1}, "j": {"x": 1}, "t": "2024-01-01T00:00:00Z"},
             {"id": 4, "n": "5", "jb": None, "j": None, "t": None}]
    ds = server.add_dataset("bytes", first, field=None)
    db.register("bytes", server.url("/bytes"), "public.bytes", columns)
    db.run("bytes")
    db.run("bytes", "__EARLIEST__")  # nothing changed: the first run's rows stay
    before = {r["id"]: r["xmin"] for r in db.query("SELECT id, xmin::text AS xmin FROM public.bytes")}

    ds.records[:] = [{"id": 1, "n": "1.00", "jb": {"b": 2, "a": 1}, "j": {"x": 1}, "t": "2024-01-01T00:00:00Z"},
                     {"id": 2, "n": "5", "jb": {"a": 1}, "j": {"x": 1}, "t": "2024-01-01T01:00:00+01:00"},
                     {"id": 3, "n": "5", "jb": {"a": 1}, "j": {"x": 2}, "t": "2024-01-01T00:00:00Z"},
                     {"id": 4, "n": "5", "jb": None, "j": None, "t": None}]
    db.run("bytes", "__EARLIEST__")
    rows = {r["id"]: r for r in db.query("SELECT id, n::text AS n, j::text AS j, xmin::text AS xmin FROM public.bytes")}
    assert rows[1]["n"] == "1.00" and rows[1]["xmin"] != before[1]  # the scale changed
    assert rows[2]["xmin"] == before[2]  # the same instant, the same jsonb
    assert rows[3]["j"].replace(" ", "") == '{"x":2}' and rows[3]["xmin"] != before[3]
    assert rows[4]["xmin"] == before[4]  # NULLs equal NULLs


def test_update_triggers_fire_for_changed_rows_only(db, server):
    db.execute("CREATE TABLE public.trig (id bigint PRIMARY KEY, v text)")
    db.execute("CREATE TABLE public.trig_log (id bigint, old_v text, new_v text)")
    db.execute("""CREATE FUNCTION public.trig_log() RETURNS trigger LANGUAGE plpgsql AS $$
                  BEGIN INSERT INTO public.trig_log VALUES (NEW.id, OLD.v, NEW.v); RETURN NEW; END $$""")
    db.execute("CREATE TRIGGER trig_log BEFORE UPDATE ON public.trig FOR EACH ROW EXECUTE FUNCTION public.trig_log()")
    db.execute("INSERT INTO public.trig VALUES (1, 'a'), (2, 'b'), (3, 'c')")
    server.add_dataset("trig", [{"id": 1, "v": "a"}, {"id": 2, "v": "B"}, {"id": 3, "v": "c"}, {"id": 4, "v": "d"}],
                       field=None)
    db.register("trig", server.url("/trig"), "public.trig", COLUMNS)
    db.run("trig")
    assert db.query("SELECT * FROM public.trig_log") == [{"id": 2, "old_v": "b", "new_v": "B"}]
    assert [(r["id"], r["v"]) for r in db.query("SELECT * FROM public.trig ORDER BY id")] == \
        [(1, "a"), (2, "B"), (3, "c"), (4, "d")]


def test_a_key_repeated_in_another_spelling_keeps_its_last_row(db, server):
    # "7" and "007" are one bigint: the batch's keys look distinct as text, PostgreSQL refuses to affect the row
    # twice, and the merge is redone with the sort that keeps the last row.
    ds = server.add_dataset("spell", [{"id": 1, "v": "first run"}], field=None)
    db.register("spell", server.url("/spell"), "public.spell", COLUMNS)
    db.run("spell")
    ds.records[:] = [{"id": 7, "v": "a"}, {"id": "007", "v": "b"}, {"id": 1, "v": "x"}, {"id": " 1", "v": "y"},
                     {"id": 8, "v": "c"}]
    result = db.run("spell")
    assert result["status"] == "succeeded" and result["rows"] == 5
    assert [(r["id"], r["v"]) for r in db.query("SELECT * FROM public.spell ORDER BY id")] == \
        [(1, "y"), (7, "b"), (8, "c")]


def test_many_changed_batches_then_unchanged_ones(db, server):
    # The merge stops looking for unchanged rows after batches where nearly everything changed, and looks again
    # when rows stop changing: either way the table ends with the last rows, and unchanged rows keep their version.
    records = [{"id": i, "v": "v%d" % i} for i in range(1, 401)]
    ds = server.add_dataset("mixed", records, field=None, page_size=50)
    db.register("mixed", server.url("/mixed"), "public.mixed", COLUMNS)
    db.run("mixed")
    before = versions(db, "public.mixed")
    ds.records[:] = [dict(r, v="new") if r["id"] <= 200 else r for r in records]
    db.run("mixed", "__EARLIEST__")
    after = versions(db, "public.mixed")
    assert all(after[k][0] == "new" and after[k][2] != before[k][2] for k in range(1, 201))
    assert all(after[k] == before[k] for k in range(201, 401))
    assert updates(db, "public.mixed") == 200


def merge_statements(db, table):
    """A statement trigger that counts the merges (INSERT ... ON CONFLICT DO UPDATE fires UPDATE statement triggers;
    COPY fires none)."""
    db.execute("CREATE TABLE IF NOT EXISTS public.merges (tbl text)")
    db.execute("""CREATE OR REPLACE FUNCTION public.count_merge() RETURNS trigger LANGUAGE plpgsql AS $$
                  BEGIN INSERT INTO public.merges VALUES (TG_TABLE_NAME); RETURN NULL; END $$""")
    db.execute("CREATE TRIGGER count_merge AFTER UPDATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION public.count_merge()"
               % table)


def test_a_first_load_in_several_batches_copies_every_batch_straight_into_the_table(db, server):
    db.execute("CREATE TABLE public.first (id bigint PRIMARY KEY, v text)")
    merge_statements(db, "public.first")
    ds = server.add_dataset("first", [{"id": i, "v": "v%d" % i} for i in range(1, 101)], field=None, page_size=10)
    db.register("first", server.url("/first"), "public.first", COLUMNS)
    result = db.run("first")
    assert result["status"] == "succeeded" and result["batches"] == 10 and result["rows"] == 100
    assert db.scalar("SELECT count(*) FROM public.merges") == 0  # batch 1 rebuilt the table, 2-10 were COPYed
    assert [(r["id"], r["v"]) for r in db.query("SELECT * FROM public.first ORDER BY id")] == \
        [(i, "v%d" % i) for i in range(1, 101)]

    # The next run finds the same rows: each is compared with the table's as it is copied, none is staged, and no
    # batch is merged at all.
    db.run("first", "__EARLIEST__")
    assert db.scalar("SELECT count(*) FROM public.merges") == 0
    # Rows that changed are merged, in the batches that hold them.
    ds.records[:] = [{"id": i, "v": "w%d" % i if i in (5, 55) else "v%d" % i} for i in range(1, 101)]
    db.run("first", "__EARLIEST__")
    assert db.scalar("SELECT count(*) FROM public.merges") == 2
    assert db.scalar("SELECT string_agg(v, ',' ORDER BY id) FROM public.first WHERE id IN (5, 55)") == "w5,w55"


def test_a_replace_in_several_batches_copies_every_batch_straight_into_the_new_table(db, server):
    # delete => 'before_first_batch' over a full table: batch 1 builds the new table, the others are COPYed into it
    # (it holds the run's rows only), and a key that repeats across batches still keeps its last row.
    db.execute("CREATE TABLE public.repl (id bigint PRIMARY KEY, v text)")
    db.execute("INSERT INTO public.repl SELECT g, 'old' FROM generate_series(1, 500) g")
    merge_statements(db, "public.repl")
    records = [{"id": i, "v": "v%d" % i} for i in range(1, 101)]
    ds = server.add_dataset("repl", records, field=None, page_size=10)
    db.register("repl", server.url("/repl"), "public.repl", COLUMNS, delete="before_first_batch")
    result = db.run("repl")
    assert result["status"] == "succeeded" and result["batches"] == 10 and result["rows"] == 100
    assert db.scalar("SELECT count(*) FROM public.merges") == 0
    assert [(r["id"], r["v"]) for r in db.query("SELECT * FROM public.repl ORDER BY id")] == \
        [(i, "v%d" % i) for i in range(1, 101)]

    # Batch 4 repeats a key of batch 1: the run merges from then on (batches 4 to 11), and the last row wins.
    ds.records[:] = records[:35] + [{"id": 3, "v": "again"}] + records[35:]
    result = db.run("repl", "__EARLIEST__")
    assert result["status"] == "succeeded" and result["rows"] == 101 and result["batches"] == 11
    assert db.scalar("SELECT count(*) FROM public.merges") == 8
    assert db.scalar("SELECT v FROM public.repl WHERE id = 3") == "again"
    assert db.scalar("SELECT count(*) FROM public.repl") == 100


def test_a_key_of_an_earlier_batch_in_a_first_load_still_wins_last(db, server):
    # Batch 3 repeats a key of batch 1 (and one of its own): COPY into the table stops at the conflict, the batch is
    # loaded again through the staging table, and the run merges from then on.
    db.execute("CREATE TABLE public.again (id bigint PRIMARY KEY, v text)")
    merge_statements(db, "public.again")
    records = [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}, {"id": 3, "v": "c"}, {"id": 4, "v": "d"},
               {"id": 5, "v": "e"}, {"id": 1, "v": "A"}, {"id": 6, "v": "f"}, {"id": 6, "v": "F"},
               {"id": 7, "v": "g"}, {"id": 2, "v": "B"}]
    server.add_dataset("again", records, field=None, page_size=2)
    db.register("again", server.url("/again"), "public.again", COLUMNS)
    result = db.run("again")
    assert result["status"] == "succeeded" and result["batches"] == 5 and result["rows"] == 10
    assert [(r["id"], r["v"]) for r in db.query("SELECT * FROM public.again ORDER BY id")] == \
        [(1, "A"), (2, "B"), (3, "c"), (4, "d"), (5, "e"), (6, "F"), (7, "g")]
    assert db.scalar("SELECT count(*) FROM public.merges") == 3  # batches 3, 4 and 5


def test_a_conflict_late_in_a_large_batch_loses_no_row(db, server):
    # The batch is long enough for COPY to have flushed many rows into the table before the conflict: they are
    # rolled back and loaded again, with the rest of the response, through the staging table.
    records = [{"id": i, "v": "first %d" % i} for i in range(1, 1001)]
    records += [{"id": i, "v": "second %d" % i} for i in range(1001, 5001)]
    # Batch 6: 999 new keys, then key 10 of batch 1 as its last row; batch 7: new keys again.
    records += [{"id": i, "v": "third %d" % i} for i in range(5001, 6000)] + [{"id": 10, "v": "last"}]
    records += [{"id": i, "v": "third %d" % i} for i in range(6000, 6002)]
    server.add_dataset("late", records, field=None, page_size=len(records))
    db.register("late", server.url("/late"), "public.late", COLUMNS, options={"batch_rows": 1000})
    result = db.run("late")
    assert result["status"] == "succeeded" and result["rows"] == 6002 and result["batches"] == 7
    assert db.scalar("SELECT count(*) FROM public.late") == 6001
    assert db.scalar("SELECT v FROM public.late WHERE id = 10") == "last"
    assert db.scalar("SELECT count(*) FROM public.late WHERE v LIKE 'third %'") == 1001


def test_a_bad_value_in_a_batch_copied_straight_into_the_table_names_its_line(db, server):
    records = [{"id": i, "v": "v"} for i in range(1, 21)]
    records[14] = {"id": "fifteen", "v": "v"}
    server.add_dataset("badline", records, field=None, page_size=10)
    db.register("badline", server.url("/badline"), "public.badline", COLUMNS)
    msg, run = db.run_fails("badline")
    assert "batch 2" in msg and "line 5" in msg and 'column "id"' in msg and "fifteen" in msg
    assert run["batches"] == 1
    assert db.count("public.badline") == 10


def test_a_changed_row_then_an_unchanged_one_of_the_same_key_keeps_the_unchanged_one(db, server):
    # The second row of key 1 equals the table's row, the first does not: the last row wins, so the row stays as it
    # was (the unchanged row is staged after the changed one, however its key is spelt).
    db.execute("CREATE TABLE public.back (id bigint PRIMARY KEY, v text)")
    db.execute("INSERT INTO public.back VALUES (1, 'a'), (7, 'g'), (9, 'i')")
    server.add_dataset("back", [{"id": 1, "v": "b"}, {"id": 9, "v": "i"}, {"id": 1, "v": "a"}, {"id": 7, "v": "x"},
                                {"id": "007", "v": "g"}, {"id": 9, "v": "j"}], field=None)
    db.register("back", server.url("/back"), "public.back", COLUMNS)
    result = db.run("back")
    assert result["status"] == "succeeded" and result["rows"] == 6
    assert [(r["id"], r["v"]) for r in db.query("SELECT * FROM public.back ORDER BY id")] == \
        [(1, "a"), (7, "g"), (9, "j")]


def test_comparing_rows_of_a_table_with_a_dropped_column_and_large_values(db, server):
    # The target's attribute numbers are not the staging table's (a dropped column, which LIKE leaves out): rows
    # compare by column name, large (compressed, out-of-line) values by their bytes.
    db.execute("CREATE TABLE public.wide (id bigint PRIMARY KEY, gone int, v text)")
    db.execute("ALTER TABLE public.wide DROP COLUMN gone")
    big = "".join("%08x" % (i * 2654435761 % 4294967296) for i in range(20000))  # 160 kB, stored out of line
    db.execute("INSERT INTO public.wide VALUES (1, %s), (2, 'small'), (3, NULL)", (big,))
    records = [{"id": 1, "v": big}, {"id": 2, "v": "small"}, {"id": 3, "v": None}]
    ds = server.add_dataset("wide", records, field=None)
    db.register("wide", server.url("/wide"), "public.wide", COLUMNS)
    before = versions(db, "public.wide")
    assert db.run("wide")["rows"] == 3
    assert versions(db, "public.wide") == before  # the same rows: nothing written

    ds.records[:] = [{"id": 1, "v": big[:-1] + "z"}, {"id": 2, "v": "small"}, {"id": 3, "v": "now set"}]
    db.run("wide", "__EARLIEST__")
    after = versions(db, "public.wide")
    assert {k for k in after if after[k] != before[k]} == {1, 3}
    assert db.scalar("SELECT right(v, 1) FROM public.wide WHERE id = 1") == "z"
    assert db.scalar("SELECT v FROM public.wide WHERE id = 3") == "now set"


def test_a_batch_whose_first_rows_changed_stages_the_rest_without_looking_and_still_writes_only_changes(db, server):
    # The first 1,000 rows of the batch all changed: the rest is staged without being looked up, and the merge's
    # conditional update leaves its unchanged rows unwritten; key 10, changed early and sent again unchanged at the
    # end, keeps its last (unchanged) row.
    records = [{"id": i, "v": "v%d" % i} for i in range(1, 3001)]
    ds = server.add_dataset("probe", records, field=None, page_size=10000)
    db.register("probe", server.url("/probe"), "public.probe", COLUMNS, options={"batch_rows": 10000})
    db.run("probe")
    before = versions(db, "public.probe")
    ds.records[:] = [dict(r, v="new") if r["id"] <= 1500 else r for r in records] + [{"id": 10, "v": "v10"}]
    result = db.run("probe", "__EARLIEST__")
    assert result["status"] == "succeeded" and result["rows"] == 3001 and result["batches"] == 1
    after = versions(db, "public.probe")
    assert {k for k in after if after[k] != before[k]} == set(range(1, 1501)) - {10}
    assert after[10] == before[10]
    assert updates(db, "public.probe") == 1499

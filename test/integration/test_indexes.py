"""Declared indexes (issue 4): options.indexes is part of the declaration. Plain, GIN, unique, expression and partial
indexes are built after loading; adding, removing or changing one rebuilds the table in the first batch of the next
run with data; an identical declaration never rebuilds; unique violations fail and change nothing; bad entries are
refused at registration.

Ported from pg-bulk-ingest's suite: test_unique_initial, test_unique_added, test_batches_with_long_index_name,
test_table_with_multiple_similar_indexes, test_migrate_add_index, test_migrate_add_gin_index,
test_migrate_remove_index."""

import psycopg
import pytest

from rebuild_helpers import cols, index_forms, relid, rows

COLUMNS = cols(("id", "bigint pk"), ("customer", "text", {"nullable": False}), ("email", "text"),
               ("amount", "numeric"), ("tags", "text[]"))

ALL_KINDS = [{"columns": ["customer"]}, {"columns": ["tags"], "using": "gin"}, {"columns": ["email"], "unique": True},
             {"expression": "lower(customer)"}, {"columns": ["amount"], "where": "amount > 0"},
             {"columns": ["customer", "amount"]}]
ALL_FORMS = sorted([
    ("btree", False, ("customer",), None, None),
    ("gin", False, ("tags",), None, None),
    ("btree", True, ("email",), None, None),
    ("btree", False, (), "lower(customer)", None),
    ("btree", False, ("amount",), None, "(amount > (0)::numeric)"),
    ("btree", False, ("customer", "amount"), None, None),
])


def record(i, **kw):
    rec = {"id": i, "customer": "C%d" % i, "email": "c%d@example.com" % i, "amount": i, "tags": ["t%d" % i]}
    rec.update(kw)
    return rec


def declare(db, server, name, indexes=None, records=None, columns=COLUMNS, **kw):
    ds = server.add_dataset(name, records if records is not None else [record(1), record(2)], field=None)
    options = {"indexes": indexes} if indexes is not None else {}
    db.register(name, server.url("/" + name), "public." + name, columns, options=options, **kw)
    return ds


def redeclare(db, server, name, indexes, columns=COLUMNS, **kw):
    db.register(name, server.url("/" + name), "public." + name, columns, options={"indexes": indexes}, **kw)


def test_every_kind_of_index_on_a_new_table(db, server):
    ds = declare(db, server, "ix_all", ALL_KINDS)
    first = db.run("ix_all")
    assert first["status"] == "succeeded" and first["rows"] == 2
    assert index_forms(db, "public.ix_all") == ALL_FORMS
    oid = relid(db, "public.ix_all")

    # The same declaration: loaded in place, every time.
    for i in (3, 4):
        ds.records[:] = [record(i)]
        result = db.run("ix_all")
        assert result["rebuild"] is None, result["rebuild"]
    assert relid(db, "public.ix_all") == oid
    assert index_forms(db, "public.ix_all") == ALL_FORMS
    # The indexes are valid and used.
    db.execute("SET enable_seqscan = off")
    plan = "\n".join(r["QUERY PLAN"] for r in db.query(
        "EXPLAIN SELECT id FROM public.ix_all WHERE lower(customer) = 'c3'"))
    assert "Index" in plan, plan
    assert db.scalar("SELECT id FROM public.ix_all WHERE tags @> ARRAY['t4']") == 4


def test_add_plain_indexes(db, server):
    ds = declare(db, server, "ix_add")
    db.run("ix_add")
    oid_1 = relid(db, "public.ix_add")
    assert index_forms(db, "public.ix_add") == []

    redeclare(db, server, "ix_add", [{"columns": ["customer"]}, {"columns": ["customer", "id"]}])
    ds.records[:] = [record(3)]
    result = db.run("ix_add")
    assert result["rebuild"] is not None and "customer" in result["rebuild"]
    assert index_forms(db, "public.ix_add") == [("btree", False, ("customer",), None, None),
                                                ("btree", False, ("customer", "id"), None, None)]
    oid_2 = relid(db, "public.ix_add")
    assert oid_2 != oid_1
    assert db.count("public.ix_add") == 3
    # Named as PostgreSQL names them (table, first column, suffix), not after the rebuild's scratch table.
    names = [r["indexname"] for r in db.query("SELECT indexname FROM pg_indexes WHERE tablename = 'ix_add'"
                                              " ORDER BY indexname")]
    assert names == ["ix_add_customer_idx", "ix_add_customer_idx1", "ix_add_pkey"], names

    ds.records[:] = [record(4)]
    assert db.run("ix_add")["rebuild"] is None
    assert relid(db, "public.ix_add") == oid_2


def test_add_a_gin_index(db, server):
    ds = declare(db, server, "ix_gin")
    db.run("ix_gin")
    oid_1 = relid(db, "public.ix_gin")
    redeclare(db, server, "ix_gin", [{"columns": ["tags"], "using": "gin"}])
    ds.records[:] = [record(3)]
    assert db.run("ix_gin")["rebuild"] is not None
    assert index_forms(db, "public.ix_gin") == [("gin", False, ("tags",), None, None)]
    oid_2 = relid(db, "public.ix_gin")
    assert oid_2 != oid_1

    ds.records[:] = [record(4)]
    assert db.run("ix_gin")["rebuild"] is None
    assert relid(db, "public.ix_gin") == oid_2


def test_remove_an_index(db, server):
    ds = declare(db, server, "ix_rm", [{"columns": ["customer"]}, {"columns": ["tags"], "using": "gin"}])
    db.run("ix_rm")
    assert len(index_forms(db, "public.ix_rm")) == 2
    oid_1 = relid(db, "public.ix_rm")

    redeclare(db, server, "ix_rm", [{"columns": ["tags"], "using": "gin"}])
    ds.records[:] = [record(3)]
    assert db.run("ix_rm")["rebuild"] is not None
    assert index_forms(db, "public.ix_rm") == [("gin", False, ("tags",), None, None)]
    assert relid(db, "public.ix_rm") != oid_1

    redeclare(db, server, "ix_rm", [])
    ds.records[:] = [record(4)]
    assert db.run("ix_rm")["rebuild"] is not None
    assert index_forms(db, "public.ix_rm") == []
    assert db.count("public.ix_rm") == 4


def test_partial_index_added_changed_and_kept(db, server):
    ds = declare(db, server, "ix_part")
    db.run("ix_part")
    redeclare(db, server, "ix_part", [{"columns": ["amount"], "where": "amount > 0"}])
    ds.records[:] = [record(3)]
    assert db.run("ix_part")["rebuild"] is not None
    assert index_forms(db, "public.ix_part") == [("btree", False, ("amount",), None, "(amount > (0)::numeric)")]

    ds.records[:] = [record(4)]
    assert db.run("ix_part")["rebuild"] is None  # the same predicate, however PostgreSQL prints it

    redeclare(db, server, "ix_part", [{"columns": ["amount"], "where": "amount > 10"}])
    ds.records[:] = [record(5)]
    assert db.run("ix_part")["rebuild"] is not None
    assert index_forms(db, "public.ix_part") == [("btree", False, ("amount",), None, "(amount > (10)::numeric)")]


def test_unique_flag_added_kept_and_removed(db, server):
    ds = declare(db, server, "ix_uq", [{"columns": ["email"]}])
    db.run("ix_uq")
    assert index_forms(db, "public.ix_uq") == [("btree", False, ("email",), None, None)]

    redeclare(db, server, "ix_uq", [{"columns": ["email"], "unique": True}])
    ds.records[:] = [record(3)]
    assert db.run("ix_uq")["rebuild"] is not None
    assert index_forms(db, "public.ix_uq") == [("btree", True, ("email",), None, None)]
    oid = relid(db, "public.ix_uq")

    # Identical unique flag: never a rebuild (pg-bulk-ingest rebuilt here on every run).
    for i in (4, 5):
        ds.records[:] = [record(i)]
        assert db.run("ix_uq")["rebuild"] is None
    assert relid(db, "public.ix_uq") == oid

    redeclare(db, server, "ix_uq", [{"columns": ["email"], "unique": False}])
    ds.records[:] = [record(6)]
    assert db.run("ix_uq")["rebuild"] is not None
    assert index_forms(db, "public.ix_uq") == [("btree", False, ("email",), None, None)]


def test_expression_index_added_kept_and_changed(db, server):
    ds = declare(db, server, "ix_expr")
    db.run("ix_expr")
    redeclare(db, server, "ix_expr", [{"expression": "lower(customer)"}])
    ds.records[:] = [record(3)]
    assert db.run("ix_expr")["rebuild"] is not None
    assert index_forms(db, "public.ix_expr") == [("btree", False, (), "lower(customer)", None)]
    oid = relid(db, "public.ix_expr")

    ds.records[:] = [record(4)]
    assert db.run("ix_expr")["rebuild"] is None
    assert relid(db, "public.ix_expr") == oid

    redeclare(db, server, "ix_expr", [{"expression": "upper(customer)"}])
    ds.records[:] = [record(5)]
    assert db.run("ix_expr")["rebuild"] is not None
    assert index_forms(db, "public.ix_expr") == [("btree", False, (), "upper(customer)", None)]


def test_unique_violation_at_the_first_load(db, server):
    declare(db, server, "uq_first", [{"columns": ["email"], "unique": True}],
          records=[record(1, email="same"), record(2, email="same")])
    msg, run = db.run_fails("uq_first")
    low = msg.lower()
    assert "unique" in low and ("duplicate" in low or "violates" in low), msg
    assert run["status"] == "failed" and run["rows"] == 0
    assert db.scalar("SELECT to_regclass('public.uq_first') IS NULL") or db.count("public.uq_first") == 0


def test_unique_violation_when_a_unique_index_is_added(db, server):
    # No primary key: the same value comes again, and then the new unique index cannot be built.
    columns = cols(("n", "int"), ("v", "text"))
    ds = declare(db, server, "uq_added", records=[{"n": 1, "v": "a"}], columns=columns)
    db.run("uq_added")
    oid = relid(db, "public.uq_added")

    redeclare(db, server, "uq_added", [{"columns": ["n"], "unique": True}], columns=columns)
    ds.records[:] = [{"n": 1, "v": "b"}]
    msg, run = db.run_fails("uq_added")
    low = msg.lower()
    assert "unique" in low and ("duplicate" in low or "violates" in low), msg
    assert run["status"] == "failed"
    assert relid(db, "public.uq_added") == oid
    assert rows(db, "SELECT n, v FROM public.uq_added") == [(1, "a")]
    assert index_forms(db, "public.uq_added") == []


def test_unique_index_over_existing_duplicates_fails_and_changes_nothing(db, server):
    columns = cols(("n", "int"), ("v", "text"))
    ds = declare(db, server, "uq_old", records=[{"n": 1, "v": "a"}, {"n": 1, "v": "b"}], columns=columns)
    db.run("uq_old")
    oid = relid(db, "public.uq_old")
    redeclare(db, server, "uq_old", [{"columns": ["n"], "unique": True}], columns=columns)
    ds.records[:] = [{"n": 2, "v": "c"}]
    msg, run = db.run_fails("uq_old")
    assert "unique" in msg.lower() or "duplicate" in msg.lower(), msg
    assert relid(db, "public.uq_old") == oid
    assert sorted(rows(db, "SELECT n, v FROM public.uq_old")) == [(1, "a"), (1, "b")]


def test_several_similar_indexes(db, server):
    columns = cols(("id", "int pk"), ("a", "varchar"), ("b", "varchar"))
    indexes = [{"columns": ["a", "b"]}, {"columns": ["a"]}, {"columns": ["a"], "unique": True}]
    ds = declare(db, server, "similar", indexes, records=[], columns=columns)
    assert db.run("similar")["batches"] == 0
    assert db.count("public.similar") == 0

    ds.records[:] = [{"id": 1, "a": "x", "b": "y"}]
    db.run("similar")
    expected = sorted([("btree", False, ("a", "b"), None, None), ("btree", False, ("a",), None, None),
                       ("btree", True, ("a",), None, None)])
    assert index_forms(db, "public.similar") == expected
    oid = relid(db, "public.similar")
    ds.records[:] = [{"id": 2, "a": "z", "b": "y"}]
    assert db.run("similar")["rebuild"] is None
    assert relid(db, "public.similar") == oid
    assert index_forms(db, "public.similar") == expected


def test_long_index_names(db, server):
    table = "a_table_with_a_rather_long_name_for_its_indexes_" + "x" * 10
    column_a = "very_long_column_name_even_longer_a"
    column_b = "very_long_column_name_even_longer_b"
    columns = cols((column_a, "int"), (column_b, "int"))
    ds = server.add_dataset("longix", [{column_a: 1, column_b: 1}], field=None)
    db.register("longix", server.url("/longix"), "public." + table, columns,
                options={"indexes": [{"columns": [column_a]}, {"columns": [column_b]},
                                     {"columns": [column_a, column_b]}]})
    db.run("longix")
    oid = relid(db, "public." + table)
    ds.records[:] = [{column_a: 2, column_b: 2}]
    second = db.run("longix")
    assert second["rebuild"] is None
    assert relid(db, "public." + table) == oid
    assert rows(db, "SELECT %s FROM public.%s ORDER BY 1" % (column_a, table)) == [(1,), (2,)]
    assert len(index_forms(db, "public." + table)) == 3


def test_a_hand_made_table_with_the_declared_indexes_is_not_rebuilt(db, server):
    db.execute("CREATE TABLE public.handmade (id bigint PRIMARY KEY, customer text NOT NULL, email text, "
               "amount numeric, tags text[])")
    db.execute("CREATE INDEX ON public.handmade (customer)")
    db.execute("CREATE INDEX ON public.handmade USING gin (tags)")
    db.execute("CREATE UNIQUE INDEX ON public.handmade (email)")
    db.execute("CREATE INDEX ON public.handmade (lower(customer))")
    db.execute("CREATE INDEX ON public.handmade (amount) WHERE amount > 0")
    db.execute("CREATE INDEX ON public.handmade (customer, amount)")
    db.execute("INSERT INTO public.handmade VALUES (0, 'zero', NULL, 0, NULL)")
    oid = relid(db, "public.handmade")
    server.add_dataset("handmade", [record(1)], field=None)
    db.register("handmade", server.url("/handmade"), "public.handmade", COLUMNS, options={"indexes": ALL_KINDS})
    result = db.run("handmade")
    assert result["rebuild"] is None, result["rebuild"]
    assert relid(db, "public.handmade") == oid
    assert db.count("public.handmade") == 2


def test_an_undeclared_index_is_a_difference(db, server):
    ds = declare(db, server, "ix_extra", [{"columns": ["customer"]}])
    db.run("ix_extra")
    db.execute("CREATE INDEX by_hand ON public.ix_extra (email)")
    ds.records[:] = [record(3)]
    result = db.run("ix_extra")
    assert result["rebuild"] is not None and "email" in result["rebuild"]
    assert index_forms(db, "public.ix_extra") == [("btree", False, ("customer",), None, None)]


@pytest.mark.parametrize("entry, fragment", [
    ({"columns": ["customer"], "colour": "red"}, "colour"),
    ({"columns": ["nope"]}, "nope"),
    ({"columns": ["customer"], "expression": "lower(customer)"}, "expression"),
    ({"unique": True}, "columns"),
    ({"columns": ["customer"], "using": "nosuchmethod"}, "nosuchmethod"),
    ({"expression": "lower(customer"}, "indexes"),
    ({"columns": "customer"}, "columns"),
    ({"columns": ["customer"], "unique": "yes"}, "unique"),
], ids=["unknown_key", "unknown_column", "both", "neither", "unknown_method", "bad_expression", "columns_not_array",
        "unique_not_bool"])
def test_bad_index_entries_are_refused_at_registration(db, server, entry, fragment):
    with pytest.raises(psycopg.Error) as e:
        db.register("badix", server.url("/badix"), "public.badix", COLUMNS,
                    options={"indexes": [{"columns": ["customer"]}, entry]})
    msg = str(e.value)
    assert "indexes" in msg and fragment in msg, msg
    assert db.scalar("SELECT count(*) FROM bulk_ingest.sources") == 0


def test_a_bad_index_predicate_is_refused_at_registration(db, server):
    options = {"indexes": [{"columns": ["customer"]}, {"columns": ["amount"], "where": "amount >"}]}
    with pytest.raises(psycopg.errors.SyntaxError) as e:
        db.register("badwhere", server.url("/badwhere"), "public.badwhere", COLUMNS, options=options)
    assert "options.indexes[1].where" in str(e.value), str(e.value)
    assert db.scalar("SELECT count(*) FROM bulk_ingest.sources") == 0
    assert db.scalar("SELECT to_regclass('public.badwhere') IS NULL")

"""The target table: created when missing as declared; an existing table of another shape is an error that says
exactly what differs."""

import psycopg

COLUMNS = [
    {"name": "id", "type": "bigint", "primary_key": True},
    {"name": "region", "type": "text", "primary_key": True},
    {"name": "amount", "type": "numeric(12,2)"},
    {"name": "note", "type": "varchar(20)", "nullable": False},
    {"name": "tags", "type": "text[]"},
    {"name": "details", "type": "jsonb"},
    {"name": "at", "type": "timestamp with time zone"},
]


def shape(db, table):
    return [(r["attname"], r["type"], r["attnotnull"]) for r in db.query(
        "SELECT attname, format_type(atttypid, atttypmod) AS type, attnotnull FROM pg_attribute "
        "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum", (table,))]


def primary_key(db, table):
    return [r["attname"] for r in db.query(
        "SELECT a.attname FROM pg_index i, unnest(i.indkey) WITH ORDINALITY k(attnum, n) "
        "JOIN pg_attribute a ON a.attnum = k.attnum WHERE i.indrelid = %s::regclass AND i.indisprimary "
        "AND a.attrelid = i.indrelid ORDER BY k.n", (table,))]


def test_target_created_when_missing(db, server):
    db.execute("CREATE SCHEMA shop")
    server.add_dataset("t1", [{"id": 1, "region": "eu", "amount": 1.5, "note": "n", "tags": None,
                               "details": {"a": 1}, "at": "2024-01-01T00:00:00Z"}], field=None)
    db.register("t1", server.url("/t1"), "shop.t1", COLUMNS)
    db.run("t1")
    assert shape(db, "shop.t1") == [
        ("id", "bigint", True),
        ("region", "text", True),
        ("amount", "numeric(12,2)", False),
        ("note", "character varying(20)", True),
        ("tags", "text[]", False),
        ("details", "jsonb", False),
        ("at", "timestamp with time zone", False),
    ]
    assert primary_key(db, "shop.t1") == ["id", "region"]
    assert db.count("shop.t1") == 1


def test_existing_table_of_the_same_shape_is_used(db, server):
    db.execute("CREATE TABLE public.same (id bigint PRIMARY KEY, v text)")
    db.execute("INSERT INTO public.same VALUES (0, 'kept')")
    server.add_dataset("t2", [{"id": 1, "v": "x"}], field=None)
    db.register("t2", server.url("/t2"), "public.same",
                [{"name": "id", "type": "bigint", "primary_key": True}, {"name": "v", "type": "text"}])
    db.run("t2")
    assert db.count("public.same") == 2


def migrates_naming(db, server, source, table, create_sql, columns, *needles):
    """An existing table of another shape (with a row) is migrated by the first batch; the run's rebuild reason
    names every needle, and the old row is kept next to the new one."""
    db.execute(create_sql)
    db.execute("INSERT INTO %s (id, v) VALUES (100, 'old')" % table)
    server.add_dataset(source, [{"id": 1, "v": "x", "amount": 1}], field=None)
    db.register(source, server.url("/" + source), table, columns)
    run = db.run(source)
    assert run["status"] == "succeeded" and run["rebuild"] is not None, run
    for needle in needles:
        assert needle.lower() in run["rebuild"].lower(), "%r not in rebuild reason: %s" % (needle, run["rebuild"])
    assert [r["id"] for r in db.query("SELECT id FROM %s ORDER BY id" % table)] == [1, 100]
    return run["rebuild"]


def test_existing_table_missing_a_declared_column(db, server):
    migrates_naming(db, server, "d1", "public.d1", "CREATE TABLE public.d1 (id bigint PRIMARY KEY, v text)",
                    [{"name": "id", "type": "bigint", "primary_key": True}, {"name": "v", "type": "text"},
                     {"name": "amount", "type": "numeric"}],
                    "amount")
    assert db.scalar("SELECT amount FROM public.d1 WHERE id = 1") == 1


def test_existing_table_with_another_type(db, server):
    migrates_naming(db, server, "d2", "public.d2", "CREATE TABLE public.d2 (id integer PRIMARY KEY, v text)",
                    [{"name": "id", "type": "bigint", "primary_key": True}, {"name": "v", "type": "text"}],
                    "id", "integer", "bigint")
    assert db.scalar("SELECT atttypid::regtype::text FROM pg_attribute WHERE attrelid = 'public.d2'::regclass"
                     " AND attname = 'id'") == "bigint"


def test_existing_table_with_another_primary_key(db, server):
    reason = migrates_naming(db, server, "d3", "public.d3", "CREATE TABLE public.d3 (id bigint, v text)",
                             [{"name": "id", "type": "bigint", "primary_key": True}, {"name": "v", "type": "text"}],
                             "primary key")
    assert "id" in reason
    assert db.scalar("SELECT count(*) FROM pg_index WHERE indrelid = 'public.d3'::regclass AND indisprimary") == 1


def test_existing_table_with_another_nullability(db, server):
    migrates_naming(db, server, "d4", "public.d4", "CREATE TABLE public.d4 (id bigint PRIMARY KEY, v text)",
                    [{"name": "id", "type": "bigint", "primary_key": True},
                     {"name": "v", "type": "text", "nullable": False}],
                    "v")
    assert db.scalar("SELECT attnotnull FROM pg_attribute WHERE attrelid = 'public.d4'::regclass"
                     " AND attname = 'v'") is True

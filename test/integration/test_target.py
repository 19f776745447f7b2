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


def fails_naming(db, server, source, table, columns, *needles):
    """Registration or the run must fail with an error that contains every needle; the table is unchanged."""
    server.add_dataset(source, [{"id": 1, "v": "x", "amount": 1}], field=None)
    before = db.count(table)
    try:
        db.register(source, server.url("/" + source), table, columns)
    except psycopg.Error as e:
        msg = str(e)
    else:
        msg, run = db.run_fails(source)
        assert run["status"] == "failed"
    for needle in needles:
        assert needle.lower() in msg.lower(), "%r not in error: %s" % (needle, msg)
    assert db.count(table) == before
    return msg


def test_existing_table_missing_a_declared_column(db, server):
    db.execute("CREATE TABLE public.d1 (id bigint PRIMARY KEY, v text)")
    fails_naming(db, server, "d1", "public.d1",
                 [{"name": "id", "type": "bigint", "primary_key": True}, {"name": "v", "type": "text"},
                  {"name": "amount", "type": "numeric"}],
                 "amount")


def test_existing_table_with_another_type(db, server):
    db.execute("CREATE TABLE public.d2 (id integer PRIMARY KEY, v text)")
    fails_naming(db, server, "d2", "public.d2",
                 [{"name": "id", "type": "bigint", "primary_key": True}, {"name": "v", "type": "text"}],
                 "id", "integer", "bigint")


def test_existing_table_with_another_primary_key(db, server):
    db.execute("CREATE TABLE public.d3 (id bigint, v text)")
    msg = fails_naming(db, server, "d3", "public.d3",
                       [{"name": "id", "type": "bigint", "primary_key": True}, {"name": "v", "type": "text"}],
                       "primary key")
    assert "id" in msg


def test_existing_table_with_another_nullability(db, server):
    db.execute("CREATE TABLE public.d4 (id bigint PRIMARY KEY, v text)")
    fails_naming(db, server, "d4", "public.d4",
                 [{"name": "id", "type": "bigint", "primary_key": True},
                  {"name": "v", "type": "text", "nullable": False}],
                 "v")

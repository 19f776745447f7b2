"""Identifiers with quotes, blanks and capitals in schema, table and column names are used exactly as given."""

SCHEMA = 'My "Odd" Schema'
TABLE = 'Order Table"s'
QUALIFIED = '"My ""Odd"" Schema"."Order Table""s"'


def test_quoted_identifiers_everywhere(db, server):
    db.execute('CREATE SCHEMA "My ""Odd"" Schema"')
    records = [{"Id": i, "Customer Name": "c%d" % i, 'a"b': "q%d" % i, "Updated At": "2024-01-0%dT00:00:00Z" % i,
                "lower": i * 2} for i in range(1, 4)]
    server.add_dataset("ids", records, field="Updated At")
    columns = [{"name": "Id", "type": "bigint", "primary_key": True},
               {"name": "Customer Name", "type": "text", "nullable": False},
               {"name": 'a"b', "type": "text"},
               {"name": "Updated At", "type": "timestamptz"},
               {"name": "UPPER", "type": "int", "path": "/lower"}]
    db.register("ids", server.url("/ids?since={high_watermark}"), QUALIFIED, columns,
                high_watermark_column="Updated At")
    result = db.run("ids")
    assert result["rows"] == 3

    # The table and its columns exist under exactly these names (no case folding, quotes kept).
    assert db.scalar("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                     "WHERE n.nspname = %s AND c.relname = %s", (SCHEMA, TABLE)) == 1
    names = [r["attname"] for r in db.query("SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass "
                                            "AND attnum > 0 AND NOT attisdropped ORDER BY attnum", (QUALIFIED,))]
    assert names == ["Id", "Customer Name", 'a"b', "Updated At", "UPPER"]
    rows = db.query('SELECT "Id", "Customer Name", "a""b", "UPPER" FROM %s ORDER BY "Id"' % QUALIFIED)
    assert [tuple(r.values()) for r in rows] == [(1, "c1", "q1", 2), (2, "c2", "q2", 4), (3, "c3", "q3", 6)]
    assert db.watermark("ids") is not None

    # Upsert on a quoted primary key works too.
    server.dataset("ids").add([{"Id": 2, "Customer Name": "changed", "Updated At": "2024-02-01T00:00:00Z"}])
    db.run("ids")
    assert db.scalar('SELECT "Customer Name" FROM %s WHERE "Id" = 2' % QUALIFIED) == "changed"
    assert db.count(QUALIFIED) == 3


def test_unqualified_capitalised_target_and_source_name(db, server):
    server.add_dataset("caps", [{"id": 1}])
    db.register("My Source \"1\"", server.url("/caps"), '"CamelCase"', [{"name": "id", "type": "int"}])
    db.run("My Source \"1\"")
    assert db.count('public."CamelCase"') == 1
    assert db.scalar("SELECT count(*) FROM pg_class WHERE relname = 'camelcase'") == 0


def test_sql_injection_in_names_is_inert(db, server):
    server.add_dataset("inj", [{"x); DROP TABLE victim; --": 1}])
    db.execute("CREATE TABLE victim (id int)")
    db.register("inj", server.url("/inj"), 'public."t; DROP TABLE victim; --"',
                [{"name": "x); DROP TABLE victim; --", "type": "int"}])
    db.run("inj")
    assert db.count('public."t; DROP TABLE victim; --"') == 1
    assert db.scalar("SELECT to_regclass('public.victim') IS NOT NULL")

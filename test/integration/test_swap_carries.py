"""Everything a table carries survives a rebuild's swap (issue 4): owner, privileges (PUBLIC and column-level too),
table and column comments, row-level security (flags and policies), reloptions and persistence, check and foreign
key constraints, triggers, extended statistics, and the views that depend on it: plain and materialized (with their
indexes and data), views on views, diamonds and cycles, complex expressions, hostile identifiers, with their owners,
options, grants and comments. What cannot be carried (a foreign key referencing the table, a function with a
SQL-standard body, a view on a column the declaration drops) is a clear error before anything changes.

Ported from pg-bulk-ingest's suite: test_migrate_add_column_not_at_end_permissions_preserved,
test_ingest_with_dependent_views, test_ingest_with_dependent_view_select_privileges_preserved_by_view_owner,
test_ingest_with_multiple_dependent_views, test_ingest_with_cascading_views, test_ingest_with_cyclic_views,
test_ingest_with_complex_view_cycle, test_ingest_with_complex_expression_views, test_ingest_with_materialized_views,
test_ingest_with_chain_of_materialized_views, test_ingest_with_materialized_view_at_multiple_levels,
test_ingest_with_views_and_wacky_identifiers. (test_ingest_with_multiple_views_all_visible_together, the 200 concurrent
readers, is in test_swap_locks.py.)"""

import psycopg
import pytest

from rebuild_helpers import (cols, column_acls, comments, index_definitions, owner, qi, relid, rows, serve, shape,
                             table_acl, views_in)

BASE = cols(("id", "int pk"), ("value_1", "varchar"))
ADDED = BASE + cols(("value_2", "varchar"))


def load(db, server, name, target, columns, records, **kw):
    """(Re-)register `name` with these columns and run it over these records; returns the run's row."""
    serve(server, name, records)
    db.register(name, server.url("/" + name), target, columns, **kw)
    return db.run(name)


def migrate(db, server, name, target, columns, records, **kw):
    """A run that must rebuild the target."""
    result = load(db, server, name, target, columns, records, **kw)
    assert result["status"] == "succeeded"
    assert result["rebuild"] is not None, "the run did not rebuild %s" % target
    return result


def two(id_a, a, id_b, b):
    return [{"id": id_a, "value_1": a}, {"id": id_b, "value_1": b}]


def view_defs(db, *names):
    """(schema, name, definition) of these views, from pg_views, sorted by name."""
    return [tuple(r.values()) for r in db.query(
        "SELECT schemaname, viewname, definition FROM pg_views WHERE viewname = ANY(%s) ORDER BY 2", (list(names),))]


# ---- the table's own state --------------------------------------------------------------------------------------

def test_owner_is_kept_and_so_are_view_owners(db, server):
    alice = db.create_role("alice")
    bob = db.create_role("bob")
    load(db, server, "own", "public.own", BASE, two(1, "a", 2, "b"))
    db.execute('ALTER TABLE public.own OWNER TO "%s"' % alice)
    db.execute('GRANT SELECT ON public.own TO "%s"' % bob)
    db.execute("CREATE VIEW public.own_v AS SELECT id FROM public.own")
    db.execute('ALTER VIEW public.own_v OWNER TO "%s"' % bob)

    migrate(db, server, "own", "public.own", ADDED, [{"id": 3, "value_1": "c", "value_2": "d"}])
    assert owner(db, "public.own") == alice
    assert owner(db, "public.own_v") == bob
    assert rows(db, "SELECT id FROM public.own_v ORDER BY 1", conn=db.connect(user=bob)) == [(1,), (2,), (3,)]


def test_privileges_are_kept(db, server):
    db.execute("CREATE SCHEMA my_schema")
    readers = [db.create_role("r1"), db.create_role("r2")]
    writer = db.create_role("writer")
    columnist = db.create_role("columnist")
    columns_1 = cols(("id", "int pk"), ("value_a", "varchar"), ("value_b", "varchar"))
    load(db, server, "privs", "my_schema.t", columns_1, [{"id": 1, "value_a": "a", "value_b": "b"}])
    db.execute("CREATE VIEW my_schema.v AS SELECT * FROM my_schema.t")
    for role in readers:
        db.execute('GRANT SELECT ON my_schema.t TO "%s"' % role)
        db.execute('GRANT SELECT ON my_schema.v TO "%s"' % role)
    db.execute('GRANT INSERT, UPDATE ON my_schema.t TO "%s" WITH GRANT OPTION' % writer)
    db.execute("GRANT SELECT ON my_schema.t TO PUBLIC")
    db.execute('GRANT SELECT (id), UPDATE (value_a) ON my_schema.t TO "%s"' % columnist)
    db.execute("REVOKE TRUNCATE ON my_schema.t FROM postgres")
    acl, col_acl, view_acl = (table_acl(db, "my_schema.t"), column_acls(db, "my_schema.t"),
                              table_acl(db, "my_schema.v"))
    assert ("postgres", "PUBLIC", "SELECT", False) in acl and set(col_acl) == {"id", "value_a"}

    columns_2 = columns_1[:2] + cols(("value_c", "varchar")) + columns_1[2:]
    migrate(db, server, "privs", "my_schema.t", columns_2, [{"id": 2, "value_a": "a2", "value_c": "c2",
                                                             "value_b": "b2"}])
    assert table_acl(db, "my_schema.t") == acl
    assert column_acls(db, "my_schema.t") == col_acl
    assert table_acl(db, "my_schema.v") == view_acl

    # USAGE on the schema granted only after the run (pg-bulk-ingest's information_schema trap).
    for role in readers:
        db.execute('GRANT USAGE ON SCHEMA my_schema TO "%s"' % role)
        conn = db.connect(user=role)
        assert rows(db, "SELECT * FROM my_schema.t ORDER BY id", conn=conn) == [(1, "a", None, "b"),
                                                                               (2, "a2", "c2", "b2")]
        assert rows(db, "SELECT * FROM my_schema.v ORDER BY id", conn=conn) == [(1, "a", "b"), (2, "a2", "b2")]
    db.execute('GRANT USAGE ON SCHEMA my_schema TO "%s"' % columnist)
    conn = db.connect(user=columnist)
    db.execute("REVOKE SELECT ON my_schema.t FROM PUBLIC")
    assert rows(db, "SELECT id FROM my_schema.t ORDER BY id", conn=conn) == [(1,), (2,)]
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        db.query("SELECT value_b FROM my_schema.t", conn=conn)


def test_comments_are_kept(db, server):
    load(db, server, "cmt", "public.cmt", BASE, two(1, "a", 2, "b"))
    db.execute("COMMENT ON TABLE public.cmt IS 'the table'")
    db.execute("COMMENT ON COLUMN public.cmt.id IS 'the id'")
    db.execute("COMMENT ON COLUMN public.cmt.value_1 IS 'it''s value 1'")
    db.execute("CREATE VIEW public.cmt_v AS SELECT id, value_1 AS v FROM public.cmt")
    db.execute("COMMENT ON VIEW public.cmt_v IS 'the view'")
    db.execute("COMMENT ON COLUMN public.cmt_v.v IS 'the view''s v'")
    db.execute("CREATE MATERIALIZED VIEW public.cmt_mv AS SELECT id FROM public.cmt")
    db.execute("COMMENT ON MATERIALIZED VIEW public.cmt_mv IS 'the matview'")
    before = [comments(db, rel) for rel in ("public.cmt", "public.cmt_v", "public.cmt_mv")]

    migrate(db, server, "cmt", "public.cmt", ADDED, [{"id": 3, "value_1": "c", "value_2": "d"}])
    assert [comments(db, rel) for rel in ("public.cmt", "public.cmt_v", "public.cmt_mv")] == before
    assert before[0] == ("the table", {"id": "the id", "value_1": "it's value 1"})


def test_row_level_security_is_kept(db, server):
    alice = db.create_role("alice")
    bob = db.create_role("bob")
    columns = cols(("id", "int pk"), ("owner_name", "text"), ("v", "text"))
    data = [{"id": 1, "owner_name": alice, "v": "a"}, {"id": 2, "owner_name": bob, "v": "b"}]
    load(db, server, "rls", "public.rls", columns, data)
    db.execute("ALTER TABLE public.rls ENABLE ROW LEVEL SECURITY")
    db.execute("ALTER TABLE public.rls FORCE ROW LEVEL SECURITY")
    db.execute('CREATE POLICY "own rows" ON public.rls FOR SELECT TO "%s", "%s" USING (owner_name = current_user)'
               % (alice, bob))
    db.execute('CREATE POLICY no_negatives ON public.rls AS RESTRICTIVE FOR ALL TO PUBLIC USING (id >= 0) '
               'WITH CHECK (id >= 0)')
    db.execute('CREATE POLICY ins ON public.rls FOR INSERT TO "%s" WITH CHECK (owner_name = current_user)' % alice)
    db.execute('GRANT SELECT, INSERT ON public.rls TO "%s", "%s"' % (alice, bob))

    def policies():
        return [(r["policyname"], r["permissive"], sorted(r["roles"]), r["cmd"], r["qual"], r["with_check"])
                for r in db.query("SELECT policyname, permissive, roles::text[] AS roles, cmd, qual, with_check "
                                  "FROM pg_policies WHERE schemaname = 'public' AND tablename = 'rls' ORDER BY 1")]

    def flags():
        return db.one("SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = 'public.rls'::regclass")

    before = policies()
    assert len(before) == 3
    migrate(db, server, "rls", "public.rls", columns + cols(("extra", "int")),
            [{"id": 3, "owner_name": alice, "v": "c", "extra": 1}])
    assert policies() == before
    assert flags() == {"relrowsecurity": True, "relforcerowsecurity": True}
    as_alice = db.connect(user=alice)
    assert rows(db, "SELECT id FROM public.rls ORDER BY id", conn=as_alice) == [(1,), (3,)]
    assert rows(db, "SELECT id FROM public.rls ORDER BY id", conn=db.connect(user=bob)) == [(2,)]
    with pytest.raises(psycopg.Error, match="row-level security"):
        as_alice.execute("INSERT INTO public.rls (id, owner_name) VALUES (9, %s)", (bob,))


def test_reloptions_and_persistence_are_kept(db, server):
    load(db, server, "relopt", "public.relopt", BASE, two(1, "a", 2, "b"))
    db.execute("ALTER TABLE public.relopt SET (fillfactor = 70, autovacuum_enabled = false)")
    db.execute("ALTER TABLE public.relopt SET UNLOGGED")

    def state():
        return db.one("SELECT sorted_opts, relpersistence::text FROM (SELECT array(SELECT unnest(reloptions) "
                      "ORDER BY 1) AS sorted_opts, relpersistence FROM pg_class "
                      "WHERE oid = 'public.relopt'::regclass) s")

    before = state()
    assert before["sorted_opts"] == ["autovacuum_enabled=false", "fillfactor=70"]
    migrate(db, server, "relopt", "public.relopt", ADDED, [{"id": 3, "value_1": "c", "value_2": "d"}])
    assert state() == before == {"sorted_opts": ["autovacuum_enabled=false", "fillfactor=70"], "relpersistence": "u"}


def test_constraints_triggers_and_statistics_are_kept(db, server):
    db.execute("CREATE TABLE public.customers (name text PRIMARY KEY)")
    db.execute("INSERT INTO public.customers VALUES ('acme'), ('globex')")
    db.execute("CREATE TABLE public.audit (id int)")
    db.execute("CREATE FUNCTION public.audit_fn() RETURNS trigger LANGUAGE plpgsql AS "
               "$$BEGIN INSERT INTO public.audit VALUES (NEW.id); RETURN NEW; END$$")
    columns = cols(("id", "int pk"), ("customer", "text"), ("amount", "int"))
    load(db, server, "cons", "public.cons", columns, [{"id": 1, "customer": "acme", "amount": 5}])
    db.execute("ALTER TABLE public.cons ADD CONSTRAINT amount_positive CHECK (amount > 0)")
    db.execute("ALTER TABLE public.cons ADD CONSTRAINT cons_customer_fk FOREIGN KEY (customer) "
               "REFERENCES public.customers (name)")
    db.execute("CREATE TRIGGER cons_audit AFTER INSERT ON public.cons FOR EACH ROW EXECUTE FUNCTION public.audit_fn()")
    db.execute("CREATE STATISTICS public.cons_stats (dependencies) ON customer, amount FROM public.cons")

    def state():
        return (
            sorted(tuple(r.values()) for r in db.query(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = 'public.cons'::regclass")),
            [r["d"] for r in db.query("SELECT pg_get_triggerdef(oid) AS d FROM pg_trigger "
                                      "WHERE tgrelid = 'public.cons'::regclass AND NOT tgisinternal")],
            [r["stxname"] for r in db.query("SELECT stxname FROM pg_statistic_ext "
                                            "WHERE stxrelid = 'public.cons'::regclass")],
        )

    before = state()
    migrate(db, server, "cons", "public.cons", columns + cols(("note", "text")),
            [{"id": 2, "customer": "globex", "amount": 7, "note": "n"}])
    assert state() == before
    with pytest.raises(psycopg.errors.CheckViolation):
        db.execute("INSERT INTO public.cons (id, customer, amount) VALUES (10, 'acme', -1)")
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        db.execute("INSERT INTO public.cons (id, customer, amount) VALUES (11, 'nobody', 1)")
    db.execute("DELETE FROM public.audit")
    db.execute("INSERT INTO public.cons (id, customer, amount) VALUES (12, 'acme', 1)")
    assert rows(db, "SELECT id FROM public.audit") == [(12,)]


def test_an_empty_tables_fast_path_keeps_what_it_carries(db, server):
    role = db.create_role("reader")
    db.execute("CREATE TABLE public.emp (id int PRIMARY KEY, value_1 varchar)")
    db.execute('GRANT SELECT ON public.emp TO "%s"' % role)
    db.execute("COMMENT ON TABLE public.emp IS 'made by hand'")
    db.execute("CREATE VIEW public.emp_v AS SELECT count(*) AS n FROM public.emp")
    db.execute('GRANT SELECT ON public.emp_v TO "%s"' % role)
    acl, view_acl = table_acl(db, "public.emp"), table_acl(db, "public.emp_v")
    result = load(db, server, "emp", "public.emp", BASE, two(1, "a", 2, "b"))
    assert result["rebuild"] is not None and "empty" in result["rebuild"]
    assert table_acl(db, "public.emp") == acl and table_acl(db, "public.emp_v") == view_acl
    assert comments(db, "public.emp")[0] == "made by hand"
    assert rows(db, "SELECT n FROM public.emp_v", conn=db.connect(user=role)) == [(2,)]


# ---- dependent views --------------------------------------------------------------------------------------------

def test_a_dependent_view_shows_the_new_rows(db, server):
    load(db, server, "dv", "public.dv", BASE, two(1, "a", 2, "b"))
    db.execute("CREATE VIEW public.dv_view AS SELECT id, value_1 FROM public.dv WHERE id > 1")
    assert rows(db, "SELECT * FROM public.dv_view ORDER BY id") == [(2, "b")]
    oid = relid(db, "public.dv")
    migrate(db, server, "dv", "public.dv", ADDED, [{"id": 3, "value_1": "c", "value_2": "d"}])
    assert relid(db, "public.dv") != oid
    assert rows(db, "SELECT * FROM public.dv_view ORDER BY id") == [(2, "b"), (3, "c")]


def test_a_view_owned_by_another_role_keeps_working_for_it(db, server):
    db.execute("CREATE SCHEMA my_schema")
    user = db.create_role("viewer")
    load(db, server, "vown", "my_schema.t", BASE, two(1, "a", 2, "b"))
    db.execute("CREATE VIEW my_schema.v AS SELECT id, value_1 FROM my_schema.t WHERE id > 1")
    db.execute('GRANT USAGE ON SCHEMA my_schema TO "%s"' % user)
    db.execute('ALTER VIEW my_schema.v OWNER TO "%s"' % user)
    db.execute('GRANT SELECT ON my_schema.t TO "%s"' % user)
    conn = db.connect(user=user)
    assert rows(db, "SELECT * FROM my_schema.v ORDER BY id", conn=conn) == [(2, "b")]
    migrate(db, server, "vown", "my_schema.t", ADDED, [{"id": 3, "value_1": "c", "value_2": "d"}])
    assert rows(db, "SELECT * FROM my_schema.v ORDER BY id", conn=conn) == [(2, "b"), (3, "c")]
    assert owner(db, "my_schema.v") == user


def test_several_dependent_views(db, server):
    load(db, server, "sev", "public.sev", BASE, two(1, "a", 2, "b") + [{"id": 3, "value_1": "c"}])
    db.execute("CREATE VIEW public.sev_1 AS SELECT id, value_1 FROM public.sev WHERE id > 2")
    db.execute("CREATE VIEW public.sev_2 AS SELECT id, value_1 FROM public.sev WHERE id < 2")
    migrate(db, server, "sev", "public.sev", ADDED, [{"id": 4, "value_1": "d", "value_2": "e"}])
    assert rows(db, "SELECT * FROM public.sev_1 ORDER BY id") == [(3, "c"), (4, "d")]
    assert rows(db, "SELECT * FROM public.sev_2 ORDER BY id") == [(1, "a")]


def test_cascading_views(db, server):
    load(db, server, "casc", "public.casc", BASE, two(1, "a", 2, "b") + [{"id": 3, "value_1": "c"}])
    db.execute("CREATE VIEW public.casc_base AS SELECT id, value_1 FROM public.casc WHERE id > 1")
    db.execute("CREATE VIEW public.casc_top AS SELECT id, value_1 FROM public.casc_base WHERE id < 3")
    db.execute("CREATE VIEW public.casc_top2 AS SELECT count(*) AS n FROM public.casc_top")
    before = view_defs(db, "casc_base", "casc_top", "casc_top2")
    migrate(db, server, "casc", "public.casc", ADDED, [{"id": 4, "value_1": "d", "value_2": "e"}])
    assert rows(db, "SELECT * FROM public.casc_base ORDER BY id") == [(2, "b"), (3, "c"), (4, "d")]
    assert rows(db, "SELECT * FROM public.casc_top ORDER BY id") == [(2, "b")]
    assert rows(db, "SELECT * FROM public.casc_top2") == [(1,)]
    assert view_defs(db, "casc_base", "casc_top", "casc_top2") == before


def test_diamond_of_views(db, server):
    load(db, server, "dia", "public.dia", BASE, two(1, "a", 2, "b"))
    db.execute("CREATE VIEW public.dia_left AS SELECT id, value_1 FROM public.dia WHERE id > 1")
    db.execute("CREATE VIEW public.dia_right AS SELECT id, upper(value_1) AS u FROM public.dia")
    db.execute("CREATE VIEW public.dia_bottom AS SELECT l.id, l.value_1, r.u FROM public.dia_left l "
               "JOIN public.dia_right r USING (id)")
    db.execute("CREATE VIEW public.dia_under AS SELECT b.id, b.u, t.value_1 FROM public.dia_bottom b "
               "JOIN public.dia t USING (id)")
    names = ("dia_left", "dia_right", "dia_bottom", "dia_under")
    before = view_defs(db, *names)
    migrate(db, server, "dia", "public.dia", ADDED, [{"id": 3, "value_1": "c", "value_2": "x"}])
    assert view_defs(db, *names) == before
    assert rows(db, "SELECT * FROM public.dia_bottom ORDER BY id") == [(2, "b", "B"), (3, "c", "C")]
    assert rows(db, "SELECT * FROM public.dia_under ORDER BY id") == [(2, "B", "b"), (3, "C", "c")]


@pytest.mark.parametrize("length", [2, 3], ids=["cycle_of_two", "cycle_of_three"])
def test_cyclic_views(db, server, length):
    # As pg-bulk-ingest builds them: view 1 on the table, each next view on the previous one, then view 1 replaced
    # to also reference the last one. PostgreSQL accepts the cycle (a query on it fails with infinite recursion).
    load(db, server, "cyc", "public.cyc", BASE, two(1, "a", 2, "b") + [{"id": 3, "value_1": "c"}])
    names = ["cyc_view_%d" % i for i in range(1, length + 1)]
    db.execute("CREATE VIEW public.%s AS SELECT id, value_1 FROM public.cyc WHERE id > 1" % names[0])
    for previous, name in zip(names, names[1:]):
        db.execute("CREATE VIEW public.%s AS SELECT * FROM public.%s" % (name, previous))
    db.execute("CREATE OR REPLACE VIEW public.%s AS SELECT v1.id, v1.value_1 FROM public.cyc v1 WHERE v1.id > 1 "
               "AND EXISTS (SELECT 1 FROM public.%s v2 WHERE v2.id = v1.id)" % (names[0], names[-1]))
    before = view_defs(db, *names)
    assert len(before) == length

    migrate(db, server, "cyc", "public.cyc", ADDED, [{"id": 4, "value_1": "d", "value_2": "e"},
                                                     {"id": 5, "value_1": "f", "value_2": "g"}])
    assert view_defs(db, *names) == before
    assert db.count("public.cyc") == 5


COMPLEX_VIEWS = [
    """CREATE VIEW {s}.complex_1 AS
       SELECT id, value_1,
              CASE WHEN value_1 > 0 THEN value_2 ELSE 'default' END AS conditional_value,
              ROW_NUMBER() OVER (PARTITION BY value_2 ORDER BY value_1) AS row_num,
              LAG(value_1) OVER (ORDER BY id) AS prev_value
         FROM {s}.t""",
    """CREATE VIEW {s}.complex_2 AS
       WITH RECURSIVE cte1 AS (
           SELECT id, value_1, 1 AS level FROM {s}.t WHERE value_1 > 0
           UNION ALL
           SELECT t.id, t.value_1, c.level + 1 FROM {s}.t t JOIN cte1 c ON t.id = c.id + 1 WHERE c.level < 3
       ),
       cte2 AS (SELECT id, string_agg(value_2, ',') AS agg_value FROM {s}.t GROUP BY id)
       SELECT c1.id, c1.value_1, c1.level, c2.agg_value, t.value_2
         FROM cte1 c1 LEFT JOIN cte2 c2 ON c1.id = c2.id LEFT JOIN {s}.t t ON t.id = c1.id""",
    """CREATE VIEW {s}.complex_3 AS
       SELECT t1.id, t1.value_1,
              (SELECT count(*) FROM {s}.t t2 WHERE t2.value_1 < t1.value_1) AS smaller_count,
              exists(SELECT 1 FROM {s}.complex_1 v WHERE v.row_num = 1) AS has_first_rows,
              (SELECT avg(t3.value_1) FROM {s}.t t3 WHERE t3.id <= t1.id) AS running_avg
         FROM {s}.t t1
        WHERE t1.id IN (SELECT v2.id FROM {s}.complex_2 v2 WHERE v2.level = 2)""",
]


def test_complex_expression_views(db, server):
    columns = cols(("id", "int pk"), ("value_1", "int"), ("value_2", "varchar"))
    old_rows = [{"id": 1, "value_1": 10, "value_2": "a"}, {"id": 2, "value_1": 20, "value_2": "b"},
                {"id": 3, "value_1": 30, "value_2": "c"}, {"id": 4, "value_1": 40, "value_2": "b"}]
    new_rows = [{"id": 5, "value_1": 50, "value_2": "c", "value_3": 100},
                {"id": 6, "value_1": 60, "value_2": "d", "value_3": 200}]
    db.execute("CREATE SCHEMA my_schema")
    load(db, server, "cx", "my_schema.t", columns, old_rows)
    for view in COMPLEX_VIEWS:
        db.execute(view.format(s="my_schema"))
    names = ("complex_1", "complex_2", "complex_3")
    before = view_defs(db, *names)

    migrate(db, server, "cx", "my_schema.t", columns + cols(("value_3", "int")), new_rows)
    assert view_defs(db, *names) == before
    # Each view gives what the same view gives on a plain table that never went through a swap, filled with the
    # rows the migrated table must have (from the records, not from the table).
    db.execute("CREATE SCHEMA ref")
    db.execute("CREATE TABLE ref.t (id int PRIMARY KEY, value_1 int, value_2 varchar, value_3 int)")
    for r in old_rows + new_rows:
        db.execute("INSERT INTO ref.t VALUES (%s, %s, %s, %s)", (r["id"], r["value_1"], r["value_2"],
                                                                  r.get("value_3")))
    for view in COMPLEX_VIEWS:
        db.execute(view.format(s="ref"))
    for name in names:
        got = sorted(rows(db, "SELECT * FROM my_schema.%s" % name), key=repr)
        assert got and got == sorted(rows(db, "SELECT * FROM ref.%s" % name), key=repr), name
    assert rows(db, "SELECT id, prev_value FROM my_schema.complex_1 WHERE id = 6") == [(6, 50)]


def test_view_options_are_kept(db, server):
    stranger = db.create_role("stranger")
    load(db, server, "vopt", "public.vopt", BASE, two(1, "a", 2, "b"))
    db.execute("CREATE VIEW public.v_barrier WITH (security_barrier = true) AS "
               "SELECT id, value_1 FROM public.vopt WHERE id > 0")
    db.execute("CREATE VIEW public.v_check AS SELECT id, value_1 FROM public.vopt WHERE id < 100 "
               "WITH LOCAL CHECK OPTION")
    db.execute("CREATE VIEW public.v_cascaded AS SELECT id, value_1 FROM public.v_check WHERE id > 0 "
               "WITH CASCADED CHECK OPTION")
    db.execute("CREATE VIEW public.v_invoker WITH (security_invoker = true) AS SELECT id FROM public.vopt")
    db.execute('GRANT SELECT ON public.v_invoker, public.v_barrier TO "%s"' % stranger)
    before = views_in(db, "public")
    assert before["v_check"][3] == ["check_option=local"]

    migrate(db, server, "vopt", "public.vopt", ADDED, [{"id": 3, "value_1": "c", "value_2": "d"}])
    assert views_in(db, "public") == before
    with pytest.raises(psycopg.Error, match="check option"):
        db.execute("INSERT INTO public.v_check (id, value_1) VALUES (200, 'x')")
    with pytest.raises(psycopg.Error, match="check option"):
        db.execute("INSERT INTO public.v_cascaded (id, value_1) VALUES (-1, 'x')")
    conn = db.connect(user=stranger)
    assert rows(db, "SELECT id FROM public.v_barrier ORDER BY id", conn=conn) == [(1,), (2,), (3,)]
    with pytest.raises(psycopg.errors.InsufficientPrivilege):  # security_invoker: the stranger's own rights
        db.query("SELECT * FROM public.v_invoker", conn=conn)


def test_materialized_views_with_their_indexes_owners_grants_and_data(db, server):
    owner_role = db.create_role("mv_owner")
    reader_role = db.create_role("mv_reader")
    columns = cols(("id", "int pk"), ("value_1", "int"), ("value_2", "varchar"))
    load(db, server, "mv", "public.mvt", columns,
         [{"id": 1, "value_1": 10, "value_2": "a"}, {"id": 2, "value_1": 20, "value_2": "b"},
          {"id": 3, "value_1": 30, "value_2": "b"}, {"id": 4, "value_1": 40, "value_2": "c"}])
    db.execute('GRANT SELECT ON public.mvt TO "%s"' % owner_role)
    db.execute("CREATE MATERIALIZED VIEW public.mv AS SELECT id, value_1, value_2, "
               "count(*) OVER (PARTITION BY value_2) AS group_count FROM public.mvt")
    db.execute("CREATE UNIQUE INDEX mv_id ON public.mv (id)")
    db.execute("CREATE INDEX mv_grouped ON public.mv (value_2) WHERE group_count > 1")
    db.execute('ALTER MATERIALIZED VIEW public.mv OWNER TO "%s"' % owner_role)
    db.execute('GRANT SELECT ON public.mv TO "%s"' % reader_role)
    db.execute("CREATE VIEW public.mv_regular AS SELECT id, value_1, value_2 FROM public.mv WHERE group_count > 1")
    db.execute("CREATE VIEW public.mv_dependent AS SELECT t.id, t.value_1, mv.group_count, v.value_2 "
               "FROM public.mvt t LEFT JOIN public.mv mv ON t.id = mv.id LEFT JOIN public.mv_regular v ON t.id = v.id")
    db.execute("CREATE MATERIALIZED VIEW public.mv_unpopulated AS SELECT id FROM public.mvt WITH NO DATA")
    views, indexes, acl = views_in(db, "public"), index_definitions(db, "public.mv"), table_acl(db, "public.mv")
    assert views["mv"][4] is True and views["mv_unpopulated"][4] is False

    migrate(db, server, "mv", "public.mvt", columns + cols(("value_3", "int")),
            [{"id": 5, "value_1": 50, "value_2": "d", "value_3": 100},
             {"id": 6, "value_1": 60, "value_2": "d", "value_3": 200}])
    assert views_in(db, "public") == views
    assert index_definitions(db, "public.mv") == indexes
    assert table_acl(db, "public.mv") == acl
    # Populated, from the new table; its unique index works (a concurrent refresh needs it).
    expected = rows(db, "SELECT id, value_1, value_2, count(*) OVER (PARTITION BY value_2) FROM public.mvt ORDER BY id")
    assert len(expected) == 6
    assert rows(db, "SELECT * FROM public.mv ORDER BY id", conn=db.connect(user=reader_role)) == expected
    db.execute("REFRESH MATERIALIZED VIEW CONCURRENTLY public.mv")
    assert rows(db, "SELECT id FROM public.mv_regular ORDER BY id") == [(2,), (3,), (5,), (6,)]
    with pytest.raises(psycopg.Error, match="not been populated"):
        db.query("SELECT * FROM public.mv_unpopulated")


def test_a_chain_of_materialized_views_in_replace_mode(db, server):
    columns = cols(("id", "int pk"), ("value_1", "int"), ("value_2", "varchar"))
    root = "chain"
    load(db, server, "chain", "public.%s_0" % root, columns,
         [{"id": i, "value_1": 10 * i, "value_2": "x"} for i in (1, 2, 3, 4)])
    depth = 200
    for i in range(1, depth + 1):
        db.execute("CREATE MATERIALIZED VIEW public.%s_%d AS SELECT * FROM public.%s_%d" % (root, i, root, i - 1))
    result = load(db, server, "chain", "public.%s_0" % root, columns, [{"id": 5, "value_1": 50, "value_2": "d"}],
                  delete="before_first_batch")
    assert result["rebuild"] is not None
    assert rows(db, "SELECT * FROM public.%s_%d ORDER BY id" % (root, depth)) == [(5, 50, "d")]


def test_materialized_views_at_several_levels(db, server):
    columns = cols(("id", "int pk"), ("value_1", "int"), ("value_2", "varchar"))
    load(db, server, "lvl", "public.lvl", columns, [{"id": i, "value_1": 10 * i, "value_2": "x"} for i in (1, 2)])
    db.execute("CREATE MATERIALIZED VIEW public.lvl_1 AS SELECT * FROM public.lvl")
    db.execute("CREATE MATERIALIZED VIEW public.lvl_2 AS SELECT * FROM public.lvl UNION ALL SELECT * FROM public.lvl_1")
    db.execute("CREATE VIEW public.lvl_3 AS SELECT count(*) AS n FROM public.lvl_2")
    load(db, server, "lvl", "public.lvl", columns, [{"id": 5, "value_1": 50, "value_2": "d"}],
         delete="before_first_batch")
    assert rows(db, "SELECT * FROM public.lvl_2 ORDER BY id") == [(5, 50, "d"), (5, 50, "d")]
    assert rows(db, "SELECT n FROM public.lvl_3") == [(2,)]


def test_views_with_hostile_identifiers(db, server):
    schema = "my.schema"
    table = 'my.table "x"%,🍰'
    target = "%s.%s" % (qi(schema), qi(table))
    db.execute("CREATE SCHEMA %s" % qi(schema))
    hostile = ["normal_id", "column.with.dots", "column with spaces", 'column"with"quotes', "column%with%percents",
               "column,with,commas"]
    columns = cols((hostile[0], "int pk"), *[(c, "varchar") for c in hostile[1:]])
    data = [(1, "a", "b", "c", "d", "x"), (2, "e", "f", "g", "h", "x"), (3, "i", "j", "j", "k", "x")]
    load(db, server, "wacky", target, columns, [dict(zip(hostile, d)) for d in data])

    views = {
        "view.with.dots": ("column.with.dots", "> 1"),
        "view with spaces": ("column with spaces", "< 3"),
        'view"with"quotes': ('column"with"quotes', "= 2"),
        "view%with%percents": ("column%with%percents", "> 2"),
        "view,with,commas": ("column,with,commas", "> 2"),
        "view🍰emoji": ("column.with.dots", "= 3"),
    }
    for name, (column, where) in views.items():
        db.execute("CREATE VIEW %s.%s AS SELECT %s, %s FROM %s WHERE %s %s"
                   % (qi(schema), qi(name), qi(hostile[0]), qi(column), target, qi(hostile[0]), where))
    db.execute("CREATE VIEW %s.%s AS SELECT * FROM %s.%s" % (qi(schema), qi('on "the" view.'), qi(schema),
                                                           qi("view.with.dots")))

    def view(name):
        return rows(db, "SELECT * FROM %s.%s ORDER BY 1" % (qi(schema), qi(name)))

    assert view("view.with.dots") == [(2, "e"), (3, "i")]
    before = views_in(db, schema)

    new_column = 'new.column%with"spaces and.dots'
    migrate(db, server, "wacky", target, columns + cols((new_column, "varchar")),
            [dict(zip(hostile + [new_column], (4, "l", "m", "n", "o", "p", "x")))])
    assert views_in(db, schema) == before
    assert view("view.with.dots") == [(2, "e"), (3, "i"), (4, "l")]
    assert view("view with spaces") == [(1, "b"), (2, "f")]
    assert view('view"with"quotes') == [(2, "g")]
    assert view("view%with%percents") == [(3, "k"), (4, "o")]
    assert view("view,with,commas") == [(3, "x"), (4, "p")]
    assert view("view🍰emoji") == [(3, "i")]
    assert view('on "the" view.') == [(2, "e"), (3, "i"), (4, "l")]
    assert [c[0] for c in shape(db, target)] == hostile + [new_column]


# ---- what cannot be carried: a clear error, nothing changes -----------------------------------------------------

def assert_refused(db, server, name, target, columns, records, *fragments):
    oid = relid(db, target)
    before_shape = shape(db, target)
    before_rows = rows(db, "SELECT * FROM %s ORDER BY 1" % target)
    serve(server, name, records)
    db.register(name, server.url("/" + name), target, columns)
    msg, run = db.run_fails(name)
    for fragment in fragments:
        assert fragment in msg, "%r not in: %s" % (fragment, msg)
    assert run["status"] == "failed" and run["rebuild"] is None
    assert relid(db, target) == oid
    assert shape(db, target) == before_shape
    assert rows(db, "SELECT * FROM %s ORDER BY 1" % target) == before_rows
    return msg


def test_a_foreign_key_referencing_the_target_is_a_clear_error(db, server):
    load(db, server, "fk", "public.fk", BASE, two(1, "a", 2, "b"))
    db.execute("CREATE TABLE public.child (id int PRIMARY KEY, fk_id int CONSTRAINT child_to_fk REFERENCES public.fk)")
    db.execute("INSERT INTO public.child VALUES (1, 1)")
    assert_refused(db, server, "fk", "public.fk", ADDED, [{"id": 3, "value_1": "c", "value_2": "d"}], "child_to_fk")
    assert db.scalar("SELECT count(*) FROM pg_constraint WHERE conname = 'child_to_fk'") == 1
    # Without a rebuild the key is no obstacle: the old declaration loads in place.
    result = load(db, server, "fk", "public.fk", BASE, [{"id": 3, "value_1": "c"}])
    assert result["status"] == "succeeded" and result["rebuild"] is None
    assert db.count("public.fk") == 3


def test_a_function_with_a_sql_standard_body_is_a_clear_error(db, server):
    load(db, server, "fn", "public.fn", BASE, two(1, "a", 2, "b"))
    db.execute("CREATE FUNCTION public.count_fn_rows() RETURNS bigint LANGUAGE sql "
               "BEGIN ATOMIC SELECT count(*) FROM public.fn; END")
    assert_refused(db, server, "fn", "public.fn", ADDED, [{"id": 3, "value_1": "c", "value_2": "d"}], "count_fn_rows")
    assert db.scalar("SELECT public.count_fn_rows()") == 2


def test_a_view_on_a_column_the_declaration_drops_is_a_clear_error(db, server):
    columns = cols(("id", "int pk"), ("value_a", "varchar"), ("value_b", "varchar"))
    load(db, server, "vdrop", "public.vdrop", columns, [{"id": 1, "value_a": "a", "value_b": "b"}])
    db.execute("CREATE VIEW public.vdrop_b AS SELECT id, value_b FROM public.vdrop")
    assert_refused(db, server, "vdrop", "public.vdrop", columns[:2], [{"id": 2, "value_a": "x"}],
                   "vdrop_b", "value_b")
    assert rows(db, "SELECT * FROM public.vdrop_b") == [(1, "b")]


def test_a_rule_of_another_table_that_uses_the_target_is_a_clear_error(db, server):
    load(db, server, "rl", "public.rl", BASE, two(1, "a", 2, "b"))
    db.execute("CREATE TABLE public.audit (id int)")
    db.execute("CREATE RULE audit_copies AS ON INSERT TO public.audit DO ALSO "
               "INSERT INTO public.rl (id, value_1) VALUES (NEW.id, 'from audit')")
    assert_refused(db, server, "rl", "public.rl", ADDED, [{"id": 3, "value_1": "c", "value_2": "d"}],
                   "rule audit_copies on table public.audit")
    db.execute("INSERT INTO public.audit VALUES (7)")  # the rule still works on the old table
    assert rows(db, "SELECT * FROM public.rl WHERE id = 7") == [(7, "from audit")]


def test_a_publication_of_the_target_is_a_clear_error(db, server):
    load(db, server, "pb", "public.pb", BASE, two(1, "a", 2, "b"))
    db.execute("CREATE PUBLICATION pb_pub FOR TABLE public.pb")
    try:
        assert_refused(db, server, "pb", "public.pb", ADDED, [{"id": 3, "value_1": "c", "value_2": "d"}],
                       "publication pb_pub")
        assert rows(db, "SELECT tablename FROM pg_publication_tables WHERE pubname = 'pb_pub'") == [("pb",)]
    finally:
        db.execute("DROP PUBLICATION pb_pub")


def test_a_temporary_view_of_another_session_is_a_clear_error(db, server):
    load(db, server, "tv", "public.tv", BASE, two(1, "a", 2, "b"))
    other = db.connect()
    other.execute("CREATE TEMPORARY VIEW tv_recent AS SELECT id FROM public.tv WHERE id > 1")
    assert_refused(db, server, "tv", "public.tv", ADDED, [{"id": 3, "value_1": "c", "value_2": "d"}],
                   "temporary", "tv_recent")
    assert rows(db, "SELECT * FROM tv_recent", conn=other) == [(2,)]  # still there, on the old table


def test_rules_of_the_target_and_of_its_views_are_a_clear_error(db, server):
    # A rebuild cannot carry them (a view is recreated from its query only), and dropping them silently would change
    # what writes to the table and the view do.
    load(db, server, "rt", "public.rt", BASE, two(1, "a", 2, "b"))
    db.execute("CREATE TABLE public.rt_log (id int)")
    db.execute("CREATE RULE rt_logged AS ON INSERT TO public.rt DO ALSO INSERT INTO public.rt_log VALUES (NEW.id)")
    db.execute("CREATE VIEW public.rt_v AS SELECT id, value_1 FROM public.rt")
    db.execute("CREATE RULE rt_v_insert AS ON INSERT TO public.rt_v DO INSTEAD "
               "INSERT INTO public.rt_log VALUES (NEW.id + 1000)")
    assert_refused(db, server, "rt", "public.rt", ADDED, [{"id": 3, "value_1": "c", "value_2": "d"}],
                   "rule rt_logged on table public.rt", "rule rt_v_insert on view public.rt_v")
    assert rows(db, "SELECT rulename FROM pg_rewrite WHERE rulename LIKE 'rt%' ORDER BY 1") == [
        ("rt_logged",), ("rt_v_insert",)]
    assert rows(db, "SELECT * FROM public.rt_log") == []

"""User-written code never runs with more rights than its owner (issue 9).

Every piece of user code a run or a rebuild executes records the role it runs as and tries to escalate: make its
owner a superuser, SET ROLE (to a role its owner could otherwise become), read another source's secrets. It must see
the source's owner (or the object's owner, where PostgreSQL uses that: a materialized view's query and indexes), and
every attempt must fail: the code runs inside a security-restricted operation, as PostgreSQL's own CREATE INDEX,
REFRESH MATERIALIZED VIEW and autovacuum run it.
"""

import json

import pytest

from rebuild_helpers import cols, serve

# public.record(what): notes current_user and the outcome of three escalation attempts; SECURITY INVOKER, so it runs
# with the rights of whoever calls it. record_bool/record_int wrap it for CHECK constraints and (IMMUTABLE, as index
# expressions must be) for indexes.
RECORDER = """
CREATE TABLE public.seen (as_role text, what text, superuser text, set_role text, secrets text, temp text);
GRANT INSERT ON public.seen TO PUBLIC;
CREATE FUNCTION public.record(what text) RETURNS void LANGUAGE plpgsql AS $f$
DECLARE su text := 'refused'; sr text := 'refused'; sec text := 'refused'; tmp text := 'refused';
BEGIN
    BEGIN
        EXECUTE pg_catalog.format('ALTER ROLE %I SUPERUSER', pg_catalog.current_user());
        su := 'GRANTED';
    EXCEPTION WHEN OTHERS THEN su := SQLERRM;
    END;
    BEGIN
        SET ROLE bulk_ingest_user;
        sr := 'GRANTED';
        RESET ROLE;
    EXCEPTION WHEN OTHERS THEN sr := SQLERRM;
    END;
    BEGIN
        PERFORM pg_catalog.count(*) FROM bulk_ingest.secrets;
        sec := 'GRANTED';
    EXCEPTION WHEN OTHERS THEN sec := SQLERRM;
    END;
    BEGIN  -- a temporary object could outlive the code and take over later statements of the session
        CREATE TEMPORARY TABLE bulk_ingest_stage_shadow (x int);
        tmp := 'GRANTED';
    EXCEPTION WHEN OTHERS THEN tmp := SQLERRM;
    END;
    INSERT INTO public.seen VALUES (pg_catalog.current_user(), what, su, sr, sec, tmp);
END $f$;
CREATE FUNCTION public.record_bool(what text) RETURNS boolean LANGUAGE plpgsql AS $f$
BEGIN PERFORM public.record(what); RETURN true; END $f$;
CREATE FUNCTION public.record_int(what text, v bigint) RETURNS bigint IMMUTABLE LANGUAGE plpgsql AS $f$
BEGIN PERFORM public.record(what); RETURN v; END $f$;
CREATE FUNCTION public.record_trigger() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN PERFORM public.record(TG_ARGV[0]); RETURN NEW; END $f$;
"""

COLUMNS = cols(("id", "bigint pk"), ("v", "text"))
WIDER = COLUMNS + cols(("w", "text"))


@pytest.fixture
def owner(db, server):
    db.execute(RECORDER)
    role = db.create_role("owner")
    db.execute('GRANT CREATE ON SCHEMA public TO "%s"' % role)
    # Another source, with a secret the user code must not reach.
    db.register("other", server.url("/other"), "public.other", COLUMNS)
    db.execute("SELECT bulk_ingest_set_secret('other', 'token', 'other-secret-7c1d')")
    return role


def seen(db):
    return db.query("SELECT * FROM public.seen ORDER BY what")


def assert_ran_only_as(db, expected, whats):
    """Each of `whats` ran (at least once), every recorded execution ran as its expected role (a dict what -> role),
    and every escalation attempt failed, the temporary table because the code ran in a security-restricted
    operation."""
    rows = seen(db)
    assert {r["what"] for r in rows} >= set(whats), rows
    for r in rows:
        assert r["as_role"] == expected[r["what"]], r
        assert r["superuser"] != "GRANTED" and r["set_role"] != "GRANTED" and r["secrets"] != "GRANTED", r
        assert 'cannot set parameter "role"' in r["set_role"], r
        assert "security-restricted operation" in r["temp"], r
        assert "permission denied" in r["secrets"], r
    assert "other-secret-7c1d" not in json.dumps(rows, default=str)
    assert not db.scalar("SELECT bool_or(rolsuper) FROM pg_roles WHERE rolname IN (SELECT as_role FROM public.seen)")


def register_and_run(db, owner, server, name, columns, records, **kw):
    conn = db.connect(user=owner)
    db.register(name, serve(server, name, records), "public." + name, columns, conn=conn, **kw)
    return db.run(name, conn=conn)


def test_triggers_and_checks_of_the_target_run_as_the_owner_restricted(db, server, owner):
    conn = db.connect(user=owner)
    db.execute("CREATE TABLE public.trg (id bigint PRIMARY KEY, v text CHECK (public.record_bool('check')))",
               conn=conn)
    db.execute("CREATE TRIGGER t BEFORE INSERT OR UPDATE ON public.trg FOR EACH ROW"
               " EXECUTE FUNCTION public.record_trigger('trigger')", conn=conn)
    db.execute("INSERT INTO public.trg VALUES (0, 'kept')", conn=conn)  # not empty: in place, merged
    db.execute("DELETE FROM public.seen")
    run = register_and_run(db, owner, server, "trg", COLUMNS, [{"id": 1, "v": "a"}, {"id": 0, "v": "b"}])
    assert run["rows"] == 2 and run["rebuild"] is None
    assert_ran_only_as(db, {"check": owner, "trigger": owner}, ["check", "trigger"])


def test_a_run_started_by_a_superuser_runs_user_code_as_the_owner(db, server, owner):
    conn = db.connect(user=owner)
    db.execute("CREATE TABLE public.trs (id bigint PRIMARY KEY, v text)", conn=conn)
    db.execute("CREATE TRIGGER t BEFORE INSERT ON public.trs FOR EACH ROW"
               " EXECUTE FUNCTION public.record_trigger('trigger')", conn=conn)
    db.execute("INSERT INTO public.trs VALUES (0, 'kept')", conn=conn)
    db.execute("DELETE FROM public.seen")
    db.register("trs", serve(server, "trs", [{"id": 1, "v": "a"}]), "public.trs", COLUMNS, conn=conn)
    assert db.run("trs")["rows"] == 1  # the superuser's call
    assert_ran_only_as(db, {"trigger": owner}, ["trigger"])


def test_a_domain_check_runs_as_the_owner_restricted(db, server, owner):
    db.execute("CREATE DOMAIN public.recorded_text AS text CHECK (public.record_bool('domain'))")
    run = register_and_run(db, owner, server, "dom", cols(("id", "bigint pk"), ("v", "public.recorded_text")),
                           [{"id": 1, "v": "a"}], high_watermark_column=None)
    assert run["rows"] == 1
    assert_ran_only_as(db, {"domain": owner}, ["domain"])


def test_a_declared_index_expression_runs_as_the_owner_restricted(db, server, owner):
    run = register_and_run(db, owner, server, "idx", COLUMNS, [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}],
                           options={"indexes": [{"expression": "public.record_int('index', id)"}]})
    assert run["rows"] == 2 and run["rebuild"] == "the table is new"
    assert db.scalar("SELECT count(*) FROM pg_indexes WHERE tablename = 'idx' AND indexdef LIKE '%record_int%'") == 1
    # At registration (as the caller) and during the run's build of the index, both as the owner.
    assert_ran_only_as(db, {"index": owner}, ["index"])


def test_a_rebuild_runs_carried_checks_as_the_owner_and_views_as_their_owners(db, server, owner):
    viewer = db.create_role("viewer")
    conn = db.connect(user=owner)
    run = register_and_run(db, owner, server, "mig", COLUMNS, [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}])
    assert run["rows"] == 2
    db.execute("ALTER TABLE public.mig ADD CONSTRAINT checked CHECK (public.record_bool('check'))", conn=conn)
    db.execute('GRANT SELECT ON public.mig TO "%s"' % viewer, conn=conn)
    # Objects of another role on the table: a view, a materialized view with an expression index, whose queries
    # record who runs them. The viewer cannot create in public: the swap recreates them for it.
    db.execute("CREATE VIEW public.mig_v AS SELECT id, public.record_bool('view') AS r FROM public.mig")
    db.execute("CREATE MATERIALIZED VIEW public.mig_mv AS SELECT id, public.record_bool('matview') AS r"
               " FROM public.mig")
    db.execute("CREATE INDEX mig_mv_expr ON public.mig_mv (public.record_int('matview index', id))")
    for view in ("VIEW public.mig_v", "MATERIALIZED VIEW public.mig_mv"):
        db.execute('ALTER %s OWNER TO "%s"' % (view, viewer))
    db.execute("DELETE FROM public.seen")

    # The declaration adds a column: the first batch rebuilds the table and swaps it in.
    db.register("mig", serve(server, "mig", [{"id": 3, "v": "c", "w": "x"}]), "public.mig", WIDER, conn=conn)
    run = db.run("mig", conn=conn)
    assert run["rebuild"] is not None and "w" in run["rebuild"]
    assert db.scalar("SELECT count(*) FROM public.mig_mv") == 3
    assert db.scalar("SELECT relowner::regrole::text FROM pg_class WHERE oid = 'public.mig_mv'::regclass") == viewer
    # The plain view's query does not run during the swap at all.
    assert_ran_only_as(db, {"check": owner, "matview": viewer, "matview index": viewer},
                       ["check", "matview", "matview index"])
    assert "view" not in {r["what"] for r in seen(db)}


def test_a_migration_may_not_retype_a_column_another_roles_view_uses(db, server, owner):
    """PostgreSQL refuses ALTER COLUMN ... TYPE for a column a view uses: the view's query would be re-resolved
    against the new type, whose casts and operators the changer chooses, and run by the view's owner."""
    viewer = db.create_role("viewer2")
    conn = db.connect(user=owner)
    register_and_run(db, owner, server, "rt", COLUMNS, [{"id": 1, "v": "1"}])
    db.execute('GRANT SELECT ON public.rt TO "%s"' % viewer, conn=conn)
    db.execute("CREATE VIEW public.rt_v AS SELECT id, v FROM public.rt")
    db.execute("CREATE VIEW public.rt_vv AS SELECT id, v FROM public.rt_v")
    db.execute('ALTER VIEW public.rt_vv OWNER TO "%s"' % viewer)
    db.execute("ALTER VIEW public.rt_v OWNER TO \"%s\"" % owner)
    retyped = cols(("id", "bigint pk"), ("v", "integer"))
    db.register("rt", serve(server, "rt", [{"id": 2, "v": 2}]), "public.rt", retyped, conn=conn)
    msg, run = db.run_fails("rt", conn=conn)
    assert "view public.rt_vv, owned by role %s, uses column v, whose type the declaration changes" % viewer in msg
    assert "rt_v," not in msg  # the owner's own view may be recreated over the new type
    assert db.scalar("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'public.rt'::regclass"
                     " AND attname = 'v'") == "text"
    # The same change with only the owner's own views goes through.
    db.execute("DROP VIEW public.rt_vv")
    assert db.run("rt", conn=conn)["rows"] == 1


def test_a_preview_converts_records_as_the_owner_even_for_a_superuser(db, server, owner):
    """bulk_ingest_preview runs in the caller's session: a superuser's preview of another role's source must not
    run that role's code (a domain's check) with the superuser's rights."""
    db.execute("CREATE DOMAIN public.previewed_text AS text CHECK (public.record_bool('preview domain'))")
    conn = db.connect(user=owner)
    db.register("pv", serve(server, "pv", [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}]), "public.pv",
                cols(("id", "bigint pk"), ("v", "public.previewed_text")), conn=conn)
    preview = db.one("SELECT * FROM bulk_ingest_preview('pv', 2)")  # as the superuser
    assert preview["rows"] == 2
    assert db.scalar("SELECT count(*) FROM pg_temp.bulk_ingest_preview") == 2
    assert_ran_only_as(db, {"preview domain": owner}, ["preview domain"])
    assert db.scalar("SELECT to_regclass('public.pv') IS NULL")  # a preview loads nothing

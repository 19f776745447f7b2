"""No way up through search_path (issue 9, the release blocker).

The extension runs some statements with rights other than the caller's (the catalog as the extension's owner). A role
that can create objects in a schema on its own search_path puts there an operator or a function that shadows a
built-in one; if any such statement resolved names through that search_path, the role's code would run with the raised
rights. Every trap below records the role it ran as and tries to make its owner a superuser: it must never run as
anyone but its owner, and the owner must stay what it was.
"""

import pytest

from testdata import ORDER_COLUMNS, orders

# A schema of the attacker's, with shadows of what statements commonly use: the text and bigint `=` operators (used
# by every catalog lookup by source name or run id), and now(), clock_timestamp(), format(), coalesce-free casts.
TRAPS = """
CREATE SCHEMA {schema} AUTHORIZATION {role};
SET ROLE {role};
CREATE TABLE {schema}.seen (as_role text, what text);
CREATE FUNCTION {schema}.escalate(what text) RETURNS void LANGUAGE plpgsql AS $f$
BEGIN
    INSERT INTO {schema}.seen VALUES (pg_catalog.current_user(), what);
    BEGIN
        EXECUTE pg_catalog.format('ALTER ROLE %I SUPERUSER', '{role}');
    EXCEPTION WHEN OTHERS THEN NULL;
    END;
    BEGIN  -- another role's secrets, readable only with raised rights
        INSERT INTO {schema}.seen SELECT 'stolen', value FROM bulk_ingest.secrets;
    EXCEPTION WHEN OTHERS THEN NULL;
    END;
END $f$;
CREATE FUNCTION {schema}.text_eq(a text, b text) RETURNS boolean LANGUAGE plpgsql AS $f$
BEGIN PERFORM {schema}.escalate('text ='); RETURN a OPERATOR(pg_catalog.=) b; END $f$;
CREATE OPERATOR {schema}.= (LEFTARG = text, RIGHTARG = text, FUNCTION = {schema}.text_eq);
CREATE FUNCTION {schema}.int8_eq(a bigint, b bigint) RETURNS boolean LANGUAGE plpgsql AS $f$
BEGIN PERFORM {schema}.escalate('bigint ='); RETURN a OPERATOR(pg_catalog.=) b; END $f$;
CREATE OPERATOR {schema}.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = {schema}.int8_eq);
CREATE FUNCTION {schema}.now() RETURNS timestamptz LANGUAGE plpgsql AS $f$
BEGIN PERFORM {schema}.escalate('now()'); RETURN pg_catalog.now(); END $f$;
CREATE FUNCTION {schema}.clock_timestamp() RETURNS timestamptz LANGUAGE plpgsql AS $f$
BEGIN PERFORM {schema}.escalate('clock_timestamp()'); RETURN pg_catalog.clock_timestamp(); END $f$;
CREATE FUNCTION {schema}.format(fmt text, VARIADIC args text[]) RETURNS text LANGUAGE plpgsql AS $f$
BEGIN PERFORM {schema}.escalate('format()'); RETURN pg_catalog.format(fmt, VARIADIC args); END $f$;
RESET ROLE;
"""


@pytest.fixture
def attacker(db, server):
    """alice: a bulk_ingest_user with a schema of traps first on her search_path; victim: another role's source
    with a secret."""
    alice = db.create_role("alice")
    victim = db.create_role("victim")
    db.execute(TRAPS.format(schema="alice_traps", role=alice))
    server.add_dataset("sp", orders(range(1, 4)))
    as_victim = db.connect(user=victim)
    db.execute("GRANT CREATE ON SCHEMA public TO \"%s\"" % victim)
    db.register("victims", server.url("/sp"), "public.victims", ORDER_COLUMNS, conn=as_victim)
    db.execute("SELECT bulk_ingest_set_secret('victims', 'token', 'victim-secret-1f2e')", conn=as_victim)
    return alice


def trapped_session(db, alice):
    conn = db.connect(user=alice)
    conn.execute("SET search_path = alice_traps, pg_catalog, public")
    return conn


def assert_no_escalation(db, alice):
    """The traps ran (if at all) only as alice, stole nothing, and alice is not a superuser."""
    seen = db.query("SELECT as_role, what FROM alice_traps.seen")
    assert not [s for s in seen if s["as_role"] != alice], "a trap ran with other rights: %r" % seen
    assert db.scalar("SELECT rolsuper FROM pg_roles WHERE rolname = %s", (alice,)) is False


def test_get_secret_resolves_nothing_through_the_callers_search_path(db, attacker):
    conn = trapped_session(db, attacker)
    db.execute("GRANT CREATE ON SCHEMA public TO \"%s\"" % attacker)
    db.register("alices", "http://127.0.0.1:9/x", "public.alices", ORDER_COLUMNS, conn=conn)
    db.execute("SELECT bulk_ingest_set_secret('alices', 'token', 'mine')", conn=conn)
    assert db.scalar("SELECT bulk_ingest_get_secret('alices', 'token')", conn=conn) == "mine"
    assert_no_escalation(db, attacker)


def test_register_resolves_nothing_through_the_callers_search_path(db, attacker):
    conn = trapped_session(db, attacker)
    db.execute("GRANT CREATE ON SCHEMA public TO \"%s\"" % attacker)
    db.register("alices", "http://127.0.0.1:9/x", "public.alices", ORDER_COLUMNS, conn=conn)
    db.register("alices", "http://127.0.0.1:9/y", "public.alices", ORDER_COLUMNS, conn=conn)  # the update path
    db.execute("SELECT bulk_ingest_schedule('alices', '1 hour')", conn=conn)
    db.execute("SELECT bulk_ingest_unregister('alices')", conn=conn)
    assert_no_escalation(db, attacker)


def test_someone_elses_secret_stays_out_of_reach(db, attacker):
    conn = trapped_session(db, attacker)
    with pytest.raises(Exception) as e:
        db.scalar("SELECT bulk_ingest_get_secret('victims', 'token')", conn=conn)
    assert "permission denied" in str(e.value)
    assert "victim-secret-1f2e" not in str(e.value)
    assert_no_escalation(db, attacker)
    assert not db.query("SELECT * FROM alice_traps.seen WHERE as_role = 'stolen'")


def test_a_run_resolves_nothing_through_the_owners_search_path(db, server, attacker):
    """The run's worker connects as alice and picks up her role's search_path; nothing it runs with raised rights
    (the catalog as the extension's owner) may resolve through it."""
    db.execute("GRANT CREATE ON SCHEMA public TO \"%s\"" % attacker)
    db.execute('ALTER ROLE "%s" SET search_path = alice_traps, pg_catalog, public' % attacker)
    conn = trapped_session(db, attacker)
    db.register("alices", server.url("/sp"), "public.alices", ORDER_COLUMNS, conn=conn)
    assert db.run("alices", conn=conn)["rows"] == 3
    assert db.count("public.alices") == 3
    assert_no_escalation(db, attacker)


def test_a_run_started_by_a_superuser_resolves_nothing_through_the_owners_search_path(db, server, attacker):
    db.execute("GRANT CREATE ON SCHEMA public TO \"%s\"" % attacker)
    db.execute('ALTER ROLE "%s" SET search_path = alice_traps, pg_catalog, public' % attacker)
    conn = trapped_session(db, attacker)
    db.register("alices", server.url("/sp"), "public.alices", ORDER_COLUMNS, conn=conn)
    assert db.run("alices")["rows"] == 3
    assert_no_escalation(db, attacker)


def test_another_roles_objects_on_the_owners_search_path_never_take_over_a_run(db, server):
    """bob can create in a schema that alice's search_path lists first. Nothing of a run of alice's (the load, the
    upsert's merge into a populated table, a migration's rebuild with a dependent view and the swap) may resolve to
    bob's objects: they must never run at all, not even as alice."""
    alice = db.create_role("alice")
    bob = db.create_role("bob")
    db.execute(TRAPS.format(schema="bob_traps", role=bob))
    db.execute("GRANT USAGE ON SCHEMA bob_traps TO PUBLIC")
    db.execute("GRANT INSERT ON bob_traps.seen TO PUBLIC")
    db.execute("GRANT CREATE ON SCHEMA public TO \"%s\"" % alice)
    db.execute('ALTER ROLE "%s" SET search_path = bob_traps, pg_catalog, public' % alice)
    conn = db.connect(user=alice)
    ds = server.add_dataset("bt", orders(range(1, 4)))
    db.register("bt", server.url("/bt"), "public.bt", ORDER_COLUMNS, conn=conn)
    assert db.run("bt", conn=conn)["rows"] == 3  # a new table: the fast path (a rebuild)
    ds.records[:] = orders(range(2, 6))
    assert db.run("bt", conn=conn)["rows"] == 4  # merged into the populated table
    db.execute("CREATE VIEW public.bt_v AS SELECT id, customer FROM public.bt WHERE customer <> ''", conn=conn)
    wider = ORDER_COLUMNS + [{"name": "note", "type": "text"}]
    db.register("bt", server.url("/bt"), "public.bt", wider, conn=conn)
    run = db.run("bt", conn=conn)  # a migration: rebuild, carry, swap, view recreated
    assert run["rebuild"] is not None
    assert db.count("public.bt_v") == 5
    assert db.query("SELECT * FROM bob_traps.seen") == []

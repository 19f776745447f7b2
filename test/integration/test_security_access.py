"""Who may use the extension, and what each role sees (issue 9).

Nothing is executable by PUBLIC; members of bulk_ingest_user register and run sources of their own; a source belongs
to its owner, and only the owner, its members and superusers may act on it or see its rows in the catalog.
"""

import psycopg
import pytest

from testdata import ORDER_COLUMNS, orders

ROLE_FUNCTIONS = [
    ("SELECT bulk_ingest_register('x', 'http://127.0.0.1:1/', 'public.x', '[{\"name\": \"id\", \"type\": \"int\"}]')"),
    "SELECT bulk_ingest_unregister('x')",
    "SELECT bulk_ingest_run('x')",
    "SELECT bulk_ingest_start('x')",
    "SELECT bulk_ingest_cancel(1)",
    "SELECT bulk_ingest_schedule('x', '1 hour')",
    "SELECT bulk_ingest_set_secret('x', 'n', 'v')",
    "SELECT bulk_ingest_get_secret('x', 'n')",
    "SELECT * FROM bulk_ingest._progress()",
    "SELECT bulk_ingest_set_owner('x', 'postgres')",
]


@pytest.fixture
def two_owners(db, server):
    """alice and bob (members of bulk_ingest_user, CREATE on public), each with a source that has run once and
    has a secret."""
    server.add_dataset("acc", orders(range(1, 4)), field="updated_at")
    alice = db.create_role("alice")
    bob = db.create_role("bob")
    conns = {}
    for role in (alice, bob):
        db.execute('GRANT CREATE ON SCHEMA public TO "%s"' % role)
        conn = db.connect(user=role)
        conns[role] = conn
        name = role.rsplit("_", 1)[1]
        db.register(name + "_src", server.url("/acc?since={high_watermark}&key={secret:key}"), "public.%s_t" % name,
                    ORDER_COLUMNS, high_watermark_column="updated_at", conn=conn)
        db.execute("SELECT bulk_ingest_set_secret(%s, 'key', %s)", (name + "_src", name + "-key-9d1c"), conn=conn)
        db.run(name + "_src", conn=conn)
    return alice, bob, conns


@pytest.mark.parametrize("sql", ROLE_FUNCTIONS)
def test_no_function_is_executable_by_public(db, sql):
    outsider = db.create_role("outsider", ingest=False)
    # (the progress function lives in the schema bulk_ingest, which is closed to them too)
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied for (function|schema)"):
        db.execute(sql, conn=db.connect(user=outsider))


def test_the_catalog_is_closed_to_roles_outside_bulk_ingest_user(db, two_owners):
    outsider = db.connect(user=db.create_role("outsider", ingest=False))
    for table in ("sources", "watermarks", "runs", "secrets", "progress"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied for schema bulk_ingest"):
            db.query("SELECT * FROM bulk_ingest.%s" % table, conn=outsider)


def test_members_of_bulk_ingest_user_are_what_the_install_grants(db):
    assert db.scalar("SELECT rolcanlogin FROM pg_roles WHERE rolname = 'bulk_ingest_user'") is False
    public_grants = db.query(
        "SELECT p.proname FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e'"
        "  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pg_bulk_ingest'"
        " WHERE has_function_privilege('public', p.oid, 'EXECUTE')")
    assert public_grants == []
    assert db.scalar("SELECT has_function_privilege('bulk_ingest_user', 'bulk_ingest_set_owner(text, regrole)',"
                     " 'EXECUTE')") is False


def test_each_role_sees_only_its_own_rows(db, two_owners):
    alice, bob, conns = two_owners
    for role, name, other in ((alice, "alice", "bob"), (bob, "bob", "alice")):
        conn = conns[role]
        assert [r["source"] for r in db.query("SELECT source FROM bulk_ingest.sources", conn=conn)] == [name + "_src"]
        assert [r["source"] for r in db.query("SELECT source FROM bulk_ingest.watermarks", conn=conn)] == \
            [name + "_src"]
        assert {r["source"] for r in db.query("SELECT source FROM bulk_ingest.runs", conn=conn)} == {name + "_src"}
        everything = str(db.query("SELECT * FROM bulk_ingest.sources", conn=conn)) + \
            str(db.query("SELECT * FROM bulk_ingest.runs", conn=conn))
        assert other + "_src" not in everything and other + "-key-9d1c" not in everything
    # Superusers see everything.
    assert db.scalar("SELECT count(*) FROM bulk_ingest.sources") == 2


def test_a_member_of_the_owner_role_may_act_on_the_source(db, server, two_owners):
    alice, _, conns = two_owners
    helper = db.create_role("helper")
    db.execute('GRANT "%s" TO "%s"' % (alice, helper))
    conn = db.connect(user=helper)
    assert db.scalar("SELECT bulk_ingest_get_secret('alice_src', 'key')", conn=conn) == "alice-key-9d1c"
    assert [r["source"] for r in db.query("SELECT source FROM bulk_ingest.sources", conn=conn)] == ["alice_src"]
    run = db.run("alice_src", conn=conn)
    assert run["status"] == "succeeded" and run["owner"] == alice  # the run executes as the owner
    # It may also set secrets, re-declare (the source stays alice's), cancel and unregister.
    db.execute("SELECT bulk_ingest_set_secret('alice_src', 'key', 'helper-key-77')", conn=conn)
    assert db.scalar("SELECT bulk_ingest_get_secret('alice_src', 'key')", conn=conns[alice]) == "helper-key-77"
    row = db.register("alice_src", server.url("/acc?since={high_watermark}&key={secret:key}"), "public.alice_t",
                      ORDER_COLUMNS, high_watermark_column="updated_at", options={"batch_rows": 7}, conn=conn)
    assert row["owner"] == alice and row["options"]["batch_rows"] == 7
    assert db.scalar("SELECT bulk_ingest_cancel(%s)", (run["id"],), conn=conn) is False  # over: nothing to cancel
    db.execute("SELECT bulk_ingest_unregister('alice_src')", conn=conn)
    assert db.scalar("SELECT count(*) FROM bulk_ingest.sources WHERE source = 'alice_src'") == 0


@pytest.mark.parametrize("sql", [
    "SELECT bulk_ingest_run('alice_src')",
    "SELECT bulk_ingest_unregister('alice_src')",
    "SELECT bulk_ingest_schedule('alice_src', '1 hour')",
    "SELECT bulk_ingest_set_secret('alice_src', 'key', 'bobs')",
    "SELECT bulk_ingest_set_secret('alice_src', 'key', NULL)",
    "SELECT bulk_ingest_get_secret('alice_src', 'key')",
    "SELECT bulk_ingest_register('alice_src', 'http://127.0.0.1:1/', 'public.bob_t',"
    " '[{\"name\": \"id\", \"type\": \"bigint\"}]')",
])
def test_another_owners_source_is_refused_and_nothing_changes(db, two_owners, sql):
    _, bob, conns = two_owners
    before = db.query("SELECT s.*, w.value FROM bulk_ingest.sources s JOIN bulk_ingest.watermarks w USING (source)"
                      " WHERE source = 'alice_src'")
    runs_before = db.scalar("SELECT count(*) FROM bulk_ingest.runs WHERE source = 'alice_src'")
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match='permission denied for source "alice_src"') as e:
        db.execute(sql, conn=conns[bob])
    assert "alice-key-9d1c" not in str(e.value)
    assert db.query("SELECT s.*, w.value FROM bulk_ingest.sources s JOIN bulk_ingest.watermarks w USING (source)"
                    " WHERE source = 'alice_src'") == before
    assert db.scalar("SELECT count(*) FROM bulk_ingest.runs WHERE source = 'alice_src'") == runs_before
    assert db.scalar("SELECT bulk_ingest_get_secret('alice_src', 'key')") == "alice-key-9d1c"


def test_cancelling_another_owners_run_is_refused(db, two_owners):
    _, bob, conns = two_owners
    run_id = db.scalar("SELECT max(id) FROM bulk_ingest.runs WHERE source = 'alice_src'")
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match='permission denied for source "alice_src"'):
        db.execute("SELECT bulk_ingest_cancel(%s)", (run_id,), conn=conns[bob])


def test_only_a_superuser_hands_a_source_to_another_role(db, two_owners, server):
    alice, bob, conns = two_owners
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied for function"):
        db.execute("SELECT bulk_ingest_set_owner('alice_src', %s)", (bob,), conn=conns[alice])
    db.execute("SELECT bulk_ingest_set_owner('alice_src', %s)", (bob,))
    assert db.scalar("SELECT owner::text FROM bulk_ingest.sources WHERE source = 'alice_src'") == bob
    # From then on it is bob's: alice loses it, bob's runs execute as bob (who may not write alice's table).
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match='permission denied for source "alice_src"'):
        db.execute("SELECT bulk_ingest_get_secret('alice_src', 'key')", conn=conns[alice])
    assert db.scalar("SELECT bulk_ingest_get_secret('alice_src', 'key')", conn=conns[bob]) == "alice-key-9d1c"
    server.datasets["acc"].records.extend(orders(range(4, 6)))
    msg, run = db.run_fails("alice_src", conn=conns[bob])
    assert 'role "%s" lacks INSERT privilege on table public.alice_t' % bob in msg and run["owner"] == bob
    assert db.count("public.alice_t") == 3


def test_the_history_of_an_unregistered_source_stays_its_owners(db, two_owners):
    alice, bob, conns = two_owners
    db.execute("SELECT bulk_ingest_unregister('alice_src')", conn=conns[alice])
    assert db.scalar("SELECT count(*) FROM bulk_ingest.runs WHERE source = 'alice_src'", conn=conns[alice]) == 1
    assert db.scalar("SELECT count(*) FROM bulk_ingest.runs WHERE source = 'alice_src'", conn=conns[bob]) == 0


def test_a_run_executes_as_the_owner_even_when_a_superuser_starts_it(db, server, two_owners):
    alice, _, _ = two_owners
    db.execute("CREATE TABLE public.su_only (id bigint PRIMARY KEY, customer text, amount numeric(12,2),"
               " updated_at timestamptz, details jsonb)")
    conn = db.connect(user=alice)
    db.register("alice_su", server.url("/acc"), "public.su_only", ORDER_COLUMNS, conn=conn)
    msg, run = db.run_fails("alice_su")  # started by the superuser
    assert 'role "%s" lacks INSERT privilege on table public.su_only' % alice in msg, msg
    assert run["owner"] == alice
    assert db.count("public.su_only") == 0


def test_missing_privileges_are_named_before_any_request(db, server, two_owners):
    alice, _, conns = two_owners
    db.execute("CREATE TABLE public.ro (id bigint PRIMARY KEY, customer text, amount numeric(12,2),"
               " updated_at timestamptz, details jsonb)")
    db.execute('GRANT SELECT, INSERT ON public.ro TO "%s"' % alice)
    db.execute('REVOKE INSERT ON public.ro FROM "%s"' % alice)
    db.execute('GRANT INSERT (id, customer, amount, updated_at) ON public.ro TO "%s"' % alice)
    db.register("alice_ro", server.url("/acc_ro"), "public.ro", ORDER_COLUMNS, conn=conns[alice])
    msg, run = db.run_fails("alice_ro", conn=conns[alice])
    assert 'lacks INSERT privilege on column "details" of table public.ro' in msg, msg
    assert server.requests_for("acc_ro") == []  # nothing was fetched
    db.execute('GRANT INSERT ON public.ro TO "%s"' % alice)
    msg, run = db.run_fails("alice_ro", conn=conns[alice])  # upserts also UPDATE
    assert 'lacks UPDATE privilege on table public.ro' in msg, msg
    assert server.requests_for("acc_ro") == []


ORDERS_TABLE = ("(id bigint PRIMARY KEY, customer text NOT NULL, amount numeric(12,2), updated_at timestamptz,"
                " details jsonb)")


def test_a_rebuild_by_a_role_that_is_not_a_member_of_the_tables_owner_is_refused(db, server, two_owners):
    alice, _, conns = two_owners
    db.execute("CREATE TABLE public.theirs %s" % ORDERS_TABLE)  # the superuser's; alice may fill it
    db.execute("INSERT INTO public.theirs VALUES (100, 'kept', 1, now(), NULL)")
    db.execute('GRANT ALL ON public.theirs TO "%s"' % alice)
    oid = db.scalar("SELECT 'public.theirs'::regclass::oid")
    server.add_dataset("theirs", orders(range(1, 4)))
    db.register("theirs_src", server.url("/theirs"), "public.theirs", ORDER_COLUMNS + [{"name": "note", "type": "text"}],
                conn=conns[alice])
    msg, run = db.run_fails("theirs_src", conn=conns[alice])
    assert 'table public.theirs must be rebuilt, which only its owner may do' in msg, msg
    assert 'Role "%s" is not a member of the table\'s owner "postgres"' % alice in msg, msg
    assert run["status"] == "failed" and run["rebuild"] is None
    # Refused before anything changed or was fetched.
    assert db.scalar("SELECT 'public.theirs'::regclass::oid") == oid
    assert [r["id"] for r in db.query("SELECT id FROM public.theirs")] == [100]
    assert db.scalar("SELECT count(*) FROM pg_attribute WHERE attrelid = 'public.theirs'::regclass"
                     " AND attname = 'note'") == 0
    assert server.requests_for("theirs") == []


def test_without_ownership_an_empty_table_is_loaded_in_place_instead_of_rebuilt(db, server, two_owners):
    alice, _, conns = two_owners
    db.execute("CREATE TABLE public.theirs_empty %s" % ORDERS_TABLE)
    db.execute('GRANT ALL ON public.theirs_empty TO "%s"' % alice)
    oid = db.scalar("SELECT 'public.theirs_empty'::regclass::oid")
    server.add_dataset("theirs_empty", orders(range(1, 4)))
    db.register("empty_src", server.url("/theirs_empty"), "public.theirs_empty", ORDER_COLUMNS, conn=conns[alice])
    run = db.run("empty_src", conn=conns[alice])
    assert run["status"] == "succeeded" and run["rows"] == 3
    assert run["rebuild"] is None  # the fast path (a rebuild of the empty table) is only skipped
    assert db.scalar("SELECT 'public.theirs_empty'::regclass::oid") == oid
    assert db.scalar("SELECT relowner::regrole::text FROM pg_class WHERE oid = %s", (oid,)) == "postgres"
    assert db.count("public.theirs_empty") == 3

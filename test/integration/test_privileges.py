"""The run executes as the source's owner: the extension never lets a role load what it could not INSERT itself."""

import psycopg
import pytest

COLUMNS = [{"name": "id", "type": "bigint", "primary_key": True}, {"name": "v", "type": "text"}]


@pytest.fixture
def roles(db, server):
    server.add_dataset("priv", [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}], field=None)
    alice = db.create_role("alice")
    bob = db.create_role("bob")
    db.execute("CREATE TABLE public.locked (id bigint PRIMARY KEY, v text)")
    db.execute('GRANT SELECT ON public.locked TO "%s"' % alice)  # SELECT, not INSERT
    return alice, bob


def test_owner_without_insert_cannot_load_into_an_existing_table(db, server, roles):
    alice, _ = roles
    as_alice = db.connect(user=alice)
    # Registration declares; the run checks the owner's privileges before its first request.
    db.register("alice_src", server.url("/priv"), "public.locked", COLUMNS, conn=as_alice)
    assert db.scalar("SELECT owner::text FROM bulk_ingest.sources WHERE source = 'alice_src'") == alice
    msg, run = db.run_fails("alice_src", conn=as_alice)
    assert 'role "%s" lacks INSERT privilege on table public.locked' % alice in msg, msg
    assert run["status"] == "failed" and run["owner"] == alice
    # A superuser running alice's source does not lend its privileges: the run still executes as alice.
    msg, run = db.run_fails("alice_src")
    assert 'role "%s" lacks INSERT privilege on table public.locked' % alice in msg, msg
    assert db.count("public.locked") == 0
    assert server.requests_for("priv") == []  # refused before anything was fetched


def test_owner_cannot_create_a_target_where_it_may_not_create(db, server, roles):
    alice, _ = roles
    db.execute("CREATE SCHEMA restricted")
    db.execute('GRANT USAGE ON SCHEMA restricted TO "%s"' % alice)
    as_alice = db.connect(user=alice)
    db.register("alice_new", server.url("/priv"), "restricted.fresh", COLUMNS, conn=as_alice)
    msg, run = db.run_fails("alice_new", conn=as_alice)
    assert 'role "%s" lacks CREATE privilege on schema restricted, which creating table restricted.fresh needs' \
        % alice in msg, msg
    assert run["status"] == "failed"
    assert db.scalar("SELECT to_regclass('restricted.fresh') IS NULL")
    assert server.requests_for("priv") == []


def test_owner_with_privileges_can_load(db, server, roles):
    alice, _ = roles
    db.execute('GRANT ALL ON public.locked TO "%s"' % alice)
    as_alice = db.connect(user=alice)
    db.register("alice_ok", server.url("/priv"), "public.locked", COLUMNS, conn=as_alice)
    assert db.run("alice_ok", conn=as_alice)["rows"] == 2
    assert db.count("public.locked") == 2


def test_someone_elses_source_is_refused(db, server, roles):
    alice, bob = roles
    db.execute('GRANT ALL ON public.locked TO "%s"' % alice)
    as_alice = db.connect(user=alice)
    as_bob = db.connect(user=bob)
    db.register("alice_own", server.url("/priv"), "public.locked", COLUMNS, conn=as_alice)

    runs_before = db.scalar("SELECT count(*) FROM bulk_ingest.runs")
    refused = 'permission denied for source "alice_own"'
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match=refused):
        db.run("alice_own", conn=as_bob)
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match=refused):  # nor may bob re-declare it
        db.register("alice_own", server.url("/priv"), "public.bobs", COLUMNS, conn=as_bob)
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match=refused):
        db.execute("SELECT bulk_ingest_unregister('alice_own')", conn=as_bob)
    assert db.scalar("SELECT count(*) FROM bulk_ingest.runs") == runs_before
    assert db.count("public.locked") == 0
    assert db.scalar("SELECT owner::text FROM bulk_ingest.sources WHERE source = 'alice_own'") == alice


def test_catalog_is_read_only_for_users(db, server, roles):
    _, bob = roles
    as_bob = db.connect(user=bob)
    assert db.scalar("SELECT count(*) FROM bulk_ingest.sources", conn=as_bob) == 0
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        db.execute("INSERT INTO bulk_ingest.watermarks VALUES ('x', 'y')", conn=as_bob)


def test_row_level_security_is_not_bypassed(db, server, roles):
    alice, _ = roles
    db.execute("ALTER TABLE public.locked ENABLE ROW LEVEL SECURITY")
    db.execute('CREATE POLICY only_small ON public.locked TO "%s" USING (id < 0) WITH CHECK (id < 0)' % alice)
    db.execute('GRANT ALL ON public.locked TO "%s"' % alice)
    as_alice = db.connect(user=alice)
    db.register("alice_rls", server.url("/priv"), "public.locked", COLUMNS, conn=as_alice)
    msg, run = db.run_fails("alice_rls", conn=as_alice)
    assert "row-level security" in msg and "public.locked" in msg, msg  # refused, as COPY FROM refuses it
    assert run["status"] == "failed"
    assert db.count("public.locked") == 0

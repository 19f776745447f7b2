"""pg_dump/pg_restore and pg_dumpall: sources, options, schedules and watermarks survive, secrets never leave.

What a dump holds (asserted below): the data of the extension's configuration tables bulk_ingest.sources and
bulk_ingest.watermarks (pg_extension_config_dump); not the run history, not bulk_ingest.secrets, and no row-level
security policy or ENABLE ROW LEVEL SECURITY (CREATE EXTENSION makes them again on restore). After a restore into a
fresh database, or a fresh cluster, the next run continues from the watermark (nothing is re-ingested), and a
source whose secret did not come along fails naming the secret, changing nothing, until the secret is set again.
"""

import os
import subprocess

import psycopg
import pytest

from conftest import TestDB
from testdata import ORDER_COLUMNS, orders, tsval

TOKEN = "dump-t0ken-never-in-a-dump"


def tool(cluster, name, *args, input=None, check=True, user=None):
    """Runs a client program of the cluster's installation (pg_dump, pg_restore, pg_dumpall, psql)."""
    env = dict(os.environ, **cluster.env())
    if user:
        env["PGUSER"] = user
    proc = subprocess.run([os.path.join(cluster.bindir, name)] + list(args), env=env, input=input,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
    if check:
        assert proc.returncode == 0, "%s failed (%d): %s" % (name, proc.returncode, proc.stderr)
    return proc


def set_up_sources(db, server, owner, conn):
    """Two sources of `owner`, run once each: 'plain' (scheduled, options) and 'authed' (a bearer token secret)."""
    server.add_dataset("plain", orders(range(1, 6)), page_size=2)
    server.add_dataset("authed", orders(range(1, 5)), page_size=100,
                       require_headers={"Authorization": "Bearer " + TOKEN})
    db.register("plain", server.url("/plain?since={high_watermark}"), "public.plain", ORDER_COLUMNS,
                high_watermark_column="updated_at", conn=conn,
                options={"batch_rows": 500, "schedule": "15 minutes", "max_retries": 2})
    db.register("authed", server.url("/authed?since={high_watermark}"), "public.authed", ORDER_COLUMNS,
                high_watermark_column="updated_at", conn=conn,
                options={"headers": {"Authorization": "Bearer {secret:token}"}})
    db.execute("SELECT bulk_ingest_set_secret('authed', 'token', %s)", (TOKEN,), conn=conn)
    assert db.run("plain", conn=conn)["rows"] == 5
    assert db.run("authed", conn=conn)["rows"] == 4


def catalog(db):
    """The dumped part of the catalog, as a superuser sees it."""
    sources = db.query("SELECT * FROM bulk_ingest.sources ORDER BY source")
    watermarks = db.query("SELECT * FROM bulk_ingest.watermarks ORDER BY source")
    return sources, watermarks


def check_restored(restored, original_catalog, server, owner):
    """The restored database holds the catalog, not the secrets or the history; runs continue from the watermark;
    the source without its secret fails naming it."""
    assert catalog(restored) == original_catalog
    assert restored.scalar("SELECT count(*) FROM bulk_ingest.secrets") == 0
    assert restored.scalar("SELECT count(*) FROM bulk_ingest.runs") == 0
    assert restored.count("public.plain") == 5 and restored.count("public.authed") == 4
    # The extension's own policies (sources, watermarks, runs, rejects) come with CREATE EXTENSION, none from the dump.
    assert sorted(r["tablename"] for r in restored.query("SELECT tablename FROM pg_policies WHERE schemaname = 'bulk_ingest'")) \
        == ["rejects", "runs", "sources", "watermarks"]
    assert restored.scalar("SELECT schedule::text FROM bulk_ingest.sources WHERE source = 'plain'") == "00:15:00"

    mine = restored.connect(user=owner)
    assert restored.scalar("SELECT count(*) FROM bulk_ingest.sources", conn=mine) == 2
    server.dataset("plain").add(orders(range(6, 8)))
    server.dataset("authed").add(orders(range(5, 7)))
    server.clear_requests()

    run = restored.run("plain", conn=mine)
    assert run["status"] == "succeeded" and run["rows"] == 2, run  # only the new records
    # The watermark as the source wrote it (watermarks.source_value, restored with the watermark).
    assert [r.query["since"] for r in server.requests_for("plain")] == ["2024-01-01T15:00:00Z"]
    assert restored.watermark("plain", as_type="timestamptz") == tsval(7)

    msg, failed = restored.run_fails("authed", conn=mine)
    assert 'secret "token" is not set' in msg, msg
    assert failed["status"] == "failed" and 'secret "token" is not set' in failed["error"], failed
    assert server.requests_for("authed") == []  # it failed before any request
    assert restored.watermark("authed", as_type="timestamptz") == tsval(4)
    assert restored.count("public.authed") == 4

    restored.execute("SELECT bulk_ingest_set_secret('authed', 'token', %s)", (TOKEN,), conn=mine)
    run = restored.run("authed", conn=mine)
    assert run["rows"] == 2 and run["high_watermark_before"] == "2024-01-01 14:00:00+00", run
    assert [r["id"] for r in restored.query("SELECT id FROM public.authed ORDER BY id")] == list(range(1, 7))


def test_pg_dump_and_pg_restore_into_a_fresh_database(db, server, cluster, tmp_path):
    owner = db.create_role("owner")
    db.execute('GRANT CREATE ON SCHEMA public TO "%s"' % owner)
    mine = db.connect(user=owner)
    set_up_sources(db, server, owner, mine)
    original = catalog(db)

    dump = str(tmp_path / "db.dump")
    tool(cluster, "pg_dump", "-Fc", "-d", db.name, "-f", dump)
    script = tool(cluster, "pg_restore", "-f", "-", dump).stdout
    assert TOKEN not in script
    assert "COPY bulk_ingest.sources " in script and "COPY bulk_ingest.watermarks " in script
    assert "COPY bulk_ingest.runs " not in script and "COPY bulk_ingest.secrets " not in script
    assert "CREATE POLICY" not in script and "ROW LEVEL SECURITY" not in script
    with open(dump, "rb") as f:
        assert TOKEN.encode() not in f.read()

    fresh = db.name[:40] + "_restored"
    with cluster.connect() as admin:
        admin.execute('DROP DATABASE IF EXISTS "%s"' % fresh)
        admin.execute('CREATE DATABASE "%s"' % fresh)
    restored = TestDB(cluster, fresh)
    try:
        tool(cluster, "pg_restore", "--exit-on-error", "-d", fresh, dump)
        check_restored(restored, original, server, owner)
    finally:
        restored.close()
        with cluster.connect() as admin:
            admin.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % fresh)


def test_pg_dumpall_into_a_fresh_cluster(make_cluster, server, tmp_path):
    source_cluster = make_cluster("dumpall-from")
    with source_cluster.connect() as admin:
        admin.execute("CREATE DATABASE shop")
    db = TestDB(source_cluster, "shop")
    try:
        db.execute("CREATE EXTENSION pg_bulk_ingest")
        db.execute("CREATE ROLE shop_owner LOGIN IN ROLE bulk_ingest_user")
        db.execute("GRANT CREATE ON SCHEMA public TO shop_owner")
        set_up_sources(db, server, "shop_owner", db.connect(user="shop_owner"))
        original = catalog(db)
    finally:
        db.close()

    script = tool(source_cluster, "pg_dumpall").stdout
    assert TOKEN not in script
    source_cluster.stop()

    target_cluster = make_cluster("dumpall-to")
    restore = tool(target_cluster, "psql", "-X", "-q", "-d", "postgres", "-f", "-", input=script, check=False)
    # The one error of restoring pg_dumpall's output into a fresh cluster is PostgreSQL's own: its superuser exists.
    errors = [line for line in restore.stderr.splitlines() if "ERROR" in line]
    assert [e.split("ERROR:")[1].strip() for e in errors] == ['role "postgres" already exists'], restore.stderr
    restored = TestDB(target_cluster, "shop")
    try:
        check_restored(restored, original, server, "shop_owner")
    finally:
        restored.close()


def test_who_can_dump_a_database_with_the_extension(db, server, cluster):
    """The catalog is closed to non-members and row-level security applies to members: a superuser (or a role with
    BYPASSRLS) dumps everything; a member dumps its own sources with --enable-row-security; another role dumps the
    rest of the database with --exclude-schema=bulk_ingest (docs/operations.md, Backups)."""
    member = db.create_role("member")
    outsider = db.create_role("outsider", ingest=False)
    db.execute('GRANT CREATE ON SCHEMA public TO "%s"' % member)
    db.register("theirs", "http://127.0.0.1:9/t", "public.theirs", [{"name": "a", "type": "text"}])
    db.register("mine", "http://127.0.0.1:9/m", "public.mine", [{"name": "a", "type": "text"}],
                conn=db.connect(user=member))

    plain = tool(cluster, "pg_dump", "-d", db.name, check=False, user=member)
    assert plain.returncode != 0 and "row-level security" in plain.stderr, plain.stderr
    own = tool(cluster, "pg_dump", "--enable-row-security", "-d", db.name, user=member).stdout
    copied = own.split("COPY bulk_ingest.sources ")[1].split("\\.")[0]
    assert "\nmine\t" in copied and "theirs" not in copied

    closed = tool(cluster, "pg_dump", "-d", db.name, check=False, user=outsider)
    assert closed.returncode != 0 and "permission denied for schema bulk_ingest" in closed.stderr, closed.stderr
    rest = tool(cluster, "pg_dump", "--exclude-schema=bulk_ingest", "-d", db.name, user=outsider).stdout
    assert "CREATE EXTENSION IF NOT EXISTS pg_bulk_ingest" in rest and "COPY bulk_ingest" not in rest

    everything = tool(cluster, "pg_dump", "-d", db.name).stdout
    copied = everything.split("COPY bulk_ingest.sources ")[1].split("\\.")[0]
    assert "\nmine\t" in copied and "\ntheirs\t" in copied

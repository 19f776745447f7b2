"""The outbound allowlist (issue 9): bulk_ingest.allowed_hosts decides which servers a source may make the database
server connect to, for every connection of a run (each page, retry and redirect hop, after name resolution).

The suite's clusters allow 127.0.0.1 only (test/lib/pgcluster.py); 127.0.0.2 plays an internal service that must
never be reached, and every test stays on 127.0.0.0/8.
"""

import psycopg
import pytest

from server import FixtureServer
from testdata import ORDER_COLUMNS, orders

REFUSED = 'is not allowed by bulk_ingest.allowed_hosts'


@pytest.fixture
def internal():
    """An HTTP service on 127.0.0.2 (another address of the machine, not on the allowlist)."""
    srv = FixtureServer(host="127.0.0.2").start()
    srv.add_dataset("secret_stuff", orders(range(1, 3)), field=None)
    yield srv
    srv.stop()


def allow(db, hosts):
    """Sets the list for the test's database (new sessions and the runs' workers see it); returns a new session."""
    db.execute("ALTER DATABASE \"%s\" SET bulk_ingest.allowed_hosts = '%s'" % (db.name, hosts.replace("'", "''")))
    return db.connect()


def test_the_default_refuses_loopback_at_registration(db, server):
    conn = allow(db, "public")
    assert db.scalar("SHOW bulk_ingest.allowed_hosts", conn=conn) == "public"
    with pytest.raises(psycopg.Error) as e:
        db.register("lo", server.url("/x"), "public.lo", ORDER_COLUMNS, conn=conn)
    assert 'host "127.0.0.1" (127.0.0.1) ' + REFUSED in str(e.value)
    assert db.scalar("SELECT count(*) FROM bulk_ingest.sources") == 0


@pytest.mark.parametrize("url", ["http://127.0.0.2:%d/secret_stuff", "http://[::ffff:127.0.0.2]:%d/secret_stuff",
                                 "http://2130706434:%d/secret_stuff", "http://0x7f.0.0.2:%d/secret_stuff"])
def test_an_address_off_the_list_is_refused_at_registration_however_it_is_spelled(db, internal, url):
    with pytest.raises(psycopg.Error) as e:
        db.register("int", url % internal.port, "public.int", ORDER_COLUMNS)
    assert "127.0.0.2" in str(e.value) and REFUSED in str(e.value)
    assert internal.requests == []


def test_a_name_that_resolves_to_a_refused_address_is_refused_when_connecting(db, server):
    """DNS decides where a name goes: the check is on the address connected to, so `localhost` (an allowed name
    under `public`, which could be anything) is refused once it resolves to loopback, and nothing is sent."""
    conn = allow(db, "public")
    server.add_dataset("byname", orders(range(1, 3)))
    db.register("byname", "http://localhost:%d/byname" % server.port, "public.byname", ORDER_COLUMNS, conn=conn)
    msg, run = db.run_fails("byname", conn=conn)
    assert 'host "localhost" (' in msg and REFUSED in msg, msg
    assert run["status"] == "failed" and "is not retried" in run["attempts"]  # refused once, not retried
    assert run["attempts"].count("attempt ") == 1
    assert server.requests_for("byname") == []


def test_a_listed_name_may_connect_wherever_it_resolves(db, server):
    conn = allow(db, "localhost")
    server.add_dataset("named", orders(range(1, 3)))
    db.register("named", "http://localhost:%d/named" % server.port, "public.named", ORDER_COLUMNS, conn=conn)
    assert db.run("named", conn=conn)["rows"] == 2


def test_cidr_ranges_and_wildcards(db, server, internal):
    conn = allow(db, "*.example.invalid, 127.0.0.0/30")
    db.register("cidr", internal.url("/secret_stuff"), "public.cidr", ORDER_COLUMNS, conn=conn)
    assert db.run("cidr", conn=conn)["rows"] == 2  # 127.0.0.2 is in 127.0.0.0/30
    conn = allow(db, "*.example.invalid, 127.0.0.0/31")
    with pytest.raises(psycopg.Error, match=REFUSED):
        db.register("cidr2", internal.url("/secret_stuff"), "public.cidr2", ORDER_COLUMNS, conn=conn)
    msg, _ = db.run_fails("cidr", conn=conn)  # registered while allowed: the run checks again
    assert 'host "127.0.0.2" (127.0.0.2) ' + REFUSED in msg


def test_a_redirect_to_a_refused_address_is_not_followed(db, server, internal):
    server.add_route("/hop", "", status=302, headers={"Location": internal.url("/secret_stuff")})
    db.register("hop", server.url("/hop"), "public.hop", ORDER_COLUMNS, options={"max_retries": 3})
    msg, run = db.run_fails("hop")
    assert 'host "127.0.0.2" (127.0.0.2) ' + REFUSED in msg and "redirected" in msg, msg
    assert internal.requests == []
    assert len([r for r in server.requests if r.path == "/hop"]) == 1  # not retried
    assert db.scalar("SELECT to_regclass('public.hop') IS NOT NULL") and db.count("public.hop") == 0


def test_a_redirect_on_the_list_is_followed(db, server):
    server.add_dataset("there", orders(range(1, 4)))
    server.add_route("/moved", "", status=301, headers={"Location": "/there"})
    db.register("moved", server.url("/moved"), "public.moved", ORDER_COLUMNS)
    assert db.run("moved")["rows"] == 3


def test_a_next_page_on_a_refused_host_is_refused(db, server, internal):
    body = '{"id": 1, "customer": "a"}\n'
    server.add_route("/p1", body, headers={"Link": '<%s>; rel="next"' % internal.url("/secret_stuff")})
    db.register("pages", server.url("/p1"), "public.pages", ORDER_COLUMNS)
    msg, run = db.run_fails("pages")
    assert REFUSED in msg and "127.0.0.2" in msg
    assert internal.requests == []
    assert db.count("public.pages") == 1  # the first page's batch had committed: nothing of it is lost


def test_credentials_stay_with_the_origin_after_a_redirect(db, server, internal):
    conn = allow(db, "127.0.0.1, 127.0.0.2")
    internal.add_dataset("elsewhere", orders(range(1, 3)), field=None)
    server.add_route("/auth", "", status=307, headers={"Location": internal.url("/elsewhere")})
    db.register("auth", server.url("/auth"), "public.auth", ORDER_COLUMNS, conn=conn,
                options={"headers": {"Authorization": "Bearer {secret:token}", "X-Api-Key": "{secret:token}",
                                     "Accept": "application/x-ndjson"}})
    db.execute("SELECT bulk_ingest_set_secret('auth', 'token', 'tok-a61e')", conn=conn)
    assert db.run("auth", conn=conn)["rows"] == 2
    first = [r for r in server.requests if r.path == "/auth"][0]
    assert first.headers["Authorization"] == "Bearer tok-a61e" and first.headers["X-Api-Key"] == "tok-a61e"
    second = internal.requests_for("elsewhere")[0]
    assert "Authorization" not in second.headers and "X-Api-Key" not in second.headers
    assert second.headers["Accept"] == "application/x-ndjson"


def test_only_superusers_set_the_list(db, internal):
    user = db.connect(user=db.create_role("user"))
    # Before the library is loaded the setting is a placeholder anyone may SET; loading the library (any call of the
    # extension) drops a value a non-superuser set, so the registration that loads it still refuses.
    db.execute("SET bulk_ingest.allowed_hosts = '127.0.0.2'", conn=user)
    with pytest.raises(psycopg.Error, match=REFUSED):
        db.register("mine", internal.url("/secret_stuff"), "public.mine", ORDER_COLUMNS, conn=user)
    assert db.scalar("SHOW bulk_ingest.allowed_hosts", conn=user) == "127.0.0.1"
    for sql in ("SET bulk_ingest.allowed_hosts = '127.0.0.2'",
                "SELECT set_config('bulk_ingest.allowed_hosts', '0.0.0.0/0', false)",
                "ALTER ROLE CURRENT_USER SET bulk_ingest.allowed_hosts = '0.0.0.0/0'"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            db.execute(sql, conn=user)


def test_a_bad_list_is_refused_with_the_entry_named(db):
    with pytest.raises(psycopg.errors.InvalidParameterValue) as e:
        db.execute("SET bulk_ingest.allowed_hosts = '127.0.0.1, 10.0.0.0/33'")
    assert "10.0.0.0/33" in str(e.value)


def test_the_list_is_reloaded_from_the_configuration(db, server, internal):
    db.register("reload", internal.url("/secret_stuff"), "public.reload", ORDER_COLUMNS,
                conn=allow(db, "127.0.0.0/8"))
    db.execute('ALTER DATABASE "%s" RESET bulk_ingest.allowed_hosts' % db.name)
    msg, _ = db.run_fails("reload")  # the configuration file's 127.0.0.1
    assert REFUSED in msg
    try:
        db.execute("ALTER SYSTEM SET bulk_ingest.allowed_hosts = '127.0.0.1, 127.0.0.2'")
        db.execute("SELECT pg_reload_conf()")
        assert db.run("reload")["rows"] == 2  # a new worker reads the reloaded file
    finally:
        db.execute("ALTER SYSTEM RESET bulk_ingest.allowed_hosts")
        db.execute("SELECT pg_reload_conf()")

"""OAuth 2 client credentials (issue 12): options.auth fetches a token from the source's token endpoint (the fixture's
/oauth/token), caches it until shortly before it expires (across pages and runs), refreshes it once on a 401, and
never shows it."""

import psycopg
import pytest

from testdata import ORDER_COLUMNS, orders


def auth(server, **kw):
    spec = {"type": "oauth2_client_credentials", "token_url": server.url("/oauth/token"),
            "client_id": "{secret:id}", "client_secret": "{secret:secret}"}
    spec.update(kw)
    return spec


def oauth_source(db, server, name, records=5, page_size=2, **auth_kw):
    ds = server.add_dataset(name, orders(range(1, records + 1)), page_size=page_size, oauth=True)
    db.register(name, server.url("/%s?since={high_watermark}" % name), "public." + name, ORDER_COLUMNS,
                high_watermark_column="updated_at", options={"auth": auth(server, **auth_kw), "max_retries": 0})
    db.execute("SELECT bulk_ingest_set_secret(%s, 'id', %s)", (name, server.oauth.client_id))
    db.execute("SELECT bulk_ingest_set_secret(%s, 'secret', %s)", (name, server.oauth.client_secret))
    return ds


def bearer_tokens(server, name):
    return [r.headers.get("Authorization") for r in server.requests_for(name)]


def test_one_token_serves_every_page_and_the_next_runs(db, server):
    ds = oauth_source(db, server, "o1")
    assert db.run("o1")["rows"] == 5
    assert len(server.oauth.requests) == 1                         # one token for the three pages
    token = server.oauth.issued[0]
    assert bearer_tokens(server, "o1") == ["Bearer " + token] * 3
    form = server.oauth.requests[0]
    assert form["grant_type"] == "client_credentials" and form["_authorization"].startswith("Basic ")
    assert "client_secret" not in form                             # basic: the credentials are not in the body
    ds.add(orders([6]))
    assert db.run("o1")["rows"] == 1
    assert len(server.oauth.requests) == 1                         # cached across runs
    # Never shown: not in the catalog a member can read, nor in the run's row.
    for row in db.query("SELECT * FROM bulk_ingest.runs") + db.query("SELECT * FROM bulk_ingest.sources") + \
            db.query("SELECT * FROM bulk_ingest.watermarks"):
        assert token not in str(row)
    owner = db.create_role("oauth_owner")
    with pytest.raises(psycopg.Error, match="permission denied"):
        db.query("SELECT * FROM bulk_ingest.tokens", conn=db.connect(user=owner))


def test_client_credentials_in_the_body_and_a_scope(db, server):
    server.oauth.client_auth = "post"
    server.oauth.scope = "read:orders"
    oauth_source(db, server, "o2", client_auth="post", scope="read:orders")
    assert db.run("o2")["rows"] == 5
    form = server.oauth.requests[0]
    assert form["client_id"] == server.oauth.client_id and form["client_secret"] == server.oauth.client_secret
    assert form["scope"] == "read:orders" and form["_authorization"] == ""
    assert form["_content_type"].startswith("application/x-www-form-urlencoded")


def test_a_token_about_to_expire_is_not_used_again(db, server):
    server.oauth.expires_in = 20   # within the safety margin: the next run asks for a new one
    oauth_source(db, server, "o3")
    db.run("o3")
    db.run("o3")
    assert len(server.oauth.requests) == 2


def test_a_revoked_token_is_refreshed_once_on_a_401(db, server):
    ds = oauth_source(db, server, "o4")
    db.run("o4")
    server.oauth.revoke_all()
    ds.add(orders([6]))
    server.clear_requests()
    run = db.run("o4")
    assert run["status"] == "succeeded" and run["rows"] == 1
    assert len(server.oauth.requests) == 2                         # the cached one, then one refresh
    assert bearer_tokens(server, "o4") == ["Bearer " + server.oauth.issued[0], "Bearer " + server.oauth.issued[1]]


def test_a_401_after_the_refresh_fails_without_showing_the_token(db, server):
    oauth_source(db, server, "o5")
    server.oauth.reject_all = True   # the server's answer echoes the Authorization header it got
    msg, run = db.run_fails("o5")
    assert "401" in msg and "refresh" in msg, msg
    assert len(server.oauth.requests) == 2                         # a first token, and exactly one refresh
    for token in server.oauth.issued:
        assert token not in msg and token not in (run["error"] or "") and token not in (run["attempts"] or "")
    assert "***" in msg


def test_wrong_client_credentials_name_the_token_endpoint_and_not_the_secret(db, server):
    oauth_source(db, server, "o6")
    db.execute("SELECT bulk_ingest_set_secret('o6', 'secret', 'wrong-secret-value')")
    msg, run = db.run_fails("o6")
    assert "/oauth/token" in msg and "401" in msg and "invalid_client" in msg, msg
    assert "wrong-secret-value" not in msg
    assert server.requests_for("o6") == []                         # no data request without a token


def test_auth_is_checked_at_registration(db, server):
    cases = [
        ({"type": "oauth2_password"}, "type"),
        (auth(server, token_url="file:///etc/passwd"), "token_url"),
        (auth(server, token_url="http://10.1.2.3/token"), "allowed_hosts"),
        (auth(server, client_auth="header"), "client_auth"),
        ({k: v for k, v in auth(server).items() if k != "client_secret"}, "client_secret"),
        (auth(server, client_id="{secret:bad name}"), "secret"),
    ]
    for spec, message in cases:
        with pytest.raises(psycopg.Error, match=message):
            db.register("oa", server.url("/x"), "public.oa", ORDER_COLUMNS, options={"auth": spec})
    with pytest.raises(psycopg.Error, match="Authorization"):
        db.register("oa", server.url("/x"), "public.oa", ORDER_COLUMNS,
                    options={"auth": auth(server), "headers": {"Authorization": "Bearer x"}})
    with pytest.raises(psycopg.Error, match="basic_auth"):
        db.register("oa", server.url("/x"), "public.oa", ORDER_COLUMNS,
                    options={"auth": auth(server), "basic_auth": {"username": "u", "password": "p"}})

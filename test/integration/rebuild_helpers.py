"""Helpers of the tests of issue 4 (rebuilds, migrations, swaps): serving fixed records, quoting identifiers, and
snapshots of what the catalog says about a table, its indexes, privileges and dependent views.

Not a test module (pytest collects only test_*.py); the test files import it by name."""

import json
import time

from testdata import wait_for


# ---- serving and declaring ------------------------------------------------------------------------------------

def serve(server, name, records):
    """Serve `records` as one NDJSON page at /<name>, in this order, raw UTF-8 (no \\u escapes); replaces what was
    served there before. Returns the URL."""
    body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    server.add_route("/" + name, body)
    return server.url("/" + name)


def qi(name):
    """A quoted SQL identifier."""
    return '"%s"' % name.replace('"', '""')


def qname(schema, table):
    return "%s.%s" % (qi(schema), qi(table))


def cols(*specs):
    """Column declarations from ("name", "type") or ("name", "type", {extra}) tuples; a type ending in " pk" is a
    primary key column."""
    out = []
    for spec in specs:
        name, type_ = spec[0], spec[1]
        column = {"name": name, "type": type_}
        if type_.endswith(" pk"):
            column["type"] = type_[:-3]
            column["primary_key"] = True
        if len(spec) > 2:
            column.update(spec[2])
        out.append(column)
    return out


# ---- catalog snapshots ----------------------------------------------------------------------------------------

def relid(db, table, conn=None):
    return db.scalar("SELECT %s::regclass::oid", (table,), conn=conn)


def shape(db, table, conn=None):
    """[(column, type, not null)] in column order."""
    return [(r["attname"], r["type"], r["attnotnull"]) for r in db.query(
        "SELECT attname, format_type(atttypid, atttypmod) AS type, attnotnull FROM pg_attribute "
        "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum", (table,), conn=conn)]


def column_names(db, table, conn=None):
    return [c[0] for c in shape(db, table, conn)]


def primary_key(db, table):
    return [r["attname"] for r in db.query(
        "SELECT a.attname FROM pg_index i, unnest(i.indkey) WITH ORDINALITY k(attnum, n) "
        "JOIN pg_attribute a ON a.attnum = k.attnum WHERE i.indrelid = %s::regclass AND i.indisprimary "
        "AND a.attrelid = i.indrelid ORDER BY k.n", (table,))]


def index_forms(db, table):
    """The table's indexes other than the primary key, independent of their names: a sorted list of
    (access method, unique, (columns...), expression or None, predicate or None)."""
    rows = db.query(
        "SELECT am.amname, i.indisunique, "
        "       ARRAY(SELECT a.attname::text FROM unnest(i.indkey) WITH ORDINALITY k(attnum, n) "
        "             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.n) AS cols, "
        "       pg_get_expr(i.indexprs, i.indrelid) AS expr, pg_get_expr(i.indpred, i.indrelid) AS pred "
        "  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam "
        " WHERE i.indrelid = %s::regclass AND NOT i.indisprimary", (table,))
    return sorted((r["amname"], r["indisunique"], tuple(r["cols"]), r["expr"], r["pred"]) for r in rows)


def index_definitions(db, rel):
    """pg_get_indexdef of every index of a relation (names included), sorted."""
    return sorted(r["d"] for r in db.query(
        "SELECT pg_get_indexdef(indexrelid) AS d FROM pg_index WHERE indrelid = %s::regclass", (rel,)))


def table_acl(db, rel):
    """The relation's privileges, NULL ACL normalised to the owner's default: sorted (grantor, grantee, privilege,
    grantable), PUBLIC as 'PUBLIC'."""
    return sorted(tuple(r.values()) for r in db.query(
        "SELECT a.grantor::regrole::text AS grantor, "
        "       CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END AS grantee, "
        "       a.privilege_type, a.is_grantable "
        "  FROM pg_class c, aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a "
        " WHERE c.oid = %s::regclass", (rel,)))


def column_acls(db, rel):
    """{column name: sorted ACL items as text} for the columns that have column privileges."""
    return {r["attname"]: sorted(r["acl"]) for r in db.query(
        "SELECT attname, attacl::text[] AS acl FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
        "AND NOT attisdropped AND attacl IS NOT NULL", (rel,))}


def owner(db, rel):
    return db.scalar("SELECT relowner::regrole::text FROM pg_class WHERE oid = %s::regclass", (rel,))


def comments(db, rel):
    """(comment of the relation, {column: comment})."""
    table = db.scalar("SELECT obj_description(%s::regclass, 'pg_class')", (rel,))
    columns = {r["attname"]: r["c"] for r in db.query(
        "SELECT attname, col_description(attrelid, attnum) AS c FROM pg_attribute WHERE attrelid = %s::regclass "
        "AND attnum > 0 AND NOT attisdropped AND col_description(attrelid, attnum) IS NOT NULL", (rel,))}
    return table, columns


def views_in(db, schema):
    """{name: (relkind, definition, owner, sorted reloptions, populated)} of the views and materialized views of a
    schema."""
    out = {}
    for r in db.query(
            "SELECT c.relname, c.relkind::text, pg_get_viewdef(c.oid) AS def, c.relowner::regrole::text AS owner, "
            "       coalesce(c.reloptions, '{}') AS opts, c.relispopulated "
            "  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            " WHERE n.nspname = %s AND c.relkind IN ('v', 'm')", (schema,)):
        out[r["relname"]] = (r["relkind"], r["def"], r["owner"], sorted(r["opts"]), r["relispopulated"])
    return out


def relation_count(db):
    """How many relations the database has (of every kind, catalogs included): leftovers show up here."""
    return db.scalar("SELECT count(*) FROM pg_class")


def relations_in(db, schema):
    """Sorted (name, relkind) of every relation of a schema (tables, indexes, views, sequences...)."""
    return sorted((r["relname"], r["relkind"]) for r in db.query(
        "SELECT c.relname, c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s", (schema,)))


def rows(db, sql, conn=None):
    """The rows of a query as tuples."""
    return [tuple(r.values()) for r in db.query(sql, conn=conn)]


# ---- settings and locks ---------------------------------------------------------------------------------------

def set_db_setting(db, name, value):
    """ALTER DATABASE <the test's database> SET name = value: every new session, and so every run's worker, gets it.
    The database is dropped after the test."""
    db.execute('ALTER DATABASE %s SET %s = %s' % (qi(db.name), name, "'%s'" % str(value).replace("'", "''")))


def pending_exclusive_locks(db, conn):
    """How many ACCESS EXCLUSIVE relation locks of this database are requested and not granted (a swap attempting
    its lock)."""
    return db.scalar(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'relation' AND mode = 'AccessExclusiveLock' AND NOT granted "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())", conn=conn)


def wait_for_swap_attempt(db, timeout=30.0):
    """Wait until a run is seen attempting ACCESS EXCLUSIVE (a pending request in pg_locks); fails the test when it
    never does. Returns the monotonic time at which it was seen."""
    conn = db.connect()
    seen = wait_for(lambda: pending_exclusive_locks(db, conn) > 0, timeout=timeout, interval=0.003)
    assert seen, "no run attempted an ACCESS EXCLUSIVE lock within %ss" % timeout
    return time.monotonic()


def wait_for_swap_retry(db, timeout=30.0):
    """Wait until a run's swap has failed an attempt at its ACCESS EXCLUSIVE lock and is attempting again (a pending
    request in pg_locks that began after the first one seen); fails the test when it never does."""
    conn = db.connect()
    query = ("SELECT min(waitstart) FROM pg_locks WHERE locktype = 'relation' AND mode = 'AccessExclusiveLock'"
             " AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")
    first = wait_for(lambda: db.scalar(query, conn=conn), timeout=timeout, interval=0.003)
    assert first, "no run attempted an ACCESS EXCLUSIVE lock within %ss" % timeout
    again = wait_for(lambda: (db.scalar(query, conn=conn) or first) > first, timeout=timeout, interval=0.003)
    assert again, "the swap never attempted its lock a second time within %ss" % timeout


def timed_query(db, sql, conn):
    """(seconds the query took, its rows as tuples)."""
    start = time.monotonic()
    result = rows(db, sql, conn=conn)
    return time.monotonic() - start, result


def reader(db, statement_timeout_ms=None):
    """A new autocommit connection; with statement_timeout_ms, a query that would be blocked fails fast instead of
    hanging (the way to assert that a reader is not blocked)."""
    conn = db.connect()
    if statement_timeout_ms is not None:
        conn.execute("SET statement_timeout = %d" % statement_timeout_ms)
    return conn

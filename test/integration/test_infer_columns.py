"""bulk_ingest_infer_columns(url, format, options): a proposed declaration from a bounded sample of the first page,
that registration accepts as is and that loads the source; its URL and options are checked as registration checks
them; there are no secrets without a source."""

import json

import psycopg
import pytest

from testdata import orders, tsval


def infer(db, url, format=None, options=None, conn=None):
    args, params = ["%s"], [url]
    if format is not None:
        args.append("format => %s")
        params.append(format)
    if options is not None:
        args.append("options => %s::jsonb")
        params.append(json.dumps(options))
    return db.scalar("SELECT bulk_ingest_infer_columns(%s)" % ", ".join(args), params, conn)


def test_a_proposal_for_orders_registers_and_loads(db, server):
    server.add_dataset("inf", orders(range(1, 8)), page_size=5)
    proposal = infer(db, server.url("/inf?since={high_watermark}"))
    print("\n", json.dumps(proposal, indent=2))
    assert proposal["columns"] == [
        {"name": "id", "type": "bigint", "primary_key": True},
        {"name": "customer", "type": "text", "nullable": False},
        {"name": "amount", "type": "numeric", "nullable": False},
        {"name": "updated_at", "type": "timestamptz", "nullable": False},
        {"name": "meta", "type": "jsonb", "nullable": False},
    ]
    assert proposal["high_watermark_column"] == "updated_at"
    assert proposal["sample"] == {"records": 5, "bytes": proposal["sample"]["bytes"], "truncated": False}
    assert "named like the time of a record's last change" in proposal["high_watermark_reason"]
    assert set(proposal["reasons"]) == {"id", "customer", "amount", "updated_at", "meta"}
    assert [r.query.get("since") for r in server.requests_for("inf")] == [""]  # the first page only

    db.execute("SELECT bulk_ingest_register('inf', %s, 'public.inf', %s::jsonb -> 'columns',"
               " high_watermark_column => %s::jsonb ->> 'high_watermark_column')",
               (server.url("/inf?since={high_watermark}"), json.dumps(proposal), json.dumps(proposal)))
    assert db.run("inf")["rows"] == 7
    assert db.watermark("inf", as_type="timestamptz") == tsval(7)
    assert db.one("SELECT * FROM public.inf WHERE id = 3")["meta"] == {"n": 3, "tags": ["t3"]}


def test_csv_and_json_with_their_options(db, server):
    server.add_route("/p.csv", "sku;price;in_stock;since\nA-1;1.50;true;2024-01-01\nA-2;2;false;2024-01-02\n",
                     content_type="text/csv")
    proposal = infer(db, server.url("/p.csv"), "csv", {"csv": {"delimiter": ";"}})
    assert proposal["columns"] == [
        {"name": "sku", "type": "text", "nullable": False},
        {"name": "price", "type": "numeric", "nullable": False},
        {"name": "in_stock", "type": "boolean", "nullable": False},
        {"name": "since", "type": "date", "nullable": False},
    ]
    server.add_route("/j", json.dumps({"data": [{"uuid": "0b7e3bfa-1f7e-4c8e-9f0e-2d1c4b5a6e7f", "n": [1, 2]},
                                                {"uuid": "0b7e3bfa-1f7e-4c8e-9f0e-2d1c4b5a6e70", "n": []}]}),
                     content_type="application/json")
    proposal = infer(db, server.url("/j"), "json", {"records_path": "/data"})
    assert proposal["columns"] == [{"name": "uuid", "type": "uuid", "primary_key": True},
                                   {"name": "n", "type": "bigint[]", "nullable": False}]


def test_the_sample_is_bounded(db, server):
    big = "".join(json.dumps({"id": i, "pad": "x" * 1000}) + "\n" for i in range(6000))  # about 6 MB
    server.add_route("/big", big)
    proposal = infer(db, server.url("/big"))
    assert proposal["sample"]["records"] == 1000
    assert proposal["sample"]["truncated"] is True
    assert proposal["sample"]["bytes"] == 4 * 1024 * 1024
    server.add_dataset("paged", orders(range(1, 30)), page_size=10)
    infer(db, server.url("/paged"), options={"pagination": {"type": "offset", "param": "offset", "limit_param": "limit", "limit": 10}})
    assert [r.query for r in server.requests_for("paged")] == [{"offset": "0", "limit": "10"}]


def test_what_registration_refuses_is_refused(db, server):
    cases = [
        ((server.url("/x"), "xml", None), 'unknown format "xml"'),
        (("file:///etc/passwd", None, None), "file"),
        ((server.url("/x"), None, {"retries": 1}), "retries"),
        ((server.url("/x"), None, {"records_path": "/a"}), "records_path"),
        ((server.url("/x?key={secret:k}"), None, None), "the URL references {secret:k}, but there are no secrets"),
        ((server.url("/x"), None, {"headers": {"Authorization": "Bearer {secret:t}"}}),
         'options.headers "Authorization" references {secret:t}'),
    ]
    for args, expected in cases:
        with pytest.raises(psycopg.Error) as e:
            infer(db, *args)
        assert expected in str(e.value) and "bulk_ingest_infer_columns: " in str(e.value), str(e.value)
    assert server.requests == []
    for sql in ("SELECT bulk_ingest_infer_columns(NULL)", "SELECT bulk_ingest_infer_columns('http://h/', NULL)",
                "SELECT bulk_ingest_infer_columns('http://h/', 'ndjson', NULL)"):
        with pytest.raises(psycopg.Error, match="must not be NULL"):
            db.execute(sql)


def test_http_and_record_errors_name_the_url(db, server):
    server.add_route("/missing", "no such thing", status=404)
    with pytest.raises(psycopg.Error) as e:
        infer(db, server.url("/missing"))
    assert "404" in str(e.value) and server.url("/missing") in str(e.value), str(e.value)
    server.add_route("/notjson", '{"a": 1}\n{"a": oops}\n')
    with pytest.raises(psycopg.Error) as e:
        infer(db, server.url("/notjson"))
    assert "line 2" in str(e.value) and server.url("/notjson") in str(e.value), str(e.value)
    server.add_route("/empty", "")
    with pytest.raises(psycopg.Error, match="the sample holds no record"):
        infer(db, server.url("/empty"))


def test_members_of_bulk_ingest_user_only(db, server):
    server.add_route("/m", '{"id": 1}\n')
    outsider = db.connect(user=db.create_role("outsider", ingest=False))
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied for function"):
        infer(db, server.url("/m"), conn=outsider)
    member = db.connect(user=db.create_role("member"))
    assert infer(db, server.url("/m"), conn=member)["columns"] == [{"name": "id", "type": "bigint",
                                                                    "primary_key": True}]

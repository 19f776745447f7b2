"""Issue 12 against servers nobody here wrote: Debian's nginx (static files: ETag, Last-Modified, 304) and the npm
registry's json-server 0.17 (a REST API: Link headers, weak ETags, _gte filters comparing strings), on 127.0.0.1.

A separate check, not part of scripts/test.sh: scripts/check-real-servers.sh finds or fetches the servers (nginx from
Debian's archive with apt-get download, json-server with npm into a directory outside the tree) and runs this file
with PG_BULK_INGEST_NGINX and PG_BULK_INGEST_JSON_SERVER set. Without them every test here is skipped."""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request

import psycopg
import pytest

NGINX = os.environ.get("PG_BULK_INGEST_NGINX")              # the nginx binary
JSON_SERVER = os.environ.get("PG_BULK_INGEST_JSON_SERVER")  # the json-server script (node_modules/.bin/json-server)
DEBIAN_CSV = "/usr/share/distro-info/debian.csv"

needs_nginx = pytest.mark.skipif(not NGINX, reason="no nginx: run scripts/check-real-servers.sh")
needs_json_server = pytest.mark.skipif(not JSON_SERVER, reason="no json-server: run scripts/check-real-servers.sh "
                                                                "(it needs the npm registry)")

ORDER_COLUMNS = [
    {"name": "id", "type": "bigint", "primary_key": True},
    {"name": "customer", "type": "text"},
    {"name": "amount", "type": "numeric(12,2)"},
    {"name": "updated_at", "type": "timestamptz"},
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url, timeout=20):
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def order(i):
    return {"id": i, "customer": "c%d" % i, "amount": "%d.50" % i, "updated_at": "2024-01-01T00:00:%02d+00:00" % i}


@pytest.fixture
def nginx():
    """nginx on 127.0.0.1 serving a directory; yields (base URL, directory)."""
    root = tempfile.mkdtemp(prefix="pg_bulk_ingest_nginx_")
    os.chmod(root, 0o755)  # nginx's workers run as another user when it is started as root
    www = os.path.join(root, "www")
    os.makedirs(www, mode=0o755)
    for d in ("logs", "tmp"):
        os.makedirs(os.path.join(root, d))
    port = free_port()
    with open(os.path.join(root, "nginx.conf"), "w") as f:
        f.write("""daemon off;
pid %(root)s/nginx.pid;
error_log stderr warn;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path %(root)s/tmp/body;
    proxy_temp_path %(root)s/tmp/proxy;
    fastcgi_temp_path %(root)s/tmp/fastcgi;
    uwsgi_temp_path %(root)s/tmp/uwsgi;
    scgi_temp_path %(root)s/tmp/scgi;
    types { text/csv csv; application/x-ndjson ndjson; }
    server { listen 127.0.0.1:%(port)d; root %(www)s; }
}
""" % {"root": root, "port": port, "www": www})
    proc = subprocess.Popen([NGINX, "-p", root, "-c", os.path.join(root, "nginx.conf"), "-e", "stderr"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = "http://127.0.0.1:%d" % port
    try:
        with open(os.path.join(www, "up"), "w") as f:
            f.write("up\n")
        wait_until_up(base + "/up")
        yield base, www
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def json_server():
    """json-server 0.17 on 127.0.0.1 with 25 orders; yields its base URL."""
    root = tempfile.mkdtemp(prefix="pg_bulk_ingest_json_server_")
    with open(os.path.join(root, "db.json"), "w") as f:
        json.dump({"orders": [order(i) for i in range(1, 26)]}, f)
    port = free_port()
    proc = subprocess.Popen(["node", JSON_SERVER, "--host", "127.0.0.1", "--port", str(port), "--quiet",
                             os.path.join(root, "db.json")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = "http://127.0.0.1:%d" % port
    try:
        wait_until_up(base + "/orders?_limit=1")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)


def post(url, record):
    request = urllib.request.Request(url, data=json.dumps(record).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=10).read()


# ---- nginx: static files ---------------------------------------------------------------------------------------

@needs_nginx
@pytest.mark.skipif(not os.path.exists(DEBIAN_CSV), reason="package distro-info-data is not installed")
def test_nginx_serves_the_debian_release_csv_which_loads_with_short_rows(db, nginx):
    base, www = nginx
    shutil.copy(DEBIAN_CSV, os.path.join(www, "debian.csv"))
    os.chmod(os.path.join(www, "debian.csv"), 0o644)
    columns = [{"name": "version", "type": "text"}, {"name": "codename", "type": "text"},
               {"name": "series", "type": "text", "primary_key": True}, {"name": "created", "type": "date"},
               {"name": "release", "type": "date"}, {"name": "eol", "type": "date"},
               {"name": "eol_lts", "type": "date", "path": "/eol-lts"},
               {"name": "eol_elts", "type": "date", "path": "/eol-elts"}]
    db.register("debian", base + "/debian.csv", "public.debian", columns, format="csv",
                options={"csv": {"missing_fields": "null"}, "high_watermark_path": "header:ETag"})
    with open(DEBIAN_CSV) as f:
        records = len([line for line in f.read().splitlines()[1:] if line.strip()])
    first = db.run("debian")
    assert first["status"] == "succeeded" and first["rows"] == records
    assert db.watermark("debian").startswith('"')          # nginx's ETag
    second = db.run("debian")
    assert second["status"] == "unchanged"                  # nginx answered 304 to If-None-Match


@needs_nginx
def test_nginx_last_modified_and_ndjson(db, nginx):
    base, www = nginx
    with open(os.path.join(www, "orders.ndjson"), "w") as f:
        f.write("".join(json.dumps(order(i)) + "\n" for i in range(1, 6)))
    db.register("ngx", base + "/orders.ndjson", "public.ngx", ORDER_COLUMNS,
                options={"high_watermark_path": "header:Last-Modified"})
    assert db.run("ngx")["rows"] == 5
    assert db.run("ngx")["status"] == "unchanged"
    time.sleep(1.1)  # Last-Modified has a resolution of a second
    with open(os.path.join(www, "orders.ndjson"), "a") as f:
        f.write(json.dumps(order(6)) + "\n")
    assert db.run("ngx")["rows"] == 6
    assert db.count("public.ngx") == 6


# ---- json-server: a REST API ---------------------------------------------------------------------------------------

@needs_json_server
def test_json_server_etag_with_link_paging_is_refused_not_stale(db, json_server):
    """The finding: json-server pages with Link headers and sends (weak) ETags."""
    url = json_server + "/orders?_page=1&_limit=10"
    with pytest.raises(psycopg.Error, match="pagination"):
        db.register("jse", url, "public.jse", ORDER_COLUMNS, format="json",
                    options={"high_watermark_path": "header:ETag", "pagination": {"type": "link_header"}})
    db.register("jse", url, "public.jse", ORDER_COLUMNS, format="json", options={"high_watermark_path": "header:ETag"})
    msg, run = db.run_fails("jse")
    assert "next page" in msg and run["rows"] == 0 and db.watermark("jse") is None


@needs_json_server
def test_json_server_compares_iso_strings_and_gets_its_own_form_back(db, json_server):
    url = json_server + "/orders?_page=1&_limit=10&_sort=updated_at&updated_at_gte={high_watermark}"
    db.register("jsw", url, "public.jsw", ORDER_COLUMNS, format="json", high_watermark_column="updated_at")
    first = db.run("jsw")
    assert first["rows"] == 25 and first["batches"] == 3
    post(json_server + "/orders", order(26))
    second = db.run("jsw")
    # The record holding the maximum and the new one; in PostgreSQL's form ("2024-01-01 00:00:25+00" < "2024-...T")
    # json-server would send all 26 again.
    assert second["rows"] == 2, second
    assert db.count("public.jsw") == 26


@needs_json_server
def test_json_server_max_pages_resumes_with_the_next_link(db, json_server):
    db.register("jsm", json_server + "/orders?_page=1&_limit=10", "public.jsm", ORDER_COLUMNS, format="json",
                options={"max_pages": 1})
    runs = [db.run("jsm") for _ in range(3)]
    assert [r["rows"] for r in runs] == [10, 10, 5]
    assert "_page=2" in runs[0]["next_page"] and "_page=3" in runs[1]["next_page"] and runs[2]["next_page"] is None
    assert db.count("public.jsm") == 25

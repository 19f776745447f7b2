"""Packaging: META.json (PGXN) agrees with the control file and the tree; the Makefile installs every script."""

import glob
import json
import os
import re

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def read(path):
    with open(os.path.join(ROOT, path)) as f:
        return f.read()


def test_meta_json_matches_the_control_file_and_the_tree():
    meta = json.loads(read("META.json"))
    control = read("pg_bulk_ingest.control")
    default_version = re.search(r"^default_version = '([^']+)'", control, re.M).group(1)
    semver = default_version + ".0" if default_version.count(".") == 1 else default_version
    assert meta["version"] == semver
    assert meta["meta-spec"]["version"] == "1.0.0"
    for key in ("name", "abstract", "maintainer", "license", "provides"):
        assert meta[key], key
    provided = meta["provides"]["pg_bulk_ingest"]
    assert provided["version"] == semver
    assert provided["abstract"] == re.search(r"^comment = '([^']+)'", control, re.M).group(1)
    for key in ("file", "docfile"):
        assert os.path.exists(os.path.join(ROOT, provided[key])), provided[key]
    assert set(meta["prereqs"]["runtime"]["requires"]) == {"PostgreSQL"}


def test_every_upgrade_script_leads_to_the_default_version():
    control = read("pg_bulk_ingest.control")
    default_version = re.search(r"^default_version = '([^']+)'", control, re.M).group(1)
    scripts = [os.path.basename(p) for p in glob.glob(os.path.join(ROOT, "extension", "pg_bulk_ingest--*.sql"))]
    # From every version there is a path to the default one (install scripts give versions, upgrades edges).
    edges = {}
    versions = set()
    for name in scripts:
        parts = name[len("pg_bulk_ingest--"):-len(".sql")].split("--")
        versions.update(parts)
        if len(parts) == 2:
            edges.setdefault(parts[0], set()).add(parts[1])
    assert default_version in versions
    for version in versions:
        seen, todo = set(), [version]
        while todo:
            v = todo.pop()
            seen.add(v)
            todo.extend(edges.get(v, set()) - seen)
        assert default_version in seen, "no upgrade path from %s to %s" % (version, default_version)
    assert "DATA = $(wildcard extension/pg_bulk_ingest--*.sql)" in read("Makefile")

#!/usr/bin/env bash
# The upgrade from the released version 0.1, with the released library itself (not part of scripts/test.sh: it
# builds the release, which takes minutes on a 2-core machine):
#   1. builds the released sources (git archive of RELEASE_REF, default: the last commit at version 0.1) into a
#      private copy of PostgreSQL under RELEASE_PREFIX;
#   2. runs test/integration/test_upgrade_from_release.py: a cluster runs 0.1, then this build's library (installed,
#      or in PG_BINDIR's private installation) after a restart, and ALTER EXTENSION pg_bulk_ingest UPDATE.
#
# Environment: RELEASE_REF, RELEASE_PREFIX (default /tmp/pg_bulk_ingest_release), PG_BINDIR (this build's private
# installation, as scripts/test.sh's PRIVATE_INSTALL makes it; default: the system's), PG_BULK_INGEST_TEST_DIR, JOBS.
set -euo pipefail

cd "$(dirname "$0")/.."
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
# The release: the parent of the commit that made 0.2 the default version.
RELEASE_REF=${RELEASE_REF:-$(git log --format=%H --reverse -G"default_version = '0.2'" -- pg_bulk_ingest.control | head -1)^}
RELEASE_PREFIX=${RELEASE_PREFIX:-/tmp/pg_bulk_ingest_release}
SRC=$RELEASE_PREFIX/src

rm -rf "$RELEASE_PREFIX"
mkdir -p "$SRC"
git archive "$RELEASE_REF" | tar -x -C "$SRC"
grep -q "default_version = '0.1'" "$SRC/pg_bulk_ingest.control" || { echo "$RELEASE_REF is not version 0.1"; exit 1; }
# A private copy of PostgreSQL's directories with the release installed into it (as scripts/test.sh does).
for d in "$($PG_CONFIG --bindir)/.." "$($PG_CONFIG --sharedir)"; do
    d=$(realpath "$d")
    mkdir -p "$(dirname "$RELEASE_PREFIX$d")"
    cp -a "$d" "$RELEASE_PREFIX$d"
done
rm -f "$RELEASE_PREFIX$($PG_CONFIG --sharedir)"/extension/pg_bulk_ingest*
make -C "$SRC" -s -j"${JOBS:-2}" PG_CONFIG="$PG_CONFIG"
make -C "$SRC" -s install PG_CONFIG="$PG_CONFIG" DESTDIR="$RELEASE_PREFIX"

export PG_BULK_INGEST_RELEASE_BINDIR="$RELEASE_PREFIX$($PG_CONFIG --bindir)"
/usr/bin/python3 -m pytest test/integration/test_upgrade_from_release.py -v

#!/usr/bin/env bash
# Install everything pg_bulk_ingest needs to build, test and demo on Debian 12, with apt only.
# Idempotent and quick: when every package is already installed it only runs dpkg-query.
set -euo pipefail

# clang-14 and libclang-rt-14-dev: the fuzz targets and the sanitized unit tests of scripts/test.sh (libFuzzer and
# clang's ASan/UBSan runtimes are in libclang-rt-14-dev, only recommended by clang-14, so never installed by
# --no-install-recommends on its own). g++'s ASan/UBSan runtimes (libasan8, libubsan1) come with build-essential.

PACKAGES=(
    build-essential cmake pkg-config
    postgresql-15 postgresql-server-dev-15 postgresql-15-cron postgresql-15-pgtap
    libcurl4-openssl-dev rapidjson-dev libgtest-dev libbenchmark-dev zlib1g-dev
    python3-psycopg python3-pytest libipc-run-perl clang-format
    clang-14 libclang-rt-14-dev
    openssl
    distro-info-data
)

missing=()
for p in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
    # "ii " = desired install, currently installed
    if [[ "$status" != ii* ]]; then
        missing+=("$p")
    fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install-deps: all ${#PACKAGES[@]} packages present"
    exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=()
if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null; then SUDO=(sudo); else
        echo "install-deps: missing packages and not root (no sudo): ${missing[*]}" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -q
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"

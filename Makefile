# PGXS build of the pg_bulk_ingest extension: the C++ core (src/core) and the PostgreSQL layer (src/pg)
# linked into one shared library. The core's unit tests are built by CMakeLists.txt.
EXTENSION = pg_bulk_ingest
MODULE_big = pg_bulk_ingest
DATA = $(wildcard extension/pg_bulk_ingest--*.sql)

CORE_SRCS = $(wildcard src/core/*.cpp)
PG_SRCS = $(wildcard src/pg/*.cpp src/pg/*/*.cpp)
OBJS = $(CORE_SRCS:.cpp=.o) $(PG_SRCS:.cpp=.o)

EXTRA_CLEAN = $(OBJS:.o=.d)

REGRESS = catalog registration comments functions upgrade
REGRESS_OPTS = --load-extension=pg_bulk_ingest

WARNINGS = -Wall -Wextra -Werror -Wno-register -Wno-missing-field-initializers -Wno-unused-parameter
# -MMD -MP: PGXS tracks no header dependencies of C++ files; without them a changed header leaves objects built
# against its old layout.
# The version the library is built for is the control file's default_version (catalog_version.h).
EXTVERSION := $(shell sed -n "s/^default_version = '\\(.*\\)'/\\1/p" pg_bulk_ingest.control)
PG_CXXFLAGS = -std=c++17 $(WARNINGS) -Isrc -MMD -MP $(shell pkg-config --cflags libcurl) -DBULK_INGEST_VERSION='"$(EXTVERSION)"'
SHLIB_LINK = $(shell pkg-config --libs libcurl) -lstdc++
# make SANITIZE=address,undefined (scripts/test-asan-integration.sh, in a copy of the tree): the library built with
# those sanitizers; the server must then start with the ASan runtime preloaded.
ifdef SANITIZE
PG_CXXFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer
SHLIB_LINK += -fsanitize=$(SANITIZE)
endif

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# Debian's PGXS also emits LLVM bitcode with clang and no -std: give it the same language level.
BITCODE_CXXFLAGS += -std=c++17 -Wno-register -Isrc -DBULK_INGEST_VERSION='"$(EXTVERSION)"'

-include $(OBJS:.o=.d)

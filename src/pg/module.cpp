// The shared library's entry: module magic and initialisation.
#include "pg/pg_prelude.h"

extern "C" {
PG_MODULE_MAGIC;

void _PG_init(void);
}

void _PG_init(void) {}

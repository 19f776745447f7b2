// The PostgreSQL headers used by the PostgreSQL layer, with C linkage. Include this first in every src/pg file.
#pragma once

extern "C" {
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
}

// The setting bulk_ingest.allowed_hosts (superuser-only): which servers sources may make this server connect to.
// See src/core/host_allowlist.h for the list's syntax and what "public" means; every connection of a run (each
// page, retry and redirect hop) is checked against it by HttpStream.
#pragma once

#include "pg/pg_prelude.h"

#include <memory>

#include "core/host_allowlist.h"

extern char *bulk_ingest_allowed_hosts;

// Defines the setting (called by DefineSettings).
void DefineAllowedHostsSetting(void);

// The list as the setting says now, parsed once per value. Core code: call it only inside CallCore (it throws on a
// value the check hook would have refused, which cannot happen).
std::shared_ptr<const bulk_ingest::HostAllowlist> CurrentAllowlist();

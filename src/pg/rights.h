// With which rights, and under which search_path, the extension runs SQL and the user-written code it triggers.
//
// Two rules, from PostgreSQL's own ("Writing SECURITY DEFINER Functions Safely", and how CREATE INDEX, REFRESH
// MATERIALIZED VIEW and autovacuum run user code):
//  1. Every statement the extension builds runs with search_path pinned to "pg_catalog, pg_temp": a role's own
//     objects (an operator `alice.=`, a function `public.lower(varchar)` that matches better than the built-in one)
//     are never found, whatever the caller's or the owner's search_path. The extension's own tables are always
//     named with their schema (bulk_ingest.runs, pg_temp.bulk_ingest_stage).
//  2. User-written code that a statement fires (triggers, check constraints, index expressions, casts and type
//     input functions, view and materialized-view queries) runs as the role PostgreSQL would run it as (the
//     source's owner, or the object's owner) inside a security-restricted operation: it cannot SET ROLE, create
//     temporary objects that outlive it, or leave a setting changed (every setting changed inside a pinned region,
//     by anyone, is rolled back at its end).
//
// An error inside a region aborts the (sub)transaction, which restores the user, the security context and the
// settings itself; the End functions are for the regions that complete.
#pragma once

#include "pg/pg_prelude.h"

// The search_path of every statement the extension builds.
#define BULK_INGEST_SAFE_SEARCH_PATH "pg_catalog, pg_temp"

// Pins search_path until UnpinSearchPath(the returned level), which also rolls back every setting changed since.
int PinSearchPath(void);
void UnpinSearchPath(int nest_level);

// A region in which the current user is `role` in a security-restricted operation, with search_path pinned.
typedef struct RestrictedRegion {
    Oid saved_user;
    int saved_context;
    int nest_level;
} RestrictedRegion;

void BeginRestricted(RestrictedRegion *region, Oid role);
void EndRestricted(const RestrictedRegion *region);

// Runs body() as role in a restricted region.
template <typename Body>
void RunRestricted(Oid role, Body &&body) {
    RestrictedRegion region;
    BeginRestricted(&region, role);
    body();
    EndRestricted(&region);
}

// Runs body() as role, not restricted (SECURITY_LOCAL_USERID_CHANGE only): for a caller's session acting for a
// source's owner (a preview), so that the temporary table the owner's rows go to is the owner's, and so that the
// user code ExecuteSql and the COPY run (restricted, as the current user) runs as the owner, never as the caller.
template <typename Body>
void RunAs(Oid role, Body &&body) {
    Oid saved_user;
    int saved_context;
    GetUserIdAndSecContext(&saved_user, &saved_context);
    SetUserIdAndSecContext(role, saved_context | SECURITY_LOCAL_USERID_CHANGE);
    body();
    SetUserIdAndSecContext(saved_user, saved_context);
}

// Sets the session's search_path to the safe one (a worker's start: its role's own setting never applies).
void UseSafeSearchPathForSession(void);

// The owner of the extension, who owns its catalog tables.
Oid ExtensionOwner(void);

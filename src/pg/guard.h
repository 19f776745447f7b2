// The boundary between the C++ core and PostgreSQL. Every crossing goes through here.
//
// Two rules, both from how PostgreSQL reports errors (ereport(ERROR) is a longjmp):
//  1. No C++ exception may reach PostgreSQL's C code (it would call std::terminate and crash the server).
//     Core code is therefore only ever called through CallCore()/TryCore(), which catch everything; the
//     PostgreSQL error is raised after the catch block has been left and the exception destroyed.
//  2. No ereport may unwind a frame that holds a C++ object with a destructor (the destructor would be skipped).
//     The PostgreSQL layer is therefore written in C style: C++ objects it owns live on the heap behind plain
//     pointers and are deleted explicitly (in PG_FINALLY blocks or memory context callbacks); lambdas given to
//     CallCore must not call PostgreSQL functions that can raise errors.
// SQL-callable functions are declared with BULK_INGEST_FUNCTION, which applies rule 1 to their whole body.
#pragma once

#include "pg/pg_prelude.h"

#include <exception>

namespace pg_bulk_ingest {

// A core failure captured at the boundary; plain data so it can cross an ereport.
struct CoreFailure {
    int sqlerrcode;
    bool interrupted;
    char message[4096];
};

// Fills *failure from the exception being handled. Call only inside a catch block.
void CaptureCurrentException(CoreFailure *failure) noexcept;

// Raises the captured failure as an ERROR, with prefix (may be NULL) before the message. An interrupted transfer
// first lets PostgreSQL process the pending interrupt (so a cancel is reported as a cancel).
[[noreturn]] void RaiseCoreFailure(const CoreFailure *failure, const char *prefix);

// Runs fn (core code); returns false and fills *failure when it throws.
template <typename Fn>
bool TryCore(Fn &&fn, CoreFailure *failure) noexcept {
    try {
        fn();
        return true;
    } catch (...) {
        CaptureCurrentException(failure);
        return false;
    }
}

// Runs fn (core code); an exception becomes ereport(ERROR) with the given message prefix.
template <typename Fn>
void CallCore(Fn &&fn, const char *prefix = nullptr) {
    CoreFailure failure;
    if (!TryCore(fn, &failure)) {
        RaiseCoreFailure(&failure, prefix);
    }
}

}  // namespace pg_bulk_ingest

// Defines the SQL-callable C function `name`, whose body is written as `static Datum name##_impl(PG_FUNCTION_ARGS)`.
// Any C++ exception escaping the body becomes an ERROR instead of crashing the server.
#define BULK_INGEST_FUNCTION(name)                                                       \
    static Datum name##_impl(PG_FUNCTION_ARGS);                                          \
    extern "C" {                                                                         \
    PG_FUNCTION_INFO_V1(name);                                                           \
    }                                                                                    \
    extern "C" Datum name(PG_FUNCTION_ARGS) {                                            \
        Datum result = (Datum)0;                                                         \
        pg_bulk_ingest::CoreFailure failure;                                             \
        if (!pg_bulk_ingest::TryCore([&] { result = name##_impl(fcinfo); }, &failure)) { \
            pg_bulk_ingest::RaiseCoreFailure(&failure, nullptr);                         \
        }                                                                                \
        return result;                                                                   \
    }                                                                                    \
    static Datum name##_impl(PG_FUNCTION_ARGS)

namespace pg_bulk_ingest {

template <typename T>
void DeleteContextOwned(void *object) {
    delete static_cast<T *>(object);
}

// Creates a C++ object (core code `make` returns it from new) whose lifetime is bound to the current memory
// context: it is deleted when the context is reset or deleted, which includes the cleanup after an error. This is
// how the PostgreSQL layer holds C++ objects without putting a destructor on a frame an ereport may unwind.
template <typename T, typename Make>
T *NewInMemoryContext(Make &&make, const char *prefix = nullptr) {
    MemoryContextCallback *callback = (MemoryContextCallback *)palloc0(sizeof(MemoryContextCallback));
    T *object = nullptr;
    CallCore([&] { object = make(); }, prefix);
    callback->func = DeleteContextOwned<T>;
    callback->arg = object;
    MemoryContextRegisterResetCallback(CurrentMemoryContext, callback);
    return object;
}

}  // namespace pg_bulk_ingest

#include <optional>
#include <string>

namespace pg_bulk_ingest {

// Runs fn (core code returning a std::string or a std::optional<std::string>) and returns the text as a C string
// allocated in `into`, or NULL for nullopt. The intermediate std::string belongs to the current memory context, so
// call it with a short-lived one current when it runs once per row or page.
template <typename Fn>
char *CallCoreForText(MemoryContext into, Fn &&fn, const char *prefix = nullptr) {
    std::string *text = NewInMemoryContext<std::string>([] { return new std::string(); }, prefix);
    bool present = false;
    CallCore(
        [&] {
            std::optional<std::string> value = fn();
            if (value) {
                *text = std::move(*value);
                present = true;
            }
        },
        prefix);
    return present ? MemoryContextStrdup(into, text->c_str()) : NULL;
}

}  // namespace pg_bulk_ingest

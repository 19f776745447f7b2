/*
 * Preloaded after the ASan runtime by scripts/test-asan-integration.sh, so that a server (PostgreSQL is not built
 * with ASan) starts at all.
 *
 * Why: the ASan runtime initialises at the first malloc. In Debian 12's postgres that first malloc comes from a
 * library constructor that runs before the runtime's own (libgpg-error's, loaded through libsystemd and libgcrypt):
 * glibc's bindtextdomain() allocates while it holds its write lock on the locale state; the runtime's
 * initialisation calls dlerror(), whose dcgettext() takes the same lock to read, fails (the thread holds it for
 * writing) and releases the writer's lock on its way out; PostgreSQL's own bindtextdomain() then waits on the broken
 * lock for ever. `LD_PRELOAD=libasan.so postgres --version` hangs.
 *
 * This bindtextdomain() comes first in the symbol search order: it has the runtime initialise (one allocation, no
 * lock held) before the first real bindtextdomain(), then calls glibc's.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>

char *bindtextdomain(const char *domain, const char *dirname) {
    static char *(*real)(const char *, const char *);
    if (real == NULL) {
        void *volatile first = malloc(1); /* volatile: the compiler may not drop the pair */
        free(first);
        real = (char *(*)(const char *, const char *))dlsym(RTLD_NEXT, "bindtextdomain");
    }
    return real(domain, dirname);
}

#include "pg/http/allowlist.h"

#include <string>

#include "pg/guard.h"

extern "C" {
#include "utils/guc.h"
}

char *bulk_ingest_allowed_hosts = NULL;

// The parse of the value it was made from; kept for the life of the process (a worker serves one run, a backend
// rarely sees the value change).
static std::string *parsed_text = nullptr;
static std::shared_ptr<const bulk_ingest::HostAllowlist> *parsed = nullptr;

static bool CheckAllowedHosts(char **newval, void **extra, GucSource source) {
    pg_bulk_ingest::CoreFailure failure;
    const char *text = *newval != NULL ? *newval : "";
    if (pg_bulk_ingest::TryCore([&] { (void)bulk_ingest::HostAllowlist::Parse(text); }, &failure)) {
        return true;
    }
    GUC_check_errdetail("%s", failure.message);
    return false;
}

void DefineAllowedHostsSetting(void) {
    DefineCustomStringVariable(
        "bulk_ingest.allowed_hosts", "Servers that sources may make this server connect to.",
        "A comma-separated list of host names (api.example.com, *.example.com), IP addresses, CIDR ranges and the "
        "word public (any publicly routable address). Loopback, private, link-local and other special addresses are "
        "refused unless listed. Checked for every connection: each page, retry and redirect.",
        &bulk_ingest_allowed_hosts, "public", PGC_SUSET, 0, CheckAllowedHosts, NULL, NULL);
}

std::shared_ptr<const bulk_ingest::HostAllowlist> CurrentAllowlist() {
    const char *text = bulk_ingest_allowed_hosts != NULL ? bulk_ingest_allowed_hosts : "";
    if (parsed == nullptr) {
        parsed_text = new std::string();
        parsed = new std::shared_ptr<const bulk_ingest::HostAllowlist>();
    }
    if (*parsed == nullptr || *parsed_text != text) {
        *parsed = std::make_shared<const bulk_ingest::HostAllowlist>(bulk_ingest::HostAllowlist::Parse(text));
        *parsed_text = text;
    }
    return *parsed;
}

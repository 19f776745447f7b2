// JSON Pointer (RFC 6901) parsing.
#include "json_pointer.h"

#include "error.h"

namespace bulk_ingest {

std::vector<std::string> ParseJsonPointer(const std::string &pointer) {
    std::vector<std::string> tokens;
    if (pointer.empty()) {
        return tokens;  // the whole document
    }
    if (pointer[0] != '/') {
        throw Error("\"" + pointer + "\" is not a JSON Pointer: it must be empty or start with '/'");
    }
    std::string token;
    for (size_t i = 1; i <= pointer.size(); i++) {
        if (i == pointer.size() || pointer[i] == '/') {
            tokens.push_back(token);
            token.clear();
        } else if (pointer[i] == '~') {
            char next = i + 1 < pointer.size() ? pointer[i + 1] : '\0';
            if (next != '0' && next != '1') {
                throw Error("\"" + pointer + "\" is not a valid JSON Pointer: '~' at character " +
                            std::to_string(i + 1) + " must be followed by '0' (for '~') or '1' (for '/')");
            }
            token += next == '0' ? '~' : '/';
            i++;
        } else {
            token += pointer[i];
        }
    }
    return tokens;
}

}  // namespace bulk_ingest

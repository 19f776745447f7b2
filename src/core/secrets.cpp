#include "secrets.h"

#include "error.h"
#include "url.h"

namespace bulk_ingest {

namespace {

constexpr std::string_view kOpen = "{secret:";
constexpr size_t kMaxNameLength = 64;

bool IsNameCharacter(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

// Calls visit(start, end, name) for each reference; returns the text between them through literal(start, end).
template <typename Literal, typename Visit>
void ScanReferences(const std::string &text, Literal literal, Visit visit) {
    size_t pos = 0;
    for (;;) {
        size_t open = text.find(kOpen, pos);
        if (open == std::string::npos) {
            literal(pos, text.size());
            return;
        }
        size_t name_start = open + kOpen.size();
        size_t close = text.find('}', name_start);
        if (close == std::string::npos) {
            throw Error("unterminated secret reference at character " + std::to_string(open + 1) +
                        ": write {secret:name}");
        }
        std::string name = text.substr(name_start, close - name_start);
        bool valid = !name.empty() && name.size() <= kMaxNameLength;
        for (char c : name) {
            valid = valid && IsNameCharacter(c);
        }
        if (!valid) {
            throw Error("invalid secret reference {secret:" + name +
                        "}: a secret's name is 1 to 64 letters, digits, '_' or '-'");
        }
        literal(pos, open);
        visit(name);
        pos = close + 1;
    }
}

void ReplaceAll(std::string &text, const std::string &needle, const std::string &replacement) {
    if (needle.empty()) {
        return;
    }
    size_t pos = 0;
    while ((pos = text.find(needle, pos)) != std::string::npos) {
        text.replace(pos, needle.size(), replacement);
        pos += replacement.size();
    }
}

}  // namespace

std::vector<std::string> SecretReferences(const std::string &text) {
    std::vector<std::string> names;
    ScanReferences(
        text, [](size_t, size_t) {}, [&](const std::string &name) { names.push_back(name); });
    return names;
}

std::string ExpandSecrets(const std::string &text, const SecretMap &secrets, bool url_encode) {
    std::string out;
    ScanReferences(
        text, [&](size_t from, size_t to) { out.append(text, from, to - from); },
        [&](const std::string &name) {
            auto it = secrets.find(name);
            if (it == secrets.end()) {
                throw Error("secret \"" + name + "\" is not set; set it with bulk_ingest_set_secret()");
            }
            out += url_encode ? PercentEncode(it->second) : it->second;
        });
    return out;
}

std::string RedactSecrets(std::string text, const SecretMap &secrets) {
    for (const auto &[name, value] : secrets) {
        (void)name;
        if (value.size() < 4) {
            continue;  // too short to tell from ordinary text; such a secret is no secret anyway
        }
        ReplaceAll(text, value, "***");
        ReplaceAll(text, PercentEncode(value), "***");
    }
    return text;
}

std::string Base64Encode(std::string_view data) {
    static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((data.size() + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 2 < data.size(); i += 3) {
        unsigned v = (unsigned char)data[i] << 16 | (unsigned char)data[i + 1] << 8 | (unsigned char)data[i + 2];
        out += kAlphabet[v >> 18];
        out += kAlphabet[(v >> 12) & 63];
        out += kAlphabet[(v >> 6) & 63];
        out += kAlphabet[v & 63];
    }
    if (i < data.size()) {
        unsigned v = (unsigned char)data[i] << 16 | (i + 1 < data.size() ? (unsigned char)data[i + 1] << 8 : 0);
        out += kAlphabet[v >> 18];
        out += kAlphabet[(v >> 12) & 63];
        out += i + 1 < data.size() ? kAlphabet[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

}  // namespace bulk_ingest

#include "secrets.h"

#include <utility>

#include "error.h"
#include "text.h"
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

// The length of an occurrence of value at text[pos] in any URL encoding of it: each byte as itself, as %XX (either
// case of hex digit), or, for a space, as '+' (form encoding). 0 when there is none. A server may echo a secret
// sent in the query back in its next-page links encoded its own way, and those URLs are shown (progress, errors).
size_t EncodedMatchLength(const std::string &text, size_t pos, const std::string &value) {
    size_t j = pos;
    for (char wanted : value) {
        if (j < text.size() && text[j] == wanted) {
            j++;
        } else if (j + 2 < text.size() && text[j] == '%' && HexValue(text[j + 1]) >= 0 && HexValue(text[j + 2]) >= 0 &&
                   static_cast<char>(HexValue(text[j + 1]) * 16 + HexValue(text[j + 2])) == wanted) {
            j += 3;
        } else if (j < text.size() && wanted == ' ' && text[j] == '+') {
            j++;
        } else {
            return 0;
        }
    }
    return j - pos;
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
        std::string out;
        out.reserve(text.size());
        for (size_t pos = 0; pos < text.size();) {
            size_t length = EncodedMatchLength(text, pos, value);
            if (length > 0) {
                out += "***";
                pos += length;
            } else {
                out += text[pos++];
            }
        }
        text = std::move(out);
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

#include "oauth2.h"

#include <cctype>
#include <string>

#include "error.h"
#include "url.h"

namespace bulk_ingest {

namespace {

const char kWhat[] = "options: \"auth\": ";

std::string StringMember(const rapidjson::Value &object, const char *key, bool required) {
    auto member = object.FindMember(key);
    if (member == object.MemberEnd()) {
        if (required) {
            throw Error(std::string(kWhat) + "needs \"" + key + "\"");
        }
        return "";
    }
    if (!member->value.IsString() || member->value.GetStringLength() == 0) {
        throw Error(std::string(kWhat) + "\"" + key + "\" must be a non-empty string");
    }
    return std::string(member->value.GetString(), member->value.GetStringLength());
}

}  // namespace

OAuth2Spec ParseOAuth2(const rapidjson::Value &value) {
    if (!value.IsObject()) {
        throw Error(std::string(kWhat) +
                    "must be an object such as {\"type\": \"oauth2_client_credentials\", "
                    "\"token_url\": ..., \"client_id\": \"{secret:id}\", \"client_secret\": "
                    "\"{secret:secret}\"}");
    }
    const std::string type = StringMember(value, "type", true);
    if (type != "oauth2_client_credentials") {
        throw Error(std::string(kWhat) + "unknown \"type\" \"" + type +
                    "\"; the one known is oauth2_client_credentials");
    }
    for (auto m = value.MemberBegin(); m != value.MemberEnd(); ++m) {
        const std::string key(m->name.GetString(), m->name.GetStringLength());
        if (key != "type" && key != "token_url" && key != "client_id" && key != "client_secret" && key != "scope" &&
            key != "client_auth") {
            throw Error(std::string(kWhat) + "unknown key \"" + key +
                        "\"; known keys: client_auth, client_id, client_secret, scope, token_url, type");
        }
    }
    OAuth2Spec spec;
    spec.token_url = StringMember(value, "token_url", true);
    try {
        ValidateSourceUrl(spec.token_url);
    } catch (const Error &e) {
        throw Error(std::string(kWhat) + "\"token_url\": " + e.what());
    }
    spec.client_id = StringMember(value, "client_id", true);
    spec.client_secret = StringMember(value, "client_secret", true);
    for (const std::string *text : {&spec.client_id, &spec.client_secret}) {
        try {
            SecretReferences(*text);
        } catch (const Error &e) {
            throw Error(std::string(kWhat) + e.what());
        }
    }
    const std::string scope = StringMember(value, "scope", false);
    if (!scope.empty()) {
        spec.scope = scope;
    }
    const std::string client_auth = StringMember(value, "client_auth", false);
    if (!client_auth.empty() && client_auth != "basic" && client_auth != "post") {
        throw Error(std::string(kWhat) +
                    "\"client_auth\" must be \"basic\" (HTTP basic authentication, the default) "
                    "or \"post\" (client_id and client_secret in the request body)");
    }
    spec.client_auth_basic = client_auth != "post";
    return spec;
}

std::string OAuth2Fingerprint(const OAuth2Spec &spec) {
    return spec.token_url + "\n" + spec.client_id + "\n" + spec.scope.value_or("") + "\n" +
           (spec.client_auth_basic ? "basic" : "post");
}

std::string FormEncode(const std::string &value) {
    std::string encoded = PercentEncode(value);
    std::string out;
    for (size_t i = 0; i < encoded.size(); i++) {
        if (encoded.compare(i, 3, "%20") == 0) {
            out += '+';
            i += 2;
        } else {
            out += encoded[i];
        }
    }
    return out;
}

TokenRequest BuildTokenRequest(const OAuth2Spec &spec, const SecretMap &secrets) {
    const std::string id = ExpandSecrets(spec.client_id, secrets, false);
    const std::string secret = ExpandSecrets(spec.client_secret, secrets, false);
    TokenRequest request;
    request.body = "grant_type=client_credentials";
    if (spec.scope) {
        request.body += "&scope=" + FormEncode(*spec.scope);
    }
    if (spec.client_auth_basic) {
        // RFC 6749, 2.3.1: the client identifier and secret are form-encoded, then joined for basic authentication.
        request.headers.push_back("Authorization: Basic " + Base64Encode(FormEncode(id) + ":" + FormEncode(secret)));
    } else {
        request.body += "&client_id=" + FormEncode(id) + "&client_secret=" + FormEncode(secret);
    }
    request.headers.push_back("Content-Type: application/x-www-form-urlencoded");
    request.headers.push_back("Accept: application/json");
    return request;
}

Token ParseTokenResponse(const std::string &body) {
    rapidjson::Document doc;
    doc.Parse(body.c_str(), body.size());
    if (doc.HasParseError() || !doc.IsObject()) {
        throw Error("the token endpoint's answer is not a JSON object");
    }
    auto token = doc.FindMember("access_token");
    if (token == doc.MemberEnd() || !token->value.IsString() || token->value.GetStringLength() == 0) {
        throw Error("the token endpoint's answer has no \"access_token\"");
    }
    auto type = doc.FindMember("token_type");
    if (type != doc.MemberEnd()) {
        std::string text = type->value.IsString() ? type->value.GetString() : "";
        for (char &c : text) {
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
        if (text != "bearer") {
            throw Error("the token endpoint's answer has the token_type \"" +
                        std::string(type->value.IsString() ? type->value.GetString() : "?") +
                        "\"; only bearer tokens are supported");
        }
    }
    Token result;
    result.access_token.assign(token->value.GetString(), token->value.GetStringLength());
    // A line break in the token would add headers to every request it is sent with.
    if (result.access_token.find_first_of("\r\n") != std::string::npos) {
        throw Error("the token endpoint's access_token holds a line break");
    }
    auto expires = doc.FindMember("expires_in");
    if (expires != doc.MemberEnd()) {
        if (expires->value.IsNumber() && expires->value.GetDouble() >= 0) {
            result.expires_in_s = static_cast<int64_t>(expires->value.GetDouble());
        } else if (expires->value.IsString()) {
            // Some servers send it as a string.
            try {
                result.expires_in_s = std::stoll(expires->value.GetString());
            } catch (const std::exception &) {
                throw Error("the token endpoint's expires_in is not a number");
            }
        } else {
            throw Error("the token endpoint's expires_in is not a number");
        }
    }
    return result;
}

}  // namespace bulk_ingest

// ByteSet (byte_set.h): its sixteen-bytes-at-a-time search finds what a byte-by-byte search finds, wherever the byte
// is (each of the sixteen lanes, the tail after the last full sixteen bytes, none at all), for sets of every size.
#include "byte_set.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace {

using bulk_ingest::ByteSet;

// The first byte of [p, end) among bytes, one at a time.
const char *Naive(const char *p, const char *end, const std::string &bytes) {
    while (p < end && bytes.find(*p) == std::string::npos) {
        p++;
    }
    return p;
}

TEST(ByteSet, FindsTheFirstMemberAtEveryPosition) {
    ByteSet<3> set{',', '\r', '\n'};
    for (size_t len = 0; len <= 48; len++) {
        for (size_t at = 0; at <= len; at++) {
            std::string text(len, 'a');
            if (at < len) {
                text[at] = '\n';
            }
            if (at + 1 < len) {
                text[at + 1] = ',';  // a later member does not win
            }
            const char *found = set.Find(text.data(), text.data() + text.size());
            EXPECT_EQ(static_cast<size_t>(found - text.data()), at) << "length " << len << ", member at " << at;
        }
    }
}

TEST(ByteSet, AgreesWithAByteByByteSearch) {
    std::mt19937 random(11);
    const std::string sets[] = {"\"", "\"\\", ",\r\n", "\"\\\r\n", "\"{[}]", "\x80\xff\x01\x7f"};
    for (const std::string &bytes : sets) {
        for (int round = 0; round < 2000; round++) {
            std::string text(random() % 70, 'x');
            for (char &c : text) {
                // Mostly bytes outside the set, some of its members, and bytes next to them (0x81 next to 0x80).
                unsigned r = random() % 64;
                c = r == 0   ? bytes[random() % bytes.size()]
                    : r == 1 ? static_cast<char>(bytes[0] + 1)
                             : static_cast<char>(random() % 256);
            }
            const char *begin = text.data();
            const char *end = begin + text.size();
            const char *expected = Naive(begin, end, bytes);
            const char *found = nullptr;
            switch (bytes.size()) {
                case 1:
                    found = ByteSet<1>{bytes[0]}.Find(begin, end);
                    break;
                case 2:
                    found = ByteSet<2>{bytes[0], bytes[1]}.Find(begin, end);
                    break;
                case 3:
                    found = ByteSet<3>{bytes[0], bytes[1], bytes[2]}.Find(begin, end);
                    break;
                case 4:
                    found = ByteSet<4>{bytes[0], bytes[1], bytes[2], bytes[3]}.Find(begin, end);
                    break;
                default:
                    found = ByteSet<5>{bytes[0], bytes[1], bytes[2], bytes[3], bytes[4]}.Find(begin, end);
                    break;
            }
            ASSERT_EQ(found - begin, expected - begin)
                << "set of " << bytes.size() << " bytes, text of " << text.size();
        }
    }
}

TEST(ByteSet, FewerBytesThanItsSizeAndRepeatedOnes) {
    ByteSet<4> set{'"', '"'};  // the quote alone, given twice; the other lanes repeat it
    std::string text = "abc\\d\r\nefghijklmnopqrst\"u";
    EXPECT_EQ(set.Find(text.data(), text.data() + text.size()) - text.data(), 23);
    std::string others = std::string("\\\0x", 3);  // not in the set, nor is NUL (the lanes' padding is no member)
    EXPECT_EQ(set.Find(others.data(), others.data() + others.size()), others.data() + others.size());
}

}  // namespace

#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "error.h"
#include "watermark_format.h"

using bulk_ingest::DetectTimestampStyle;
using bulk_ingest::ExpandJsonTemplate;
using bulk_ingest::ExpandTemplate;
using bulk_ingest::FindPlaceholders;
using bulk_ingest::FormatTimestamp;
using bulk_ingest::PlaceholderName;
using bulk_ingest::RenderValue;
using bulk_ingest::SecretMap;
using bulk_ingest::TemplateEncoding;
using bulk_ingest::TemplateValue;
using bulk_ingest::TemplateValues;
using bulk_ingest::TimestampStyle;
using bulk_ingest::ValueForm;
using bulk_ingest::ValueFormat;
using bulk_ingest::ValueKind;

namespace {

constexpr int64_t kUs = 1000000;
// 2024-03-05T06:07:08.5Z
constexpr int64_t kT = 1709618828LL * kUs + 500000;

TemplateValue Timestamp(int64_t epoch_us, const std::string &pg_text, ValueKind kind = ValueKind::kTimestampTz) {
    TemplateValue v;
    v.present = true;
    v.kind = kind;
    v.epoch_us = epoch_us;
    v.pg_text = pg_text;
    return v;
}

TemplateValue Number(const std::string &text) {
    TemplateValue v;
    v.present = true;
    v.kind = ValueKind::kNumber;
    v.pg_text = text;
    return v;
}

std::string ErrorOf(const std::function<void()> &f) {
    try {
        f();
    } catch (const bulk_ingest::Error &e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST(WatermarkFormat, ExplicitFormsOfATimestamp) {
    TemplateValue v = Timestamp(kT, "2024-03-05 06:07:08.5+00");
    EXPECT_EQ(RenderValue(v, ValueForm::kIso8601), "2024-03-05T06:07:08.5Z");
    EXPECT_EQ(RenderValue(v, ValueForm::kEpoch), "1709618828.5");
    EXPECT_EQ(RenderValue(v, ValueForm::kEpochMs), "1709618828500");
    EXPECT_EQ(RenderValue(v, ValueForm::kDate), "2024-03-05");
    EXPECT_EQ(RenderValue(v, ValueForm::kPg), "2024-03-05 06:07:08.5+00");
    // Whole seconds have no fraction; microseconds are kept.
    EXPECT_EQ(RenderValue(Timestamp(1709618828LL * kUs, ""), ValueForm::kEpoch), "1709618828");
    EXPECT_EQ(RenderValue(Timestamp(1709618828LL * kUs, ""), ValueForm::kIso8601), "2024-03-05T06:07:08Z");
    EXPECT_EQ(RenderValue(Timestamp(1709618828LL * kUs + 1, ""), ValueForm::kIso8601), "2024-03-05T06:07:08.000001Z");
    EXPECT_EQ(RenderValue(Timestamp(1709618828LL * kUs + 1, ""), ValueForm::kEpochMs), "1709618828000.001");
    // Before 1970: the sign belongs to the whole value.
    EXPECT_EQ(RenderValue(Timestamp(-kUs / 2, ""), ValueForm::kEpoch), "-0.5");
    EXPECT_EQ(RenderValue(Timestamp(-kUs / 2, ""), ValueForm::kIso8601), "1969-12-31T23:59:59.5Z");
    EXPECT_EQ(RenderValue(Timestamp(-86400LL * kUs, ""), ValueForm::kDate), "1969-12-31");
    // Leap days and the ends of the four-digit years.
    EXPECT_EQ(RenderValue(Timestamp(951782400LL * kUs, ""), ValueForm::kIso8601), "2000-02-29T00:00:00Z");
    EXPECT_EQ(RenderValue(Timestamp(-62135596800LL * kUs, ""), ValueForm::kIso8601), "0001-01-01T00:00:00Z");
    EXPECT_EQ(RenderValue(Timestamp(253402300799LL * kUs, ""), ValueForm::kIso8601), "9999-12-31T23:59:59Z");
    EXPECT_NE(ErrorOf([] { RenderValue(Timestamp(253402300800LL * kUs, ""), ValueForm::kIso8601); }), "");
}

TEST(WatermarkFormat, TimestampWithoutTimeZoneAndDate) {
    TemplateValue local = Timestamp(kT, "2024-03-05 06:07:08.5", ValueKind::kTimestamp);
    EXPECT_EQ(RenderValue(local, ValueForm::kIso8601), "2024-03-05T06:07:08.5");
    TemplateValue date = Timestamp(1709596800LL * kUs, "2024-03-05", ValueKind::kDate);
    EXPECT_EQ(RenderValue(date, ValueForm::kIso8601), "2024-03-05");
    EXPECT_EQ(RenderValue(date, ValueForm::kEpoch), "1709596800");
    EXPECT_EQ(RenderValue(date, ValueForm::kDate), "2024-03-05");
}

TEST(WatermarkFormat, TheSourcesOwnForm) {
    TemplateValue v = Timestamp(kT, "2024-03-05 06:07:08.5+00");
    // Nothing known of the source: PostgreSQL's text.
    EXPECT_EQ(RenderValue(v, ValueForm::kSource), "2024-03-05 06:07:08.5+00");
    // The record's own text, verbatim.
    v.source_text = "2024-03-05T08:07:08.500+02:00";
    EXPECT_EQ(RenderValue(v, ValueForm::kSource), "2024-03-05T08:07:08.500+02:00");
    // A computed value (minus a lag) in the style of the record's text: UTC, written the same way.
    v.source_text.reset();
    v.source_sample = "2024-03-05T08:07:08.500+02:00";
    EXPECT_EQ(RenderValue(v, ValueForm::kSource), "2024-03-05T06:07:08.500+00:00");
    v.source_sample = "2024-03-05 08:07:08Z";
    EXPECT_EQ(RenderValue(v, ValueForm::kSource), "2024-03-05 06:07:08Z");  // cut, not rounded: asks from earlier
    v.source_sample = "2024-03-05";
    EXPECT_EQ(RenderValue(v, ValueForm::kSource), "2024-03-05");
    v.source_sample = "Tue, 05 Mar 2024 06:07:08 GMT";  // a style it does not know: PostgreSQL's text
    EXPECT_EQ(RenderValue(v, ValueForm::kSource), "2024-03-05 06:07:08.5+00");
    // A declared epoch column stays epoch.
    v.source_sample.reset();
    v.declared = ValueFormat::kEpoch;
    EXPECT_EQ(RenderValue(v, ValueForm::kSource), "1709618828.5");
    v.declared = ValueFormat::kEpochMs;
    EXPECT_EQ(RenderValue(v, ValueForm::kSource), "1709618828500");
    // No watermark yet: empty.
    EXPECT_EQ(RenderValue(TemplateValue(), ValueForm::kEpoch), "");
}

TEST(WatermarkFormat, FormsThatDoNotApply) {
    EXPECT_EQ(RenderValue(Number("42"), ValueForm::kSource), "42");
    EXPECT_EQ(RenderValue(Number("42"), ValueForm::kPg), "42");
    EXPECT_EQ(ErrorOf([] { RenderValue(Number("42"), ValueForm::kEpoch); }),
              "the form \"epoch\" applies to timestamps and dates, not to the value \"42\"");
    TemplateValue infinite;
    infinite.present = true;
    infinite.pg_text = "infinity";
    EXPECT_NE(ErrorOf([&] { RenderValue(infinite, ValueForm::kIso8601); }), "");
}

TEST(WatermarkFormat, DetectsStyles) {
    auto style = [](const char *text) { return DetectTimestampStyle(text); };
    ASSERT_TRUE(style("2024-01-01T00:00:00Z"));
    EXPECT_EQ(style("2024-01-01T00:00:00Z")->zone, "Z");
    EXPECT_EQ(style("2024-01-01T00:00:00.123456-05:00")->fraction_digits, 6);
    EXPECT_EQ(style("2024-01-01T00:00:00.123456-05:00")->zone, "+00:00");
    EXPECT_EQ(style("2024-01-01 00:00:00+0000")->zone, "+0000");
    EXPECT_EQ(style("2024-01-01 00:00:00+00")->zone, "+00");
    EXPECT_EQ(style("2024-01-01 00:00:00+00")->separator, ' ');
    EXPECT_EQ(style("2024-01-01T00:00")->seconds, false);
    EXPECT_EQ(style("2024-01-01T00:00:00")->zone, "");
    EXPECT_TRUE(style("2024-01-01")->date_only);
    EXPECT_FALSE(style("1704067200"));
    EXPECT_FALSE(style("2024-01-01X00:00:00"));
    EXPECT_FALSE(style("2024-01-01T00:00:00 UTC"));
    EXPECT_FALSE(style("2024-1-1"));
    TimestampStyle s = *style("2024-01-01T00:00:00.000000000Z");
    EXPECT_EQ(FormatTimestamp(kT, s), "2024-03-05T06:07:08.500000000Z");
}

TEST(WatermarkFormat, FindsPlaceholders) {
    auto found = FindPlaceholders("/x?a={high_watermark}&b={window_start:epoch}&c={window_end:iso8601}&{x}&{secret:k}");
    ASSERT_EQ(found.size(), 3u);
    EXPECT_EQ(found[0].name, PlaceholderName::kHighWatermark);
    EXPECT_EQ(found[0].form, ValueForm::kSource);
    EXPECT_EQ(found[1].name, PlaceholderName::kWindowStart);
    EXPECT_EQ(found[1].form, ValueForm::kEpoch);
    EXPECT_EQ(found[2].text, "{window_end:iso8601}");
    EXPECT_TRUE(FindPlaceholders("{\"a\": {\"b\": 1}} {high_watermarks} {high_watermark").empty());
    EXPECT_EQ(ErrorOf([] { FindPlaceholders("?s={high_watermark:epoc}"); }),
              "{high_watermark:epoc}: unknown form \"epoc\" of {high_watermark}; the forms are: iso8601, epoch, "
              "epoch_ms, date, pg (or none: {high_watermark}, the source's own form)");
}

TEST(WatermarkFormat, ExpandsInOnePass) {
    TemplateValue v = Timestamp(kT, "2024-03-05 06:07:08.5+00");
    SecretMap secrets = {{"key", "s e/cret"}};
    TemplateValues values;
    values.high_watermark = &v;
    values.secrets = &secrets;
    EXPECT_EQ(ExpandTemplate("http://h/x?since={high_watermark}&e={high_watermark:epoch}&k={secret:key}", values,
                             TemplateEncoding::kUrl),
              "http://h/x?since=2024-03-05%2006%3A07%3A08.5%2B00&e=1709618828.5&k=s%20e%2Fcret");
    EXPECT_EQ(ExpandTemplate("Bearer {secret:key} since {high_watermark:iso8601}", values, TemplateEncoding::kRaw),
              "Bearer s e/cret since 2024-03-05T06:07:08.5Z");
    // A value that looks like a secret reference is never expanded.
    v.source_text = "{secret:key}";
    EXPECT_EQ(ExpandTemplate("{high_watermark}|{secret:key}", values, TemplateEncoding::kRaw), "{secret:key}|s e/cret");
    // Absent values are empty; an unset secret is an error naming it.
    EXPECT_EQ(ExpandTemplate("a={window_start}", values, TemplateEncoding::kUrl), "a=");
    EXPECT_EQ(ErrorOf([&] { ExpandTemplate("{secret:nope}", values, TemplateEncoding::kRaw); }),
              "secret \"nope\" is not set; set it with bulk_ingest_set_secret()");
    TemplateValue n = Number("7");
    values.high_watermark = &n;
    EXPECT_EQ(ErrorOf([&] { ExpandTemplate("{high_watermark:date}", values, TemplateEncoding::kRaw); }),
              "{high_watermark:date}: the form \"date\" applies to timestamps and dates, not to the value \"7\"");
}

TEST(WatermarkFormat, JsonBodies) {
    TemplateValue t = Timestamp(kT, "2024-03-05 06:07:08.5+00");
    TemplateValue n = Number("12345678901234567890.5");
    SecretMap secrets = {{"key", "a\"b"}};
    TemplateValues values;
    values.high_watermark = &t;
    values.window_start = &n;
    values.secrets = &secrets;
    EXPECT_EQ(ExpandJsonTemplate("{\"since\": \"{high_watermark:epoch}\", \"iso\": \"{high_watermark:iso8601}\", "
                                 "\"n\": \"{window_start}\", \"text\": \"from {high_watermark:date} on\", "
                                 "\"key\": \"{secret:key}\", \"none\": \"{window_end}\", \"keep\": [1, true, null]}",
                                 values),
              "{\"since\":1709618828.5,\"iso\":\"2024-03-05T06:07:08.5Z\",\"n\":12345678901234567890.5,"
              "\"text\":\"from 2024-03-05 on\",\"key\":\"a\\\"b\",\"none\":null,\"keep\":[1,true,null]}");
    // A number in a form that is not one stays a string.
    TemplateValue nan = Number("NaN");
    values.window_start = &nan;
    EXPECT_EQ(ExpandJsonTemplate("{\"n\": \"{window_start}\"}", values), "{\"n\":\"NaN\"}");
    EXPECT_NE(ErrorOf([&] { ExpandJsonTemplate("{", values); }), "");
}

// SPDX-License-Identifier: BSL-1.0
// examples/common/report.hpp — --report=text|json for the sources (one translation unit per tool)
#pragma once

#include <mailload/mailload.hpp>

#include <boost/json.hpp>
#include <boost/json/src.hpp>  // Boost.JSON, header-only: this header goes in one TU per program

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace cli {

/// The report's shape: what a source did, in numbers a user can act on.
inline boost::json::object source_report_json(std::string_view tool, const mailload::source_report& r,
                                              std::uint64_t messages_asked, std::size_t message_bytes) {
    namespace json = boost::json;
    using mailload::sansio::client_stage;
    const double seconds = std::chrono::duration<double>(r.elapsed).count();
    const auto& t = r.totals;
    json::object rejected;
    static constexpr const char* stages[] = {"greeting", "helo", "mail", "rcpt", "data", "dot", "rset", "quit"};
    for (std::size_t i = 0; i < t.rejected.size(); ++i) rejected[stages[i]] = t.rejected[i];
    json::object latency;
    for (auto [name, p] : {std::pair{"p50", 50.0}, {"p90", 90.0}, {"p99", 99.0}, {"p99.9", 99.9}})
        latency[name] = double(r.latency.percentile(p)) / 1e6;
    latency["max"] = double(r.latency.max()) / 1e6;
    latency["mean"] = r.latency.mean() / 1e6;
    latency["count"] = r.latency.count();
    return json::object{
        {"tool", tool},
        {"error", r.error ? json::value(r.what) : json::value(nullptr)},
        {"messages", json::object{{"asked", messages_asked},
                                  {"sent", t.messages_sent},
                                  {"accepted", t.messages_accepted}}},
        {"recipients", json::object{{"sent", t.recipients_sent}, {"accepted", t.recipients_accepted}}},
        {"rejected_by_stage", rejected},
        {"connections", json::object{{"established", r.connections}, {"connect_failures", r.connect_failures}}},
        {"elapsed_s", seconds},
        {"messages_per_s", seconds > 0 ? double(t.messages_accepted) / seconds : 0.0},
        {"megabytes_per_s", seconds > 0 ? double(t.messages_accepted) * double(message_bytes) / 1e6 / seconds : 0.0},
        {"latency_ms", latency},
    };
}

/// Prints the report on stdout as text or JSON (`format` is "text" or "json").
inline void print_source_report(std::string_view format, const boost::json::object& j) {
    if (format == "json") {
        const std::string s = boost::json::serialize(j) + "\n";
        std::fwrite(s.data(), 1, s.size(), stdout);
        return;
    }
    auto num = [&](const boost::json::object& o, const char* k) { return boost::json::value_to<double>(o.at(k)); };
    const auto& m = j.at("messages").as_object();
    const auto& r = j.at("recipients").as_object();
    const auto& c = j.at("connections").as_object();
    const auto& l = j.at("latency_ms").as_object();
    std::printf("%s report\n", j.at("tool").as_string().c_str());
    std::printf("  messages:    %.0f asked, %.0f sent, %.0f accepted\n", num(m, "asked"), num(m, "sent"), num(m, "accepted"));
    std::printf("  recipients:  %.0f sent, %.0f accepted\n", num(r, "sent"), num(r, "accepted"));
    std::printf("  rejected:   ");
    for (const auto& [stage, n] : j.at("rejected_by_stage").as_object())
        std::printf(" %s %llu", std::string(stage).c_str(), static_cast<unsigned long long>(n.to_number<std::uint64_t>()));
    std::printf("\n  connections: %.0f established, %.0f connect failures\n", num(c, "established"), num(c, "connect_failures"));
    std::printf("  elapsed:     %.3f s, %.0f msg/s, %.2f MB/s\n", num(j, "elapsed_s"), num(j, "messages_per_s"),
                num(j, "megabytes_per_s"));
    std::printf("  latency:     p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f ms (claim to acceptance, %.0f messages)\n",
                num(l, "p50"), num(l, "p90"), num(l, "p99"), num(l, "p99.9"), num(l, "max"), num(l, "count"));
    if (!j.at("error").is_null()) std::printf("  error:       %s\n", j.at("error").as_string().c_str());
    std::fflush(stdout);
}

}  // namespace cli

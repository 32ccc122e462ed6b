// SPDX-License-Identifier: BSL-1.0
// examples/common/report.hpp — --report=text|json for the sources and sinks (one translation unit per tool)
#pragma once

#include <common/run.hpp>

#include <mailload/mailload.hpp>

#include <boost/json.hpp>
#include <boost/json/src.hpp>  // Boost.JSON, header-only: this header goes in one TU per program

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace cli {

/// Percentiles of a latency histogram (ns) in milliseconds.
inline boost::json::object latency_json(const mailload::report::histogram& h) {
    boost::json::object o;
    for (auto [name, p] : {std::pair{"p50", 50.0}, {"p90", 90.0}, {"p99", 99.0}, {"p99.9", 99.9}})
        o[name] = double(h.percentile(p)) / 1e6;
    o["max"] = double(h.max()) / 1e6;
    o["mean"] = h.mean() / 1e6;
    o["count"] = h.count();
    return o;
}

/// The report's shape: what a source did, in numbers a user can act on.
inline boost::json::object source_report_json(std::string_view tool, const mailload::source_report& r,
                                              const source_cli& how, const mailload::source_options& o) {
    namespace json = boost::json;
    using mailload::sansio::client_stage;
    const auto& stages = mailload::sansio::client_stage_names;
    const bool qmqp = tool == "qmqp-source";
    const double seconds = std::chrono::duration<double>(r.elapsed).count();
    const auto& t = r.totals;
    json::object rejected, replies, io_errors;
    for (std::size_t i = 0; i < t.rejected.size(); ++i) rejected[stages[i]] = t.rejected[i];
    r.replies.for_each([&](client_stage stage, int code, std::uint64_t n) {
        auto& by_code = replies[stages[static_cast<std::size_t>(stage)]];
        if (by_code.is_null()) by_code = json::object{};
        by_code.as_object()[qmqp ? std::string(1, static_cast<char>(code)) : std::to_string(code)] = n;
    });
    for (const auto& [ec, n] : r.io_errors) io_errors[ec.message()] = n;
    json::object latency{{"message", latency_json(r.latency)}, {"connect", latency_json(r.connect_latency)}};
    if (r.tls_latency.count()) latency["tls_handshake"] = latency_json(r.tls_latency);
    for (std::size_t i = 0; i < r.reply_latency.size(); ++i)
        if (r.reply_latency[i].count()) latency[stages[i]] = latency_json(r.reply_latency[i]);
    json::object messages{{"asked", how.messages_given || o.duration.count() == 0 ? json::value(o.messages)
                                                                                   : json::value(nullptr)},
                          {"sent", t.messages_sent},
                          {"accepted", t.messages_accepted}};
    if (how.rate > 0) messages["late_starts"] = r.late_starts;
    if (o.client.chunking) messages["bdat_chunks"] = t.chunks_sent;
    json::object connections{{"established", r.connections}, {"connect_failures", r.connect_failures}};
    if (o.client.starttls || o.client.tls_on_connect) {
        connections["tls_handshakes"] = r.tls_handshakes;
        connections["tls_resumed"] = r.tls_resumed;
    }
    return json::object{
        {"tool", tool},
        {"error", r.error ? json::value(r.what) : json::value(nullptr)},
        {"concurrency", json::object{{"model", how.how.concurrency}, {"threads", o.threads}, {"sessions", o.sessions}}},
        {"pacing", json::object{{"model", how.how.pacing}, {"value", how.how.pace}}},
        {"messages", messages},
        {"recipients", json::object{{"sent", t.recipients_sent}, {"accepted", t.recipients_accepted}}},
        {"rejected_by_stage", rejected},
        {"replies", replies},
        {"connections", connections},
        {"io_errors", io_errors},
        {"elapsed_s", seconds},
        {"messages_per_s", seconds > 0 ? double(t.messages_accepted) / seconds : 0.0},
        {"bytes_accepted", t.bytes_accepted},
        {"megabytes_per_s", seconds > 0 ? double(t.bytes_accepted) / 1e6 / seconds : 0.0},
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
    namespace json = boost::json;
    auto num = [&](const json::object& o, const char* k) { return json::value_to<double>(o.at(k)); };
    auto u64 = [](const json::value& v) { return static_cast<unsigned long long>(v.to_number<std::uint64_t>()); };
    const auto& m = j.at("messages").as_object();
    const auto& r = j.at("recipients").as_object();
    const auto& c = j.at("connections").as_object();
    std::printf("%s report\n", j.at("tool").as_string().c_str());
    std::printf("  messages:    ");
    if (m.at("asked").is_null()) std::printf("unbounded");
    else std::printf("%llu", u64(m.at("asked")));
    std::printf(" asked, %.0f sent, %.0f accepted", num(m, "sent"), num(m, "accepted"));
    if (m.contains("late_starts")) std::printf(", %llu started over 1 ms late", u64(m.at("late_starts")));
    if (m.contains("bdat_chunks")) std::printf(", %llu BDAT chunks", u64(m.at("bdat_chunks")));
    std::printf("\n  recipients:  %.0f sent, %.0f accepted\n", num(r, "sent"), num(r, "accepted"));
    std::printf("  rejected:   ");
    for (const auto& [stage, n] : j.at("rejected_by_stage").as_object())
        std::printf(" %s %llu", std::string(stage).c_str(), u64(n));
    std::printf("\n  replies:    ");
    for (const auto& [stage, codes] : j.at("replies").as_object())
        for (const auto& [code, n] : codes.as_object())
            std::printf(" %s %s×%llu", std::string(stage).c_str(), std::string(code).c_str(), u64(n));
    std::printf("\n  connections: %.0f established, %.0f connect failures", num(c, "established"),
                num(c, "connect_failures"));
    if (c.contains("tls_handshakes"))
        std::printf(", %llu TLS handshakes (%llu resumed)", u64(c.at("tls_handshakes")), u64(c.at("tls_resumed")));
    std::printf("\n");
    std::printf("  I/O errors: ");
    if (j.at("io_errors").as_object().empty()) std::printf(" none");
    for (const auto& [what, n] : j.at("io_errors").as_object()) std::printf(" %s ×%llu", std::string(what).c_str(), u64(n));
    std::printf("\n  elapsed:     %.3f s, %.0f msg/s, %.2f MB/s\n", num(j, "elapsed_s"), num(j, "messages_per_s"),
                num(j, "megabytes_per_s"));
    std::printf("  latency, ms           p50       p90       p99     p99.9       max     count\n");
    for (const auto& [phase, l] : j.at("latency_ms").as_object()) {
        const auto& o = l.as_object();
        std::printf("    %-13s %9.3f %9.3f %9.3f %9.3f %9.3f %9llu\n", std::string(phase).c_str(), num(o, "p50"),
                    num(o, "p90"), num(o, "p99"), num(o, "p99.9"), num(o, "max"), u64(o.at("count")));
    }
    std::printf("  (message: from its start — its claim, or when it was due under --rate — to its acceptance;\n"
                "   connect: the connect; tls_handshake: the handshake; each stage: from the command's write,\n"
                "   or the connect, to its reply)\n");
    if (!j.at("error").is_null()) std::printf("  error:       %s\n", j.at("error").as_string().c_str());
    std::fflush(stdout);
}

/**
 * main() of a source (smtp-source, qmqp-source): `parse` the options, `configure` what they
 * imply, `run`; then the report asked for (--report) and, after a fatal error, its message and
 * exit status 1. examples/common/mpi.hpp is the same over the ranks of an MPI job.
 */
template <class Settings>
int source_main(int argc, char** argv, std::string_view tool, Settings (*parse)(int, char**),
                void (*configure)(Settings&), mailload::source_report (*run)(const Settings&)) {
    start(argv);
    Settings s = parse(argc, argv);
    configure(s);
    const auto report = run(s);
    if (!s.cli.report.empty()) print_source_report(s.cli.report, source_report_json(tool, report, s.cli, s.source));
    if (report.error) fatal(report.what);
    return 0;
}

/// A sink's report: what it accepted, from the counters of every ended session.
inline boost::json::object sink_report_json(std::string_view tool, const mailload::sink_report& r) {
    namespace json = boost::json;
    const auto& t = r.totals;
    const double seconds = std::chrono::duration<double>(r.busy).count();
    json::object replies;
    t.replies.for_each([&](int code, std::uint64_t n) {
        replies[tool == "qmqp-sink" ? std::string(1, static_cast<char>(code)) : std::to_string(code)] = n;
    });
    return json::object{
        {"tool", tool},
        {"error", r.error ? json::value(r.what) : json::value(nullptr)},
        {"stopped_by", r.stop_signal ? json::value(r.stop_signal == SIGTERM ? "SIGTERM" : r.stop_signal == SIGINT ? "SIGINT" : "signal")
                                     : json::value(nullptr)},
        {"connections", t.accepted},
        {"sessions", t.sessions},
        {"quits", t.quits},
        {"messages", t.messages},
        {"recipients", tool == "qmqp-sink" ? json::value(nullptr) : json::value(t.recipients)},  // not parsed
        {"tls", tool == "qmqp-sink" ? json::value(nullptr)
                                    : json::value(json::object{{"handshakes", t.tls}, {"failed", t.tls_failed}})},
        {"auth", tool == "qmqp-sink" ? json::value(nullptr)
                                     : json::value(json::object{{"authenticated", t.auth}, {"failed", t.auth_failed}})},
        {"data_bytes", t.data_bytes},
        {"replies", replies},
        {"elapsed_s", std::chrono::duration<double>(r.elapsed).count()},
        {"busy_s", seconds},
        {"messages_per_s", seconds > 0 ? double(t.messages) / seconds : 0.0},
        {"megabytes_per_s", seconds > 0 ? double(t.data_bytes) / 1e6 / seconds : 0.0},
    };
}

/// Prints a sink's report (`format` "text" or "json") on stdout.
inline void print_sink_report(std::string_view format, const boost::json::object& j) {
    namespace json = boost::json;
    if (format == "json") {
        const std::string s = json::serialize(j) + "\n";
        std::fwrite(s.data(), 1, s.size(), stdout);
        std::fflush(stdout);
        return;
    }
    auto u64 = [&](const char* k) { return static_cast<unsigned long long>(j.at(k).to_number<std::uint64_t>()); };
    auto num = [&](const char* k) { return json::value_to<double>(j.at(k)); };
    std::printf("%s report\n", j.at("tool").as_string().c_str());
    std::printf("  connections: %llu accepted, %llu sessions ended, %llu QUIT\n", u64("connections"), u64("sessions"),
                u64("quits"));
    std::printf("  messages:    %llu", u64("messages"));
    if (!j.at("recipients").is_null()) std::printf(", %llu recipients", u64("recipients"));
    std::printf(", %llu data bytes\n", u64("data_bytes"));
    const auto sub = [&](const char* k, const char* f) {  // 0 for qmqp-sink's nulls
        return j.at(k).is_null() ? 0ull : static_cast<unsigned long long>(j.at(k).at(f).to_number<std::uint64_t>());
    };
    if (sub("tls", "handshakes") || sub("tls", "failed"))
        std::printf("  TLS:         %llu handshakes, %llu failed\n", sub("tls", "handshakes"), sub("tls", "failed"));
    if (sub("auth", "authenticated") || sub("auth", "failed"))
        std::printf("  AUTH:        %llu authenticated, %llu failed\n", sub("auth", "authenticated"), sub("auth", "failed"));
    std::printf("  replies:    ");
    if (j.at("replies").as_object().empty()) std::printf(" none");
    for (const auto& [code, n] : j.at("replies").as_object())
        std::printf(" %s×%llu", std::string(code).c_str(), static_cast<unsigned long long>(n.to_number<std::uint64_t>()));
    std::printf("\n  elapsed:     %.3f s, busy %.3f s (first connection to last session end): %.0f msg/s, %.2f MB/s\n",
                num("elapsed_s"), num("busy_s"), num("messages_per_s"), num("megabytes_per_s"));
    if (!j.at("stopped_by").is_null()) std::printf("  stopped by:  %s\n", j.at("stopped_by").as_string().c_str());
    if (!j.at("error").is_null()) std::printf("  error:       %s\n", j.at("error").as_string().c_str());
    std::fflush(stdout);
}

/// A sink's end: its report when asked for (after ending an open -c counter line), then
/// finish_sink().
inline void end_sink(std::string_view tool, std::string_view format, bool counting, const mailload::sink_report& r) {
    if (!format.empty()) {
        if (counting) std::fputc('\n', stdout);
        print_sink_report(format, sink_report_json(tool, r));
    }
    finish_sink(r);
}

}  // namespace cli

// SPDX-License-Identifier: BSL-1.0
// examples/common/mpi.hpp — main() of the MPI sources (smtp-source-mpi, qmqp-source-mpi): one run over many ranks
#pragma once

#include <common/report.hpp>
#include <common/run.hpp>

#include <mailload/mpi.hpp>

#include <boost/json.hpp>

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace cli {

/// [[highest value of the bucket (ns), count], ...] for every bucket that counted something.
inline boost::json::array buckets_json(const mailload::report::histogram& h) {
    boost::json::array a;
    for (std::size_t i = 0; i < h.counts().size(); ++i)
        if (h.counts()[i]) a.push_back(boost::json::array{h.highest_of(i), h.counts()[i]});
    return a;
}

/// The report of the whole run (source_report_json of the sum, `how` and `asked` as the user
/// gave them) with an "mpi" part: the ranks, those that failed and what they did not send, and
/// with --per-rank a row per rank (with its message latency buckets, and the sum's).
inline boost::json::object mpi_report_json(std::string_view tool, const mailload::mpi::run_report& r,
                                           const source_cli& how, const mailload::source_options& asked) {
    namespace json = boost::json;
    json::object j = source_report_json(tool, r.total, how, asked);
    const int ranks = static_cast<int>(r.ranks.size());
    const bool bounded = asked.messages != UINT64_MAX;
    json::array failed, rows;
    for (const auto& k : r.ranks) {
        const auto& t = k.report.totals;
        const json::value share = bounded ? json::value(mailload::mpi::share(asked.messages, ranks, k.rank))
                                          : json::value(nullptr);
        const std::string what = !k.missing.empty() ? k.missing : k.report.what;
        if (!k.missing.empty() || k.report.error)
            failed.push_back(json::object{{"rank", k.rank}, {"host", k.host}, {"target", k.target}, {"error", what},
                                          {"messages_asked", share}, {"messages_accepted", t.messages_accepted}});
        if (!how.per_rank) continue;
        const double seconds = std::chrono::duration<double>(k.report.elapsed).count();
        rows.push_back(json::object{
            {"rank", k.rank},
            {"host", k.host},
            {"target", k.target},
            {"messages_asked", share},
            {"messages_sent", t.messages_sent},
            {"messages_accepted", t.messages_accepted},
            {"elapsed_s", seconds},
            {"messages_per_s", seconds > 0 ? double(t.messages_accepted) / seconds : 0.0},
            {"message_latency_ms", latency_json(k.report.latency)},
            {"message_latency_buckets", buckets_json(k.report.latency)},
            {"error", what.empty() ? json::value(nullptr) : json::value(what)},
        });
    }
    json::object mpi{{"ranks", ranks}, {"failed", failed}};
    if (how.per_rank) {
        mpi["per_rank"] = rows;
        mpi["message_latency_buckets"] = buckets_json(r.total.latency);
    }
    j["mpi"] = mpi;
    return j;
}

/// Prints it (`format` "text" or "json"): the text is a source's report, then the ranks.
inline void print_mpi_report(std::string_view format, const boost::json::object& j) {
    print_source_report(format, j);
    if (format == "json") return;
    namespace json = boost::json;
    const auto& mpi = j.at("mpi").as_object();
    const auto& failed = mpi.at("failed").as_array();
    auto u64 = [](const json::value& v) { return static_cast<unsigned long long>(v.to_number<std::uint64_t>()); };
    auto str = [](const json::value& v) { return std::string(v.as_string()); };
    std::printf("  ranks:       %llu, %zu failed\n", u64(mpi.at("ranks")), failed.size());
    for (const auto& f : failed) {
        const auto& o = f.as_object();
        std::printf("    rank %llu (%s, %s): %s; %llu of its ", u64(o.at("rank")), str(o.at("host")).c_str(),
                    str(o.at("target")).c_str(), str(o.at("error")).c_str(), u64(o.at("messages_accepted")));
        if (o.at("messages_asked").is_null()) std::printf("messages accepted\n");
        else std::printf("%llu messages accepted\n", u64(o.at("messages_asked")));
    }
    if (const auto* rows = mpi.if_contains("per_rank")) {
        std::printf("  rank  host             target                      sent  accepted     msg/s    p50 ms    p99 ms\n");
        for (const auto& row : rows->as_array()) {
            const auto& o = row.as_object();
            const auto& l = o.at("message_latency_ms").as_object();
            std::printf("  %4llu  %-16s %-24s %8llu  %8llu  %8.0f  %8.3f  %8.3f\n", u64(o.at("rank")),
                        str(o.at("host")).c_str(), str(o.at("target")).c_str(), u64(o.at("messages_sent")),
                        u64(o.at("messages_accepted")), json::value_to<double>(o.at("messages_per_s")),
                        json::value_to<double>(l.at("p50")), json::value_to<double>(l.at("p99")));
        }
    }
    std::fflush(stdout);
}

/**
 * main() of an MPI source: every rank parses the same options (`parse`, `configure`: a bad one
 * ends every rank alike, before MPI starts); -m and --rate are split over the ranks (the
 * remainder of -m one message each to the first ranks), the targets spread (rank i sends to
 * target i mod their count), recipient numbers interleaved and Message-Ids kept apart; the
 * ranks start together after a barrier and `run` their part; rank 0 prints the report of the
 * whole run (text unless --report=json) and one line per rank that failed. Exit status: 1 on
 * every rank when one failed, else 0.
 */
template <class Settings>
int mpi_source_main(int argc, char** argv, std::string_view tool, Settings (*parse)(int, char**),
                    void (*configure)(Settings&), mailload::source_report (*run)(const Settings&)) {
    namespace mpi = mailload::mpi;
    start(argv);
    mpi_tool = true;
    Settings s = parse(argc, argv);
    configure(s);
    if (s.cli.report.empty()) s.cli.report = "text";
    const source_cli how = s.cli;
    const mailload::source_options asked = s.source;

    const mpi::environment env(argc, argv);
    const int ranks = env.size(), rank = env.rank();
    if (ranks > mpi::max_ranks) {
        if (rank == 0) say("fatal", "at most " + std::to_string(mpi::max_ranks) + " ranks");
        return 1;
    }
    auto& o = s.source;
    if (o.messages != UINT64_MAX) o.messages = mpi::share(o.messages, ranks, rank);  // UINT64_MAX: --duration alone
    if (how.rate > 0) s.cli.how.pace = how.rate / ranks;
    o.stop_signals = {SIGTERM, SIGINT, SIGHUP};  // a rank stopped still reports what it did
    o.message.pid = mpi::message_id_field(rank, o.message.pid);
    o.client.sequence_stride = static_cast<std::uint64_t>(ranks);
    o.client.sequence_offset = static_cast<std::uint64_t>(rank);
    s.address = s.targets[static_cast<std::size_t>(rank) % s.targets.size()];

    env.barrier();
    const mailload::source_report mine = o.messages > 0 ? run(s) : mailload::source_report{};
    const mpi::run_report all = mpi::gather(env, mine, s.address);
    int status = 0;
    if (rank == 0) {
        print_mpi_report(s.cli.report, mpi_report_json(tool, all, how, asked));
        for (const auto& k : all.ranks)
            if (!k.missing.empty() || k.report.error)
                say("fatal", "rank " + std::to_string(k.rank) + " (" + k.target + "): " +
                                 (k.missing.empty() ? k.report.what : k.missing));
        status = all.failed() ? 1 : 0;
    }
    return env.broadcast(status);
}

}  // namespace cli

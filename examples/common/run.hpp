// SPDX-License-Identifier: BSL-1.0
// examples/common/run.hpp — what the four tools share: runtime choices -> one source or sink
#pragma once

#include <common/cli.hpp>
#include <common/progress.hpp>

#include <mailload/mailload.hpp>

#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace cli {

namespace hana = boost::hana;

/// "unix" for a unix: address, else the inet family chosen by -4/-6 ("inet", "inet4", "inet6").
inline std::string_view transport_name(std::string_view address, std::string_view family) {
    return address.starts_with("unix:") ? "unix" : family;
}

/// How a source runs, as the long options chose: concurrency ("single_thread", "thread_pool",
/// "thread_per_session"), pacing ("none", "fixed", "random", "rate") and its figure (-w/-R's
/// interval in seconds, --rate's messages per second).
struct source_choices {
    std::string_view concurrency = "single_thread";
    std::string_view pacing = "none";
    double pace = 0;
    bool progress = false;  ///< --progress
};

/// getopt_long codes of the long options both sources take; a tool's own start at opt_own.
enum source_long_code : int {
    opt_compat = 256, opt_connect_limit, opt_timeout, opt_report, opt_threads, opt_thread_per_session, opt_rate,
    opt_duration, opt_progress, opt_help, opt_version, opt_per_rank, opt_own = 320
};

/// The MPI sources' own long option.
inline constexpr option mpi_longopt = {"per-rank", no_argument, nullptr, opt_per_rank};

/// --help's line for it, and for their several targets.
inline constexpr const char* mpi_help =
    "MPI: target...   spread over the ranks --per-rank           a report row per rank\n";

/// The long options both sources take (and the MPI sources' own, in those), followed by `own`,
/// ready for getopt_long().
inline std::vector<option> source_longopts(std::initializer_list<option> own) {
    std::vector<option> v = {
        {"compat", required_argument, nullptr, opt_compat},
        {"connect-limit", required_argument, nullptr, opt_connect_limit},
        {"timeout", required_argument, nullptr, opt_timeout},
        {"report", required_argument, nullptr, opt_report},
        {"threads", required_argument, nullptr, opt_threads},
        {"thread-per-session", no_argument, nullptr, opt_thread_per_session},
        {"rate", required_argument, nullptr, opt_rate},
        {"duration", required_argument, nullptr, opt_duration},
        {"progress", no_argument, nullptr, opt_progress},
        {"help", no_argument, nullptr, opt_help},
        {"version", no_argument, nullptr, opt_version},
    };
    if (mpi_tool) v.push_back(mpi_longopt);
    v.insert(v.end(), own.begin(), own.end());
    v.push_back({nullptr, 0, nullptr, 0});
    return v;
}

/// --help's lines for them (two to a line: with a tool's own lines, one screen of 80 x 24).
inline constexpr const char* source_long_help =
    "  --compat=3.9    as Postfix 3.9+      --connect-limit=N    connects at once\n"
    "  --timeout=SECS  I/O limit [300]      --thread-per-session blocking threads\n"
    "  --threads=N     N event loops [1]    --duration=SECS      no start after SECS\n"
    "  --rate=R        open loop: R msg/s   --report=text|json   a report at exit\n"
    "  --progress      a line a second      -h, --help           this help\n"
    "  --version       print the version\n";

/// What the shared long options chose, beyond source_options.
struct source_cli {
    source_choices how;
    std::string report;  ///< "", "text" or "json"
    bool compat39 = false;
    double rate = 0;
    bool messages_given = false;  ///< -m was given
    bool per_rank = false;        ///< --per-rank (the MPI sources): a report row per rank
};

/// Reads one of the shared long options into `o` and `c`; false if `ch` is none of them.
inline bool source_long_option(int ch, const char* arg, mailload::source_options& o, source_cli& c) {
    switch (ch) {
    case opt_compat: c.compat39 = compat39(arg); return true;
    case opt_connect_limit: o.max_connecting = connect_limit(arg); return true;
    case opt_timeout: o.timeout = seconds(positive_seconds(arg, "timeout")); return true;
    case opt_report: c.report = report_format(arg); return true;
    case opt_threads:
        o.threads = static_cast<std::uint32_t>(positive(arg, "thread count"));
        c.how.concurrency = o.threads > 1 ? "thread_pool" : "single_thread";
        return true;
    case opt_thread_per_session: c.how.concurrency = "thread_per_session"; return true;
    case opt_rate: c.rate = positive_seconds(arg, "rate"); return true;
    case opt_duration: o.duration = seconds(positive_seconds(arg, "duration")); return true;
    case opt_progress: c.how.progress = true; return true;
    case opt_version: version();
    case opt_per_rank: c.per_rank = true; return true;  // only in mpi_tool's table
    default: return false;
    }
}

/// Once every option is read: --rate replaces the closed-loop pacing, and --duration without -m
/// lifts the message count.
inline void finish_source_options(mailload::source_options& o, source_cli& c) {
    if (c.rate > 0) {
        if (c.how.pacing != "none") fatal("do not use --rate with -w or -R");
        c.how.pacing = "rate";
        c.how.pace = c.rate;
    }
    if (o.duration.count() > 0 && !c.messages_given) o.messages = UINT64_MAX;
}

/**
 * Runs a source whose protocol is one of `protocols` (a hana::tuple_t) and whose transport,
 * concurrency and pacing are picked by name; `Tls` is its TLS policy.
 */
template <class Tls = mailload::no_tls, class Protocols, class Observer>
mailload::source_report run_source(Protocols protocols, std::string_view protocol, std::string_view family,
                                   const source_choices& how, const mailload::source_options& o,
                                   std::string_view address, Observer& observer) {
    using namespace mailload;
    mailload::source_report report;
    progress_meter meter(how.progress);
    progress_observer<Observer> observed{observer, meter};
    const auto candidates =
        hana::make_tuple(protocols, hana::tuple_t<inet_any, inet4, inet6, unix_domain>,
                         hana::tuple_t<single_thread, thread_pool, thread_per_session>,
                         hana::tuple_t<no_pacing, fixed_interval, random_interval, constant_rate>);
    dispatch(candidates,
             std::array<std::string_view, 4>{protocol, transport_name(address, family), how.concurrency, how.pacing},
             [&](auto p, auto t, auto c, auto r) {
                 using pacing_type = typename decltype(r)::type;
                 pacing_type paced{};
                 if constexpr (std::is_same_v<pacing_type, constant_rate>) paced = constant_rate::per_second(how.pace);
                 else if constexpr (pacing_type::paced) paced.interval = seconds(how.pace);
                 source<typename decltype(p)::type, typename decltype(t)::type, typename decltype(c)::type, pacing_type,
                        Tls>
                     load(o, paced);
                 meter.start();
                 report = load.run(address, observed);
                 meter.stop();
             });
    return report;
}

/// Drops root after listening: -R chroot, -u user (both optional; Postfix demands -u as root).
inline void drop_privileges(const char* user, const char* root) {
    const passwd* pw = nullptr;
    if (user && !(pw = ::getpwnam(user))) fatal(std::string("unknown user: ") + user);
    if (pw) {
        if (::setgid(pw->pw_gid) != 0) fatal(std::string("setgid: ") + std::strerror(errno));
        if (::initgroups(user, pw->pw_gid) != 0) fatal(std::string("initgroups: ") + std::strerror(errno));
    }
    if (root && ::chroot(root) != 0) fatal(std::string("chroot(") + root + "): " + std::strerror(errno));
    if (root && ::chdir("/") != 0) fatal(std::string("chdir(/): ") + std::strerror(errno));
    if (pw && ::setuid(pw->pw_uid) != 0) fatal(std::string("setuid: ") + std::strerror(errno));
}

/**
 * Runs a sink whose protocol is one of `protocols` and whose transport is picked by name:
 * listens (fatal on failure, `-v` says "trying..."), drops privileges, then serves with the
 * observer `make_observer(counters)` returns.
 */
template <class Tls = mailload::no_tls, class Protocols, class MakeObserver>
mailload::sink_report run_sink(Protocols protocols, std::string_view protocol, std::string_view family,
                               const mailload::sink_options& o, std::string_view address, bool verbose,
                               const char* user, const char* root, MakeObserver make_observer) {
    using namespace mailload;
    const auto spec = sansio::parse_server_endpoint(address);
    if (!spec) fatal(spec.error);
    mailload::sink_report report;
    const auto candidates =
        hana::make_tuple(protocols, hana::tuple_t<inet_any, inet4, inet6, unix_domain>, hana::tuple_t<single_thread>);
    dispatch(candidates, std::array<std::string_view, 3>{protocol, transport_name(address, family), "single_thread"},
             [&](auto p, auto t, auto c) {
                 sink<typename decltype(p)::type, typename decltype(t)::type, typename decltype(c)::type, Tls> server(o);
                 if (verbose && !spec.spec.local) {  // Postfix says nothing here for unix: sockets
                     const std::string host = !spec.spec.host.empty() ? spec.spec.host : family == "inet4" ? "0.0.0.0" : "::";
                     info("trying... [" + host + "]:" + spec.spec.port);
                 }
                 if (auto err = server.listen(address); !err.empty()) fatal(err);
                 drop_privileges(user, root);
                 auto observer = make_observer(server.counters());
                 report = server.run(observer);
             });
    return report;
}

/// After a sink stopped: a fatal error exits 1; a stop signal ends the process as that signal
/// would have (its dumps cleaned up first); otherwise nothing.
inline void finish_sink(const mailload::sink_report& report) {
    if (report.error) fatal(report.what);
    if (report.stop_signal) {
        std::fflush(stdout);
        std::signal(report.stop_signal, SIG_DFL);
        std::raise(report.stop_signal);
    }
}

}  // namespace cli

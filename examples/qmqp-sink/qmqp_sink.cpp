// SPDX-License-Identifier: BSL-1.0
// qmqp-sink — a drop-in replacement for Postfix's qmqp-sink(1), built on mailload
//
// Same options, reply, counter output, diagnostics and exit status as Postfix's. Unlike it, it
// answers however the request is split, and it has an idle timeout and a session cap.

#include <common/cli.hpp>
#include <common/report.hpp>
#include <common/run.hpp>

#include <mailload/mailload.hpp>

#include <getopt.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>

namespace {

namespace hana = boost::hana;
using namespace mailload;

[[noreturn]] void usage() { cli::fatal("usage: " + cli::program + " [-cv] [-x time] [host]:port backlog"); }

/// --help: every option, one screen (80 x 24); the manual page has the rest.
void help() {
    const std::string name = cli::program_name();
    std::printf(
        "usage: %s [options] [inet:][host]:port|unix:pathname backlog\n"
        "Postfix's options:\n"
        "  -4, -6    IPv4 only, IPv6 only (default: both)\n"
        "  -c        print a count of replies sent\n"
        "  -v        verbose (-v -v: netstring traces)\n"
        "  -x secs   exit secs after start-up\n"
        "mailload's options [default]:\n"
        "  --timeout=SECS        idle limit per read or write [100]\n"
        "  --session-limit=SECS  close a session this long after it opened [600]\n"
        "  --max-sessions=N      sessions at once; more wait [256]\n"
        "  --max-size=BYTES      longest request [1073741824]\n"
        "  --report=text|json    a report on stdout at exit (also on SIGTERM/SIGINT)\n"
        "  -h, --help            this help\n"
        "  --version             print the version\n"
        "See man qmqp-sink for the details.\n",
        name.c_str());
}

struct settings {
    sink_options sink;
    std::string family = "inet";
    int verbose = 0;
    bool count = false;
    std::string report;  ///< --report: "", "text" or "json"
    const char* address = nullptr;
};

settings parse(int argc, char** argv) {
    settings s;
    auto& o = s.sink;
    o.stop_signals = {SIGTERM, SIGINT};
    o.session_limit = std::chrono::minutes(10);  // mailload's default; Postfix's has no limit at all
    enum { opt_timeout = 256, opt_session_limit, opt_max_sessions, opt_max_size, opt_report, opt_help, opt_version };
    static const option longopts[] = {
        {"timeout", required_argument, nullptr, opt_timeout},
        {"session-limit", required_argument, nullptr, opt_session_limit},
        {"max-sessions", required_argument, nullptr, opt_max_sessions},
        {"max-size", required_argument, nullptr, opt_max_size},
        {"report", required_argument, nullptr, opt_report},
        {"help", no_argument, nullptr, opt_help},
        {"version", no_argument, nullptr, opt_version},
        {nullptr, 0, nullptr, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "+46chvx:", longopts, nullptr)) != -1) {
        switch (ch) {
        case '4': s.family = "inet4"; break;
        case '6': s.family = "inet6"; break;
        case 'c': s.count = true; break;
        case 'h': help(); cli::exit(0);  // ours, as --help (Postfix's has no -h)
        case 'v': ++s.verbose; break;
        case 'x': {
            const double v = cli::leading_seconds(optarg);
            if (!(v > 0) || v > 1e8) usage();
            o.stop_after_time = cli::seconds(v);
            break;
        }
        case opt_timeout: o.timeout = cli::seconds(cli::positive_seconds(optarg, "timeout")); break;
        case opt_session_limit: o.session_limit = cli::seconds(cli::positive_seconds(optarg, "session limit")); break;
        case opt_max_sessions: o.max_sessions = static_cast<std::uint32_t>(cli::positive(optarg, "session limit")); break;
        case opt_max_size: {
            const long long v = cli::leading_integer(optarg);
            if (v <= 0) cli::fatal(std::string("bad size limit: ") + optarg);
            o.server.max_message_size = static_cast<std::uint64_t>(v);
            break;
        }
        case opt_report: s.report = cli::report_format(optarg); break;
        case opt_help: help(); cli::exit(0);
        case opt_version: cli::version();
        default: usage();
        }
    }
    if (argc - optind != 2) usage();
    s.address = argv[optind];
    const long long backlog = cli::leading_integer(argv[optind + 1]);
    if (backlog <= 0 || backlog > INT_MAX) usage();
    o.backlog = static_cast<int>(backlog);
    return s;
}

/// Prints what Postfix's qmqp-sink prints: -v lines, warnings, the -c counter.
struct cli_observer {
    const sink_counters* counters = nullptr;
    int verbose = 0;
    bool count = false;

    template <class Socket>
    void on_connect(const session_info& info, Socket& socket) {
        if (!verbose) return;
        cli::info(std::string("connect (") +
                  (info.family == session_info::local ? "AF_LOCAL" : info.family == session_info::inet6 ? "AF_INET6" : "AF_INET") +
                  ")");
        cli::log_tcp_tweak(socket);
    }

    void on_event(const session_info&, const sansio::server_event& e) {
        if (e.kind != sansio::server_event::message) return;
        if (verbose > 1) {
            cli::info("netstring_get_length: read netstring length " + std::to_string(e.size));
            cli::info("netstring_put: write netstring len 3 data KOk");
        }
        if (count) {
            std::printf("%llu\r", static_cast<unsigned long long>(counters->messages));
            std::fflush(stdout);
        }
    }

    template <class Session>
    void on_disconnect(const session_info&, boost::system::error_code ec, const Session& session) {
        if (!ec) return;
        if (ec == error::netstring_format) cli::warning("netstring format error");
        else if (ec == error::netstring_size) cli::warning("netstring size error");
        else if (ec == error::timeout) cli::warning(session.failed_while_writing() ? "write timeout" : "read timeout");
        else cli::warning("lost connection");
    }
};

}  // namespace

// tests/fuzz/options_*.cpp take parse() alone (the dispatch below is most of the compile time).
#ifndef MAILLOAD_OPTIONS_ONLY
int main(int argc, char** argv) {
    cli::start(argv);
    const settings s = parse(argc, argv);

    if (s.verbose) cli::info(std::string("name_mask: ") + cli::name_mask(s.family));
    const auto report = cli::run_sink(hana::tuple_t<qmqp>, "qmqp", s.family, s.sink, s.address, s.verbose > 0, nullptr,
                                      nullptr, [&](const sink_counters& counters) {
                                          return cli_observer{&counters, s.verbose, s.count};
                                      });
    cli::end_sink("qmqp-sink", s.report, s.count, report);
    return 0;
}
#endif

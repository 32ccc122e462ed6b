// SPDX-License-Identifier: BSL-1.0
// qmqp-source — a drop-in replacement for Postfix's qmqp-source(1), built on mailload
//
// Same options, defaults, message bytes, counter output, diagnostics and exit status as
// Postfix's; -v's reply lines are not lost without -c. Long options add what Postfix lacks.

#include <common/cli.hpp>
#include <common/report.hpp>
#include <common/run.hpp>

#include <mailload/mailload.hpp>

#include <getopt.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <optional>
#include <string>

namespace {

namespace hana = boost::hana;
using namespace mailload;

[[noreturn]] void usage() {
    cli::fatal("usage: " + cli::program +
               " -cv -s sess -l msglen -m msgs -C count -M myhostname -f from -t to -R delay -w delay host[:port]");
}

/// --help: every option, one screen (80 x 24); the manual page has the rest.
void help() {
    const std::string name = cli::program_name();
    std::printf(
        "usage: %s [options] [inet:]host[:port] | unix:pathname\n"
        "Postfix's options [default; port 628]:\n"
        "  -4, -6     IPv4 only, IPv6 only      -c         count messages delivered\n"
        "  -C count   connect attempts [1]      -f from    sender [foo@myhostname]\n"
        "  -l length  message bytes [1024]      -m count   messages in all [1]\n"
        "  -M name    mail domain [hostname]    -r count   recipients per message [1]\n"
        "  -R secs    random delay 0..secs      -s count   sessions in parallel [1]\n"
        "  -v         verbose (-v -v: more)     -t to      recipient [foo@myhostname]\n"
        "  -w secs    fixed delay per message   (-w, -R: fractions allowed)\n"
        "mailload's options:\n"
        "%s%s"
        "See man %s for the details.\n",
        name.c_str(), cli::source_long_help, cli::mpi_tool ? cli::mpi_help : "",
        cli::mpi_tool ? "smtp-source-mpi" : "qmqp-source");
}

// Postfix's qmqp-source answers every bad number with its usage line.
int positive_or_usage(const char* arg) {
    const long long v = cli::leading_integer(arg);
    if (v <= 0 || v > INT_MAX) usage();
    return static_cast<int>(v);
}

double seconds_or_usage(const char* arg) {
    const double v = cli::leading_seconds(arg);
    if (!(v > 0) || v > 1e8) usage();
    return v;
}

struct settings {
    source_options source;
    cli::source_cli cli;  // the long options both sources take
    std::string family = "inet";
    int verbose = 0;
    bool count = false;
    const char* sender = nullptr;
    const char* recipient = nullptr;
    std::optional<std::string> myhostname;  // -M, checked where it is given (as Postfix does)
    const char* address = nullptr;       // the target (of this rank, in qmqp-source-mpi)
    std::vector<const char*> targets;  // the operands: one, or in qmqp-source-mpi one or more
};

settings parse(int argc, char** argv) {
    settings s;
    auto& o = s.source;
    o.message.length = 1024;
    auto& how = s.cli.how;
    static const std::vector<option> longopts = cli::source_longopts({});
    int ch;
    while ((ch = getopt_long(argc, argv, "+46cC:f:hl:m:M:r:R:s:t:vw:", longopts.data(), nullptr)) != -1) {
        switch (ch) {
        case '4': s.family = "inet4"; break;
        case '6': s.family = "inet6"; break;
        case 'c': s.count = true; break;
        case 'C': o.connect_attempts = static_cast<std::uint32_t>(positive_or_usage(optarg)); break;
        case 'f': s.sender = optarg; break;
        case 'h': help(); cli::exit(0);  // ours, as --help (Postfix's has no -h)
        case 'l': o.message.length = static_cast<std::size_t>(positive_or_usage(optarg)); break;
        case 'm': {
            const long long v = cli::leading_integer(optarg);
            if (v <= 0) usage();
            o.messages = static_cast<std::uint64_t>(v);
            s.cli.messages_given = true;
            break;
        }
        case 'M': s.myhostname = cli::myhostname(optarg); break;
        case 'r': o.client.rcpt_count = static_cast<std::uint32_t>(positive_or_usage(optarg)); break;
        case 'R':
            if (how.pacing == "fixed") usage();
            how.pace = seconds_or_usage(optarg);
            how.pacing = "random";
            break;
        case 's': o.sessions = static_cast<std::uint32_t>(positive_or_usage(optarg)); break;
        case 't': s.recipient = optarg; break;
        case 'v': ++s.verbose; break;
        case 'w':
            if (how.pacing == "random") usage();
            how.pace = seconds_or_usage(optarg);
            how.pacing = "fixed";
            break;
        case cli::opt_help: help(); cli::exit(0);
        default:
            if (!cli::source_long_option(ch, optarg, o, s.cli)) usage();
        }
    }
    cli::finish_source_options(o, s.cli);
    cli::take_targets(argc, argv, optind, s.targets, usage);
    s.address = s.targets[0];
    return s;
}

/// Prints what Postfix's qmqp-source prints: the -c counter, -v replies (and -v -v traces).
struct cli_observer {
    int verbose = 0;
    bool count = false;
    const sansio::qmqp_request* request = nullptr;
    cli::counter counter;

    void on_event(const sansio::client_event& e) {
        switch (e.kind) {
        case sansio::client_event::message_sent:
            if (verbose > 1) {  // Postfix's netstring_put_multi() trace
                const auto& parts = request->parts();
                cli::info("netstring_put_multi: write total length " +
                          std::to_string(parts[0].size() + parts[1].size() + parts[2].size()));
                for (auto part : parts)
                    cli::info("netstring_put_multi: write netstring len " + std::to_string(part.size()) + " data " +
                              std::string(part.substr(0, 30)));
            }
            break;
        case sansio::client_event::reply:
            if (verbose > 1) {
                cli::info("netstring_get_length: read netstring length " + std::to_string(e.text.size()));
                cli::info("netstring_get_data: read netstring data " + std::string(e.text));
            }
            if (verbose) {
                std::printf("<< %s\n", cli::printable(e.text).c_str());
                std::fflush(stdout);
            }
            break;
        case sansio::client_event::accepted:
            if (count) cli::count_up(counter);
            break;
        default: break;
        }
    }

    void on_connect_retry(boost::system::error_code ec) { cli::warning("connect: " + ec.message()); }

    template <class Socket>
    void on_connected(Socket& socket) {
        if (verbose) cli::log_tcp_tweak(socket);
    }
};

}  // namespace

// tests/fuzz/options_*.cpp take parse() alone (the dispatch below is most of the compile time);
// qmqp-source-mpi takes all but main().
#ifndef MAILLOAD_OPTIONS_ONLY
namespace {

/// After parse(): what the settings imply; fatal on a target that is no address (every one:
/// qmqp-source-mpi takes several).
void configure(settings& s) {
    source_options& o = s.source;
    if (s.verbose) cli::info(std::string("name_mask: ") + cli::name_mask(s.family));
    for (const char* target : s.targets)
        if (const auto spec = sansio::parse_client_endpoint(target, qmqp::default_port); !spec) cli::fatal(spec.error);
    if (!s.myhostname) s.myhostname = cli::myhostname(nullptr);
    const std::string fallback = "foo@" + *s.myhostname;
    o.client.sender = s.sender ? s.sender : fallback;
    o.client.recipient = s.recipient ? s.recipient : fallback;
    o.message.myhostname = *s.myhostname;
    o.message.date = sansio::mail_date(std::time(nullptr), s.cli.compat39);
    o.message.pid = static_cast<std::uint32_t>(::getpid());
}

/// Runs the source against s.address, printing what Postfix's prints on the way (-c -v).
source_report run(const settings& s) {
    std::optional<sansio::qmqp_request> request;  // -v -v traces: the same bytes the source sends
    if (s.verbose > 1) request.emplace(s.source.client, s.source.message);
    cli_observer observer{s.verbose, s.count, request ? &*request : nullptr, {}};
    const auto report = cli::run_source(hana::tuple_t<qmqp>, "qmqp", s.family, s.cli.how, s.source, s.address, observer);
    if (s.count && !report.error) std::fputc('\n', stdout);  // a fatal exit leaves the line open
    return report;
}

}  // namespace

#ifndef MAILLOAD_MPI_TOOL
int main(int argc, char** argv) { return cli::source_main(argc, argv, "qmqp-source", parse, configure, run); }
#endif
#endif

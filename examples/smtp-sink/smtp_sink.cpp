// SPDX-License-Identifier: BSL-1.0
// smtp-sink — a drop-in replacement for Postfix's smtp-sink(1), built on mailload
//
// Same options, greeting, replies, dump files, counter output, diagnostics and exit status as
// Postfix's, less its bugs (spec §8 items 12-23): see README.md.

#include <common/cli.hpp>
#include <common/report.hpp>
#include <common/run.hpp>

#include <mailload/mailload.hpp>
#include <mailload/tls/openssl.hpp>

#include <getopt.h>
#include <libgen.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>

namespace {

namespace hana = boost::hana;
using namespace mailload;
using sansio::smtp_command;

[[noreturn]] void usage() {
    cli::fatal("usage: " + cli::program +
               " [-468acCeEFLpPv] [-A abort_delay] [-b soft_bounce_reply] [-B hard_bounce_reply] [-d dump-template] "
               "[-D dump-template] [-f commands] [-h hostname] [-m max_concurrency] [-M message_quit_count] "
               "[-n quit_count] [-q commands] [-r commands] [-R root-dir] [-s commands] [-S start-string] "
               "[-u user_privs] [-w delay] [host]:port backlog");
}

/// --help: every option, one screen (80 x 24); the manual page has the rest.
void help() {
    const std::string name = cli::program_name();
    std::printf(
        "usage: %s [options] [inet:][host]:port|unix:pathname backlog\n"
        "Postfix's options [default]:\n"
        "  -8 -a -C -E -F -N -p  omit 8BITMIME AUTH XCLIENT ENHANCEDSTATUSCODES XFORWARD\n"
        "                        DSN PIPELINING from EHLO (-C, -F: also the commands)\n"
        "  -4, -6      IPv4 only, IPv6 only     -A secs      after 354: wait, 550, close\n"
        "  -b reply    4xx error reply text     -B reply     5xx error reply text\n"
        "  -c          counters on stdout       -d template  a dump file per transaction\n"
        "  -D template append dumps to a file   -e           no ESMTP: HELO only\n"
        "  -f, -r cmds hard, soft error reply   -q, -Q cmds  drop, or 421 and close\n"
        "  -s cmds     syslog these commands    -h name      host name [smtp-sink]\n"
        "  -H secs     pause reading after 354  -L           speak LMTP\n"
        "  -m count    sessions at once [256]   -n count     exit after count sessions\n"
        "  -M count    exit after count mails   -P           PIX greeting (implies -e)\n"
        "  -R dir      chroot to dir            -S text      text at the start of dumps\n"
        "  -t secs     I/O time limit [100]     -T size      TCP window size\n"
        "  -u user     drop privileges to user  -v           verbose\n"
        "  -w secs     delay the DATA reply     -W cmd:s[:o] delay replies to cmd\n"
        "  cmds: connect helo ehlo lhlo xclient xforward auth mail rcpt data . rset noop\n"
        "        vrfy quit bdat starttls (commas, spaces); delays: seconds, fractions ok\n"
        "mailload's options:\n"
        "  --compat=3.9 --session-limit=SECS --report=text|json --help --version\n"
        "  ESMTP: --chunking --smtputf8 --max-size=N    AUTH: --auth-user=USER:PASSWORD\n"
        "  TLS:   --starttls --tls-on-connect --tls-cert=FILE --tls-key=FILE\n"
        "See man smtp-sink for the details.\n",
        name.c_str());
}

sansio::command_set command_list(const char* arg) {
    sansio::command_set set;
    std::string_view rest = arg;
    while (!rest.empty()) {
        const auto b = rest.find_first_not_of(", \t\r\n");
        if (b == std::string_view::npos) break;
        rest.remove_prefix(b);
        const auto e = rest.find_first_of(", \t\r\n");
        const auto name = rest.substr(0, e);
        const auto cmd = sansio::find_smtp_command(name);
        if (!cmd) cli::fatal("unknown command: " + std::string(name));
        set.add(*cmd);
        rest.remove_prefix(e == std::string_view::npos ? rest.size() : e);
    }
    return set;
}

// -b/-B: starts with the class digit, then exactly three digits in all.
void check_reply(const char* arg, char cls, const char* what) {
    const std::string_view r = arg;
    const bool ok = r.size() >= 3 && r[0] == cls && std::isdigit(static_cast<unsigned char>(r[1])) &&
                    std::isdigit(static_cast<unsigned char>(r[2])) &&
                    (r.size() == 3 || !std::isdigit(static_cast<unsigned char>(r[3])));
    if (!ok) {
        cli::say("error", std::string("bad ") + what + " error reply: " + arg);
        usage();
    }
}

// -W cmd:delay[:odds]
void command_delay(const char* arg, sansio::server_config& cfg) {
    const std::string_view a = arg;
    const auto c1 = a.find(':');
    if (c1 == std::string_view::npos) cli::fatal(std::string("invalid command delay argument: ") + arg);
    const std::string name(a.substr(0, c1));
    const auto cmd = sansio::find_smtp_command(name);
    if (!cmd) cli::fatal("unknown command: " + name);
    const std::string rest(a.substr(c1 + 1));
    const auto c2 = rest.find(':');
    const std::string delay = rest.substr(0, c2);
    if (delay.empty()) cli::fatal(std::string("invalid command delay argument: ") + arg);
    const double d = cli::leading_seconds(delay.c_str());
    if (!(d > 0) || d > 1e8) cli::fatal("non-positive '" + name + "' delay");
    sansio::command_delay cd{cli::seconds(d), 0};
    if (c2 != std::string::npos) {
        const long long odds = cli::leading_integer(rest.c_str() + c2 + 1);
        if (odds < 0 || odds > 99) cli::fatal("delay odds for '" + name + "' out of range");
        cd.odds = static_cast<int>(odds);
    }
    cfg.delays[static_cast<std::size_t>(*cmd)] = cd;
}

// -S: C escapes \a \b \f \n \r \t \v \\ and \ooo; any other \x is x; a trailing \ is dropped.
std::string unescape(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '\\') {
            out += s[i];
            continue;
        }
        if (++i == s.size()) break;
        const char c = s[i];
        if (c >= '0' && c <= '7') {
            int v = 0, n = 0;
            while (n < 3 && i < s.size() && s[i] >= '0' && s[i] <= '7') v = v * 8 + (s[i++] - '0'), ++n;
            --i;
            out += static_cast<char>(v);
            continue;
        }
        switch (c) {
        case 'a': out += '\a'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'v': out += '\v'; break;
        default: out += c;
        }
    }
    return out;
}

struct settings {
    sink_options sink;
    std::string protocol = "smtp";
    std::string family = "inet";
    bool count = false;
    bool verbose = false;
    bool compat39 = false;
    bool syslog = false;
    const char* dump_d = nullptr;
    const char* dump_D = nullptr;
    std::string start;
    const char* user = nullptr;
    const char* root = nullptr;
    const char* address = nullptr;
    std::string report;  ///< --report: "", "text" or "json"
};

/// --auth-user=USER:PASSWORD (the user name ends at the first colon).
std::pair<std::string, std::string> user_and_password(const char* arg) {
    const std::string_view a = arg;
    const auto colon = a.find(':');
    if (colon == std::string_view::npos || colon == 0) cli::fatal(std::string("bad --auth-user, not USER:PASSWORD: ") + arg);
    return {std::string(a.substr(0, colon)), std::string(a.substr(colon + 1))};
}

settings parse(int argc, char** argv) {
    settings s;
    auto& o = s.sink;
    auto& cfg = o.server;
    enum {
        opt_compat = 256, opt_session_limit, opt_report, opt_help, opt_version, opt_chunking, opt_smtputf8, opt_max_size,
        opt_starttls, opt_tls_on_connect, opt_tls_cert, opt_tls_key, opt_auth_user
    };
    static const option longopts[] = {
        {"compat", required_argument, nullptr, opt_compat},
        {"session-limit", required_argument, nullptr, opt_session_limit},
        {"report", required_argument, nullptr, opt_report},
        {"help", no_argument, nullptr, opt_help},
        {"version", no_argument, nullptr, opt_version},
        {"chunking", no_argument, nullptr, opt_chunking},
        {"smtputf8", no_argument, nullptr, opt_smtputf8},
        {"max-size", required_argument, nullptr, opt_max_size},
        {"starttls", no_argument, nullptr, opt_starttls},
        {"tls-on-connect", no_argument, nullptr, opt_tls_on_connect},
        {"tls-cert", required_argument, nullptr, opt_tls_cert},
        {"tls-key", required_argument, nullptr, opt_tls_key},
        {"auth-user", required_argument, nullptr, opt_auth_user},
        {nullptr, 0, nullptr, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "+468aA:b:B:cCd:D:eEf:Fh:H:Lm:M:n:NpPq:Q:r:R:s:S:t:T:u:vw:W:", longopts,
                             nullptr)) != -1) {
        switch (ch) {
        case '4': s.family = "inet4"; break;
        case '6': s.family = "inet6"; break;
        case '8': cfg.eightbitmime = false; break;
        case 'a': cfg.auth = false; break;
        case 'A':
            if (!cli::is_decimal(optarg) || cli::leading_seconds(optarg) > 1e8) usage();
            cfg.abort_delay = cli::seconds(cli::leading_seconds(optarg));
            break;
        case 'b':
            check_reply(optarg, '4', "soft");
            cfg.soft_reply = optarg;
            break;
        case 'B':
            check_reply(optarg, '5', "hard");
            cfg.hard_reply = optarg;
            break;
        case 'c': s.count = true; break;
        case 'C': cfg.xclient = false; break;
        case 'd': s.dump_d = optarg; break;
        case 'D': s.dump_D = optarg; break;
        case 'e': cfg.esmtp = false; break;
        case 'E': cfg.enhanced_status_codes = false; break;
        case 'f':
            cfg.hard = command_list(optarg);
            cfg.pipelining = false;
            break;
        case 'F': cfg.xforward = false; break;
        case 'h': cfg.hostname = optarg; break;
        case 'H': cfg.data_pause = cli::seconds(cli::positive_seconds(optarg, "data read delay")); break;
        case 'L': s.protocol = "lmtp"; break;
        case 'm': o.max_sessions = static_cast<std::uint32_t>(cli::positive(optarg, "concurrency limit")); break;
        case 'M': o.stop_after_messages = static_cast<std::uint64_t>(cli::positive(optarg, "message quit count")); break;
        case 'n': o.stop_after_sessions = static_cast<std::uint64_t>(cli::positive(optarg, "quit count")); break;
        case 'N': cfg.dsn = false; break;
        case 'p': cfg.pipelining = false; break;
        case 'P':
            cfg.pix = true;
            cfg.esmtp = false;
            break;
        case 'q': cfg.drop = command_list(optarg); break;
        case 'Q': cfg.close = command_list(optarg); break;
        case 'r':
            cfg.soft = command_list(optarg);
            cfg.pipelining = false;
            break;
        case 'R': s.root = optarg; break;
        case 's':
            cfg.log = command_list(optarg);
            s.syslog = true;
            break;
        case 'S':
            s.start = unescape(optarg);
            s.start.resize(std::strlen(s.start.c_str()));  // a C string, as Postfix's: ends at a NUL
            break;
        case 't': o.timeout = cli::seconds(cli::positive_seconds(optarg, "timeout")); break;
        case 'T': o.window_size = cli::positive(optarg, "TCP window size"); break;
        case 'u': s.user = optarg; break;
        case 'v': s.verbose = true; break;
        case 'w': {
            const double d = cli::leading_seconds(optarg);
            if (!(d > 0) || d > 1e8) usage();
            cfg.delays[static_cast<std::size_t>(smtp_command::data)] = sansio::command_delay{cli::seconds(d), 0};
            break;
        }
        case 'W': command_delay(optarg, cfg); break;
        case opt_compat: s.compat39 = cli::compat39(optarg); break;
        case opt_session_limit: o.session_limit = cli::seconds(cli::positive_seconds(optarg, "session limit")); break;
        case opt_report: s.report = cli::report_format(optarg); break;
        case opt_help: help(); cli::exit(0);
        case opt_version: cli::version();
        case opt_chunking: cfg.chunking = true; break;
        case opt_smtputf8: cfg.smtputf8 = true; break;
        case opt_max_size: {
            const long long v = cli::leading_integer(optarg);
            if (v <= 0) cli::fatal(std::string("bad message size limit: ") + optarg);
            cfg.size_limit = static_cast<std::uint64_t>(v);
            break;
        }
        case opt_starttls: cfg.starttls = true; break;
        case opt_tls_on_connect: cfg.tls_on_connect = true; break;
        case opt_tls_cert: o.tls.cert_file = optarg; break;
        case opt_tls_key: o.tls.key_file = optarg; break;
        case opt_auth_user: cfg.users.push_back(user_and_password(optarg)); break;
        default: usage();
        }
    }
    if (cfg.starttls && cfg.tls_on_connect) cli::fatal("do not use --starttls and --tls-on-connect at the same time");
    if ((!o.tls.cert_file.empty() || !o.tls.key_file.empty()) && !cfg.starttls && !cfg.tls_on_connect)
        cli::fatal("--tls-cert and --tls-key need --starttls or --tls-on-connect");
    if (!o.tls.key_file.empty() && o.tls.cert_file.empty()) cli::fatal("--tls-key needs --tls-cert");
    if (!cfg.users.empty() && !cfg.auth) cli::fatal("-a (no AUTH) cannot be used with --auth-user");
    if (argc - optind != 2) usage();
    s.address = argv[optind];
    const long long backlog = cli::leading_integer(argv[optind + 1]);
    if (backlog <= 0 || backlog > INT_MAX) usage();
    o.backlog = static_cast<int>(backlog);
    if (s.dump_d && s.dump_D) cli::fatal("use only one of -d or -D, but not both");
    if (s.dump_d || s.dump_D)
        o.dump = dump_options{s.dump_d ? s.dump_d : s.dump_D, s.dump_D != nullptr, s.start, s.compat39};
    cfg.trace = s.verbose;
    o.stop_signals = {SIGTERM, SIGINT};
    return s;
}

/// Prints what Postfix's smtp-sink prints: -v lines, warnings, the -c counters; -s to syslog.
struct cli_observer {
    const sink_counters* counters = nullptr;
    bool verbose = false;
    bool count = false;
    std::chrono::steady_clock::duration timeout{};

    void print_counters() const {
        if (!count) return;
        std::printf("sess=%llu quit=%llu mesg=%llu\r", static_cast<unsigned long long>(counters->sessions),
                    static_cast<unsigned long long>(counters->quits),
                    static_cast<unsigned long long>(counters->messages));
        std::fflush(stdout);
    }

    template <class Socket>
    void on_connect(const session_info& info, Socket& socket) {
        if (!verbose) return;
        const char* fam = info.family == session_info::local ? "AF_LOCAL" : info.family == session_info::inet6 ? "AF_INET6" : "AF_INET";
        cli::info(std::string("connect (") + fam + " " + info.peer + ")");
        cli::log_tcp_tweak(socket);
        cli::info("smtp_stream_setup: maxtime=" +
                  std::to_string(std::chrono::duration_cast<std::chrono::seconds>(timeout).count()) +
                  " enable_deadline=0 min_data_rate=0");
    }

    void on_event(const session_info&, const sansio::server_event& e) {
        switch (e.kind) {
        case sansio::server_event::command: cli::info(e.text); break;
        case sansio::server_event::syslog:
            ::syslog(LOG_INFO, "%s %.100s", std::string(e.text).c_str(), cli::printable(e.args).c_str());
            break;
        case sansio::server_event::line_too_long: cli::warning("command line too long"); break;
        case sansio::server_event::message: print_counters(); break;
        default: break;
        }
    }

    // Postfix's smtp_stream says, with -v, why a write failed before the warning.
    void on_disconnect(const session_info&, boost::system::error_code ec, const sansio::smtp_server& session) {
        const bool writing = session.failed_while_writing();
        if (verbose && ec && writing) cli::info(ec == error::timeout ? "smtp_vprintf: timeout" : "smtp_vprintf: EOF");
        if (ec == error::timeout) cli::warning(writing ? "write timeout" : "read timeout");
        else if (ec && writing) cli::warning("lost connection");
        else if (verbose && !session.hung_up()) cli::info("disconnect");
        print_counters();
    }
};

}  // namespace

// tests/fuzz/options_*.cpp take parse() alone (the dispatch below is most of the compile time).
#ifndef MAILLOAD_OPTIONS_ONLY
int main(int argc, char** argv) {
    cli::start(argv);
    settings s = parse(argc, argv);
    if (s.verbose) cli::info(std::string("name_mask: ") + cli::name_mask(s.family));
    if (s.syslog) {
        std::string name = cli::program;
        ::openlog(::strdup(::basename(name.data())), LOG_PID, LOG_MAIL);
    }
    const auto report = cli::run_sink<openssl_tls>(hana::tuple_t<smtp, lmtp>, s.protocol, s.family, s.sink, s.address, s.verbose,
                                      s.user, s.root, [&](const sink_counters& counters) {
                                          return cli_observer{&counters, s.verbose, s.count, s.sink.timeout};
                                      });
    cli::end_sink("smtp-sink", s.report, s.count, report);
    return 0;
}
#endif

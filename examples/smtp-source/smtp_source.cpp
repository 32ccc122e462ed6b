// SPDX-License-Identifier: BSL-1.0
// smtp-source — a drop-in replacement for Postfix's smtp-source(1), built on mailload
//
// Same options, defaults, wire bytes, counter output, diagnostics and exit status as Postfix's
// (the seed manual: Postfix <= 3.8 recipient numbering). Long options add what Postfix lacks.

#include <common/cli.hpp>
#include <common/report.hpp>
#include <common/run.hpp>

#include <mailload/mailload.hpp>
#include <mailload/tls/openssl.hpp>

#include <fcntl.h>
#include <getopt.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
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
               " -cdLNov -s sess -l msglen -m msgs -C count -M myhostname -f from -t to -r rcptcount -R delay "
               "-w delay host[:port]");
}

/// --help: every option, one screen (80 x 24); the manual page has the rest.
void help() {
    const std::string name = cli::program_name();
    std::printf(
        "usage: %s [options] [inet:]host[:port] | unix:pathname\n"
        "Postfix's options [default]:\n"
        "  -4, -6     IPv4 only, IPv6 only      -A         on a bad reply, warn, go on\n"
        "  -c         count messages sent       -C count   connect attempts [1]\n"
        "  -d         keep the connection       -f from    sender [foo@myhostname]\n"
        "  -F file    send file as the message  -l length  body bytes [4-line body]\n"
        "  -L         speak LMTP                -m count   messages in all [1]\n"
        "  -M name    HELO name [hostname]      -N         number the recipients\n"
        "  -o         no HELO, no headers       -r count   recipients per message [1]\n"
        "  -R secs    random delay 0..secs      -s count   sessions in parallel [1]\n"
        "  -S subject add a Subject: header     -t to      recipient [foo@myhostname]\n"
        "  -T size    TCP window size           -v         verbose: dialog on stderr\n"
        "  -w secs    fixed delay per message   (-w, -R: fractions allowed)\n"
        "mailload's options:\n"
        "  runs:  --threads=N --thread-per-session --connect-limit=N --timeout=SECS\n"
        "         --rate=R --duration=SECS --progress --report=text|json --compat=3.9\n"
        "  ESMTP: --ehlo --pipelining --chunking --chunk-size=N --binarymime --size\n"
        "         --8bitmime --smtputf8 (each implies --ehlo)\n"
        "  TLS:   --starttls --tls-on-connect --tls-verify --tls-ca-file=F\n"
        "         --tls-servername=N\n"
        "  AUTH:  --auth-user=U --auth-password=P --auth-mech=PLAIN|LOGIN\n"
        "  -h, --help  this help                --version  print the version\n"
        "%s"
        "See man %s for the details.\n",
        name.c_str(), cli::mpi_tool ? cli::mpi_help : "", cli::mpi_tool ? "smtp-source-mpi" : "smtp-source");
}

struct settings {
    source_options source;
    cli::source_cli cli;  // the long options both sources take
    std::string protocol = "smtp";
    std::string family = "inet";
    bool count = false;
    bool verbose = false;
    bool numbered = false;  // -N
    bool rcpt_given = false;
    bool send_headers = true;
    const char* file = nullptr;
    const char* sender = nullptr;
    const char* recipient = nullptr;
    std::optional<std::string> myhostname;  // -M, checked where it is given (as Postfix does)
    const char* address = nullptr;       // the target (of this rank, in smtp-source-mpi)
    std::vector<const char*> targets;  // the operands: one, or in smtp-source-mpi one or more
    bool tls_option = false;  // --tls-verify, --tls-ca-file or --tls-servername given
};

/// The -F file, whole; Postfix's diagnostics when it cannot be opened or read (a directory).
std::string read_file(const char* path) {
    const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) cli::fatal(std::string("open ") + path + ": " + std::strerror(errno));
    std::string content;
    char buf[65536];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n == 0) break;
        if (n < 0) {
            if (errno == EINTR) continue;
            cli::fatal(std::string("read ") + path + ": " + std::strerror(errno));
        }
        content.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return content;
}

settings parse(int argc, char** argv) {
    settings s;
    enum {
        opt_pipelining = cli::opt_own, opt_ehlo, opt_starttls, opt_tls_on_connect, opt_tls_verify, opt_tls_ca_file,
        opt_tls_servername, opt_chunking, opt_chunk_size, opt_binarymime, opt_8bitmime, opt_smtputf8, opt_size,
        opt_auth_user, opt_auth_password, opt_auth_mech
    };
    static const std::vector<option> longopts = cli::source_longopts({
        {"pipelining", no_argument, nullptr, opt_pipelining},
        {"ehlo", no_argument, nullptr, opt_ehlo},
        {"starttls", no_argument, nullptr, opt_starttls},
        {"tls-on-connect", no_argument, nullptr, opt_tls_on_connect},
        {"tls-verify", no_argument, nullptr, opt_tls_verify},
        {"tls-ca-file", required_argument, nullptr, opt_tls_ca_file},
        {"tls-servername", required_argument, nullptr, opt_tls_servername},
        {"chunking", no_argument, nullptr, opt_chunking},
        {"chunk-size", required_argument, nullptr, opt_chunk_size},
        {"binarymime", no_argument, nullptr, opt_binarymime},
        {"8bitmime", no_argument, nullptr, opt_8bitmime},
        {"smtputf8", no_argument, nullptr, opt_smtputf8},
        {"size", no_argument, nullptr, opt_size},
        {"auth-user", required_argument, nullptr, opt_auth_user},
        {"auth-password", required_argument, nullptr, opt_auth_password},
        {"auth-mech", required_argument, nullptr, opt_auth_mech},
    });
    auto& o = s.source;
    auto& how = s.cli.how;
    auto& c = o.client;
    bool auth_user = false, auth_password = false;
    int ch;
    while ((ch = getopt_long(argc, argv, "+46AcC:df:F:hl:Lm:M:Nor:R:s:S:t:T:vw:", longopts.data(), nullptr)) != -1) {
        switch (ch) {
        case '4': s.family = "inet4"; break;
        case '6': s.family = "inet6"; break;
        case 'A': o.client.ignore_rejects = true; break;
        case 'c': s.count = true; break;
        case 'C': o.connect_attempts = static_cast<std::uint32_t>(cli::positive(optarg, "connection count")); break;
        case 'd': o.client.keep_alive = true; break;
        case 'f': s.sender = optarg; break;
        case 'F':
            if (o.message.length > 0) cli::fatal("-l option cannot be used with -F");
            s.file = optarg;
            break;
        case 'h': help(); cli::exit(0);  // ours, as --help (Postfix's has no -h)
        case 'l':
            if (s.file) cli::fatal("-l option cannot be used with -F");
            o.message.length = static_cast<std::size_t>(cli::positive(optarg, "message length"));
            break;
        case 'L': s.protocol = "lmtp"; break;
        case 'm': {
            const long long v = cli::leading_integer(optarg);
            if (v <= 0) cli::fatal(std::string("bad message count: ") + optarg);
            o.messages = static_cast<std::uint64_t>(v);
            s.cli.messages_given = true;
            break;
        }
        case 'M': s.myhostname = cli::myhostname(optarg); break;
        case 'N': s.numbered = true; break;
        case 'o':
            o.client.send_helo = false;
            s.send_headers = false;
            break;
        case 'r':
            o.client.rcpt_count = static_cast<std::uint32_t>(cli::positive(optarg, "recipient count"));
            s.rcpt_given = true;
            break;
        case 'R':
            if (how.pacing == "fixed") cli::fatal("do not use -w and -R options at the same time");
            how.pace = cli::positive_seconds(optarg, "random delay");
            how.pacing = "random";
            break;
        case 's': o.sessions = static_cast<std::uint32_t>(cli::positive(optarg, "session count")); break;
        case 'S': o.message.subject = optarg; break;
        case 't': s.recipient = optarg; break;
        case 'T': o.window_size = cli::positive(optarg, "TCP window size"); break;
        case 'v': s.verbose = true; break;
        case 'w':
            if (how.pacing == "random") cli::fatal("do not use -w and -R options at the same time");
            how.pace = cli::positive_seconds(optarg, "fixed delay");
            how.pacing = "fixed";
            break;
        case opt_pipelining: c.pipelining = true; break;
        case opt_ehlo: c.ehlo = true; break;
        case opt_starttls: c.starttls = true; break;
        case opt_tls_on_connect: c.tls_on_connect = true; break;
        case opt_tls_verify: o.tls.verify = s.tls_option = true; break;
        case opt_tls_ca_file:
            o.tls.ca_file = optarg;
            o.tls.verify = s.tls_option = true;
            break;
        case opt_tls_servername:
            o.tls.server_name = optarg;
            s.tls_option = true;
            break;
        case opt_chunking: c.chunking = true; break;
        case opt_chunk_size:
            c.chunk_size = static_cast<std::size_t>(cli::positive(optarg, "chunk size"));
            c.chunking = true;
            break;
        case opt_binarymime: c.binarymime = c.chunking = true; break;
        case opt_8bitmime: c.eightbitmime = true; break;
        case opt_smtputf8: c.smtputf8 = true; break;
        case opt_size: c.size = true; break;
        case opt_auth_user:
            c.auth_user = optarg;
            auth_user = true;
            break;
        case opt_auth_password:
            c.auth_password = optarg;
            auth_password = true;
            break;
        case opt_auth_mech: {
            const std::string_view m = optarg;
            c.auth = m == "PLAIN" || m == "plain"   ? sansio::auth_mechanism::plain
                     : m == "LOGIN" || m == "login" ? sansio::auth_mechanism::login
                                                    : sansio::auth_mechanism::none;
            if (c.auth == sansio::auth_mechanism::none) cli::fatal(std::string("bad AUTH mechanism: ") + optarg);
            break;
        }
        case cli::opt_help: help(); cli::exit(0);
        default:
            if (!cli::source_long_option(ch, optarg, o, s.cli)) usage();
        }
    }
    cli::finish_source_options(o, s.cli);
    if (auth_user != auth_password) cli::fatal("--auth-user and --auth-password go together");
    if (auth_user && c.auth == sansio::auth_mechanism::none) c.auth = sansio::auth_mechanism::any;
    if (!auth_user && c.auth != sansio::auth_mechanism::none) cli::fatal("--auth-mech needs --auth-user");
    if (c.starttls && c.tls_on_connect) cli::fatal("do not use --starttls and --tls-on-connect at the same time");
    if (s.tls_option && !c.starttls && !c.tls_on_connect)
        cli::fatal("--tls-verify, --tls-ca-file and --tls-servername need --starttls or --tls-on-connect");
    sansio::client_config needs_ehlo = c;  // -o sends no HELO: --pipelining never applies, as before;
    needs_ehlo.pipelining = false;         // the other ESMTP options cannot go without EHLO
    if (!c.send_helo && needs_ehlo.esmtp()) cli::fatal("-o (no HELO) cannot be used with the ESMTP options");
    cli::take_targets(argc, argv, optind, s.targets, usage);
    s.address = s.targets[0];
    if (s.file) s.source.message.file_content = read_file(s.file);  // before the address, as Postfix
    return s;
}

/// Prints what Postfix's smtp-source prints: -v lines, -A warnings, the -c counter.
struct cli_observer {
    bool verbose = false;
    bool count = false;
    bool lmtp = false;
    cli::counter counter;

    std::chrono::steady_clock::duration timeout{};

    void on_event(const sansio::client_event& e) {
        switch (e.kind) {
        case sansio::client_event::sent:  // a pipelined batch is several lines
            for (std::string_view rest = e.text;;) {
                const auto crlf = rest.find("\r\n");
                cli::info(rest.substr(0, crlf));
                if (crlf == std::string_view::npos) break;
                rest.remove_prefix(crlf + 2);
            }
            break;
        case sansio::client_event::reply:
            if (!verbose) break;  // every reply is an event (the report times them); -v shows them
            for (std::string_view rest = e.text;;) {
                const auto nl = rest.find('\n');
                cli::info("<<< " + std::string(rest.substr(0, nl)));
                if (nl == std::string_view::npos) break;
                rest.remove_prefix(nl + 1);
            }
            break;
        case sansio::client_event::message_sent:
            if (count) cli::count_up(counter);
            break;
        case sansio::client_event::accepted: break;
        case sansio::client_event::not_announced:
            cli::warning("server does not announce " + std::string(e.text) + ": going on without it");
            break;
        case sansio::client_event::secured:
            if (verbose) cli::info("TLS connection established");
            break;
        case sansio::client_event::rejected:
            cli::warning(std::string(sansio::rejection_name(e.stage, lmtp)) + ": " + std::to_string(e.code) + " " +
                         std::string(e.text));
            break;
        }
    }

    void on_connect_retry(boost::system::error_code ec) { cli::warning("connect: " + ec.message()); }

    template <class Socket>
    void on_connected(Socket& socket) {
        if (!verbose) return;
        const auto maxtime = std::chrono::ceil<std::chrono::seconds>(timeout).count();
        cli::info("smtp_stream_setup: maxtime=" + std::to_string(maxtime) + " enable_deadline=0 min_data_rate=0");
        cli::log_tcp_tweak(socket);
    }
};

}  // namespace

// tests/fuzz/options_*.cpp take parse() alone (the dispatch below is most of the compile time);
// smtp-source-mpi takes all but main().
#ifndef MAILLOAD_OPTIONS_ONLY
namespace {

/// After parse(): what the settings imply (names, numbering, content); fatal on a target that
/// is no address (every one: smtp-source-mpi takes several).
void configure(settings& s) {
    source_options& o = s.source;
    if (s.verbose) cli::info(std::string("name_mask: ") + cli::name_mask(s.family));
    for (const char* target : s.targets)
        if (const auto spec = sansio::parse_client_endpoint(target, "smtp"); !spec) cli::fatal(spec.error);

    const std::string myhostname = s.myhostname ? *s.myhostname : cli::myhostname(nullptr);
    const std::string fallback = "foo@" + myhostname;
    o.client.helo_name = myhostname;
    o.client.sender = s.sender ? s.sender : fallback;
    o.client.recipient = s.recipient ? s.recipient : fallback;
    o.client.trace = s.verbose;
    if (s.cli.compat39)
        o.client.numbering = (s.numbered || s.rcpt_given) ? sansio::rcpt_numbering::append_sequence
                                                          : sansio::rcpt_numbering::off;
    else if (s.numbered)
        o.client.numbering = sansio::rcpt_numbering::prepend_sequence;
    else if (o.client.rcpt_count > 1)
        o.client.numbering = sansio::rcpt_numbering::prepend_countdown;

    o.message.sender = o.client.sender;
    o.message.myhostname = myhostname;
    o.message.headers = s.send_headers && !s.file;
    o.message.date = sansio::mail_date(std::time(nullptr), s.cli.compat39);
    o.message.pid = static_cast<std::uint32_t>(::getpid());
}

/// Runs the source against s.address, printing what Postfix's prints on the way (-c -v -A).
source_report run(const settings& s) {
    cli_observer observer{s.verbose, s.count, s.protocol == "lmtp", {}, s.source.timeout};
    const auto report = cli::run_source<openssl_tls>(hana::tuple_t<smtp, lmtp>, s.protocol, s.family, s.cli.how,
                                                     s.source, s.address, observer);
    if (s.count && !report.error) std::fputc('\n', stdout);  // a fatal exit leaves the line open
    return report;
}

}  // namespace

#ifndef MAILLOAD_MPI_TOOL
int main(int argc, char** argv) { return cli::source_main(argc, argv, "smtp-source", parse, configure, run); }
#endif
#endif

// SPDX-License-Identifier: BSL-1.0
// tests/fuzz/options_smtp_sink.cpp — smtp-sink's option parser, parse() of
// examples/smtp-sink/smtp_sink.cpp (issue 6)
//
// Input: the arguments after argv[0] ("smtp-sink"), separated by NUL bytes (options_support.hpp).
// Checks (a model of getopt_long says which options the line holds, options_support.hpp):
//  - an exit has status 0 only after --help or --version (-h is the host name), and 1
//    otherwise; a help or version option after never-failing options only does exit 0;
//  - a line of never-failing options, an address and a backlog of 1..INT_MAX is taken, unless
//    it has both -d and -D;
//  - a parse that returns: no option error, no help or version; exactly two operands, the
//    address the first, the backlog atoi() of the second, 1..INT_MAX; -d and -D not both, a
//    dump iff one of them, with its template, -S text without a NUL; -m, -M, -n, -T >= 1;
//    -t, -H, --session-limit > 0; -A a decimal, 0..1e8 s; -w/-W delays > 0, odds 0..99; -b and -B
//    replies start with 4 and 5 and have a three-digit code; command sets only with their
//    option; PIPELINING off with -p, -f or -r; ESMTP off with -e or -P; the other EHLO flags,
//    -h, -u, -R, -L, -c, -v (= trace), --report, --compat as given; SIGTERM and SIGINT stop it.
// Nothing in parse() listens, chroots, drops privileges or writes a file: -R, -u, -d, -D are
// only kept for main(), which does that after listening.
#define MAILLOAD_CLI_EXIT_THROWS 1

#include <mailload/mailload.hpp>

#include <cctype>
#include <common/cli.hpp>
#include <common/report.hpp>
#include <common/run.hpp>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "options_support.hpp"

#define MAILLOAD_OPTIONS_ONLY 1  // parse() without main()
#include <smtp-sink/smtp_sink.cpp>

namespace {

using fuzz::seen_option;

const std::vector<fuzz::long_opt>& longs()
{
    static const std::vector<fuzz::long_opt> v = {
        {"compat",        true,  fuzz::l_compat       },
        {"session-limit", true,  fuzz::l_session_limit},
        {"report",        true,  fuzz::l_report       },
        {"help",          false, fuzz::l_help         },
        {"version",       false, fuzz::l_version      },
        {"chunking",       false, fuzz::l_chunking      },
        {"smtputf8",       false, fuzz::l_smtputf8      },
        {"max-size",       true,  fuzz::l_max_size      },
        {"starttls",       false, fuzz::l_starttls      },
        {"tls-on-connect", false, fuzz::l_tls_on_connect},
        {"tls-cert",       true,  fuzz::l_tls_cert      },
        {"tls-key",        true,  fuzz::l_tls_key       },
        {"auth-user",      true,  fuzz::l_auth_user     },
    };
    return v;
}

bool asks_exit(const seen_option& o) { return o.code == fuzz::l_help || o.code == fuzz::l_version; }

/// Options smtp-sink takes whatever their argument and whatever came before (-d and -D clash
/// only after the options).
bool never_fails(const seen_option& o)
{
    return o.code < 256 &&
           std::string_view("468acCdDeEFhLNpPRSuv").find(static_cast<char>(o.code)) != std::string_view::npos;
}

/// 1..INT_MAX as atoi() reads it: the backlog.
bool good_backlog(const char* arg)
{
    const long long v = cli::leading_integer(arg);
    return v >= 1 && v <= INT_MAX;
}

/// -b/-B's reply: the class digit, two more digits, no fourth.
bool good_reply(const std::string& r, char cls)
{
    auto digit = [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; };
    return r.size() >= 3 && r[0] == cls && digit(r[1]) && digit(r[2]) && (r.size() == 3 || !digit(r[3]));
}

void check_settings(const fuzz::getopt_model& m, int argc, char** argv, const settings& s)
{
    fuzz::check_returned(m, asks_exit);
    fuzz::check_operands(m, argc, argv, 2, s.address);
    const auto& o = s.sink;
    const auto& cfg = o.server;
    FUZZ_CHECK(good_backlog(argv[argc - 1]) && o.backlog == cli::leading_integer(argv[argc - 1]));

    const seen_option* fam = m.last_of({'4', '6'});
    FUZZ_CHECK(s.family == (!fam ? "inet" : fam->code == '4' ? "inet4" : "inet6"));
    FUZZ_CHECK(s.protocol == (m.has('L') ? "lmtp" : "smtp"));
    FUZZ_CHECK(s.count == m.has('c') && s.verbose == m.has('v') && cfg.trace == s.verbose);
    FUZZ_CHECK(s.syslog == m.has('s'));
    FUZZ_CHECK(s.user == m.arg('u') && s.root == m.arg('R'));
    fuzz::check_report(m, fuzz::l_report, s.report);
    fuzz::check_compat(m, fuzz::l_compat, s.compat39);
    FUZZ_CHECK((o.stop_signals == std::vector<int>{SIGTERM, SIGINT}));

    // dumps
    FUZZ_CHECK(!(m.has('d') && m.has('D')));
    FUZZ_CHECK(s.dump_d == m.arg('d') && s.dump_D == m.arg('D'));
    FUZZ_CHECK(s.start.find('\0') == std::string::npos);
    if (!m.has('S'))
        FUZZ_CHECK(s.start.empty());
    if (const char* t = m.arg('d') ? m.arg('d') : m.arg('D'))
    {
        FUZZ_CHECK(o.dump && o.dump->path_template == t && o.dump->shared == m.has('D'));
        FUZZ_CHECK(o.dump->start == s.start && o.dump->zero_padded_day == s.compat39);
    }
    else
    {
        FUZZ_CHECK(!o.dump);
    }

    // counts and times
    fuzz::check_count(m, 'm', o.max_sessions, std::uint32_t{256});
    fuzz::check_count(m, 'M', o.stop_after_messages, std::uint64_t{0});
    fuzz::check_count(m, 'n', o.stop_after_sessions, std::uint64_t{0});
    fuzz::check_count(m, 'T', o.window_size, 0);
    fuzz::check_seconds(m, 't', o.timeout, std::chrono::seconds(100));
    fuzz::check_seconds(m, 'H', cfg.data_pause, {});
    fuzz::check_seconds(m, fuzz::l_session_limit, o.session_limit, {});
    if (const char* a = m.arg('A'))
        FUZZ_CHECK(
            cli::is_decimal(a) && cli::leading_seconds(a) <= 1e8 && cfg.abort_delay &&
            *cfg.abort_delay == cli::seconds(cli::leading_seconds(a)) && cfg.abort_delay->count() >= 0
        );
    else
        FUZZ_CHECK(!cfg.abort_delay);
    std::size_t delays = 0;
    for (const auto& d : cfg.delays)
        if (d)
        {
            ++delays;
            FUZZ_CHECK(d->delay.count() > 0 && d->odds >= 0 && d->odds <= 99);
        }
    FUZZ_CHECK(delays <= m.count('w') + m.count('W'));

    // replies, EHLO and the command sets
    if (const char* b = m.arg('b'))
        FUZZ_CHECK(cfg.soft_reply == b && good_reply(cfg.soft_reply, '4'));
    if (const char* b = m.arg('B'))
        FUZZ_CHECK(cfg.hard_reply == b && good_reply(cfg.hard_reply, '5'));
    FUZZ_CHECK(cfg.hostname == (m.has('h') ? m.arg('h') : "smtp-sink"));
    FUZZ_CHECK(cfg.pipelining == !(m.has('p') || m.has('f') || m.has('r')));
    FUZZ_CHECK(cfg.esmtp == !(m.has('e') || m.has('P')) && cfg.pix == m.has('P'));
    FUZZ_CHECK(cfg.eightbitmime == !m.has('8') && cfg.auth == !m.has('a') && cfg.xclient == !m.has('C'));
    FUZZ_CHECK(
        cfg.xforward == !m.has('F') && cfg.enhanced_status_codes == !m.has('E') && cfg.dsn == !m.has('N')
    );
    FUZZ_CHECK(m.has('f') || cfg.hard.empty());
    FUZZ_CHECK(m.has('r') || cfg.soft.empty());
    FUZZ_CHECK(m.has('q') || cfg.drop.empty());
    FUZZ_CHECK(m.has('Q') || cfg.close.empty());
    FUZZ_CHECK(m.has('s') || cfg.log.empty());

    // ESMTP
    FUZZ_CHECK(cfg.chunking == m.has(fuzz::l_chunking) && cfg.smtputf8 == m.has(fuzz::l_smtputf8));
    if (const char* a = m.arg(fuzz::l_max_size))
        FUZZ_CHECK(cli::leading_integer(a) > 0 && cfg.size_limit == static_cast<std::uint64_t>(cli::leading_integer(a)));
    else
        FUZZ_CHECK(cfg.size_limit == 0);
    FUZZ_CHECK(cfg.starttls == m.has(fuzz::l_starttls) && cfg.tls_on_connect == m.has(fuzz::l_tls_on_connect));
    FUZZ_CHECK(!(cfg.starttls && cfg.tls_on_connect));
    FUZZ_CHECK(o.tls.cert_file == (m.has(fuzz::l_tls_cert) ? m.arg(fuzz::l_tls_cert) : ""));
    FUZZ_CHECK(o.tls.key_file == (m.has(fuzz::l_tls_key) ? m.arg(fuzz::l_tls_key) : ""));
    FUZZ_CHECK(o.tls.cert_file.empty() || cfg.starttls || cfg.tls_on_connect);
    FUZZ_CHECK(o.tls.key_file.empty() || !o.tls.cert_file.empty());
    // --auth-user=USER:PASSWORD, each in turn: the user ends at the first colon, not empty
    FUZZ_CHECK(cfg.users.size() == m.count(fuzz::l_auth_user) && (cfg.users.empty() || cfg.auth));
    std::size_t i = 0;
    for (const auto& o2 : m.options)
    {
        if (o2.code != fuzz::l_auth_user)
            continue;
        const std::string_view a = o2.arg;
        const auto colon = a.find(':');
        FUZZ_CHECK(colon != std::string_view::npos && colon > 0);
        FUZZ_CHECK(cfg.users[i].first == a.substr(0, colon) && cfg.users[i].second == a.substr(colon + 1));
        ++i;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    cli::program = "smtp-sink";
    fuzz::command_line line("smtp-sink", data, size);
    char** argv = line.argv();
    const int argc = line.argc();
    const auto m = fuzz::model_getopt(
        argc,
        argv,
        "468aA:b:B:cCd:D:eEf:Fh:H:Lm:M:n:NpPq:Q:r:R:s:S:t:T:u:vw:W:",
        longs()
    );
    const bool must_take = fuzz::only_safe_options(m, never_fails) && m.optind == argc - 2 &&
                           good_backlog(argv[argc - 1]) && !(m.has('d') && m.has('D'));

    fuzz::reset_getopt();
    try
    {
        const settings s = parse(argc, argv);
        check_settings(m, argc, argv, s);
    }
    catch (const cli::exit_request& e)
    {
        fuzz::check_exit(e.status, m, asks_exit, never_fails);
        FUZZ_CHECK(!must_take);
    }
    return 0;
}

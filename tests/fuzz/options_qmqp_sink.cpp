// SPDX-License-Identifier: BSL-1.0
// tests/fuzz/options_qmqp_sink.cpp — qmqp-sink's option parser, parse() of
// examples/qmqp-sink/qmqp_sink.cpp (issue 6)
//
// Input: the arguments after argv[0] ("qmqp-sink"), separated by NUL bytes (options_support.hpp).
// Checks (a model of getopt_long says which options the line holds, options_support.hpp):
//  - an exit has status 0 only after -h, --help or --version, and 1 otherwise; a help or
//    version option after never-failing options only does exit 0;
//  - a line of never-failing options, an address and a backlog of 1..INT_MAX is taken;
//  - a parse that returns: no option error, no help or version; exactly two operands, the
//    address the first, the backlog atoi() of the second, 1..INT_MAX; -x, --timeout,
//    --session-limit > 0 (10 minutes without it); --max-sessions, --max-size >= 1; -v counted;
//    -4/-6, -c, --report as given; SIGTERM and SIGINT stop it.
// Nothing in parse() listens, reads or writes a file, or changes the process.
#define MAILLOAD_CLI_EXIT_THROWS 1

#include <mailload/mailload.hpp>

#include <chrono>
#include <climits>
#include <common/cli.hpp>
#include <common/report.hpp>
#include <common/run.hpp>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "options_support.hpp"

#define MAILLOAD_OPTIONS_ONLY 1  // parse() without main()
#include <qmqp-sink/qmqp_sink.cpp>

namespace {

using fuzz::seen_option;

const std::vector<fuzz::long_opt>& longs()
{
    static const std::vector<fuzz::long_opt> v = {
        {"timeout",       true,  fuzz::l_timeout      },
        {"session-limit", true,  fuzz::l_session_limit},
        {"max-sessions",  true,  fuzz::l_max_sessions },
        {"max-size",      true,  fuzz::l_max_size     },
        {"report",        true,  fuzz::l_report       },
        {"help",          false, fuzz::l_help         },
        {"version",       false, fuzz::l_version      },
    };
    return v;
}

bool asks_exit(const seen_option& o)
{
    return o.code == 'h' || o.code == fuzz::l_help || o.code == fuzz::l_version;
}

/// Options qmqp-sink takes whatever came before.
bool never_fails(const seen_option& o)
{
    return o.code == '4' || o.code == '6' || o.code == 'c' || o.code == 'v';
}

/// 1..INT_MAX as atoi() reads it: the backlog.
bool good_backlog(const char* arg)
{
    const long long v = cli::leading_integer(arg);
    return v >= 1 && v <= INT_MAX;
}

void check_settings(const fuzz::getopt_model& m, int argc, char** argv, const settings& s)
{
    fuzz::check_returned(m, asks_exit);
    fuzz::check_operands(m, argc, argv, 2, s.address);
    const auto& o = s.sink;
    FUZZ_CHECK(good_backlog(argv[argc - 1]) && o.backlog == cli::leading_integer(argv[argc - 1]));

    const seen_option* fam = m.last_of({'4', '6'});
    FUZZ_CHECK(s.family == (!fam ? "inet" : fam->code == '4' ? "inet4" : "inet6"));
    FUZZ_CHECK(s.count == m.has('c') && s.verbose == static_cast<int>(m.count('v')));
    fuzz::check_report(m, fuzz::l_report, s.report);
    FUZZ_CHECK((o.stop_signals == std::vector<int>{SIGTERM, SIGINT}));

    fuzz::check_seconds(m, 'x', o.stop_after_time, {});
    fuzz::check_seconds(m, fuzz::l_timeout, o.timeout, std::chrono::seconds(100));
    fuzz::check_seconds(m, fuzz::l_session_limit, o.session_limit, std::chrono::minutes(10));
    fuzz::check_count(m, fuzz::l_max_sessions, o.max_sessions, std::uint32_t{256});
    if (const char* a = m.arg(fuzz::l_max_size))
        FUZZ_CHECK(
            cli::leading_integer(a) >= 1 &&
            o.server.max_message_size == std::uint64_t(cli::leading_integer(a))
        );
    else
        FUZZ_CHECK(o.server.max_message_size == std::uint64_t(1) << 30);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    cli::program = "qmqp-sink";
    fuzz::command_line line("qmqp-sink", data, size);
    char** argv = line.argv();
    const int argc = line.argc();
    const auto m = fuzz::model_getopt(argc, argv, "46chvx:", longs());
    const bool must_take = fuzz::only_safe_options(m, never_fails) && m.optind == argc - 2 &&
                           good_backlog(argv[argc - 1]);

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

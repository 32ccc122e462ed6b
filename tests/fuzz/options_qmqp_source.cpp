// SPDX-License-Identifier: BSL-1.0
// tests/fuzz/options_qmqp_source.cpp — qmqp-source's option parser, parse() of
// examples/qmqp-source/qmqp_source.cpp (issue 6)
//
// Input: the arguments after argv[0] ("qmqp-source"), separated by NUL bytes (options_support.hpp).
// Checks (a model of getopt_long says which options the line holds, options_support.hpp):
//  - an exit has status 0 only after -h, --help or --version, and 1 otherwise; a help or
//    version option after never-failing options only does exit 0;
//  - a line of never-failing options and one operand is taken;
//  - a parse that returns: no option error, no help or version; the address is the last
//    argument and the only operand; the options both sources share (check_source_settings:
//    counts >= 1, -w/-R/--rate exclusive, delays > 0, ...); -l >= 1, 1024 without it; -v
//    counted; -c as given.
// Nothing in parse() reads or writes a file, connects or changes the process.
#define MAILLOAD_CLI_EXIT_THROWS 1

#include <mailload/mailload.hpp>

#include <common/cli.hpp>
#include <common/report.hpp>
#include <common/run.hpp>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "options_support.hpp"

#define MAILLOAD_OPTIONS_ONLY 1  // parse() without main()
#include <qmqp-source/qmqp_source.cpp>

namespace {

using fuzz::seen_option;

const std::vector<fuzz::long_opt>& longs()
{
    static const std::vector<fuzz::long_opt> v = fuzz::source_longs();
    return v;
}

bool asks_exit(const seen_option& o)
{
    return o.code == 'h' || o.code == fuzz::l_help || o.code == fuzz::l_version;
}

/// Options qmqp-source takes whatever their argument and whatever came before.
bool never_fails(const seen_option& o)
{
    switch (o.code)
    {
    case '4':
    case '6':
    case 'c':
    case 'f':
    case 't':
    case 'v':
    case fuzz::l_thread_per_session:
    case fuzz::l_progress: return true;
    default: return false;
    }
}

void check_settings(const fuzz::getopt_model& m, int argc, char** argv, const settings& s)
{
    fuzz::check_returned(m, asks_exit);
    fuzz::check_operands(m, argc, argv, 1, s.address);
    fuzz::check_source_settings(m, s);
    fuzz::check_count(m, 'l', s.source.message.length, std::size_t{1024});
    FUZZ_CHECK(s.count == m.has('c') && s.verbose == static_cast<int>(m.count('v')));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    cli::program = "qmqp-source";
    fuzz::command_line line("qmqp-source", data, size);
    char** argv = line.argv();
    const int argc = line.argc();
    const auto m = fuzz::model_getopt(argc, argv, "46cC:f:hl:m:M:r:R:s:t:vw:", longs());
    const bool must_take = fuzz::only_safe_options(m, never_fails) && m.optind == argc - 1;

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

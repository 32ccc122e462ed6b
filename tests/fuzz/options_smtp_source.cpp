// SPDX-License-Identifier: BSL-1.0
// tests/fuzz/options_smtp_source.cpp — smtp-source's option parser, parse() of
// examples/smtp-source/smtp_source.cpp (issue 6)
//
// Input: the arguments after argv[0] ("smtp-source"), separated by NUL bytes (options_support.hpp).
// Checks (a model of getopt_long says which options the line holds, options_support.hpp):
//  - an exit has status 0 only after -h, --help or --version, and 1 otherwise; a help or
//    version option after never-failing options only does exit 0;
//  - a line of never-failing options and one operand is taken;
//  - a parse that returns: no option error, no help or version; the address is the last
//    argument and the only operand; the options both sources share (check_source_settings:
//    counts >= 1, -w/-R/--rate exclusive, delays > 0, ...); -l and -F not both; -l, -T >= 1;
//    -F read the file it names; -L, -c, -v, -N, -A, -d, -o, -S, --pipelining as given.
//
// -F reads a file, and the fuzzer must not make it read /dev/zero, a FIFO, a terminal or
// anything big. So before the parse every string getopt could take as -F's argument is
// replaced by the path of one small regular file made here (fixture()): in an argument that
// starts with '-' but not "--", what follows its first 'F' (letters before the -F of a cluster
// take no argument, so only the first F can be the option), or the whole next argument if that
// F ends it. This holds whatever getopt makes of the line (an F in another option's argument,
// as in -SFoo, is rewritten too, harmlessly); the checks confirm that a -F read the fixture.
#define MAILLOAD_CLI_EXIT_THROWS 1

#include <mailload/mailload.hpp>

#include <common/cli.hpp>
#include <common/report.hpp>
#include <common/run.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <unistd.h>

#include "options_support.hpp"

#define MAILLOAD_OPTIONS_ONLY 1  // parse() without main()
#include <smtp-source/smtp_source.cpp>

namespace {

using fuzz::seen_option;

constexpr std::string_view fixture_content = "Subject: fuzz\n\n.a dot\nbody\n";

/// The one file -F may read: made once, in a directory of its own, removed at exit.
const std::string& fixture()
{
    static const std::string path = [] {
        char dir[] = "/tmp/mailload-options-fuzz-XXXXXX";
        if (!::mkdtemp(dir))
            std::abort();
        std::string p = std::string(dir) + "/message";
        std::FILE* f = std::fopen(p.c_str(), "wb");
        if (!f ||
            std::fwrite(fixture_content.data(), 1, fixture_content.size(), f) != fixture_content.size() ||
            std::fclose(f) != 0)
            std::abort();
        static std::string to_remove[2] = {p, dir};
        std::atexit([] {
            ::unlink(to_remove[0].c_str());
            ::rmdir(to_remove[1].c_str());
        });
        return p;
    }();
    return path;
}

/// Every possible -F argument becomes the fixture's path (see the top of the file).
void rewrite_file_arguments(std::vector<std::string>& args)
{
    for (std::size_t i = 1; i < args.size(); ++i)
    {
        std::string& a = args[i];
        if (a.size() < 2 || a[0] != '-' || a[1] == '-')
            continue;
        const auto f = a.find('F', 1);
        if (f == std::string::npos)
            continue;
        if (f + 1 < a.size())
        {
            a.replace(f + 1, std::string::npos, fixture());
        }
        else if (i + 1 < args.size())
        {
            args[i + 1] = fixture();
            ++i;
        }
    }
}

const std::vector<fuzz::long_opt>& longs()
{
    static const std::vector<fuzz::long_opt> v = [] {
        auto l = fuzz::source_longs();
        l.insert(
            l.end(),
            {
                {"pipelining",     false, fuzz::l_pipelining    },
                {"ehlo",           false, fuzz::l_ehlo          },
                {"starttls",       false, fuzz::l_starttls      },
                {"tls-on-connect", false, fuzz::l_tls_on_connect},
                {"tls-verify",     false, fuzz::l_tls_verify    },
                {"tls-ca-file",    true,  fuzz::l_tls_ca_file   },
                {"tls-servername", true,  fuzz::l_tls_servername},
                {"chunking",       false, fuzz::l_chunking      },
                {"chunk-size",     true,  fuzz::l_chunk_size    },
                {"binarymime",     false, fuzz::l_binarymime    },
                {"8bitmime",       false, fuzz::l_8bitmime      },
                {"smtputf8",       false, fuzz::l_smtputf8      },
                {"size",           false, fuzz::l_size          },
                {"auth-user",      true,  fuzz::l_auth_user     },
                {"auth-password",  true,  fuzz::l_auth_password },
                {"auth-mech",      true,  fuzz::l_auth_mech     },
            }
        );
        return l;
    }();
    return v;
}

bool asks_exit(const seen_option& o)
{
    return o.code == 'h' || o.code == fuzz::l_help || o.code == fuzz::l_version;
}

/// Options smtp-source takes whatever their argument and whatever came before.
bool never_fails(const seen_option& o)
{
    switch (o.code)
    {
    case '4':
    case '6':
    case 'A':
    case 'c':
    case 'd':
    case 'f':
    case 'L':
    case 'N':
    case 'o':
    case 'S':
    case 't':
    case 'v':
    case fuzz::l_thread_per_session:
    case fuzz::l_progress:
    case fuzz::l_pipelining: return true;
    default: return false;
    }
}

/// The ESMTP options of a parse that returned: each as given, the implied ones, and none of the
/// combinations the tool refuses.
void check_esmtp(const fuzz::getopt_model& m, const settings& s)
{
    using fuzz::long_code;
    const auto& c = s.source.client;
    const auto& tls = s.source.tls;
    FUZZ_CHECK(c.ehlo == m.has(fuzz::l_ehlo) && c.starttls == m.has(fuzz::l_starttls));
    FUZZ_CHECK(c.tls_on_connect == m.has(fuzz::l_tls_on_connect) && !(c.starttls && c.tls_on_connect));
    const bool tls_option = m.has(fuzz::l_tls_verify) || m.has(fuzz::l_tls_ca_file) || m.has(fuzz::l_tls_servername);
    FUZZ_CHECK(!tls_option || c.starttls || c.tls_on_connect);
    FUZZ_CHECK(tls.verify == (m.has(fuzz::l_tls_verify) || m.has(fuzz::l_tls_ca_file)));
    FUZZ_CHECK(tls.ca_file == (m.has(fuzz::l_tls_ca_file) ? m.arg(fuzz::l_tls_ca_file) : ""));
    FUZZ_CHECK(tls.server_name == (m.has(fuzz::l_tls_servername) ? m.arg(fuzz::l_tls_servername) : ""));
    FUZZ_CHECK(c.binarymime == m.has(fuzz::l_binarymime));
    FUZZ_CHECK(c.chunking == (m.has(fuzz::l_chunking) || m.has(fuzz::l_chunk_size) || c.binarymime));
    fuzz::check_count(m, fuzz::l_chunk_size, c.chunk_size, std::size_t{0});
    FUZZ_CHECK(c.eightbitmime == m.has(fuzz::l_8bitmime) && c.smtputf8 == m.has(fuzz::l_smtputf8));
    FUZZ_CHECK(c.size == m.has(fuzz::l_size));
    FUZZ_CHECK(m.has(fuzz::l_auth_user) == m.has(fuzz::l_auth_password));
    if (m.has(fuzz::l_auth_user))
    {
        FUZZ_CHECK(c.auth_user == m.arg(fuzz::l_auth_user) && c.auth_password == m.arg(fuzz::l_auth_password));
        const char* mech = m.arg(fuzz::l_auth_mech);
        const std::string_view mv = mech ? mech : "";
        FUZZ_CHECK(
            c.auth == (!mech                              ? sansio::auth_mechanism::any
                       : mv == "PLAIN" || mv == "plain" ? sansio::auth_mechanism::plain
                                                          : sansio::auth_mechanism::login)
        );
    }
    else
    {
        FUZZ_CHECK(c.auth == sansio::auth_mechanism::none && !m.has(fuzz::l_auth_mech));
    }
    sansio::client_config needs_ehlo = c;
    needs_ehlo.pipelining = false;
    FUZZ_CHECK(c.send_helo || !needs_ehlo.esmtp());
}

void check_settings(const fuzz::getopt_model& m, int argc, char** argv, const settings& s)
{
    fuzz::check_returned(m, asks_exit);
    fuzz::check_operands(m, argc, argv, 1, s.address);
    fuzz::check_source_settings(m, s);
    const auto& o = s.source;

    FUZZ_CHECK(!(m.has('l') && m.has('F')));
    fuzz::check_count(m, 'l', o.message.length, std::size_t{0});
    fuzz::check_count(m, 'T', o.window_size, 0);
    if (m.has('F'))
    {
        FUZZ_CHECK(s.file == m.arg('F') && s.file == fixture());
        FUZZ_CHECK(o.message.file_content && *o.message.file_content == fixture_content);
    }
    else
    {
        FUZZ_CHECK(!s.file && !o.message.file_content);
    }
    if (const char* subject = m.arg('S'))
        FUZZ_CHECK(o.message.subject && *o.message.subject == subject);
    else
        FUZZ_CHECK(!o.message.subject);

    FUZZ_CHECK(s.protocol == (m.has('L') ? "lmtp" : "smtp"));
    FUZZ_CHECK(s.count == m.has('c') && s.verbose == m.has('v') && s.numbered == m.has('N'));
    FUZZ_CHECK(s.rcpt_given == m.has('r'));
    FUZZ_CHECK(o.client.ignore_rejects == m.has('A') && o.client.keep_alive == m.has('d'));
    FUZZ_CHECK(o.client.send_helo == !m.has('o') && s.send_headers == !m.has('o'));
    FUZZ_CHECK(o.client.pipelining == m.has(fuzz::l_pipelining));
    check_esmtp(m, s);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    cli::program = "smtp-source";
    fuzz::command_line line("smtp-source", data, size);
    rewrite_file_arguments(line.args());
    char** argv = line.argv();
    const int argc = line.argc();
    const auto m = fuzz::model_getopt(argc, argv, "46AcC:df:F:hl:Lm:M:Nor:R:s:S:t:T:vw:", longs());
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

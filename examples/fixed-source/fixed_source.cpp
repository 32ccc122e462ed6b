// SPDX-License-Identifier: BSL-1.0
// fixed-source: `smtp-source -4`'s bytes for -d -l -m -s, every policy fixed at compile time (no dispatch)
#include <mailload/mailload.hpp>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <unistd.h>

int main(int argc, char** argv) {
    if (argc == 2 && std::string(argv[1]) == "--version")
        return std::printf("fixed-source (mailload) %s\n", mailload::version) < 0;
    mailload::source_options o;  // defaults: 1 session, 1 message, a four-line body, 300 s timeouts
    bool ok = true;
    for (int ch; (ch = ::getopt(argc, argv, "dl:m:s:")) != -1;) {
        const long n = ch == 'd' ? 1 : ch == '?' ? 0 : std::atol(optarg);  // atoi()'s reading, as Postfix
        ok = ok && n > 0;  // an unknown option, or a missing or non-positive number
        if (ch == 'd') o.client.keep_alive = true;  // each session's next message on the same connection
        if (ch == 'l') o.message.length = static_cast<std::size_t>(n);  // body bytes
        if (ch == 'm') o.messages = static_cast<std::uint64_t>(n);      // messages in all
        if (ch == 's') o.sessions = static_cast<std::uint32_t>(n);      // sessions in parallel
    }
    if (!ok || argc - optind != 1) {
        std::fprintf(stderr, "usage: %s [-d] [-l length] [-m count] [-s sessions] host:port\n", argv[0]);
        return 1;
    }
    char host[256] = {};  // as smtp-source without -M -f -t: this host's name, foo@ it, 3.8's Date:
    ::gethostname(host, sizeof host - 1);
    o.client.helo_name = o.message.myhostname = host;
    o.client.sender = o.client.recipient = o.message.sender = "foo@" + std::string(host);
    o.message.date = mailload::sansio::mail_date(std::time(nullptr), false);
    o.message.pid = static_cast<std::uint32_t>(::getpid());

    mailload::source<mailload::smtp, mailload::inet4, mailload::single_thread, mailload::no_pacing> load{o};
    const auto report = load.run(argv[optind]);
    if (!report) std::fprintf(stderr, "%s: fatal: %s\n", argv[0], report.what.c_str());
    return report ? 0 : 1;
}

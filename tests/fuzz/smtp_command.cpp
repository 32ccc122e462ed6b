// SPDX-License-Identifier: BSL-1.0
// tests/fuzz/smtp_command.cpp — the server's command line handling against a reference model
//
// Input: [mode: bit 0 LMTP][split seed][split mode] then the client's bytes.
// The server runs with smtp-sink's defaults (plus -L when asked, -v and content events). A
// separate, plain model of the documented rules reads the whole input: lines end at CR LF
// only (a bare LF is an ordinary byte), a line over max_line bytes with its CR LF closes the
// connection without a reply, a line is cut at its first NUL, the command name is the first
// word after spaces/tabs (case ignored), the arguments are what follows one separator with
// control and 8-bit bytes read as '?', and the replies are smtp-sink's (EHLO list, 503s for
// MAIL/RCPT/DATA out of order, 500 5.5.2 for an empty line, 500 5.5.1 for an unknown or
// disabled command, one "250 2.2.0 Ok" per recipient after an LMTP message). DATA is scanned
// for the first CR LF . CR LF. Checks: under any split the server writes exactly the model's
// replies, reports exactly its events (trace lines, helo/mail/rcpt args, message content and
// size, resets, quit, line_too_long) and ends as it does (close after QUIT or an overlong line,
// else done(lost_connection) when the input runs out); find_smtp_command agrees with a plain
// case-folding lookup on every line's name.

#include <mailload/sansio/smtp_server.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"

namespace {

using namespace mailload::sansio;

struct recorded
{
    server_event::kind_t kind;
    std::string text;
    std::uint64_t size = 0;
    bool operator==(const recorded&) const = default;
};

struct expected
{
    std::string replies;
    std::vector<recorded> events;
    bool closes = false;  // close; else done(lost_connection)
};

std::string lower(std::string_view s)
{
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z')
            c = static_cast<char>(c - 'A' + 'a');
    return out;
}

std::optional<smtp_command> lookup(std::string_view name)
{
    static constexpr std::string_view names[] = {
        "connect",
        "helo",
        "ehlo",
        "lhlo",
        "xclient",
        "xforward",
        "auth",
        "mail",
        "rcpt",
        "data",
        ".",
        "rset",
        "noop",
        "vrfy",
        "quit",
        "bdat",
        "starttls"};
    const std::string l = lower(name);
    for (std::size_t i = 0; i < std::size(names); ++i)
        if (l == names[i])
            return static_cast<smtp_command>(i);
    return std::nullopt;
}

std::string_view skip_blanks(std::string_view s)
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    return s;
}

expected model(std::string_view in, bool lmtp)
{
    static const std::string ehlo =
        "250-smtp-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-AUTH PLAIN LOGIN\r\n"
        "250-XCLIENT NAME HELO\r\n250-XFORWARD NAME ADDR PROTO HELO\r\n250-ENHANCEDSTATUSCODES\r\n"
        "250-DSN\r\n250 \r\n";
    expected x;
    x.replies = "220 smtp-sink ESMTP\r\n";
    bool txn = false;
    std::size_t rcpts = 0;
    std::size_t p = 0;  // start of the next line
    auto end_txn = [&] {
        if (txn)
            x.events.push_back({server_event::reset, {}});
        txn = false;
    };
    for (;;)
    {
        // the first LF with a CR before it, inside this line
        std::size_t lf = p;
        for (;; ++lf)
        {
            lf = in.find('\n', lf);
            if (lf == std::string_view::npos || (lf > p && in[lf - 1] == '\r'))
                break;
        }
        const bool found = lf != std::string_view::npos;
        if ((found && lf + 1 - p > smtp_server::max_line) ||
            (!found && in.size() - p >= smtp_server::max_line))
        {
            x.events.push_back({server_event::line_too_long, {}});
            end_txn();
            x.closes = true;
            return x;
        }
        if (!found)
        {
            end_txn();  // the input ran out: lost connection
            return x;
        }
        std::string line(in.substr(p, lf - 1 - p));
        p = lf + 1;
        line = line.substr(0, line.find('\0'));
        const std::string_view l = line;
        const std::string_view from_name = skip_blanks(l);
        const std::string_view name = from_name.substr(0, from_name.find_first_of(" \t"));
        const std::size_t name_end = static_cast<std::size_t>(name.data() + name.size() - l.data());
        std::string args(name_end < l.size() ? l.substr(name_end + 1) : std::string_view{});
        for (char& c : args)
            if (!fuzz::printable(c))
                c = '?';
        x.events.push_back(
            {server_event::command, line.substr(0, name_end < l.size() ? name_end + 1 : l.size()) + args}
        );
        FUZZ_CHECK(find_smtp_command(name) == lookup(name));
        const auto cmd = lookup(name);
        auto after_colon = [&] {
            const auto colon = args.find(':');
            return std::string(
                skip_blanks(colon == std::string::npos ? args : std::string_view(args).substr(colon + 1))
            );
        };
        using c = smtp_command;
        if (name.empty())
        {
            x.replies += "500 5.5.2 Error: unknown command\r\n";
            continue;
        }
        if (!cmd || *cmd == c::connect || (*cmd == c::helo && lmtp) || (*cmd == c::ehlo && lmtp) ||
            (*cmd == c::lhlo && !lmtp) || *cmd == c::bdat || *cmd == c::starttls)  // both off by default
        {
            x.replies += "500 5.5.1 Error: unknown command\r\n";
            continue;
        }
        switch (*cmd)
        {
        case c::helo:
        case c::ehlo:
        case c::lhlo:
        {
            end_txn();
            const auto first = args.find_first_not_of(' ');
            x.events.push_back(
                {server_event::helo, first == std::string::npos ? std::string() : args.substr(first)}
            );
            x.replies += *cmd == c::helo ? "250 smtp-sink\r\n" : ehlo;
            break;
        }
        case c::mail:
            if (txn)
            {
                x.replies += "503 5.5.1 Error: nested MAIL command\r\n";
                break;
            }
            txn = true;
            rcpts = 0;
            x.events.push_back({server_event::mail, after_colon()});
            x.replies += "250 2.1.0 Ok\r\n";
            break;
        case c::rcpt:
            if (!txn)
            {
                x.replies += "503 5.5.1 Error: need MAIL command\r\n";
                break;
            }
            ++rcpts;
            x.events.push_back({server_event::rcpt, after_colon()});
            x.replies += "250 2.1.5 Ok\r\n";
            break;
        case c::data:
        {
            if (!txn || rcpts == 0)
            {
                x.replies += "503 5.5.1 Error: need RCPT command\r\n";
                break;
            }
            x.replies += "354 End data with <CR><LF>.<CR><LF>\r\n";
            x.events.push_back({server_event::data, {}});
            const auto end = fuzz::naive_data_end(in.substr(p));
            const std::string_view content = in.substr(p, end ? *end : std::string_view::npos);
            if (!content.empty())
                x.events.push_back({server_event::content, std::string(content)});
            if (!end)
            {
                end_txn();
                return x;
            }
            p += *end;
            txn = false;
            x.events.push_back({server_event::message, {}, *end});
            x.events.push_back({server_event::command, "."});
            for (std::size_t i = 0; i < (lmtp ? rcpts : 1); ++i)
                x.replies += lmtp ? "250 2.2.0 Ok\r\n" : "250 2.0.0 Ok\r\n";
            break;
        }
        case c::rset:
            end_txn();
            x.replies += "250 2.1.0 Ok\r\n";
            break;
        case c::quit:
            x.events.push_back({server_event::quit, {}});
            x.replies += "221 Bye\r\n";
            end_txn();
            x.closes = true;
            return x;
        default:  // NOOP VRFY AUTH XCLIENT XFORWARD, and "." outside DATA
            x.replies += "250 2.0.0 Ok\r\n";
            break;
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    fuzz::input in(data, size);
    const std::uint8_t mode = in.byte(), seed = in.byte(), split = in.byte();
    server_config cfg;
    cfg.lmtp = mode & 1;
    cfg.trace = true;
    cfg.content = true;
    const std::string_view bytes = in.rest();
    const expected want = model(bytes, cfg.lmtp);

    fuzz::peer_plan plan;
    plan.bytes = bytes;
    plan.split = fuzz::splitter(seed, split);
    plan.max_actions = 64 + 16 * bytes.size();
    auto server = std::make_unique<smtp_server>(cfg, 1);
    server->start();
    std::vector<recorded> got;
    const fuzz::run_result r = fuzz::drive(
        *server,
        plan,
        [&](const smtp_server& s) {
            const server_event& e = s.event();
            switch (e.kind)
            {
            case server_event::content:  // joined: how the data is cut into events is free
                if (!got.empty() && got.back().kind == server_event::content)
                {
                    got.back().text.append(e.text);
                    return;
                }
                got.push_back({e.kind, std::string(e.text)});
                return;
            case server_event::command: got.push_back({e.kind, std::string(e.text)}); return;
            case server_event::message: got.push_back({e.kind, {}, e.size}); return;
            case server_event::helo:
            case server_event::mail:
            case server_event::rcpt: got.push_back({e.kind, std::string(e.args)}); return;
            default: got.push_back({e.kind, {}}); return;
            }
        },
        fuzz::no_more{}
    );
    FUZZ_CHECK(r.written == want.replies);
    FUZZ_CHECK(got == want.events);
    if (want.closes)
        FUZZ_CHECK(r.last.type() == action_type::close);
    else
        FUZZ_CHECK(r.last.type() == action_type::done && r.last.error() == mailload::error::lost_connection);
    return 0;
}

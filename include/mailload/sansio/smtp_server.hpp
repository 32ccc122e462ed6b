// SPDX-License-Identifier: BSL-1.0
// mailload/sansio/smtp_server.hpp — SMTP/LMTP server algorithm (smtp-sink's behaviour), sans I/O
#pragma once

#include <mailload/error.hpp>
#include <mailload/sansio/action.hpp>
#include <mailload/sansio/ascii.hpp>
#include <mailload/sansio/base64.hpp>
#include <mailload/sansio/data_scanner.hpp>

#include <boost/system/error_code.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mailload::sansio {

/// smtp-sink's commands, the `connect` and `.` pseudo-commands included (the names its
/// command lists -f -q -Q -r -s -W take), then the ESMTP extensions Postfix's sink lacks.
enum class smtp_command : std::uint8_t {
    connect, helo, ehlo, lhlo, xclient, xforward, auth, mail, rcpt, data, dot, rset, noop, vrfy, quit, bdat, starttls
};
inline constexpr std::size_t smtp_command_count = 17;
inline constexpr std::array<std::string_view, smtp_command_count> smtp_command_names = {
    "connect", "helo", "ehlo", "lhlo", "xclient", "xforward", "auth", "mail", "rcpt",
    "data",    ".",    "rset", "noop", "vrfy",    "quit",     "bdat", "starttls"};

/// The command a name stands for, ignoring case; nothing for an unknown name.
inline std::optional<smtp_command> find_smtp_command(std::string_view name) noexcept {
    for (std::size_t i = 0; i < smtp_command_count; ++i)
        if (equals_ignoring_case(name, smtp_command_names[i])) return static_cast<smtp_command>(i);
    return std::nullopt;
}

/// A set of commands, one bit each.
class command_set {
public:
    constexpr void add(smtp_command c) noexcept { bits_ |= 1u << static_cast<unsigned>(c); }
    constexpr bool has(smtp_command c) const noexcept { return bits_ >> static_cast<unsigned>(c) & 1u; }
    constexpr bool empty() const noexcept { return bits_ == 0; }

private:
    std::uint32_t bits_ = 0;
    static_assert(smtp_command_count <= 32);
};

/// smtp-sink's -W cmd:delay[:odds]: the reply waits delay × k, where k counts the dice rolls
/// (0-99) below `odds` before the first one that is not; without odds, always `delay`.
struct command_delay {
    std::chrono::steady_clock::duration delay{};
    int odds = 0;  ///< 1-99; 0: no dice (always `delay`)
};

/// The server's behaviour: smtp-sink's flags as data.
struct server_config {
    std::string hostname = "smtp-sink";  ///< -h
    bool lmtp = false;                   ///< -L: only LHLO; one "." reply per recipient
    bool esmtp = true;                   ///< -e (and -P) clear it: no "ESMTP" in the greeting, no EHLO
    bool pix = false;                    ///< -P: the greeting is "220 ********"
    bool pipelining = true;              ///< EHLO capabilities: -p (or any -f/-r list) clears it,
    bool eightbitmime = true;            ///<   -8,
    bool auth = true;                    ///<   -a,
    bool xclient = true;                 ///<   -C (which also disables XCLIENT),
    bool xforward = true;                ///<   -F (which also disables XFORWARD),
    bool enhanced_status_codes = true;   ///<   -E,
    bool dsn = true;                     ///<   -N
    std::string soft_reply = "450 4.3.0 Error: command failed";  ///< -b
    std::string hard_reply = "500 5.3.0 Error: command failed";  ///< -B
    command_set log;       ///< -s: report as a `syslog` event
    command_set drop;      ///< -q: disconnect without a reply
    command_set close;     ///< -Q: reply 421 and disconnect
    command_set hard;      ///< -f: the hard error reply
    command_set soft;      ///< -r: the soft error reply
    std::array<std::optional<command_delay>, smtp_command_count> delays{};  ///< -W, -w
    std::optional<std::chrono::steady_clock::duration> abort_delay;          ///< -A
    std::chrono::steady_clock::duration data_pause{};                         ///< -H
    std::uint64_t max_message_size = std::uint64_t(1) << 30;  ///< QMQP: longest request accepted
    bool trace = false;    ///< report every command line as a `command` event (-v)
    bool content = false;  ///< report message data as `content` events (dumps)

    // ESMTP extensions Postfix's sink lacks, all off by default (smtp-sink's wire bytes).
    bool chunking = false;  ///< CHUNKING and BINARYMIME (RFC 3030): BDAT is accepted; else it is unknown
    /// SIZE (RFC 1870), when not 0: MAIL's SIZE= over it is refused, and so is a message whose data
    /// (DATA: as sent, dot-stuffing included, without the final ".\r\n"; BDAT: the chunks) is longer
    std::uint64_t size_limit = 0;
    bool smtputf8 = false;        ///< SMTPUTF8 (announced only)
    bool starttls = false;        ///< STARTTLS (RFC 3207): announced until secured; a `handshake` action
    bool tls_on_connect = false;  ///< a `handshake` before the greeting (SMTPS); STARTTLS is then refused
    /// AUTH PLAIN/LOGIN checked against these (user, password) pairs (RFC 4954); when empty, any AUTH
    /// line gets "250 2.0.0 Ok" as Postfix's sink answers
    std::vector<std::pair<std::string, std::string>> users;
};

/// Something the server reports while it runs.
struct server_event {
    enum kind_t : std::uint8_t {
        command,        ///< a command line arrived (trace only); `text` is it, cut at a NUL
        syslog,         ///< -s: `text` is the command as typed, `args` its arguments
        line_too_long,  ///< a command line over the limit: the connection is closed, no reply
        helo,           ///< HELO/EHLO/LHLO accepted; `args` with leading white space removed
        mail,           ///< MAIL accepted: a transaction began; `args` after the ':' (trimmed)
        rcpt,           ///< RCPT accepted; `args` after the ':' (trimmed)
        data,           ///< DATA accepted (354 sent), or (cmd bdat) a transaction's first BDAT arrived
        content,        ///< message data as received, end marker included (content only); cmd bdat:
                        ///< chunk bytes, nothing to unstuff and no end marker (dump_writer::chunk)
        message,        ///< a complete message arrived (before its "." or BDAT LAST reply)
        reset,          ///< the open transaction ended without a message
        quit,           ///< QUIT arrived
        auth,           ///< an AUTH exchange ended (users configured only); `size` is its reply code, `text`
                        ///< the mechanism ("PLAIN", "LOGIN" or empty), `args` the user name given ('?'
                        ///< for non-printable bytes; empty if none)
    };
    kind_t kind = command;
    smtp_command cmd = smtp_command::connect;  ///< data, content, message: data (dot) or bdat
    std::string_view text;
    std::string_view args;
    /// `message`: its data bytes (DATA: end marker included; BDAT: the chunks). `auth`: the reply's
    /// code: 235 authenticated, 535 wrong credentials, 501 aborted or undecodable (or no mechanism),
    /// 503 already authenticated or in a transaction, 504 unknown mechanism
    std::uint64_t size = 0;
};

/// Replies by code, in a few fixed slots (a sink's replies come from a short list): no
/// allocation, and small enough for every idle session to carry one. A reply without a code,
/// or with a code beyond the slots, counts under 0.
struct reply_tally {
    static constexpr std::size_t slots = 15;
    std::array<std::uint16_t, slots + 1> codes{};  // codes[slots] stays 0: the overflow slot
    std::array<std::uint64_t, slots + 1> counts{};

    void add(int code, std::uint64_t n = 1) noexcept {
        std::size_t i = code == 0 ? slots : 0;
        while (i < slots && codes[i] != code && counts[i] != 0) ++i;
        if (i < slots) codes[i] = static_cast<std::uint16_t>(code);
        counts[i] += n;
    }
    /// The reply code at the start of `text` ("250 ..." → 250; 'K' for a QMQP "KOk").
    void add_reply(std::string_view text, std::uint64_t n = 1) noexcept { add(code_of(text), n); }
    /// The digits (at most 3) a reply starts with, as a number.
    static int code_of(std::string_view text) noexcept {
        int code = 0;
        for (std::size_t i = 0; i < 3 && i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i)
            code = code * 10 + (text[i] - '0');
        return code;
    }
    template <class F>
    void for_each(F&& f) const {
        for (std::size_t i = 0; i <= slots; ++i)
            if (counts[i]) f(int(codes[i]), counts[i]);
    }
    reply_tally& operator+=(const reply_tally& o) noexcept {
        o.for_each([&](int code, std::uint64_t n) { add(code, n); });
        return *this;
    }
};

/// Per-connection tallies.
struct server_stats {
    std::uint64_t messages = 0;
    std::uint64_t answered = 0;    ///< messages whose "." reply (any reply) has been written
    std::uint64_t recipients = 0;  ///< recipients of the complete messages
    std::uint64_t data_bytes = 0;  ///< data bytes of the complete messages (DATA: end markers included;
                                   ///< BDAT: the chunks); none of a message refused or cut short
    std::uint64_t quits = 0;
    reply_tally replies;           ///< replies queued for writing, by code
};

/// The client's protocol as smtp-sink's dumps name it.
enum class client_proto : std::uint8_t { smtp, esmtp, lmtp };

/**
 * smtp-sink's side of one connection, as a sans-io state machine: greeting, commands read a
 * line at a time (CR LF only ends a line; at most `max_line` bytes with the CR LF), replies
 * batched until the input runs dry (a pipelined burst is answered in one write), DATA scanned a
 * block at a time for CR LF . CR LF without buffering the message, BDAT chunks counted off the
 * same way.
 *
 * Unlike Postfix's sink, a delayed reply (-W/-w) holds back the commands after it, so replies
 * never come out of order; an LMTP "." outside DATA gets one reply.
 *
 * The extensions of server_config (off by default) add, in Postfix smtpd's words where it has them:
 * - BDAT <size> [LAST]: a size that is not 1-19 digits, or over `max_chunk`, gets "501 5.5.4
 *   Syntax: BDAT count [LAST]" and the connection closes (the chunk cannot be told from commands).
 *   The command is applied (-s -q -Q -f -r -W) once its chunk is read: "503 5.5.1 Error: need RCPT
 *   command" outside a transaction with a recipient, "250 2.0.0 Ok: <size> octets received" for a
 *   chunk, the "." replies for the LAST one (which ends the message as "." does). A chunk refused
 *   by -f, -r, -Q or the size limit ends its transaction. In a transaction with chunks, RCPT and
 *   DATA get "503 5.5.1 Error: RCPT after BDAT" / "DATA after BDAT". BODY=BINARYMIME is not
 *   looked at (DATA is not refused after it). -A and -H concern DATA only.
 * - SIZE: MAIL with SIZE= over the limit gets "552 5.3.4 Message size exceeds fixed limit", with
 *   a SIZE= value that is not 1-19 digits "501 5.5.4 Bad message size syntax"; a message over
 *   the limit is read to its end, then gets the 552 in place of its 250 (LMTP: per recipient)
 *   and ends as a `reset`, not a `message`.
 * - STARTTLS: "220 2.0.0 Ready to start TLS", written, then a `handshake` action; the client's
 *   bytes after the command in the same read are dropped. After the handshake the client is as
 *   new (no HELO, not authenticated); a failed one ends in done(its error). "554 5.5.1 Error:
 *   TLS already active" once secured, "503 5.5.1 Error: MAIL transaction in progress" in a
 *   transaction, "501 5.5.4 Syntax: STARTTLS" with arguments.
 * - AUTH with users: PLAIN and LOGIN (with or without an initial response, "=" for an empty
 *   one); "235 2.7.0 Authentication successful", "535 5.7.8 Error: authentication failed" (also
 *   for a PLAIN authzid other than the user), "501 5.7.0 Authentication aborted" ("*"), "501
 *   5.5.2 Cannot decode response", "501 5.5.4 Syntax: AUTH mechanism", "504 5.5.4 Unsupported
 *   authentication mechanism", "503 5.5.1 Error: already authenticated", "503 5.5.1 Error: MAIL
 *   transaction in progress". The responses are lines of at most `max_line` bytes, never commands
 *   (nor traced).
 */
class smtp_server {
public:
    static constexpr std::size_t max_line = 2048;                     ///< a command line, CR LF included
    static constexpr std::uint64_t max_chunk = std::uint64_t(1) << 30;  ///< the largest BDAT chunk: 1 GiB

    explicit smtp_server(const server_config& cfg, std::uint64_t seed = 1)
        : cfg_(cfg), rng_(static_cast<std::uint_fast32_t>(seed % 2147483646u + 1)) {
        out_.reserve(1024);
        greeting_ = cfg.pix ? "220 ********\r\n" : "220 " + cfg.hostname + (cfg.esmtp ? " ESMTP\r\n" : "\r\n");
        ehlo_ = capabilities(cfg, false);
        if (cfg.starttls && !cfg.tls_on_connect) ehlo_starttls_ = capabilities(cfg, true);
        helo_reply_ = "250 " + cfg.hostname + "\r\n";
        soft_ = cfg.soft_reply + "\r\n";
        hard_ = cfg.hard_reply + "\r\n";
    }

    smtp_server(const smtp_server&) = delete;
    smtp_server& operator=(const smtp_server&) = delete;
    ~smtp_server() { bulk_cache::give(std::move(bulk_)); }

    /// Begins a new connection: the `connect` pseudo-command (the greeting) comes first, after
    /// the TLS handshake with tls_on_connect.
    void start() noexcept {
        in_begin_ = in_end_ = scan_from_ = 0;
        buf_ = inbuf_;
        out_.clear();
        queue_.clear();
        last_ = action_type::done;
        data_mode_ = in_transaction_ = closing_ = write_failed_ = hung_up_ = false;
        chunk_mode_ = chunks_ = secured_ = authenticated_ = false;
        ending_ = ending_t::none;
        sasl_ = sasl_t::none;
        pending_ = pending_t::none;
        rcpts_ = 0;
        dots_in_out_ = 0;
        proto_ = cfg_.lmtp ? client_proto::lmtp : client_proto::smtp;
        helo_args_.clear();
        have_helo_ = false;
        if (cfg_.tls_on_connect) return push(next_action::handshake());
        apply(smtp_command::connect, "connect", {});
    }

    /// Continues after the last action completed with `ec` and `n` bytes.
    next_action resume(boost::system::error_code ec = {}, std::size_t n = 0) {
        switch (last_) {
        case action_type::write:
            write_failed_ = static_cast<bool>(ec);
            if (ec) return remember(end_connection(peer_result(ec, false)));
            out_.clear();
            stats_.answered += dots_in_out_;
            dots_in_out_ = 0;
            break;
        case action_type::read:
            ec = peer_result(ec, n == 0);
            if (ec) return remember(end_connection(ec));
            in_end_ += n;
            break;
        case action_type::wait:
            if (ec) return remember(end_connection(ec));
            after_wait();
            break;
        case action_type::handshake:
            if (ec) return remember(end_connection(ec));
            after_handshake();
            break;
        default: break;
        }
        return remember(step());
    }

    const server_event& event() const noexcept { return event_; }
    const server_stats& stats() const noexcept { return stats_; }
    client_proto proto() const noexcept { return proto_; }
    /// The last HELO/EHLO/LHLO arguments (leading white space removed), if one arrived.
    std::optional<std::string_view> helo_args() const noexcept {
        if (!have_helo_) return std::nullopt;
        return std::string_view(helo_args_);
    }
    const server_config& config() const noexcept { return cfg_; }
    /// Whether the connection ended because a write failed or timed out (not a read).
    bool failed_while_writing() const noexcept { return write_failed_; }
    /// Whether the server ended the connection unprompted (-A, or -q/-Q for `connect`), not in
    /// answer to a command line (Postfix's -v prints no `disconnect` for these).
    bool hung_up() const noexcept { return hung_up_; }
    /// Whether a TLS handshake succeeded on this connection (STARTTLS or tls_on_connect).
    bool secured() const noexcept { return secured_; }

private:
    enum class pending_t : std::uint8_t { none, reply, abort, pause };
    // What the reply being made ends: nothing (an ordinary command), a message's data (the "."
    // after DATA, a BDAT LAST chunk: LMTP replies once per recipient), or a counted message
    // (its reply also counts in `answered` once written).
    enum class ending_t : std::uint8_t { none, data, message };
    // The SASL response awaited, if any.
    enum class sasl_t : std::uint8_t { none, plain, login_user, login_password };

    static constexpr std::string_view too_big = "552 5.3.4 Message size exceeds fixed limit\r\n";

    static std::string capabilities(const server_config& cfg, bool starttls) {
        std::string s = "250-" + cfg.hostname + "\r\n";
        if (cfg.pipelining) s += "250-PIPELINING\r\n";
        if (cfg.eightbitmime) s += "250-8BITMIME\r\n";
        if (cfg.auth) s += "250-AUTH PLAIN LOGIN\r\n";
        if (cfg.xclient) s += "250-XCLIENT NAME HELO\r\n";
        if (cfg.xforward) s += "250-XFORWARD NAME ADDR PROTO HELO\r\n";
        if (cfg.enhanced_status_codes) s += "250-ENHANCEDSTATUSCODES\r\n";
        if (cfg.dsn) s += "250-DSN\r\n";
        if (cfg.size_limit) s += "250-SIZE " + std::to_string(cfg.size_limit) + "\r\n";
        if (starttls) s += "250-STARTTLS\r\n";
        if (cfg.smtputf8) s += "250-SMTPUTF8\r\n";
        if (cfg.chunking) s += "250-CHUNKING\r\n250-BINARYMIME\r\n";
        return s + "250 \r\n";
    }

    next_action remember(next_action a) noexcept {
        last_ = a.type();
        return a;
    }

    // The peer went away or an operation failed: an open transaction ends without a message.
    next_action end_connection(boost::system::error_code ec) {
        queue_.clear();  // anything still queued (a wait behind a failed write) is moot
        if (in_transaction_) {
            in_transaction_ = false;
            push_event({server_event::reset, smtp_command::rset, {}, {}});
        }
        push(next_action::done(ec));
        return pop();
    }

    next_action step() {
        for (;;) {
            if (!queue_.empty()) return pop();
            if (closing_) {
                if (!out_.empty()) return flush();
                end_transaction();  // QUIT, -q, -Q, -A or a long line with a transaction open
                if (!queue_.empty()) continue;
                return next_action::close();
            }
            if (data_mode_ ? take_data() : take_line()) continue;
            if (closing_ || !queue_.empty()) continue;
            if (!out_.empty()) return flush();
            return read_more();
        }
    }

    next_action flush() { return next_action::write({out_}); }

    // Reads into the small buffer, or in DATA or a BDAT chunk with nothing left over into the
    // bulk buffer (made at the session's first message, kept for its later ones): a message
    // arrives in a few large reads while an idle session holds only the small one. What follows a
    // message's end in the bulk buffer is taken from there before reads go back to the small one.
    next_action read_more() {
        if (in_begin_ == in_end_) {
            in_begin_ = in_end_ = scan_from_ = 0;
            if (data_mode_) {
                if (!bulk_) bulk_ = bulk_cache::take();
                buf_ = {bulk_.get(), bulk_size};
            } else {
                buf_ = inbuf_;
            }
        } else if (buf_.size() - in_end_ < max_line) {  // keep the partial line, make room behind it
            std::memmove(buf_.data(), buf_.data() + in_begin_, in_end_ - in_begin_);
            scan_from_ -= in_begin_;
            in_end_ -= in_begin_;
            in_begin_ = 0;
        }
        return next_action::read(buf_.subspan(in_end_));
    }

    // Consumes message data (or a BDAT chunk); true if it made progress.
    bool take_data() {
        if (chunk_mode_) return take_chunk();
        if (in_begin_ == in_end_) return false;
        const std::string_view avail(buf_.data() + in_begin_, in_end_ - in_begin_);
        const std::size_t used = scanner_.scan(avail);
        if (cfg_.content) push_event({server_event::content, smtp_command::data, avail.substr(0, used), {}});
        in_begin_ += used;
        scan_from_ = in_begin_;
        message_bytes_ += used;
        if (scanner_.done()) {
            data_mode_ = false;
            if (cfg_.size_limit && message_bytes_ - 3 > cfg_.size_limit) {  // without the ".\r\n" line
                end_transaction();
                ending_ = ending_t::data;
            } else {
                accept_message(smtp_command::dot);
            }
            if (cfg_.trace) push_event({server_event::command, smtp_command::dot, ".", {}});
            apply(smtp_command::dot, ".", {});
            ending_ = ending_t::none;
        }
        return true;
    }

    // Consumes (some of) a BDAT chunk, or applies its command once it is all read; true if it did.
    bool take_chunk() {
        const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(in_end_ - in_begin_, chunk_left_));
        if (n == 0 && chunk_left_ != 0) return false;
        if (chunk_good_ && n != 0) {
            message_bytes_ += n;
            if (cfg_.content)
                push_event({server_event::content, smtp_command::bdat, {buf_.data() + in_begin_, n}, {}});
        }
        in_begin_ += n;
        scan_from_ = in_begin_;
        chunk_left_ -= n;
        if (chunk_left_ == 0) {
            data_mode_ = chunk_mode_ = false;
            ending_ = chunk_last_ && chunk_good_ ? ending_t::data : ending_t::none;
            apply(smtp_command::bdat, chunk_typed_, chunk_args_);
            ending_ = ending_t::none;
        }
        return true;
    }

    // Consumes one command line (or SASL response); true if it did.
    bool take_line() {
        const char* base = buf_.data();
        for (;;) {
            const void* lf = std::memchr(base + scan_from_, '\n', in_end_ - scan_from_);
            if (!lf) {
                scan_from_ = in_end_;
                if (in_end_ - in_begin_ >= max_line) return too_long();
                return false;
            }
            const std::size_t at = static_cast<const char*>(lf) - base;
            scan_from_ = at + 1;
            if (at > in_begin_ && base[at - 1] == '\r') {
                if (at + 1 - in_begin_ > max_line) return too_long();
                std::string_view line(base + in_begin_, at - 1 - in_begin_);
                in_begin_ = at + 1;
                if (sasl_ != sasl_t::none) sasl_response(line);
                else handle_line(line.substr(0, line.find('\0')));
                return true;
            }
            // a bare LF is an ordinary byte of the line
        }
    }

    bool too_long() {
        push_event({server_event::line_too_long, smtp_command::connect, {}, {}});
        closing_ = true;
        return true;
    }

    // `line` lies in buf_, which this may change: the arguments' non-printable bytes become '?'.
    void handle_line(std::string_view line) {
        if (cfg_.trace) push_event({server_event::command, smtp_command::connect, line, {}});
        std::size_t b = 0;
        while (b < line.size() && (line[b] == ' ' || line[b] == '\t')) ++b;
        std::size_t e = b;
        while (e < line.size() && line[e] != ' ' && line[e] != '\t') ++e;
        const std::string_view name = line.substr(b, e - b);
        const std::string_view args = e < line.size() ? line.substr(e + 1) : std::string_view{};
        if (!args.empty()) {
            char* const first = buf_.data() + (args.data() - buf_.data());
            sanitize(first, args.size());
        }
        if (name.empty()) return reply("500 5.5.2 Error: unknown command\r\n");
        const auto cmd = find_smtp_command(name);
        if (!cmd || !enabled(*cmd)) return reply("500 5.5.1 Error: unknown command\r\n");
        if (*cmd == smtp_command::bdat) return begin_chunk(name, args);  // applied once the chunk is read
        apply(*cmd, name, args);
    }

    static void sanitize(char* p, std::size_t n) noexcept {
        for (char* c = p; c != p + n; ++c)
            if (static_cast<unsigned char>(*c) < 0x20 || static_cast<unsigned char>(*c) >= 0x7f) *c = '?';
    }

    bool enabled(smtp_command c) const noexcept {
        switch (c) {
        case smtp_command::connect: return false;  // a pseudo-command, not to be typed
        case smtp_command::helo: return !cfg_.lmtp;
        case smtp_command::ehlo: return !cfg_.lmtp && cfg_.esmtp && !cfg_.pix;
        case smtp_command::lhlo: return cfg_.lmtp;
        case smtp_command::xclient: return cfg_.xclient;
        case smtp_command::xforward: return cfg_.xforward;
        case smtp_command::bdat: return cfg_.chunking;
        case smtp_command::starttls: return cfg_.starttls || cfg_.tls_on_connect;
        default: return true;
        }
    }

    // smtp-sink's per-command precedence: -s, -q, -Q, -f, -r, delay, normal reply.
    void apply(smtp_command cmd, std::string_view typed, std::string_view args) {
        if (cfg_.log.has(cmd)) push_event({server_event::syslog, cmd, typed, args});
        if (cfg_.drop.has(cmd)) {
            closing_ = true;
            hung_up_ = cmd == smtp_command::connect;
            return;
        }
        if (cfg_.close.has(cmd)) {
            if (ending_ == ending_t::message) ++dots_in_out_;
            reply("421 4.0.0 Server closing connection\r\n");
            closing_ = true;
            hung_up_ = cmd == smtp_command::connect;
            return;
        }
        if (cfg_.hard.has(cmd)) return refuse(cmd, hard_);
        if (cfg_.soft.has(cmd)) return refuse(cmd, soft_);
        if (const auto& d = cfg_.delays[static_cast<std::size_t>(cmd)]) {
            const auto wait = delay_of(*d);
            if (wait.count() > 0) {
                delayed_cmd_ = cmd;
                delayed_ending_ = ending_;
                args_.assign(args);
                return hold(pending_t::reply, wait);
            }
        }
        normal(cmd, args);
    }

    std::chrono::steady_clock::duration delay_of(const command_delay& d) {
        if (d.odds <= 0) return d.delay;  // Postfix rolls dice only for odds above 0
        std::uniform_int_distribution<int> die(0, 99);
        int k = 0;
        while (die(rng_) < d.odds) ++k;
        return d.delay * k;
    }

    // Stop reading: send what is due, then wait.
    void hold(pending_t what, std::chrono::steady_clock::duration d) {
        pending_ = what;
        if (!out_.empty()) push(next_action::write({out_}));
        push(next_action::wait(d));
    }

    void after_wait() {
        const pending_t what = pending_;
        pending_ = pending_t::none;
        if (what == pending_t::reply) {
            ending_ = delayed_ending_;
            normal(delayed_cmd_, args_);
            ending_ = ending_t::none;
        } else if (what == pending_t::abort) {
            reply("550 This violates SMTP\r\n");
            closing_ = hung_up_ = true;
        }
    }

    // The handshake succeeded: what the client said before it no longer counts (RFC 3207 4.2).
    void after_handshake() {
        secured_ = true;
        have_helo_ = authenticated_ = false;
        helo_args_.clear();
        proto_ = cfg_.lmtp ? client_proto::lmtp : client_proto::smtp;
        if (cfg_.tls_on_connect) apply(smtp_command::connect, "connect", {});
    }

    // -f, -r: the error reply in place of the command's own. A refused chunk ends its transaction
    // (RFC 3030 4.2: the client sends no more of it).
    void refuse(smtp_command cmd, std::string_view text) {
        if (cmd == smtp_command::bdat) end_transaction();
        repeat_for_dot(text);
    }

    // One reply, or for the end of a message's data in LMTP one per recipient.
    void repeat_for_dot(std::string_view text) {
        if (ending_ == ending_t::message) ++dots_in_out_;
        const std::uint32_t times = cfg_.lmtp && ending_ != ending_t::none ? rcpts_ : 1;
        for (std::uint32_t i = 0; i < times; ++i) reply(text);
    }

    void reply(std::string_view text) {
        out_ += text;
        stats_.replies.add_reply(text);
    }

    static std::string_view after_colon(std::string_view args) noexcept {
        const auto colon = args.find(':');
        return trim(colon == std::string_view::npos ? args : args.substr(colon + 1));
    }
    static std::string_view trim(std::string_view s) noexcept {
        while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
        return s;
    }
    // The next word of `s` (after blanks), taken off it; empty at the end.
    static std::string_view next_word(std::string_view& s) noexcept {
        s = trim(s);
        const std::size_t end = std::min(s.find_first_of(" \t"), s.size());
        const std::string_view word = s.substr(0, end);
        s.remove_prefix(end);
        return word;
    }
    // A decimal of 1-19 digits (so that it fits 64 bits), or nothing.
    static std::optional<std::uint64_t> decimal(std::string_view s) noexcept {
        if (s.empty() || s.size() > 19) return std::nullopt;
        std::uint64_t v = 0;
        for (const char c : s) {
            if (c < '0' || c > '9') return std::nullopt;
            v = v * 10 + static_cast<std::uint64_t>(c - '0');
        }
        return v;
    }
    // MAIL's SIZE= parameter (RFC 1870; the last one if several): 0 without one, nothing if it is
    // not a decimal.
    static std::optional<std::uint64_t> declared_size(std::string_view args) noexcept {
        std::string_view rest = after_colon(args);
        next_word(rest);  // the address
        std::uint64_t size = 0;
        for (auto word = next_word(rest); !word.empty(); word = next_word(rest)) {
            if (!equals_ignoring_case(word.substr(0, 5), "size=")) continue;
            const auto n = decimal(word.substr(5));
            if (!n) return std::nullopt;
            size = *n;
        }
        return size;
    }

    void end_transaction() {
        if (!in_transaction_) return;
        in_transaction_ = false;
        push_event({server_event::reset, smtp_command::rset, {}, {}});
    }

    // The transaction's data is complete and good: a message (its reply comes next).
    void accept_message(smtp_command cmd) {
        in_transaction_ = false;
        ++stats_.messages;
        stats_.recipients += rcpts_;
        stats_.data_bytes += message_bytes_;
        push_event({server_event::message, cmd, {}, {}, message_bytes_});
        ending_ = ending_t::message;
    }

    void hello(smtp_command cmd, std::string_view args, std::string_view text) {
        end_transaction();
        proto_ = cfg_.lmtp ? client_proto::lmtp : cmd == smtp_command::helo ? client_proto::smtp : client_proto::esmtp;
        helo_args_.assign(args.substr(std::min(args.find_first_not_of(' '), args.size())));
        have_helo_ = true;
        push_event({server_event::helo, cmd, {}, helo_args_});
        reply(text);
    }

    // "BDAT <size> [LAST]" arrived: its chunk is read next, then its command applied.
    void begin_chunk(std::string_view typed, std::string_view args) {
        std::string_view rest = args;
        const auto size = decimal(next_word(rest));
        const auto last = next_word(rest);
        if (!size || *size > max_chunk || !(last.empty() || equals_ignoring_case(last, "last")) ||
            !next_word(rest).empty()) {
            reply("501 5.5.4 Syntax: BDAT count [LAST]\r\n");
            closing_ = true;  // the chunk cannot be told from the commands after it
            return;
        }
        data_mode_ = chunk_mode_ = true;
        chunk_left_ = chunk_size_ = *size;
        chunk_last_ = !last.empty();
        chunk_good_ = in_transaction_ && rcpts_ > 0;
        chunk_typed_.assign(typed);
        chunk_args_.assign(args);
        if (chunk_good_ && !chunks_) {  // the transaction's first chunk: its "DATA"
            chunks_ = true;
            message_bytes_ = 0;
            push_event({server_event::data, smtp_command::bdat, {}, {}});
        }
    }

    // A chunk was read and its command is not refused.
    void chunk(smtp_command cmd) {
        if (!in_transaction_ || rcpts_ == 0) return reply("503 5.5.1 Error: need RCPT command\r\n");
        if (cfg_.size_limit && message_bytes_ > cfg_.size_limit) {
            end_transaction();
            return repeat_for_dot(too_big);
        }
        if (chunk_last_) {
            accept_message(cmd);
            return repeat_for_dot(cfg_.lmtp ? "250 2.2.0 Ok\r\n" : "250 2.0.0 Ok\r\n");
        }
        char text[64] = "250 2.0.0 Ok: ";
        char* end = std::to_chars(text + 14, text + sizeof text, chunk_size_).ptr;
        constexpr std::string_view tail = " octets received\r\n";
        end = std::copy(tail.begin(), tail.end(), end);
        reply({text, static_cast<std::size_t>(end - text)});
    }

    void starttls(std::string_view args) {
        if (secured_) return reply("554 5.5.1 Error: TLS already active\r\n");
        if (!args.empty()) return reply("501 5.5.4 Syntax: STARTTLS\r\n");
        if (in_transaction_) return reply("503 5.5.1 Error: MAIL transaction in progress\r\n");
        reply("220 2.0.0 Ready to start TLS\r\n");
        in_begin_ = scan_from_ = in_end_;  // what came with the command is never executed (CVE-2011-0411)
        push(next_action::write({out_}));
        push(next_action::handshake());
    }

    // AUTH against cfg.users (RFC 4954).
    void auth(std::string_view args) {
        auth_user_.clear();
        mechanism_ = {};
        if (authenticated_) return auth_done("503 5.5.1 Error: already authenticated\r\n");
        if (in_transaction_) return auth_done("503 5.5.1 Error: MAIL transaction in progress\r\n");
        const auto mechanism = next_word(args);
        const auto initial = next_word(args);
        if (mechanism.empty()) return auth_done("501 5.5.4 Syntax: AUTH mechanism\r\n");
        if (equals_ignoring_case(mechanism, "plain")) {
            mechanism_ = "PLAIN";
            sasl_ = sasl_t::plain;
        } else if (equals_ignoring_case(mechanism, "login")) {
            mechanism_ = "LOGIN";
            sasl_ = sasl_t::login_user;
        } else {
            return auth_done("504 5.5.4 Unsupported authentication mechanism\r\n");
        }
        if (!initial.empty()) return sasl_response(initial == "=" ? std::string_view{} : initial);
        reply(sasl_ == sasl_t::plain ? "334 \r\n" : "334 VXNlcm5hbWU6\r\n");  // "Username:"
    }

    void sasl_response(std::string_view line) {
        if (line == "*") return auth_done("501 5.7.0 Authentication aborted\r\n");
        const auto decoded = base64_decode(line, max_line);
        if (!decoded) return auth_done("501 5.5.2 Cannot decode response\r\n");
        const std::string_view d = *decoded;
        if (sasl_ == sasl_t::login_user) {
            auth_user_ = d;
            sasl_ = sasl_t::login_password;
            return reply("334 UGFzc3dvcmQ6\r\n");  // "Password:"
        }
        if (sasl_ == sasl_t::login_password) return auth_checked(d);
        // PLAIN: authzid NUL authcid NUL password
        const auto nul1 = d.find('\0');
        const auto nul2 = nul1 == std::string_view::npos ? nul1 : d.find('\0', nul1 + 1);
        if (nul2 == std::string_view::npos || d.find('\0', nul2 + 1) != std::string_view::npos)
            return auth_done("501 5.5.2 Cannot decode response\r\n");
        const std::string_view authzid = d.substr(0, nul1);
        auth_user_ = d.substr(nul1 + 1, nul2 - nul1 - 1);
        auth_checked(d.substr(nul2 + 1), authzid.empty() || authzid == auth_user_);
    }

    void auth_checked(std::string_view password, bool authorized = true) {
        if (authorized && known(auth_user_, password)) {
            authenticated_ = true;
            return auth_done("235 2.7.0 Authentication successful\r\n");
        }
        auth_done("535 5.7.8 Error: authentication failed\r\n");
    }

    // Whether `user` has `password`; every byte of the user's stored password is compared,
    // wherever the first difference lies.
    bool known(std::string_view user, std::string_view password) const noexcept {
        bool ok = false;
        for (const auto& [u, p] : cfg_.users) {
            if (u != user) continue;
            unsigned diff = p.size() != password.size();
            for (std::size_t i = 0; i < p.size(); ++i)
                diff |= static_cast<unsigned char>(p[i] ^ (i < password.size() ? password[i] : '\0'));
            ok = diff == 0 || ok;
        }
        return ok;
    }

    void auth_done(std::string_view text) {
        sasl_ = sasl_t::none;
        sanitize(auth_user_.data(), auth_user_.size());
        const auto code = static_cast<std::uint64_t>(reply_tally::code_of(text));
        push_event({server_event::auth, smtp_command::auth, mechanism_, auth_user_, code});
        reply(text);
    }

    void normal(smtp_command cmd, std::string_view args) {
        switch (cmd) {
        case smtp_command::connect: return reply(greeting_);
        case smtp_command::helo: return hello(cmd, args, helo_reply_);
        case smtp_command::ehlo:
        case smtp_command::lhlo: return hello(cmd, args, secured_ || ehlo_starttls_.empty() ? ehlo_ : ehlo_starttls_);
        case smtp_command::mail:
            if (in_transaction_) return reply("503 5.5.1 Error: nested MAIL command\r\n");
            if (cfg_.size_limit) {
                const auto size = declared_size(args);
                if (!size) return reply("501 5.5.4 Bad message size syntax\r\n");
                if (*size > cfg_.size_limit) return reply(too_big);
            }
            in_transaction_ = true;
            rcpts_ = 0;
            chunks_ = false;
            push_event({server_event::mail, cmd, {}, after_colon(args)});
            return reply("250 2.1.0 Ok\r\n");
        case smtp_command::rcpt:
            if (!in_transaction_) return reply("503 5.5.1 Error: need MAIL command\r\n");
            if (chunks_) return reply("503 5.5.1 Error: RCPT after BDAT\r\n");
            ++rcpts_;
            push_event({server_event::rcpt, cmd, {}, after_colon(args)});
            return reply("250 2.1.5 Ok\r\n");
        case smtp_command::data:
            if (!in_transaction_ || rcpts_ == 0) return reply("503 5.5.1 Error: need RCPT command\r\n");
            if (chunks_) return reply("503 5.5.1 Error: DATA after BDAT\r\n");
            reply("354 End data with <CR><LF>.<CR><LF>\r\n");
            data_mode_ = true;
            scanner_.reset();
            message_bytes_ = 0;
            push_event({server_event::data, cmd, {}, {}});
            if (cfg_.abort_delay) return hold(pending_t::abort, *cfg_.abort_delay);
            if (cfg_.data_pause.count() > 0) return hold(pending_t::pause, cfg_.data_pause);
            return;
        case smtp_command::dot:
            if (ending_ == ending_t::data) return repeat_for_dot(too_big);  // the data was over the limit
            return repeat_for_dot(cfg_.lmtp && ending_ != ending_t::none ? "250 2.2.0 Ok\r\n" : "250 2.0.0 Ok\r\n");
        case smtp_command::rset:
            end_transaction();
            return reply("250 2.1.0 Ok\r\n");
        case smtp_command::quit:
            ++stats_.quits;
            push_event({server_event::quit, cmd, {}, {}});
            reply("221 Bye\r\n");
            closing_ = true;
            return;
        default: return other(cmd, args);
        }
    }

    // The rarer commands, kept out of normal() so that it stays small where it is hot.
    void other(smtp_command cmd, std::string_view args) {
        if (cmd == smtp_command::bdat) return chunk(cmd);
        if (cmd == smtp_command::starttls) return starttls(args);
        if (cmd == smtp_command::auth && !cfg_.users.empty()) return auth(args);
        reply("250 2.0.0 Ok\r\n");  // NOOP, VRFY, XCLIENT, XFORWARD, AUTH without users
    }

    void push(next_action a) { queue_.push(a); }
    void push_event(const server_event& e) { queue_.push_event(e); }
    next_action pop() { return queue_.pop(event_); }

    const server_config& cfg_;
    std::minstd_rand rng_;  // -W odds only: small, as every connection has one
    std::string greeting_, ehlo_, ehlo_starttls_, helo_reply_, soft_, hard_;  // ehlo_starttls_: offers STARTTLS

    static constexpr std::size_t bulk_size = 65536;

    // Bulk buffers of ended sessions, kept for the next ones on this thread (at most `keep`), so
    // that a connection per message allocates none once the first few have come and gone.
    struct bulk_cache {
        static constexpr std::size_t keep = 256;
        static std::vector<std::unique_ptr<char[]>>& kept() {
            thread_local std::vector<std::unique_ptr<char[]>> v = [] {
                std::vector<std::unique_ptr<char[]>> r;
                r.reserve(keep);  // give() never allocates
                return r;
            }();
            return v;
        }
        static std::unique_ptr<char[]> take() {
            auto& v = kept();
            if (v.empty()) return std::make_unique_for_overwrite<char[]>(bulk_size);
            auto b = std::move(v.back());
            v.pop_back();
            return b;
        }
        static void give(std::unique_ptr<char[]> b) noexcept {
            if (auto& v = kept(); b && v.size() < keep) v.push_back(std::move(b));
        }
    };

    std::array<char, 8192> inbuf_{};
    std::unique_ptr<char[]> bulk_;
    std::span<char> buf_{inbuf_};  // the buffer reads go to: inbuf_, or bulk_ in DATA and chunks
    std::size_t in_begin_ = 0, in_end_ = 0, scan_from_ = 0;
    std::string out_;
    data_end_scanner scanner_;

    action_queue<server_event> queue_;
    server_event event_;
    action_type last_ = action_type::done;

    // data_mode_: message bytes are read, after DATA or (chunk_mode_) BDAT
    bool data_mode_ = false, in_transaction_ = false, closing_ = false, write_failed_ = false, hung_up_ = false;
    ending_t ending_ = ending_t::none;
    pending_t pending_ = pending_t::none;
    smtp_command delayed_cmd_ = smtp_command::connect;
    ending_t delayed_ending_ = ending_t::none;
    std::string args_;
    std::uint32_t rcpts_ = 0;
    std::uint32_t dots_in_out_ = 0;  // replies to messages in out_, not yet written
    std::uint64_t message_bytes_ = 0;
    client_proto proto_ = client_proto::smtp;
    std::string helo_args_;
    bool have_helo_ = false;

    // BDAT: the chunk being read (its size, what is left of it, LAST, whether it belongs to a
    // transaction with a recipient, its command as typed for -s), whether the transaction has chunks
    bool chunk_mode_ = false, chunk_last_ = false, chunk_good_ = false, chunks_ = false;
    std::uint64_t chunk_size_ = 0, chunk_left_ = 0;
    std::string chunk_typed_, chunk_args_;

    bool secured_ = false, authenticated_ = false;
    sasl_t sasl_ = sasl_t::none;
    std::string_view mechanism_;  // of the AUTH exchange under way
    std::string auth_user_;
    server_stats stats_;
};

}  // namespace mailload::sansio

// SPDX-License-Identifier: BSL-1.0
// mailload/sansio/smtp_server.hpp — SMTP/LMTP server algorithm (smtp-sink's behaviour), sans I/O
#pragma once

#include <mailload/error.hpp>
#include <mailload/sansio/action.hpp>
#include <mailload/sansio/data_scanner.hpp>

#include <boost/system/error_code.hpp>

#include <algorithm>
#include <array>
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
#include <vector>

namespace mailload::sansio {

/// smtp-sink's commands, the `connect` and `.` pseudo-commands included (the names its
/// command lists -f -q -Q -r -s -W take).
enum class smtp_command : std::uint8_t {
    connect, helo, ehlo, lhlo, xclient, xforward, auth, mail, rcpt, data, dot, rset, noop, vrfy, quit
};
inline constexpr std::size_t smtp_command_count = 15;
inline constexpr std::array<std::string_view, smtp_command_count> smtp_command_names = {
    "connect", "helo", "ehlo", "lhlo", "xclient", "xforward", "auth", "mail",
    "rcpt",    "data", ".",    "rset", "noop",    "vrfy",     "quit"};

/// The command a name stands for, ignoring case; nothing for an unknown name.
inline std::optional<smtp_command> find_smtp_command(std::string_view name) noexcept {
    for (std::size_t i = 0; i < smtp_command_count; ++i) {
        const auto want = smtp_command_names[i];
        if (want.size() != name.size()) continue;
        bool same = true;
        for (std::size_t k = 0; k < want.size() && same; ++k) {
            char c = name[k];
            if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
            same = c == want[k];
        }
        if (same) return static_cast<smtp_command>(i);
    }
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
        data,           ///< DATA accepted (354 sent)
        content,        ///< message data as received, end marker included (content only)
        message,        ///< a complete message arrived (before its "." reply)
        reset,          ///< the open transaction ended without a message
        quit,           ///< QUIT arrived
    };
    kind_t kind = command;
    smtp_command cmd = smtp_command::connect;
    std::string_view text;
    std::string_view args;
    std::uint64_t size = 0;  ///< `message`: its data bytes (SMTP: end marker included)
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
    void add_reply(std::string_view text, std::uint64_t n = 1) noexcept {
        int code = 0;
        for (std::size_t i = 0; i < 3 && i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i)
            code = code * 10 + (text[i] - '0');
        add(code, n);
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
    std::uint64_t data_bytes = 0;  ///< message data bytes, end markers included
    std::uint64_t quits = 0;
    reply_tally replies;           ///< replies queued for writing, by code
};

/// The client's protocol as smtp-sink's dumps name it.
enum class client_proto : std::uint8_t { smtp, esmtp, lmtp };

/**
 * smtp-sink's side of one connection, as a sans-io state machine: greeting, commands read a
 * line at a time (CR LF only ends a line; at most `max_line` bytes with the CR LF), replies
 * batched until the input runs dry (a pipelined burst is answered in one write), DATA scanned a
 * block at a time for CR LF . CR LF without buffering the message.
 *
 * Unlike Postfix's sink, a delayed reply (-W/-w) holds back the commands after it, so replies
 * never come out of order; an LMTP "." outside DATA gets one reply.
 */
class smtp_server {
public:
    static constexpr std::size_t max_line = 2048;  ///< a command line, CR LF included

    explicit smtp_server(const server_config& cfg, std::uint64_t seed = 1)
        : cfg_(cfg), rng_(static_cast<std::uint_fast32_t>(seed % 2147483646u + 1)) {
        out_.reserve(1024);
        greeting_ = cfg.pix ? "220 ********\r\n" : "220 " + cfg.hostname + (cfg.esmtp ? " ESMTP\r\n" : "\r\n");
        ehlo_ = "250-" + cfg.hostname + "\r\n";
        if (cfg.pipelining) ehlo_ += "250-PIPELINING\r\n";
        if (cfg.eightbitmime) ehlo_ += "250-8BITMIME\r\n";
        if (cfg.auth) ehlo_ += "250-AUTH PLAIN LOGIN\r\n";
        if (cfg.xclient) ehlo_ += "250-XCLIENT NAME HELO\r\n";
        if (cfg.xforward) ehlo_ += "250-XFORWARD NAME ADDR PROTO HELO\r\n";
        if (cfg.enhanced_status_codes) ehlo_ += "250-ENHANCEDSTATUSCODES\r\n";
        if (cfg.dsn) ehlo_ += "250-DSN\r\n";
        ehlo_ += "250 \r\n";
        helo_reply_ = "250 " + cfg.hostname + "\r\n";
        soft_ = cfg.soft_reply + "\r\n";
        hard_ = cfg.hard_reply + "\r\n";
    }

    smtp_server(const smtp_server&) = delete;
    smtp_server& operator=(const smtp_server&) = delete;
    ~smtp_server() { bulk_cache::give(std::move(bulk_)); }

    /// Begins a new connection: the `connect` pseudo-command (the greeting) comes first.
    void start() noexcept {
        in_begin_ = in_end_ = scan_from_ = 0;
        buf_ = inbuf_;
        out_.clear();
        queue_.clear();
        last_ = action_type::done;
        data_mode_ = in_transaction_ = closing_ = after_data_ = write_failed_ = hung_up_ = false;
        pending_ = pending_t::none;
        rcpts_ = 0;
        dots_in_out_ = 0;
        proto_ = cfg_.lmtp ? client_proto::lmtp : client_proto::smtp;
        helo_args_.clear();
        have_helo_ = false;
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

private:
    enum class pending_t : std::uint8_t { none, reply, abort, pause };

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

    // Reads into the small buffer, or in DATA with nothing left over into the bulk buffer (made
    // at the session's first DATA, kept for its later ones): a message arrives in a few large
    // reads while an idle session holds only the small one. What follows a message's end in the
    // bulk buffer is taken from there before reads go back to the small one.
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

    // Consumes message data; true if it made progress.
    bool take_data() {
        if (in_begin_ == in_end_) return false;
        const std::string_view avail(buf_.data() + in_begin_, in_end_ - in_begin_);
        const std::size_t used = scanner_.scan(avail);
        stats_.data_bytes += used;
        if (cfg_.content) push_event({server_event::content, smtp_command::data, avail.substr(0, used), {}});
        in_begin_ += used;
        scan_from_ = in_begin_;
        message_bytes_ += used;
        if (scanner_.done()) {
            data_mode_ = false;
            in_transaction_ = false;
            ++stats_.messages;
            stats_.recipients += rcpts_;
            push_event({server_event::message, smtp_command::dot, {}, {}, message_bytes_});
            if (cfg_.trace) push_event({server_event::command, smtp_command::dot, ".", {}});
            after_data_ = true;
            apply(smtp_command::dot, ".", {});
            after_data_ = false;
        }
        return true;
    }

    // Consumes one command line; true if it did.
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
                handle_line(line.substr(0, line.find('\0')));
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
            for (char* c = first; c != first + args.size(); ++c)
                if (static_cast<unsigned char>(*c) < 0x20 || static_cast<unsigned char>(*c) >= 0x7f) *c = '?';
        }
        if (name.empty()) return reply("500 5.5.2 Error: unknown command\r\n");
        const auto cmd = find_smtp_command(name);
        if (!cmd || !enabled(*cmd)) return reply("500 5.5.1 Error: unknown command\r\n");
        apply(*cmd, name, args);
    }

    bool enabled(smtp_command c) const noexcept {
        switch (c) {
        case smtp_command::connect: return false;  // a pseudo-command, not to be typed
        case smtp_command::helo: return !cfg_.lmtp;
        case smtp_command::ehlo: return !cfg_.lmtp && cfg_.esmtp && !cfg_.pix;
        case smtp_command::lhlo: return cfg_.lmtp;
        case smtp_command::xclient: return cfg_.xclient;
        case smtp_command::xforward: return cfg_.xforward;
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
            if (cmd == smtp_command::dot && after_data_) ++dots_in_out_;
            reply("421 4.0.0 Server closing connection\r\n");
            closing_ = true;
            hung_up_ = cmd == smtp_command::connect;
            return;
        }
        if (cfg_.hard.has(cmd)) return repeat_for_dot(cmd, hard_);
        if (cfg_.soft.has(cmd)) return repeat_for_dot(cmd, soft_);
        if (const auto& d = cfg_.delays[static_cast<std::size_t>(cmd)]) {
            const auto wait = delay_of(*d);
            if (wait.count() > 0) {
                delayed_cmd_ = cmd;
                delayed_after_data_ = after_data_;
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
            after_data_ = delayed_after_data_;
            normal(delayed_cmd_, args_);
            after_data_ = false;
        } else if (what == pending_t::abort) {
            reply("550 This violates SMTP\r\n");
            closing_ = hung_up_ = true;
        }
    }

    void repeat_for_dot(smtp_command cmd, std::string_view text) {
        if (cmd == smtp_command::dot && after_data_) ++dots_in_out_;
        const std::uint32_t times = cmd == smtp_command::dot && cfg_.lmtp && after_data_ ? rcpts_ : 1;
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

    void end_transaction() {
        if (!in_transaction_) return;
        in_transaction_ = false;
        push_event({server_event::reset, smtp_command::rset, {}, {}});
    }

    void hello(smtp_command cmd, std::string_view args, std::string_view text) {
        end_transaction();
        proto_ = cfg_.lmtp ? client_proto::lmtp : cmd == smtp_command::helo ? client_proto::smtp : client_proto::esmtp;
        helo_args_.assign(args.substr(std::min(args.find_first_not_of(' '), args.size())));
        have_helo_ = true;
        push_event({server_event::helo, cmd, {}, helo_args_});
        reply(text);
    }

    void normal(smtp_command cmd, std::string_view args) {
        switch (cmd) {
        case smtp_command::connect: return reply(greeting_);
        case smtp_command::helo: return hello(cmd, args, helo_reply_);
        case smtp_command::ehlo:
        case smtp_command::lhlo: return hello(cmd, args, ehlo_);
        case smtp_command::mail:
            if (in_transaction_) return reply("503 5.5.1 Error: nested MAIL command\r\n");
            in_transaction_ = true;
            rcpts_ = 0;
            push_event({server_event::mail, cmd, {}, after_colon(args)});
            return reply("250 2.1.0 Ok\r\n");
        case smtp_command::rcpt:
            if (!in_transaction_) return reply("503 5.5.1 Error: need MAIL command\r\n");
            ++rcpts_;
            push_event({server_event::rcpt, cmd, {}, after_colon(args)});
            return reply("250 2.1.5 Ok\r\n");
        case smtp_command::data:
            if (!in_transaction_ || rcpts_ == 0) return reply("503 5.5.1 Error: need RCPT command\r\n");
            reply("354 End data with <CR><LF>.<CR><LF>\r\n");
            data_mode_ = true;
            scanner_.reset();
            message_bytes_ = 0;
            push_event({server_event::data, cmd, {}, {}});
            if (cfg_.abort_delay) return hold(pending_t::abort, *cfg_.abort_delay);
            if (cfg_.data_pause.count() > 0) return hold(pending_t::pause, cfg_.data_pause);
            return;
        case smtp_command::dot:
            return repeat_for_dot(cmd, cfg_.lmtp && after_data_ ? "250 2.2.0 Ok\r\n" : "250 2.0.0 Ok\r\n");
        case smtp_command::rset:
            end_transaction();
            return reply("250 2.1.0 Ok\r\n");
        case smtp_command::quit:
            ++stats_.quits;
            push_event({server_event::quit, cmd, {}, {}});
            reply("221 Bye\r\n");
            closing_ = true;
            return;
        default: return reply("250 2.0.0 Ok\r\n");  // NOOP, VRFY, XCLIENT, XFORWARD, AUTH
        }
    }

    void push(next_action a) { queue_.push(a); }
    void push_event(const server_event& e) { queue_.push_event(e); }
    next_action pop() { return queue_.pop(event_); }

    const server_config& cfg_;
    std::minstd_rand rng_;  // -W odds only: small, as every connection has one
    std::string greeting_, ehlo_, helo_reply_, soft_, hard_;

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
    std::span<char> buf_{inbuf_};  // the buffer reads go to: inbuf_, or bulk_ in DATA
    std::size_t in_begin_ = 0, in_end_ = 0, scan_from_ = 0;
    std::string out_;
    data_end_scanner scanner_;

    action_queue<server_event> queue_;
    server_event event_;
    action_type last_ = action_type::done;

    bool data_mode_ = false, in_transaction_ = false, closing_ = false, after_data_ = false, write_failed_ = false,
         hung_up_ = false;
    pending_t pending_ = pending_t::none;
    smtp_command delayed_cmd_ = smtp_command::connect;
    bool delayed_after_data_ = false;
    std::string args_;
    std::uint32_t rcpts_ = 0;
    std::uint32_t dots_in_out_ = 0;  // replies to messages in out_, not yet written
    std::uint64_t message_bytes_ = 0;
    client_proto proto_ = client_proto::smtp;
    std::string helo_args_;
    bool have_helo_ = false;
    server_stats stats_;
};

}  // namespace mailload::sansio

// SPDX-License-Identifier: BSL-1.0
// mailload/sansio/smtp_client.hpp — SMTP/LMTP client algorithm (smtp-source's dialog), sans I/O
#pragma once

#include <mailload/error.hpp>
#include <mailload/sansio/action.hpp>
#include <mailload/sansio/message_builder.hpp>
#include <mailload/sansio/reply_parser.hpp>

#include <boost/system/error_code.hpp>

#include <array>
#include <atomic>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mailload::sansio {

/// The step of the dialog a reply or an error belongs to.
enum class client_stage : std::uint8_t { greeting, helo, mail, rcpt, data, dot, rset, quit };
inline constexpr std::size_t client_stage_count = 8;
/// Each stage's name as the reports spell it, indexed by client_stage.
inline constexpr std::array<std::string_view, client_stage_count> client_stage_names = {
    "greeting", "helo", "mail", "rcpt", "data", "dot", "rset", "quit"};

/// How recipient addresses are numbered (smtp-source's -N and -r).
enum class rcpt_numbering : std::uint8_t {
    off,               ///< every RCPT is the address as given
    prepend_countdown, ///< Postfix <= 3.8, -r n without -N: "n addr" … "2addr", then "addr"
    prepend_sequence,  ///< Postfix <= 3.8, -N: "1addr", "2addr", … one counter for the whole run
    append_sequence,   ///< Postfix >= 3.9: "local0@domain", "local1@domain", … from 0
};

/// The dialog's settings (smtp-source's -L -o -d -A -v -M -f -t -r -N).
struct client_config {
    bool lmtp = false;            ///< LHLO, and one reply per accepted recipient after "."
    bool send_helo = true;        ///< false under -o
    bool keep_alive = false;      ///< -d: next message on the same connection
    bool ignore_rejects = false;  ///< -A: warn about unexpected replies and carry on
    bool trace = false;           ///< report every command and reply as an event (-v)
    bool replies = false;         ///< report every reply as an event (the source times them)
    bool pipelining = false;      ///< greet with EHLO and, if PIPELINING is announced, batch commands
    bool pipeline_next = true;    ///< with keep_alive: send the next MAIL/RCPT/DATA with the "."
                                  ///< (needs the next message claimed early: off when pacing)
    std::string helo_name;        ///< HELO/LHLO argument
    std::string sender;           ///< MAIL FROM:<sender>
    std::string recipient;        ///< RCPT TO:<recipient>, numbered as `numbering` says
    std::uint32_t rcpt_count = 1; ///< recipients per transaction
    rcpt_numbering numbering = rcpt_numbering::off;
};

/// Something the client reports while it runs.
struct client_event {
    enum kind_t : std::uint8_t {
        sent,          ///< a command was sent (trace only); `text` is it without CRLF
        reply,         ///< a reply arrived (trace or replies); `text` is its lines joined with '\n'
        message_sent,  ///< the message and its "." were written
        accepted,      ///< the server accepted the message (LMTP: for at least one recipient)
        rejected,      ///< an unexpected reply that -A let pass; see `stage`, `code`, `text`
    };
    kind_t kind = sent;
    client_stage stage = client_stage::greeting;
    int code = 0;
    std::string_view text;
};

/// Per-session tallies, added up across the session's connections.
struct client_stats {
    std::uint64_t messages_sent = 0;      ///< "." written
    std::uint64_t messages_accepted = 0;  ///< "." answered 2xx (LMTP: by at least one recipient)
    std::uint64_t recipients_sent = 0;
    std::uint64_t recipients_accepted = 0;
    std::uint64_t bytes_accepted = 0;  ///< content of the accepted messages as written (SMTP: end marker included)
    std::array<std::uint64_t, client_stage_count> rejected{};  ///< unexpected replies, by stage

    client_stats& operator+=(const client_stats& o) noexcept {
        messages_sent += o.messages_sent;
        messages_accepted += o.messages_accepted;
        recipients_sent += o.recipients_sent;
        recipients_accepted += o.recipients_accepted;
        bytes_accepted += o.bytes_accepted;
        for (std::size_t i = 0; i < rejected.size(); ++i) rejected[i] += o.rejected[i];
        return *this;
    }
};

/// The words Postfix uses for a rejection at each stage ("recipient rejected: …").
inline std::string_view rejection_name(client_stage s, bool lmtp) noexcept {
    switch (s) {
    case client_stage::greeting: return "rejected at server banner";
    case client_stage::helo: return lmtp ? "LHLO rejected" : "HELO rejected";
    case client_stage::mail: return "sender rejected";
    case client_stage::rcpt: return "recipient rejected";
    case client_stage::data: return "data rejected";
    case client_stage::dot: return "end of data rejected";
    case client_stage::rset: return "rset rejected";
    case client_stage::quit: return "quit rejected";
    }
    return "rejected";
}

/// The words Postfix uses for the step an I/O error interrupted ("… while sending recipient").
inline std::string_view stage_activity(client_stage s, bool lmtp) noexcept {
    switch (s) {
    case client_stage::greeting: return "reading server greeting";
    case client_stage::helo: return lmtp ? "sending LHLO" : "sending HELO";
    case client_stage::mail: return "sending sender";
    case client_stage::rcpt: return "sending recipient";
    case client_stage::data: return "sending DATA command";
    case client_stage::dot: return "sending message";
    case client_stage::rset: return "sending message";  // Postfix's words for RSET too
    case client_stage::quit: return "sending QUIT";
    }
    return "talking to server";
}

/**
 * The smtp-source dialog on one connection after another, as a sans-io state machine:
 * greeting, HELO/LHLO, then per message MAIL, RCPT × r, DATA, content and ".", then QUIT or
 * (with keep_alive) the next message on the same connection. Each command is one write and
 * waits for its reply (Postfix's lock-step wire).
 *
 * Drive it with start() for each new connection (the first message already claimed) and then
 * resume() with each completed action's result. Under `ignore_rejects`, an unexpected reply is
 * reported as a `rejected` event and the dialog goes on as Postfix's -A does; a 421 or 521 ends
 * the connection with action `close`. Otherwise it ends with done(error::rejected), and
 * failure() tells the stage and the reply.
 */
class smtp_client {
public:
    smtp_client(const client_config& cfg, const message_builder& msg, std::atomic<std::uint64_t>& rcpt_sequence)
        : cfg_(cfg), msg_(msg), rcpt_seq_(rcpt_sequence) {
        cmd_.reserve(64 + cfg.recipient.size() + cfg.sender.size() + cfg.helo_name.size());
        headers_.reserve(256 + cfg.recipient.size());
        to_.reserve(cfg.recipient.size() + 24);
        const auto at = cfg.recipient.rfind('@');
        local_ = std::string_view(cfg_.recipient).substr(0, at);
        at_domain_ = at == std::string::npos ? std::string_view{} : std::string_view(cfg_.recipient).substr(at);
    }

    smtp_client(const smtp_client&) = delete;
    smtp_client& operator=(const smtp_client&) = delete;

    /// Begins the dialog on a new connection. `fd` and `left` fill the Message-Id.
    void start(std::uint32_t fd, std::uint32_t left) noexcept {
        fd_ = fd;
        left_ = left;
        pipelined_ = helo_fallback_ = next_sent_ = quit_after_dot_ = claiming_ = lone_dot_ = false;
        in_begin_ = in_end_ = 0;
        reply_.reset();
        queue_.clear();
        state_ = state::greeting;
        last_ = action_type::done;
    }

    /// Before resuming from `next_message` with success: the claimed message's Message-Id field.
    void set_left(std::uint32_t left) noexcept { left_ = left; }

    /// Continues after the last action completed with `ec` and `n` bytes.
    next_action resume(boost::system::error_code ec = {}, std::size_t n = 0) {
        switch (last_) {
        case action_type::write:
            ec = peer_result(ec, false);
            if (ec) return remember(fail_io(ec));
            if (state_ == state::dot && !lone_dot_) {
                ++stats_.messages_sent;
                push_event({client_event::message_sent, client_stage::dot, 0, {}});
            }
            break;
        case action_type::read:
            ec = peer_result(ec, n == 0);
            if (ec) return remember(fail_io(ec));
            in_end_ += n;
            break;
        case action_type::next_message:
            if (claiming_) finish_pipelined_message(!ec);
            else if (ec) send(state::quit, "QUIT");
            else begin_transaction();
            break;
        default: break;
        }
        if (!queue_.empty()) return remember(pop());
        return remember(await_reply());
    }

    /// The event an `event` action announced; valid until the next resume().
    const client_event& event() const noexcept { return event_; }
    /// Where the dialog was when it ended with an error.
    client_stage stage() const noexcept { return stage_of(state_); }
    /// After done(error::rejected): the rejected stage's reply.
    int failure_code() const noexcept { return reply_.code(); }
    std::string_view failure_text() const noexcept { return reply_.text(); }
    const client_stats& stats() const noexcept { return stats_; }
    const client_config& config() const noexcept { return cfg_; }

    /// Whether this connection batches commands (asked for, and PIPELINING announced).
    bool pipelined() const noexcept { return pipelined_; }

    /// A fatal error in Postfix's words: "recipient rejected: 550 …", "lost connection while …".
    std::string failure_message(boost::system::error_code ec) const {
        if (ec == error::rejected)
            return std::string(rejection_name(stage(), cfg_.lmtp)) + ": " + std::to_string(reply_.code()) + " " +
                   std::string(reply_.text());
        return ec.message() + " while " + std::string(stage_activity(stage(), cfg_.lmtp));
    }

private:
    enum class state : std::uint8_t { greeting, helo, mail, rcpt, data, dot, rset, quit, between };

    static client_stage stage_of(state s) noexcept {
        return s == state::between ? client_stage::mail : static_cast<client_stage>(s);
    }

    next_action remember(next_action a) noexcept {
        last_ = a.type();
        return a;
    }

    // An I/O error (or end of input): a peer that goes away after QUIT did all it had to.
    next_action fail_io(boost::system::error_code ec) {
        if (state_ == state::quit) return next_action::close();
        return next_action::done(ec);
    }

    // Wait for (or take from buffered input) the reply to the command just sent.
    next_action await_reply() {
        for (;;) {
            boost::system::error_code ec;
            in_begin_ += reply_.feed(std::string_view(inbuf_.data() + in_begin_, in_end_ - in_begin_), ec);
            if (ec) return next_action::done(ec);
            if (!reply_.complete()) {
                in_begin_ = in_end_ = 0;  // the parser keeps what it needs
                return next_action::read(std::span<char>(inbuf_));
            }
            if (cfg_.trace || cfg_.replies)
                push_event({client_event::reply, stage_of(state_), reply_.code(), reply_.lines()});
            on_reply();
            if (!queue_.empty()) return pop();
            // nothing to do yet: another reply is due (LMTP, after ".")
        }
    }

    // Acts on a complete reply; queues what comes next.
    void on_reply() {
        const int code = reply_.code();
        const bool ok = state_ == state::data ? code == 354 : code / 100 == 2;
        if (state_ == state::quit) return push(next_action::close());
        if (!ok && state_ == state::helo && cfg_.pipelining && !cfg_.lmtp && !helo_fallback_) {
            helo_fallback_ = true;  // no ESMTP: greet again with HELO, and go lock-step
            return send(state::helo, "HELO ", cfg_.helo_name);
        }
        if (!ok) {
            ++stats_.rejected[static_cast<std::size_t>(stage_of(state_))];
            if (!cfg_.ignore_rejects) return push(next_action::done(error::rejected));
            push_event({client_event::rejected, stage_of(state_), code, reply_.text()});
            if (code == 421 || code == 521) return push(next_action::close());
        }
        switch (state_) {
        case state::greeting:
            if (!cfg_.send_helo) return begin_transaction();
            return send(state::helo, cfg_.lmtp ? "LHLO " : cfg_.pipelining ? "EHLO " : "HELO ", cfg_.helo_name);
        case state::helo:
            pipelined_ = ok && cfg_.pipelining && !helo_fallback_ && announces_pipelining(reply_.lines());
            return begin_transaction();
        case state::mail:
            if (pipelined_) {  // the RCPTs and DATA are on their way: take their replies in turn
                state_ = cfg_.rcpt_count ? state::rcpt : state::data;
                return;
            }
            if (!ok) return send(state::rset, "RSET");
            rcpt_sent_ = rcpt_ok_ = 0;
            return send_rcpt();
        case state::rcpt:
            if (ok) {
                ++rcpt_ok_;
                ++stats_.recipients_accepted;
            }
            if (pipelined_) {
                if (++rcpt_replies_ == cfg_.rcpt_count) state_ = state::data;
                return;
            }
            if (rcpt_sent_ < cfg_.rcpt_count) return send_rcpt();
            return rcpt_ok_ > 0 ? send(state::data, "DATA") : send(state::rset, "RSET");
        case state::data:
            if (!ok) return send(state::rset, "RSET");
            if (rcpt_ok_ == 0) {  // pipelined, DATA accepted with no recipient: end it (RFC 2920 3.1)
                lone_dot_ = true;
                return send(state::dot, ".");
            }
            return send_message();
        case state::dot:
            if (lone_dot_) {  // nothing was sent, nothing is counted, whatever the reply
                lone_dot_ = false;
                return end_transaction();
            }
            if (ok) dot_ok_ = true;
            if (--replies_due_ > 0) return;
            if (dot_ok_) {
                ++stats_.messages_accepted;
                stats_.bytes_accepted += headers_.size() + msg_.body().size();
                push_event({client_event::accepted, client_stage::dot, 0, {}});
            }
            return end_transaction();
        case state::rset: return end_transaction();
        default: return;
        }
    }

    void begin_transaction() {
        if (!pipelined_) return send(state::mail, "MAIL FROM:<", cfg_.sender, ">");
        cmd_.clear();
        batch_into(cmd_);
        queue_command(state::mail);
    }

    // MAIL, every RCPT and DATA, as one batch (RFC 2920); their replies come in order.
    void batch_into(std::string& out) {
        out.append("MAIL FROM:<").append(cfg_.sender).append(">\r\n");
        rcpt_sent_ = rcpt_ok_ = rcpt_replies_ = 0;
        for (std::uint32_t i = 0; i < cfg_.rcpt_count; ++i) append_rcpt(out);
        out.append("DATA\r\n");
    }

    void end_transaction() {
        if (quit_after_dot_) {  // the QUIT went with the "."
            state_ = state::quit;
            return;
        }
        if (next_sent_) {  // so did the next transaction's commands: their replies come next
            next_sent_ = false;
            state_ = state::mail;
            return;
        }
        if (!cfg_.keep_alive) return send(state::quit, "QUIT");
        state_ = state::between;
        push(next_action::next_message());
    }

    static bool announces_pipelining(std::string_view lines) noexcept {
        for (std::size_t at = lines.find('\n'); at != std::string_view::npos; at = lines.find('\n', at + 1)) {
            std::string_view keyword = lines.substr(at + 1);
            keyword = keyword.substr(0, keyword.find('\n'));
            if (keyword.size() < 4) continue;
            keyword.remove_prefix(4);  // "250-" or "250 "
            keyword = keyword.substr(0, keyword.find(' '));
            constexpr std::string_view want = "PIPELINING";
            if (keyword.size() != want.size()) continue;
            bool same = true;
            for (std::size_t i = 0; i < want.size() && same; ++i)
                same = (keyword[i] & ~0x20) == want[i];
            if (same) return true;
        }
        return false;
    }

    void send_rcpt() {
        cmd_.clear();
        append_rcpt(cmd_);
        queue_command(state::rcpt);
    }

    // "RCPT TO:<…>\r\n" for the next recipient, numbered as configured; to_ keeps the address.
    void append_rcpt(std::string& out) {
        const std::uint32_t i = rcpt_sent_++;
        ++stats_.recipients_sent;
        to_.clear();
        switch (cfg_.numbering) {
        case rcpt_numbering::off: to_ = cfg_.recipient; break;
        case rcpt_numbering::prepend_countdown:
            if (cfg_.rcpt_count - i > 1) append_number(to_, cfg_.rcpt_count - i);
            to_ += cfg_.recipient;
            break;
        case rcpt_numbering::prepend_sequence:
            append_number(to_, rcpt_seq_.fetch_add(1, std::memory_order_relaxed) + 1);
            to_ += cfg_.recipient;
            break;
        case rcpt_numbering::append_sequence:
            to_ += local_;
            append_number(to_, rcpt_seq_.fetch_add(1, std::memory_order_relaxed));
            to_ += at_domain_;
            break;
        }
        out.append("RCPT TO:<").append(to_).append(">\r\n");
    }

    void send_message() {
        const std::string_view to = cfg_.numbering == rcpt_numbering::append_sequence
                                        ? std::string_view(to_)
                                        : std::string_view(cfg_.recipient);
        replies_due_ = cfg_.lmtp ? rcpt_ok_ : 1;  // LMTP: one reply per accepted recipient
        dot_ok_ = false;
        state_ = state::dot;
        if (cfg_.trace) push_event({client_event::sent, client_stage::dot, 0, "."});
        headers_.clear();
        if (msg_.has_headers()) msg_.headers(headers_, to, fd_, left_);
        if (!pipelined_) return push(next_action::write({headers_, msg_.body()}));
        if (!cfg_.keep_alive) return finish_pipelined_message(false);
        if (!cfg_.pipeline_next) return push(next_action::write({headers_, msg_.body()}));
        claiming_ = true;  // claim the next message now, to send its commands with this "."
        push(next_action::next_message());
    }

    // The content and "." go out with what follows them: the next transaction's commands when
    // a message was claimed, else QUIT.
    void finish_pipelined_message(bool claimed) {
        claiming_ = false;
        cmd_.clear();
        if (claimed) {
            batch_into(cmd_);
            next_sent_ = true;
        } else {
            cmd_ = "QUIT\r\n";
            quit_after_dot_ = true;
        }
        if (cfg_.trace)
            push_event({client_event::sent, claimed ? client_stage::mail : client_stage::quit, 0,
                        std::string_view(cmd_).substr(0, cmd_.size() - 2)});
        push(next_action::write({headers_, msg_.body(), cmd_}));
    }

    void send(state s, std::string_view a, std::string_view b = {}, std::string_view c = {}) {
        cmd_.assign(a).append(b).append(c).append("\r\n");
        queue_command(s);
    }

    void queue_command(state s) {
        state_ = s;
        if (cfg_.trace)
            push_event({client_event::sent, stage_of(s), 0, std::string_view(cmd_).substr(0, cmd_.size() - 2)});
        push(next_action::write({cmd_}));
    }

    static void append_number(std::string& out, std::uint64_t v) {
        char buf[24];
        auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
        out.append(buf, end);
    }

    void push(next_action a) { queue_.push(a); }
    void push_event(const client_event& e) { queue_.push_event(e); }
    next_action pop() { return queue_.pop(event_); }

    const client_config& cfg_;
    const message_builder& msg_;
    std::atomic<std::uint64_t>& rcpt_seq_;
    std::string_view local_, at_domain_;

    reply_parser reply_;
    std::array<char, 4096> inbuf_{};
    std::size_t in_begin_ = 0, in_end_ = 0;
    std::string cmd_, headers_, to_;

    action_queue<client_event> queue_;
    client_event event_;
    action_type last_ = action_type::done;
    state state_ = state::greeting;
    bool dot_ok_ = false;
    bool pipelined_ = false, helo_fallback_ = false, next_sent_ = false, quit_after_dot_ = false, claiming_ = false,
         lone_dot_ = false;
    std::uint32_t rcpt_sent_ = 0, rcpt_ok_ = 0, rcpt_replies_ = 0, replies_due_ = 0;
    std::uint32_t fd_ = 0, left_ = 0;
    client_stats stats_;
};

}  // namespace mailload::sansio

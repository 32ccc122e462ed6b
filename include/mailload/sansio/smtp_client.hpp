// SPDX-License-Identifier: BSL-1.0
// mailload/sansio/smtp_client.hpp — SMTP/LMTP client algorithm (smtp-source's dialog), sans I/O
#pragma once

#include <mailload/error.hpp>
#include <mailload/sansio/action.hpp>
#include <mailload/sansio/base64.hpp>
#include <mailload/sansio/ehlo.hpp>
#include <mailload/sansio/message_builder.hpp>
#include <mailload/sansio/reply_parser.hpp>

#include <boost/system/error_code.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mailload::sansio {

/// The step of the dialog a reply or an error belongs to.
enum class client_stage : std::uint8_t { greeting, helo, mail, rcpt, data, dot, rset, quit, starttls, auth, bdat };
inline constexpr std::size_t client_stage_count = 11;
/// Each stage's name as the reports spell it, indexed by client_stage.
inline constexpr std::array<std::string_view, client_stage_count> client_stage_names = {
    "greeting", "helo", "mail", "rcpt", "data", "dot", "rset", "quit", "starttls", "auth", "bdat"};

/// How recipient addresses are numbered (smtp-source's -N and -r).
enum class rcpt_numbering : std::uint8_t {
    off,               ///< every RCPT is the address as given
    prepend_countdown, ///< Postfix <= 3.8, -r n without -N: "n addr" … "2addr", then "addr"
    prepend_sequence,  ///< Postfix <= 3.8, -N: "1addr", "2addr", … one counter for the whole run
    append_sequence,   ///< Postfix >= 3.9: "local0@domain", "local1@domain", … from 0
};

/// SASL mechanisms the client can authenticate with (RFC 4954).
enum class auth_mechanism : std::uint8_t {
    none,   ///< no AUTH
    any,    ///< PLAIN if the server announces it, else LOGIN
    plain,  ///< AUTH PLAIN (RFC 4616), the credentials with the command
    login,  ///< AUTH LOGIN: user name and password each in answer to a 334
};

/// The dialog's settings (smtp-source's -L -o -d -A -v -M -f -t -r -N, and the ESMTP options).
struct client_config {
    bool lmtp = false;            ///< LHLO, and one reply per accepted recipient after "."
    bool send_helo = true;        ///< false under -o
    bool keep_alive = false;      ///< -d: next message on the same connection
    bool ignore_rejects = false;  ///< -A: warn about unexpected replies (and missing extensions) and carry on
    bool trace = false;           ///< report every command and reply as an event (-v)
    bool replies = false;         ///< report every reply as an event (the source times them)
    bool pipelining = false;      ///< greet with EHLO and, if PIPELINING is announced, batch commands
    bool pipeline_next = true;    ///< with keep_alive: send the next MAIL/RCPT/DATA with the "."
                                  ///< (needs the next message claimed early: off when pacing)
    bool ehlo = false;            ///< greet with EHLO (the options below imply it)
    bool tls_on_connect = false;  ///< a TLS handshake right after the connect, before the greeting
    bool starttls = false;        ///< STARTTLS after EHLO (RFC 3207), then EHLO again
    bool chunking = false;        ///< BDAT instead of DATA (RFC 3030)
    std::size_t chunk_size = 0;   ///< content bytes per BDAT; 0: the whole message in one
    bool binarymime = false;      ///< MAIL ... BODY=BINARYMIME (only when BDAT is used)
    bool eightbitmime = false;    ///< MAIL ... BODY=8BITMIME
    bool smtputf8 = false;        ///< MAIL ... SMTPUTF8
    bool size = false;            ///< MAIL ... SIZE=<the message's size>
    auth_mechanism auth = auth_mechanism::none;
    std::string auth_user, auth_password;
    std::string helo_name;        ///< HELO/LHLO argument
    std::string sender;           ///< MAIL FROM:<sender>
    std::string recipient;        ///< RCPT TO:<recipient>, numbered as `numbering` says
    std::uint32_t rcpt_count = 1; ///< recipients per transaction
    rcpt_numbering numbering = rcpt_numbering::off;
    /// The sequence numbers (-N) are n × stride + offset for n = 0, 1, …: several processes of
    /// one run (MPI ranks) number without overlap, each with the stride of their count.
    std::uint64_t sequence_stride = 1, sequence_offset = 0;

    /// Whether the client greets with EHLO (an ESMTP option asks for it); LMTP's LHLO is one too.
    bool esmtp() const noexcept {
        return ehlo || pipelining || starttls || chunking || binarymime || eightbitmime || smtputf8 || size ||
               auth != auth_mechanism::none;
    }
};

/// Something the client reports while it runs.
struct client_event {
    enum kind_t : std::uint8_t {
        sent,          ///< a command was sent (trace only); `text` is it without CRLF
        reply,         ///< a reply arrived (trace or replies); `text` is its lines joined with '\n'
        message_sent,  ///< the message and its "." (or its last BDAT chunk) were written
        accepted,      ///< the server accepted the message (LMTP: for at least one recipient)
        rejected,      ///< an unexpected reply that -A let pass; see `stage`, `code`, `text`
        not_announced, ///< -A: an extension asked for is not announced (`text`); going on without it
        secured,       ///< the TLS handshake succeeded (the driver has the details)
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
    std::uint64_t bytes_accepted = 0;  ///< content of the accepted messages as written (SMTP DATA: end marker included)
    std::uint64_t chunks_sent = 0;     ///< BDAT chunks written
    std::array<std::uint64_t, client_stage_count> rejected{};  ///< unexpected replies, by stage

    client_stats& operator+=(const client_stats& o) noexcept {
        messages_sent += o.messages_sent;
        messages_accepted += o.messages_accepted;
        recipients_sent += o.recipients_sent;
        recipients_accepted += o.recipients_accepted;
        bytes_accepted += o.bytes_accepted;
        chunks_sent += o.chunks_sent;
        for (std::size_t i = 0; i < rejected.size(); ++i) rejected[i] += o.rejected[i];
        return *this;
    }
};

/// The words Postfix uses for a rejection at each stage ("recipient rejected: …"; ours for the
/// stages Postfix's tool does not have).
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
    case client_stage::starttls: return "STARTTLS rejected";
    case client_stage::auth: return "authentication failed";
    case client_stage::bdat: return "BDAT rejected";
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
    case client_stage::starttls: return "sending STARTTLS";
    case client_stage::auth: return "sending AUTH";
    case client_stage::bdat: return "sending message";
    }
    return "talking to server";
}

/**
 * The smtp-source dialog on one connection after another, as a sans-io state machine:
 * greeting, HELO/LHLO, then per message MAIL, RCPT × r, DATA, content and ".", then QUIT or
 * (with keep_alive) the next message on the same connection. Each command is one write and
 * waits for its reply (Postfix's lock-step wire).
 *
 * ESMTP, when asked for (client_config::esmtp()): EHLO, whose reply's extensions are kept
 * (extensions()); STARTTLS, a `handshake` action, and EHLO again; AUTH PLAIN or LOGIN; MAIL
 * parameters (BODY=, SMTPUTF8, SIZE=); BDAT chunks instead of DATA; with PIPELINING, MAIL, the
 * RCPTs and DATA (or every BDAT chunk) in one go. An extension asked for but not announced ends
 * the dialog with done(error::not_announced) — or, under `ignore_rejects`, is reported as a
 * `not_announced` event and left out. `tls_on_connect` starts with a `handshake`.
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
        cmd_.reserve(64 + cfg.recipient.size() + cfg.sender.size() + cfg.helo_name.size() +
                     2 * (cfg.auth_user.size() + cfg.auth_password.size()));
        headers_.reserve(256 + cfg.recipient.size());
        to_.reserve(cfg.recipient.size() + 24);
        mail_params_.reserve(64);
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
        secured_ = tls_tried_ = authed_ = chunked_ = writing_chunks_ = chunk_failed_ = size_param_ = false;
        chunk_in_flight_ = false;
        message_written_ = false;
        ext_ = {};
        mail_params_.clear();
        in_begin_ = in_end_ = 0;
        reply_.reset();
        queue_.clear();
        last_ = action_type::done;
        state_ = state::greeting;
        if (cfg_.tls_on_connect) {
            state_ = state::handshake;
            push(next_action::handshake());
        }
    }

    /// Before resuming from `next_message` with success: the claimed message's Message-Id field.
    void set_left(std::uint32_t left) noexcept { left_ = left; }

    /// Continues after the last action completed with `ec` and `n` bytes.
    next_action resume(boost::system::error_code ec = {}, std::size_t n = 0) {
        switch (last_) {
        case action_type::write:
            ec = peer_result(ec, false);
            if (ec && chunk_in_flight_) state_ = state::bdat;  // pipelined chunks go out while replies to MAIL are due
            if (ec) return remember(fail_io(ec));
            if (chunk_in_flight_) {
                chunk_in_flight_ = false;
                ++stats_.chunks_sent;
            }
            if (message_written_) {
                message_written_ = false;
                ++stats_.messages_sent;
                push_event({client_event::message_sent, chunked_ ? client_stage::bdat : client_stage::dot, 0, {}});
            }
            if (writing_chunks_) write_chunk();  // pipelined BDAT: the next chunk at once
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
        case action_type::handshake:
            if (ec) return remember(fail_io(ec));
            secured_ = true;
            in_begin_ = in_end_ = 0;  // bytes that came before the handshake are not to be trusted
            push_event({client_event::secured, client_stage::starttls, 0, {}});
            if (cfg_.tls_on_connect && !tls_tried_) {
                tls_tried_ = true;
                state_ = state::greeting;  // the greeting comes over TLS
            } else {
                send_hello();  // RFC 3207: forget what the server said, greet again
            }
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
    /// Whether this connection sends BDAT (asked for, and CHUNKING announced).
    bool chunked() const noexcept { return chunked_; }
    /// Whether this connection is secured by TLS.
    bool secured() const noexcept { return secured_; }
    /// The extensions this connection's last EHLO/LHLO reply announced (none after HELO).
    const esmtp_extensions& extensions() const noexcept { return ext_; }

    /// A fatal error in Postfix's words: "recipient rejected: 550 …", "lost connection while …".
    std::string failure_message(boost::system::error_code ec) const {
        if (ec == error::rejected)
            return std::string(rejection_name(stage(), cfg_.lmtp)) + ": " + std::to_string(reply_.code()) + " " +
                   std::string(reply_.text());
        if (ec == error::not_announced) return "server does not announce " + std::string(missing_);
        if (state_ == state::handshake) return ec.message() + " while performing the TLS handshake";
        return ec.message() + " while " + std::string(stage_activity(stage(), cfg_.lmtp));
    }

private:
    enum class state : std::uint8_t {
        greeting, helo, mail, rcpt, data, dot, rset, quit, starttls, auth, bdat, handshake, between
    };

    static client_stage stage_of(state s) noexcept {
        return s == state::between ? client_stage::mail
               : s == state::handshake ? client_stage::starttls
                                       : static_cast<client_stage>(s);
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
            // nothing to do yet: another reply is due (LMTP, after "."; pipelined BDAT chunks)
        }
    }

    bool reply_ok(int code) const noexcept {
        switch (state_) {
        case state::data: return code == 354;
        case state::starttls: return code == 220;
        // 235, or any 2xx: Postfix's smtp-sink answers AUTH with 250
        case state::auth: return code / 100 == 2 || (code == 334 && auth_step_ < auth_steps_);
        default: return code / 100 == 2;
        }
    }

    // Acts on a complete reply; queues what comes next.
    void on_reply() {
        const int code = reply_.code();
        const bool ok = reply_ok(code);
        if (state_ == state::quit) return push(next_action::close());
        if (!ok && state_ == state::helo && cfg_.esmtp() && !cfg_.lmtp && !helo_fallback_ && code != 421 &&
            code != 521) {
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
            return send_hello();
        case state::helo:
            ext_ = ok && !helo_fallback_ && (cfg_.esmtp() || cfg_.lmtp) ? parse_ehlo(reply_.text()) : esmtp_extensions{};
            pipelined_ = ok && cfg_.pipelining && ext_.pipelining;
            return after_hello();
        case state::starttls:
            tls_tried_ = true;
            if (!ok) return after_hello();  // -A: on without TLS
            state_ = state::handshake;
            in_begin_ = in_end_ = 0;  // nothing the server sent after its 220 is read (RFC 3207 5)
            return push(next_action::handshake());
        case state::auth:
            if (ok && code == 334) return send_auth_response();
            if (code == 334 && !auth_cancelled_) {  // -A: a challenge not expected; "*" cancels it (RFC 4954 4)
                auth_cancelled_ = true;
                return send(state::auth, "*");
            }
            authed_ = true;  // or refused, under -A: on without it
            return after_hello();
        case state::mail:
            if (pipelined_) {  // the RCPTs and DATA (or the chunks) are on their way: take their replies in turn
                state_ = cfg_.rcpt_count ? state::rcpt : chunked_ ? state::bdat : state::data;
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
                if (++rcpt_replies_ == cfg_.rcpt_count) state_ = chunked_ ? state::bdat : state::data;
                return;
            }
            if (rcpt_sent_ < cfg_.rcpt_count) return send_rcpt();
            if (rcpt_ok_ == 0) return send(state::rset, "RSET");
            if (chunked_) return start_chunks();
            return send(state::data, "DATA");
        case state::data:
            if (!ok) return send(state::rset, "RSET");
            if (rcpt_ok_ == 0) {  // pipelined, DATA accepted with no recipient: end it (RFC 2920 3.1)
                lone_dot_ = true;
                return send(state::dot, ".");
            }
            return send_message();
        case state::bdat: return on_chunk_reply(ok);
        case state::dot:
            if (lone_dot_) {  // nothing was sent, nothing is counted, whatever the reply
                lone_dot_ = false;
                return end_transaction();
            }
            return on_final_reply(ok);
        case state::rset: return end_transaction();
        default: return;
        }
    }

    // The reply to "." or to the last BDAT chunk (LMTP: one of one per accepted recipient).
    void on_final_reply(bool ok) {
        if (ok) dot_ok_ = true;
        if (--replies_due_ > 0) return;
        if (dot_ok_) {
            ++stats_.messages_accepted;
            stats_.bytes_accepted += headers_.size() + (chunked_ ? msg_.content().size() : msg_.body().size());
            push_event({client_event::accepted, stage_of(state_), 0, {}});
        }
        end_transaction();
    }

    void send_hello() {
        send(state::helo, cfg_.lmtp ? "LHLO " : cfg_.esmtp() ? "EHLO " : "HELO ", cfg_.helo_name);
    }

    // After the greeting's HELO/EHLO/LHLO (or a step after it): STARTTLS, AUTH, then mail.
    void after_hello() {
        if (cfg_.starttls && !secured_ && !tls_tried_) {
            if (ext_.starttls) return send(state::starttls, "STARTTLS");
            tls_tried_ = true;
            if (!allow_missing("STARTTLS")) return;
        }
        if (cfg_.auth != auth_mechanism::none && !authed_) {
            const bool plain = cfg_.auth == auth_mechanism::plain || (cfg_.auth == auth_mechanism::any && ext_.auth_plain);
            const bool login = cfg_.auth == auth_mechanism::login || (cfg_.auth == auth_mechanism::any && ext_.auth_login);
            if ((plain && ext_.auth_plain) || (login && ext_.auth_login)) return send_auth(plain);
            authed_ = true;
            if (!allow_missing(cfg_.auth == auth_mechanism::plain   ? "AUTH PLAIN"
                               : cfg_.auth == auth_mechanism::login ? "AUTH LOGIN"
                                                                    : "AUTH PLAIN or LOGIN"))
                return;
        }
        chunked_ = cfg_.chunking && ext_.chunking;
        if (cfg_.chunking && !chunked_ && !allow_missing("CHUNKING")) return;
        mail_params_.clear();
        if (cfg_.binarymime && chunked_) {  // without BDAT (CHUNKING missing, or not asked for) it has no use
            if (ext_.binarymime) mail_params_ += " BODY=BINARYMIME";
            else if (!allow_missing("BINARYMIME")) return;
        }
        if (cfg_.eightbitmime && mail_params_.empty()) {
            if (ext_.eightbitmime) mail_params_ += " BODY=8BITMIME";
            else if (!allow_missing("8BITMIME")) return;
        }
        if (cfg_.smtputf8) {
            if (ext_.smtputf8) mail_params_ += " SMTPUTF8";
            else if (!allow_missing("SMTPUTF8")) return;
        }
        size_param_ = cfg_.size && ext_.size;
        if (cfg_.size && !size_param_ && !allow_missing("SIZE")) return;
        begin_transaction();
    }

    // An extension asked for is not announced: the end (done), or under -A a warning; true if
    // the dialog goes on without it.
    bool allow_missing(std::string_view what) {
        missing_ = what;
        if (!cfg_.ignore_rejects) {
            push(next_action::done(error::not_announced));
            return false;
        }
        push_event({client_event::not_announced, client_stage::helo, 0, what});
        return true;
    }

    // AUTH PLAIN with its initial response (RFC 4616: authzid NUL authcid NUL passwd), or AUTH
    // LOGIN and two 334 answers: the user name, then the password.
    void send_auth(bool plain) {
        auth_step_ = 0;
        auth_steps_ = plain ? 0 : 2;
        auth_cancelled_ = false;
        cmd_.assign(plain ? "AUTH PLAIN " : "AUTH LOGIN");
        if (plain) {
            secret_.assign(1, '\0').append(cfg_.auth_user).append(1, '\0').append(cfg_.auth_password);
            base64_encode(secret_, cmd_);
            secret_.clear();
        }
        cmd_.append("\r\n");
        queue_command(state::auth, plain ? "AUTH PLAIN (credentials)" : "AUTH LOGIN");
    }

    void send_auth_response() {
        cmd_.clear();
        base64_encode(auth_step_++ == 0 ? cfg_.auth_user : cfg_.auth_password, cmd_);
        cmd_.append("\r\n");
        queue_command(state::auth, "(credentials)");
    }

    void begin_transaction() {
        if (!pipelined_) {
            cmd_.assign("MAIL FROM:<").append(cfg_.sender).append(">");
            append_mail_params(cmd_);
            cmd_.append("\r\n");
            return queue_command(state::mail);
        }
        cmd_.clear();
        batch_into(cmd_);
        queue_command(state::mail);
        if (chunked_) {  // the chunks follow the batch, without waiting for its replies
            prepare_message();
            writing_chunks_ = true;
        }
    }

    // The MAIL parameters; SIZE= is the message as it will be sent (headers and content()),
    // with appended recipient numbers (drawn only later, with the RCPTs) counted at their widest.
    void append_mail_params(std::string& out) {
        out += mail_params_;
        if (!size_param_) return;
        std::uint64_t size = msg_.content().size();
        if (msg_.has_headers()) {
            if (cfg_.numbering == rcpt_numbering::append_sequence)
                to_.assign(local_).append(20, '9').append(at_domain_);  // to_ is rebuilt by each RCPT
            msg_.headers(size_headers_, cfg_.numbering == rcpt_numbering::append_sequence ? std::string_view(to_)
                                                                                          : std::string_view(cfg_.recipient),
                         fd_, left_);
            size += size_headers_.size();
        }
        out += " SIZE=";
        append_number(out, size);
    }

    // MAIL, every RCPT and DATA (not with chunking: the chunks follow), as one batch (RFC 2920);
    // their replies come in order.
    void batch_into(std::string& out) {
        out.append("MAIL FROM:<").append(cfg_.sender).append(">");
        append_mail_params(out);
        out.append("\r\n");
        rcpt_sent_ = rcpt_ok_ = rcpt_replies_ = 0;
        for (std::uint32_t i = 0; i < cfg_.rcpt_count; ++i) append_rcpt(out);
        if (!chunked_) out.append("DATA\r\n");
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
        if (chunk_failed_) {  // RFC 3030: a failed chunk fails the transaction; RSET ends it
            chunk_failed_ = false;
            return send(state::rset, "RSET");
        }
        if (!cfg_.keep_alive) return send(state::quit, "QUIT");
        state_ = state::between;
        push(next_action::next_message());
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
            append_number(to_, next_sequence() + 1);
            to_ += cfg_.recipient;
            break;
        case rcpt_numbering::append_sequence:
            to_ += local_;
            append_number(to_, next_sequence());
            to_ += at_domain_;
            break;
        }
        out.append("RCPT TO:<").append(to_).append(">\r\n");
    }

    std::uint64_t next_sequence() noexcept {
        return rcpt_seq_.fetch_add(1, std::memory_order_relaxed) * cfg_.sequence_stride + cfg_.sequence_offset;
    }

    // This message's headers, and how many replies its end is due (LMTP: one per accepted recipient).
    void prepare_message() {
        const std::string_view to = cfg_.numbering == rcpt_numbering::append_sequence
                                        ? std::string_view(to_)
                                        : std::string_view(cfg_.recipient);
        dot_ok_ = false;
        headers_.clear();
        if (msg_.has_headers()) msg_.headers(headers_, to, fd_, left_);
        const std::size_t total = headers_.size() + msg_.content().size();
        chunk_ = cfg_.chunk_size ? cfg_.chunk_size : std::max<std::size_t>(total, 1);
        chunks_ = total == 0 ? 1 : (total + chunk_ - 1) / chunk_;
        chunks_written_ = chunk_replies_ = 0;
    }

    void send_message() {
        prepare_message();
        replies_due_ = cfg_.lmtp ? rcpt_ok_ : 1;
        state_ = state::dot;
        if (cfg_.trace) push_event({client_event::sent, client_stage::dot, 0, "."});
        if (!pipelined_) return write_message();
        if (!cfg_.keep_alive) return finish_pipelined_message(false);
        if (!cfg_.pipeline_next) return write_message();
        claiming_ = true;  // claim the next message now, to send its commands with this "."
        push(next_action::next_message());
    }

    void write_message() {
        message_written_ = true;
        push(next_action::write({headers_, msg_.body()}));
    }

    // Lock-step BDAT: the first chunk; each 250 brings the next.
    void start_chunks() {
        prepare_message();
        state_ = state::bdat;
        write_chunk();
    }

    // "BDAT n[ LAST]" and the chunk's bytes: a slice of the headers and one of the content.
    void write_chunk() {
        const std::size_t h = headers_.size(), total = h + msg_.content().size();
        const std::size_t begin = chunks_written_ * chunk_, end = std::min(total, begin + chunk_);
        const bool last = ++chunks_written_ == chunks_;
        chunk_in_flight_ = true;
        cmd_.assign("BDAT ");
        append_number(cmd_, end - begin);
        if (last) cmd_.append(" LAST");
        if (cfg_.trace) push_event({client_event::sent, client_stage::bdat, 0, cmd_});
        cmd_.append("\r\n");
        const std::size_t hb = std::min(begin, h), he = std::min(end, h);
        const std::size_t cb = std::max(begin, h) - h, ce = std::max(end, h) - h;
        const std::string_view hs = std::string_view(headers_).substr(hb, he - hb);
        const std::string_view cs = msg_.content().substr(cb, ce - cb);
        if (last) {
            writing_chunks_ = false;
            message_written_ = true;
        }
        push(next_action::write({cmd_, hs, cs}));
    }

    // A chunk's reply. RFC 3030 2: after a failed chunk no more are sent (lock-step), the rest
    // of those already sent are answered (pipelined), and RSET ends the transaction. The last
    // chunk's reply is the message's (LMTP: the first of one per accepted recipient, unless the
    // transaction failed: then one).
    void on_chunk_reply(bool ok) {
        const std::size_t n = ++chunk_replies_;
        if (n < chunks_) {
            if (!ok) chunk_failed_ = true;
            if (pipelined_) return;
            if (chunk_failed_) return end_transaction();
            return write_chunk();
        }
        if (n == chunks_) replies_due_ = cfg_.lmtp && !chunk_failed_ && rcpt_ok_ > 0 ? rcpt_ok_ : 1;
        on_final_reply(ok && !chunk_failed_);
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
        message_written_ = true;
        push(next_action::write({headers_, msg_.body(), cmd_}));
    }

    void send(state s, std::string_view a, std::string_view b = {}, std::string_view c = {}) {
        cmd_.assign(a).append(b).append(c).append("\r\n");
        queue_command(s);
    }

    // Writes cmd_; the trace shows `shown` instead when given (credentials are not traced).
    void queue_command(state s, std::string_view shown = {}) {
        state_ = s;
        if (cfg_.trace)
            push_event({client_event::sent, stage_of(s), 0,
                        shown.empty() ? std::string_view(cmd_).substr(0, cmd_.size() - 2) : shown});
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
    std::string cmd_, headers_, to_, mail_params_, secret_, size_headers_;
    std::string_view missing_;

    // at most: a reply event, 7 not_announced events (every extension asked for and missing),
    // a trace event and a write
    action_queue<client_event, 16> queue_;
    client_event event_;
    action_type last_ = action_type::done;
    state state_ = state::greeting;
    esmtp_extensions ext_;
    bool dot_ok_ = false;
    bool pipelined_ = false, helo_fallback_ = false, next_sent_ = false, quit_after_dot_ = false, claiming_ = false,
         lone_dot_ = false, message_written_ = false;
    bool secured_ = false, tls_tried_ = false, authed_ = false, chunked_ = false, writing_chunks_ = false,
         chunk_failed_ = false, size_param_ = false, chunk_in_flight_ = false, auth_cancelled_ = false;
    std::uint32_t rcpt_sent_ = 0, rcpt_ok_ = 0, rcpt_replies_ = 0, replies_due_ = 0;
    std::uint32_t auth_step_ = 0, auth_steps_ = 0;
    std::size_t chunk_ = 0, chunks_ = 0, chunks_written_ = 0, chunk_replies_ = 0;
    std::uint32_t fd_ = 0, left_ = 0;
    client_stats stats_;
};

}  // namespace mailload::sansio

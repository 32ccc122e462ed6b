// SPDX-License-Identifier: BSL-1.0
// mailload/sansio/qmqp.hpp — QMQP client and server algorithms (qmqp-source, qmqp-sink), sans I/O
#pragma once

#include <mailload/error.hpp>
#include <mailload/sansio/action.hpp>
#include <mailload/sansio/message_builder.hpp>
#include <mailload/sansio/netstring.hpp>
#include <mailload/sansio/smtp_client.hpp>
#include <mailload/sansio/smtp_server.hpp>

#include <boost/system/error_code.hpp>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mailload::sansio {

/**
 * The one QMQP request a qmqp-source run sends, built once: every message of a run is the same
 * bytes, as with Postfix's tool. The message has LF line endings: the headers (From:, To:,
 * Date:, Message-Id: <pid@myhostname>), then lines of 1, 2, … 79 X's, cut to exactly
 * `length` bytes with the last one a '\n'. Recipients are the address as given (one), or
 * numbered from 0 in front ("0rcpt", "1rcpt", …) when there are several.
 */
class qmqp_request {
public:
    qmqp_request(const client_config& c, const message_options& m) {
        std::string msg = "From: <" + c.sender + ">\nTo: <" + c.recipient + ">\nDate: " + m.date +
                          "\nMessage-Id: <" + std::to_string(m.pid) + "@" + m.myhostname + ">\n\n";
        const std::size_t length = m.length ? m.length : 1024;
        for (std::size_t n = 1; msg.size() < length; ++n) msg.append(n < 79 ? n : 79, 'X').append(1, '\n');
        msg.resize(length);
        msg.back() = '\n';
        std::string payload;
        append_netstring(payload, msg);
        const std::size_t message_end = payload.size();
        append_netstring(payload, c.sender);
        const std::size_t sender_end = payload.size();
        if (c.rcpt_count <= 1) append_netstring(payload, c.recipient);
        else
            for (std::uint32_t i = 0; i < c.rcpt_count; ++i) append_netstring(payload, std::to_string(i) + c.recipient);
        append_netstring(bytes_, payload);
        const std::size_t start = bytes_.size() - payload.size() - 1;  // after "len:"
        parts_ = {std::string_view(bytes_).substr(start, message_end),
                  std::string_view(bytes_).substr(start + message_end, sender_end - message_end),
                  std::string_view(bytes_).substr(start + sender_end, payload.size() - sender_end)};
        message_size_ = msg.size();
    }

    qmqp_request(const qmqp_request&) = delete;  // parts() points into bytes
    qmqp_request& operator=(const qmqp_request&) = delete;

    /// The whole request: one netstring holding the message, sender and recipient netstrings.
    std::string_view bytes() const noexcept { return bytes_; }
    std::size_t message_size() const noexcept { return message_size_; }
    /// The outer netstring's content in its three parts: the message's netstring, the sender's,
    /// and the recipients' (one after another).
    const std::array<std::string_view, 3>& parts() const noexcept { return parts_; }

private:
    std::string bytes_;
    std::array<std::string_view, 3> parts_;
    std::size_t message_size_ = 0;
};

/**
 * qmqp-source's side of one connection: write the request, read one reply netstring (at most
 * `max_reply` bytes), close. A reply starting with K is success; Z, D or anything else ends the
 * run with error::rejected (failure_message() says "recoverable error: …" and so on).
 */
class qmqp_client {
public:
    static constexpr std::size_t max_reply = 10240;

    qmqp_client(const client_config&, const qmqp_request& request, std::atomic<std::uint64_t>&)
        : request_(request), reply_(max_reply) {}
    qmqp_client(const qmqp_client&) = delete;
    qmqp_client& operator=(const qmqp_client&) = delete;

    void start(std::uint32_t, std::uint32_t) noexcept {
        reply_.reset();
        in_begin_ = in_end_ = 0;
        state_ = state::send;
        last_ = action_type::done;
    }
    void set_left(std::uint32_t) noexcept {}

    next_action resume(boost::system::error_code ec = {}, std::size_t n = 0) {
        const action_type last = last_;
        last_ = action_type::done;
        if (last == action_type::write || last == action_type::read) {
            ec = peer_result(ec, last == action_type::read && n == 0);
            if (ec) return next_action::done(ec);
            if (last == action_type::read) in_end_ = n;
        }
        switch (state_) {
        case state::send:
            state_ = state::sent;
            return remember(next_action::write({request_.bytes()}));
        case state::sent:
            ++stats_.messages_sent;
            state_ = state::receive;
            event_ = {client_event::message_sent, client_stage::dot, 0, {}};
            return remember(next_action::event());
        case state::receive: {
            boost::system::error_code perr;
            in_begin_ += reply_.feed(std::string_view(inbuf_.data() + in_begin_, in_end_ - in_begin_), perr);
            if (perr) return next_action::done(perr);
            if (!reply_.done()) {
                in_begin_ = in_end_ = 0;
                return remember(next_action::read(std::span<char>(inbuf_)));
            }
            state_ = state::replied;
            event_ = {client_event::reply, client_stage::dot,
                      reply_.data().empty() ? 0 : static_cast<unsigned char>(reply_.data()[0]), reply_.data()};  // 'K' …
            return remember(next_action::event());
        }
        case state::replied:
            if (reply_.data().starts_with('K')) {
                ++stats_.messages_accepted;
                stats_.bytes_accepted += request_.message_size();
                state_ = state::finished;
                event_ = {client_event::accepted, client_stage::dot, 0, reply_.data()};
                return remember(next_action::event());
            }
            ++stats_.rejected[static_cast<std::size_t>(client_stage::dot)];
            return next_action::done(error::rejected);
        case state::finished: break;
        }
        return next_action::close();
    }

    const client_event& event() const noexcept { return event_; }
    const client_stats& stats() const noexcept { return stats_; }
    client_stage stage() const noexcept { return client_stage::dot; }

    /// A fatal error in Postfix's words ("recoverable error: …", "lost connection while …").
    std::string failure_message(boost::system::error_code ec) const {
        if (ec == error::rejected) {
            const std::string_view r = reply_.data();
            const std::string_view text = r.substr(r.empty() ? 0 : 1);
            const char* what = r.starts_with('Z') ? "recoverable error: " : r.starts_with('D') ? "unrecoverable error: "
                                                                                              : "unknown error: ";
            return what + std::string(text);
        }
        return ec.message() + (state_ == state::sent ? " while sending message" : " while receiving server reply");
    }

private:
    enum class state : std::uint8_t { send, sent, receive, replied, finished };

    next_action remember(next_action a) noexcept {
        last_ = a.type();
        return a;
    }

    const qmqp_request& request_;
    netstring_reader reply_;
    std::array<char, 512> inbuf_{};
    std::size_t in_begin_ = 0, in_end_ = 0;
    state state_ = state::send;
    action_type last_ = action_type::done;
    client_event event_;
    client_stats stats_;
};

/**
 * qmqp-sink's side of one connection: read one netstring of at most `max_message_size` bytes
 * (counted, never kept), however it is split, then reply "3:KOk," and close. Unlike Postfix's
 * sink it waits for the final ',' whatever the split (Postfix's loses split reads and can hang),
 * and a malformed or over-long netstring ends the connection with a netstring error and no
 * reply.
 */
class qmqp_server {
public:
    qmqp_server(const server_config& cfg, std::uint64_t) : request_(cfg.max_message_size, false) {}
    qmqp_server(const qmqp_server&) = delete;
    qmqp_server& operator=(const qmqp_server&) = delete;

    void start() noexcept {
        request_.reset();
        replied_ = false;
        last_ = action_type::done;
    }

    next_action resume(boost::system::error_code ec = {}, std::size_t n = 0) {
        const action_type last = last_;
        last_ = action_type::done;
        if (last == action_type::write) {
            write_failed_ = static_cast<bool>(ec);
            if (ec) return next_action::done(peer_result(ec, false));
            ++stats_.answered;
            return next_action::close();
        }
        if (last == action_type::read) {
            ec = peer_result(ec, n == 0);
            if (ec) return next_action::done(ec);
            boost::system::error_code perr;
            request_.feed(std::string_view(inbuf_.data(), n), perr);  // bytes after the ',' are ignored
            stats_.data_bytes += n;
            if (perr) return next_action::done(perr);
        }
        if (request_.done() && !replied_) {
            replied_ = true;
            ++stats_.messages;
            stats_.replies.add('K');
            event_ = {server_event::message, smtp_command::dot, {}, {}, request_.size()};
            last_ = action_type::event;
            return next_action::event();
        }
        if (replied_) {
            last_ = action_type::write;
            return next_action::write({"3:KOk,"});
        }
        last_ = action_type::read;
        return next_action::read(std::span<char>(inbuf_));
    }

    const server_event& event() const noexcept { return event_; }
    const server_stats& stats() const noexcept { return stats_; }
    bool failed_while_writing() const noexcept { return write_failed_; }
    /// The length the client's netstring declared, once known.
    std::uint64_t declared_size() const noexcept { return request_.size(); }

private:
    netstring_reader request_;
    std::array<char, 8192> inbuf_{};
    action_type last_ = action_type::done;
    bool replied_ = false;
    bool write_failed_ = false;
    server_event event_;
    server_stats stats_;
};

}  // namespace mailload::sansio

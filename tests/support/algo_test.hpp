// SPDX-License-Identifier: BSL-1.0
// tests/support/algo_test.hpp — a scripted peer for sans-io algorithms (after Boost.MySQL's algo_test)
#pragma once

#include <mailload/error.hpp>
#include <mailload/sansio/action.hpp>

#include <boost/system/errc.hpp>
#include <boost/system/error_code.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mailload::sansio {
/// Lets BOOST_TEST print action types.
inline std::ostream& boost_test_print_type(std::ostream& os, action_type t)
{
    static constexpr const char* names[] =
        {"write", "read", "next_message", "event", "wait", "close", "done", "handshake"};
    return os << names[static_cast<int>(t)];
}
}  // namespace mailload::sansio

namespace mailload::test {

/// Bytes as a C string literal would show them: "HELO vm\r\n".
inline std::string quoted(std::string_view s, std::size_t max = 400)
{
    std::string out = "\"";
    for (std::size_t i = 0; i < s.size() && i < max; ++i)
    {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        switch (c)
        {
        case '\r': out += "\\r"; break;
        case '\n': out += "\\n"; break;
        case '\t': out += "\\t"; break;
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        default:
            if (c < 0x20 || c >= 0x7f)
            {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\x%02x", c);
                out += buf;
            }
            else
            {
                out += static_cast<char>(c);
            }
        }
    }
    if (s.size() > max)
        out += "\"... (" + std::to_string(s.size()) + " bytes)";
    else
        out += '"';
    return out;
}

/// An `event` action as the harness keeps it: owned copies, comparable, printable.
struct recorded_event
{
    std::string kind;   ///< e.g. "rejected"
    std::string stage;  ///< e.g. "rcpt"
    int code = 0;
    std::string text;

    friend bool operator==(const recorded_event&, const recorded_event&) = default;
    friend std::ostream& operator<<(std::ostream& os, const recorded_event& e)
    {
        return os << '{' << e.kind << ' ' << e.stage << ' ' << e.code << ' ' << quoted(e.text) << '}';
    }
};

inline std::ostream& operator<<(std::ostream& os, const std::vector<recorded_event>& v)
{
    os << '[';
    for (std::size_t i = 0; i < v.size(); ++i)
        os << (i ? ", " : "") << v[i];
    return os << ']';
}

/**
 * What the harness needs to know about an algorithm; specialise it next to the tests:
 *
 *   static recorded_event event(const Algo&);              // the event an `event` action announced
 *   static std::string stage(const Algo&);                 // names the step the algorithm is in
 *   static std::string stage_of_write(std::string_view);   // the step a write (and its reply) belongs to
 *   static constexpr std::string_view initial_stage;       // the step of replies before any write
 *   static bool closes_on_error(std::string_view stage);   // an I/O error there ends in `close`
 */
template <class Algo>
struct algo_traits;

/// How the scripted responses reach the algorithm's reads.
enum class delivery
{
    whole,     ///< each response in one read (or as many as the read buffer needs)
    split,     ///< response number `split_response` in two reads, cut after `split_at` bytes
    bytewise,  ///< every response one byte per read
};

/// One run of a script: how responses are cut, and optionally one I/O error.
struct plan
{
    delivery mode = delivery::whole;
    std::size_t split_response = 0;  ///< index among the respond steps (split mode)
    std::size_t split_at = 0;
    std::optional<std::size_t> inject_step;  ///< script step whose I/O fails
    boost::system::error_code inject_ec;     ///< the error; on a read, empty = end of stream (0 bytes)

    static plan whole() { return {}; }
    static plan bytewise()
    {
        plan p;
        p.mode = delivery::bytewise;
        return p;
    }
    static plan split(std::size_t response, std::size_t at)
    {
        plan p;
        p.mode = delivery::split;
        p.split_response = response;
        p.split_at = at;
        return p;
    }
};

inline std::ostream& operator<<(std::ostream& os, const plan& p)
{
    switch (p.mode)
    {
    case delivery::whole: os << "responses whole"; break;
    case delivery::bytewise: os << "responses one byte per read"; break;
    case delivery::split:
        os << "response #" << p.split_response << " split after " << p.split_at << " bytes";
        break;
    }
    if (p.inject_step)
    {
        os << ", I/O error at step " << *p.inject_step << ": ";
        if (p.inject_ec)
            os << p.inject_ec.message();
        else
            os << "end of stream";
    }
    return os;
}

/// What an algorithm did in one run.
struct outcome
{
    std::vector<std::string> writes;                         ///< every write action, its pieces joined
    std::vector<recorded_event> events;                      ///< every event action, in order
    std::vector<std::chrono::steady_clock::duration> waits;  ///< every wait action, in order (served at once)
    std::vector<std::string> trace;  ///< writes, events, waits and the final action, in the order they came
    std::optional<sansio::next_action> last;  ///< the final `close` or `done` (none if the run broke off)
    std::string last_stage;                   ///< algo_traits::stage() after the final action
    std::size_t reads = 0;                    ///< read actions served
    bool injected = false;                    ///< the planned error was delivered
    std::string failure;                      ///< the first departure from the script; empty: none

    bool same_behaviour(const outcome& o) const
    {
        return writes == o.writes && events == o.events && waits == o.waits && trace == o.trace &&
               last == o.last && last_stage == o.last_stage;
    }
    std::string describe() const
    {
        std::ostringstream os;
        os << writes.size() << " writes";
        if (!writes.empty())
            os << " (last " << quoted(writes.back(), 80) << ')';
        os << ", events " << events << ", final ";
        if (last)
            os << *last;
        else
            os << "(none)";
        os << ", stage " << last_stage;
        return os.str();
    }
};

/**
 * A script of what the peer expects and says, run against an algorithm:
 *
 *   algo_test<smtp_client>()
 *       .respond("220 hi\r\n").expect_write("HELO vm\r\n").respond("250 ok\r\n") ...
 *       .expect_close()
 *       .check(factory);
 *
 * `factory` returns a fresh algorithm, ready for its first resume(), for every run.
 */
template <class Algo>
class algo_test
{
public:
    using traits = algo_traits<Algo>;
    using factory = std::function<std::unique_ptr<Algo>()>;

    struct step
    {
        enum kind_t
        {
            write,
            respond,
            peer_closes,
            read_error,
            next_message,
            handshake,
            close,
            done
        } kind;
        std::string bytes;                  ///< write: expected bytes; respond: bytes sent
        bool claimed = false;               ///< next_message
        boost::system::error_code ec;       ///< done: expected error; read_error, handshake: delivered error
        std::string stage;                  ///< the algorithm's step while this one is under way
        std::function<void(Algo&)> before;  ///< next_message: called before resuming
        bool leaves_input = false;          ///< close: the peer's later bytes may stay unread
    };

    /// The algorithm must write exactly `bytes` (all pieces of one write action joined).
    algo_test& expect_write(std::string_view bytes, std::string_view stage = {})
    {
        std::string st = stage.empty() ? traits::stage_of_write(bytes) : std::string(stage);
        stage_ = st;
        steps_.push_back({step::write, std::string(bytes), false, {}, std::move(st), {}});
        return *this;
    }
    /// The peer sends `bytes`; the algorithm's next reads get them.
    algo_test& respond(std::string_view bytes, std::string_view stage = {})
    {
        steps_.push_back(
            {step::respond, std::string(bytes), false, {}, stage.empty() ? stage_ : std::string(stage), {}}
        );
        return *this;
    }
    /// The peer closes: the next read completes with 0 bytes and no error.
    algo_test& peer_closes()
    {
        steps_.push_back({step::peer_closes, {}, false, {}, stage_, {}});
        return *this;
    }
    /// The next read fails with `ec`.
    algo_test& read_error(boost::system::error_code ec)
    {
        steps_.push_back({step::read_error, {}, false, ec, stage_, {}});
        return *this;
    }
    /// The algorithm asks for another message; the driver answers claimed or no_more_messages.
    algo_test& expect_next_message(bool claimed, std::function<void(Algo&)> before = {})
    {
        steps_.push_back({step::next_message, {}, claimed, {}, stage_, std::move(before)});
        return *this;
    }
    /// The algorithm asks for a TLS handshake; the driver answers with `ec` (success: the
    /// connection is secured, and the peer's later bytes come through TLS).
    algo_test& expect_handshake(boost::system::error_code ec = {}, std::string_view stage = {})
    {
        if (!stage.empty())
            stage_ = stage;
        steps_.push_back({step::handshake, {}, false, ec, stage_, {}});
        return *this;
    }
    algo_test& expect_close()
    {
        steps_.push_back({step::close, {}, false, {}, stage_, {}});
        return *this;
    }
    /// The algorithm closes, possibly before reading everything the peer sent (a server that
    /// hangs up after QUIT or an overlong line does not read the rest of a pipelined burst).
    algo_test& expect_close_leaving_input()
    {
        steps_.push_back({step::close, {}, false, {}, stage_, {}, true});
        return *this;
    }
    algo_test& expect_done(boost::system::error_code ec = {})
    {
        steps_.push_back({step::done, {}, false, ec, stage_, {}});
        return *this;
    }

    const std::vector<step>& steps() const noexcept { return steps_; }

    /// The error an algorithm should end with after `injected` (reset and end of stream read as
    /// a lost connection; everything else is passed on).
    static boost::system::error_code mapped(boost::system::error_code injected)
    {
        if (!injected || injected == boost::system::errc::connection_reset ||
            injected == boost::system::errc::broken_pipe)
            return mailload::error::lost_connection;
        return injected;
    }

    /// Runs the script once against `algo` (which must be ready for its first resume()).
    /// Never asserts: departures are reported in `outcome::failure`.
    outcome run(Algo& algo, const plan& p = plan::whole()) const
    {
        outcome out;
        std::deque<std::string> pending;  // bytes the peer sent that no read has taken yet
        std::size_t i = 0;                // next script step
        std::size_t responses = 0;        // respond steps taken so far
        auto fail = [&](const std::string& what) {
            std::ostringstream os;
            os << "step " << i << " (" << describe_step(i) << "): " << what << " [" << p << ']';
            out.failure = os.str();
            return out;
        };
        sansio::next_action act = algo.resume();
        for (std::size_t guard = 0;; ++guard)
        {
            if (guard > 10'000'000)
                return fail("the algorithm never finishes");
            switch (act.type())
            {
            case sansio::action_type::event:
                out.events.push_back(traits::event(algo));
                out.trace.push_back(traced(out.events.back()));
                act = algo.resume();
                break;

            case sansio::action_type::wait:
                out.waits.push_back(act.duration());
                out.trace.push_back(traced(act));
                act = algo.resume();
                break;

            case sansio::action_type::write:
            {
                std::string data;
                for (auto piece : act.out())
                    data += piece;
                out.writes.push_back(data);
                out.trace.push_back(traced(act));
                if (i >= steps_.size() || steps_[i].kind != step::write)
                    return fail("the algorithm writes " + quoted(data));
                if (data != steps_[i].bytes)
                    return fail(
                        "the algorithm writes " + quoted(data) + ", expected " + quoted(steps_[i].bytes)
                    );
                if (p.inject_step == i)
                    return finish_injected(algo, out, algo.resume(p.inject_ec, 0));
                ++i;
                act = algo.resume({}, data.size());
                break;
            }

            case sansio::action_type::read:
            {
                if (act.in().empty())
                    return fail("the algorithm reads into an empty buffer");
                ++out.reads;
                if (pending.empty())
                {
                    if (i >= steps_.size())
                        return fail("the algorithm reads after the end of the script");
                    const step& s = steps_[i];
                    if (s.kind == step::peer_closes || s.kind == step::read_error)
                    {
                        ++i;
                        act = algo.resume(s.ec, 0);
                        break;
                    }
                    if (s.kind != step::respond)
                        return fail("the algorithm reads");
                    if (p.inject_step == i)
                        return finish_injected(algo, out, algo.resume(p.inject_ec, 0));
                    cut(s.bytes, p, responses++, pending);
                    ++i;
                }
                std::string& front = pending.front();
                const std::size_t n = std::min(front.size(), act.in().size());
                std::memcpy(act.in().data(), front.data(), n);
                front.erase(0, n);
                if (front.empty())
                    pending.pop_front();
                act = algo.resume({}, n);
                break;
            }

            case sansio::action_type::next_message:
            {
                if (i >= steps_.size() || steps_[i].kind != step::next_message)
                    return fail("the algorithm asks for the next message");
                const step& s = steps_[i++];
                if (s.before)
                    s.before(algo);
                act = algo.resume(
                    s.claimed ? boost::system::error_code{}
                              : boost::system::error_code(mailload::error::no_more_messages)
                );
                break;
            }

            case sansio::action_type::handshake:
            {
                out.trace.push_back(traced(act));
                if (i >= steps_.size() || steps_[i].kind != step::handshake)
                    return fail("the algorithm asks for a TLS handshake");
                if (!pending.empty())  // what came before the handshake is dropped, never read in TLS
                    pending.clear();
                act = algo.resume(steps_[i++].ec, 0);
                break;
            }

            case sansio::action_type::close:
            case sansio::action_type::done:
            {
                out.last = act;
                out.trace.push_back(traced(act));
                out.last_stage = traits::stage(algo);
                std::ostringstream got;
                got << act;
                if (i >= steps_.size())
                    return fail("the algorithm ends with " + got.str() + " after the script");
                const step& s = steps_[i];
                const bool close = act.type() == sansio::action_type::close;
                if (close && s.kind != step::close)
                    return fail("the algorithm ends with " + got.str());
                if (!close && (s.kind != step::done || s.ec != act.error()))
                    return fail("the algorithm ends with " + got.str());
                ++i;
                if (i != steps_.size())
                    return fail("the algorithm ended, the script goes on");
                // an algorithm that gives up with an error need not read what the peer sent after,
                // nor one the script lets close early (a server's QUIT or overlong line)
                if (!pending.empty() && (close || !act.error()) && !s.leaves_input)
                    return fail("bytes never read: " + quoted(pending.front()));
                if (p.inject_step)
                    return fail("the planned I/O error was never delivered");
                return out;
            }
            }
        }
    }

    /// Runs the script with every response whole, split at every point, and one byte at a time;
    /// each run must follow the script and behave the same. Returns the whole run and its algorithm.
    struct checked
    {
        outcome out;
        std::unique_ptr<Algo> algo;
    };
    checked check(const factory& make) const
    {
        checked first{{}, make()};
        first.out = run(*first.algo, plan::whole());
        BOOST_CHECK_MESSAGE(
            first.out.failure.empty(),
            first.out.failure << "\n  so far: " << first.out.describe()
        );
        if (!first.out.failure.empty())
            return first;

        std::size_t r = 0;
        for (const step& s : steps_)
        {
            if (s.kind != step::respond)
                continue;
            for (std::size_t k : split_points(s.bytes.size()))
            {
                if (!same(make, plan::split(r, k), first.out))
                    return first;
            }
            ++r;
        }
        same(make, plan::bytewise(), first.out);
        return first;
    }

    /// Reruns the script once per I/O step and error, the error injected there: the algorithm
    /// must end with done(mapped error), or with close where traits::closes_on_error() says so,
    /// and stage() must name the step. Returns how many runs were made.
    std::size_t check_network_errors(const factory& make) const
    {
        const boost::system::error_code write_errors[] = {
            make_error_code(boost::system::errc::connection_reset),
            make_error_code(boost::system::errc::broken_pipe),
            mailload::make_error_code(mailload::error::timeout),
        };
        const boost::system::error_code read_errors[] = {
            boost::system::error_code{},  // end of stream: 0 bytes, no error
            make_error_code(boost::system::errc::connection_reset),
            mailload::make_error_code(mailload::error::timeout),
        };
        std::size_t runs = 0;
        for (std::size_t j = 0; j < steps_.size(); ++j)
        {
            const step& s = steps_[j];
            if (s.kind != step::write && s.kind != step::respond)
                continue;
            for (const auto& ec : s.kind == step::write ? std::span(write_errors) : std::span(read_errors))
            {
                plan p;
                p.inject_step = j;
                p.inject_ec = ec;
                auto algo = make();
                const outcome o = run(*algo, p);
                ++runs;
                std::ostringstream want;
                if (traits::closes_on_error(s.stage))
                    want << sansio::next_action::close();
                else
                    want << sansio::next_action::done(mapped(ec));
                std::ostringstream got;
                if (o.last)
                    got << *o.last;
                else
                    got << "(nothing)";
                BOOST_CHECK_MESSAGE(o.injected, "[" << p << "] the error was not delivered: " << o.failure);
                BOOST_CHECK_MESSAGE(o.failure.empty(), o.failure);
                BOOST_CHECK_MESSAGE(
                    got.str() == want.str(),
                    "[" << p << "] at " << describe_step(j) << ": ends with " << got.str() << ", expected "
                        << want.str()
                );
                BOOST_CHECK_MESSAGE(
                    o.last_stage == s.stage,
                    "[" << p << "] at " << describe_step(j) << ": stage() is " << o.last_stage
                        << ", expected " << s.stage
                );
            }
        }
        return runs;
    }

    std::string describe_step(std::size_t i) const
    {
        if (i >= steps_.size())
            return "end of script";
        const step& s = steps_[i];
        std::string d;
        switch (s.kind)
        {
        case step::write: d = "expect_write(" + quoted(s.bytes, 80) + ")"; break;
        case step::respond: d = "respond(" + quoted(s.bytes, 80) + ")"; break;
        case step::peer_closes: d = "peer_closes()"; break;
        case step::read_error: d = "read_error(" + s.ec.message() + ")"; break;
        case step::next_message:
            d = std::string("expect_next_message(") + (s.claimed ? "true" : "false") + ")";
            break;
        case step::handshake: d = "expect_handshake(" + (s.ec ? s.ec.message() : std::string("success")) + ")"; break;
        case step::close: d = "expect_close()"; break;
        case step::done: d = "expect_done(" + (s.ec ? s.ec.message() : std::string("success")) + ")"; break;
        }
        return d + " in stage " + s.stage;
    }

private:
    // Where split runs cut a response: everywhere when it is short, a sample when it is long.
    static std::vector<std::size_t> split_points(std::size_t len)
    {
        std::vector<std::size_t> ks;
        for (std::size_t k = 1; k < len; ++k)
            if (len <= 600 || k <= 64 || k + 64 >= len || k % 251 == 0)
                ks.push_back(k);
        return ks;
    }

    bool same(const factory& make, const plan& p, const outcome& reference) const
    {
        auto algo = make();
        const outcome o = run(*algo, p);
        BOOST_CHECK_MESSAGE(o.failure.empty(), o.failure << "\n  so far: " << o.describe());
        if (!o.failure.empty())
            return false;
        BOOST_CHECK_MESSAGE(
            o.same_behaviour(reference),
            "[" << p << "] behaves differently:\n  got:      " << o.describe()
                << "\n  expected: " << reference.describe()
        );
        return o.same_behaviour(reference);
    }

    static void cut(
        const std::string& bytes,
        const plan& p,
        std::size_t response,
        std::deque<std::string>& into
    )
    {
        if (bytes.empty())
            return;
        switch (p.mode)
        {
        case delivery::whole: into.push_back(bytes); break;
        case delivery::bytewise:
            for (char c : bytes)
                into.push_back(std::string(1, c));
            break;
        case delivery::split:
            if (response == p.split_response && p.split_at > 0 && p.split_at < bytes.size())
            {
                into.push_back(bytes.substr(0, p.split_at));
                into.push_back(bytes.substr(p.split_at));
            }
            else
            {
                into.push_back(bytes);
            }
            break;
        }
    }

    static outcome& finish_injected(Algo& algo, outcome& out, sansio::next_action act)
    {
        out.injected = true;
        while (act.type() == sansio::action_type::event)
        {
            out.events.push_back(traits::event(algo));
            out.trace.push_back(traced(out.events.back()));
            act = algo.resume();
        }
        if (act.type() == sansio::action_type::close || act.type() == sansio::action_type::done)
        {
            out.last = act;
            out.trace.push_back(traced(act));
        }
        else
        {
            std::ostringstream os;
            os << "after the injected error the algorithm goes on with " << act;
            out.failure = os.str();
        }
        out.last_stage = traits::stage(algo);
        return out;
    }

    static std::string traced(const sansio::next_action& a)
    {
        std::ostringstream os;
        switch (a.type())
        {
        case sansio::action_type::write:
        {
            std::string data;
            for (auto piece : a.out())
                data += piece;
            os << "write " << quoted(data, 100000);
            break;
        }
        case sansio::action_type::wait:
            os << "wait " << std::chrono::duration_cast<std::chrono::milliseconds>(a.duration()).count()
               << " ms";
            break;
        default: os << a; break;
        }
        return os.str();
    }
    static std::string traced(const recorded_event& e)
    {
        std::ostringstream os;
        os << "event " << e;
        return os.str();
    }

    std::vector<step> steps_;
    std::string stage_{traits::initial_stage};  // stage of the latest write (respond steps inherit it)
};

}  // namespace mailload::test

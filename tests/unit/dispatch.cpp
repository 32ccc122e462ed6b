// Test that header file is self-contained.
#include <mailload/dispatch.hpp>

#include <boost/test/unit_test.hpp>

#include <array>
#include <string>
#include <string_view>
#include <type_traits>

namespace hana = boost::hana;

namespace {

struct smtp_tag
{
    static constexpr std::string_view name = "smtp";
};
struct lmtp_tag
{
    static constexpr std::string_view name = "lmtp";
};
struct lmtp_again_tag
{  // same name as lmtp_tag: the first one listed wins
    static constexpr std::string_view name = "lmtp";
};
struct inet_tag
{
    static constexpr std::string_view name = "inet";
};
struct unix_tag
{
    static constexpr std::string_view name = "unix";
};
struct fixed_tag
{
    static constexpr std::string_view name = "fixed";
};
struct random_tag
{
    static constexpr std::string_view name = "random";
};

template <class T>
std::string name_of(T)
{
    return std::string(T::type::name);
}

struct counter
{
    int calls = 0;
    template <class A, class B>
    void operator()(A, B)
    {
        ++calls;
    }
};

const auto protocols = hana::tuple_t<smtp_tag, lmtp_tag>;
const auto transports = hana::tuple_t<inet_tag, unix_tag>;
const auto pacings = hana::tuple_t<fixed_tag, random_tag>;

}  // namespace

BOOST_AUTO_TEST_SUITE(dispatch_hpp)

BOOST_AUTO_TEST_CASE(select_picks_the_type_by_name)
{
    int calls = 0;
    bool right_type = false;
    const bool found = mailload::select(protocols, "lmtp", [&](auto t) {
        ++calls;
        right_type = std::is_same_v<typename decltype(t)::type, lmtp_tag>;
    });
    BOOST_TEST(found);
    BOOST_TEST(calls == 1);
    BOOST_TEST(right_type);

    calls = 0;
    std::string chosen;
    BOOST_TEST(mailload::select(protocols, "smtp", [&](auto t) {
        ++calls;
        chosen = name_of(t);
    }));
    BOOST_TEST(calls == 1);
    BOOST_TEST(chosen == "smtp");
}

BOOST_AUTO_TEST_CASE(select_unknown_key)
{
    int calls = 0;
    BOOST_TEST(!mailload::select(protocols, "qmqp", [&](auto) { ++calls; }));
    BOOST_TEST(!mailload::select(protocols, "", [&](auto) { ++calls; }));
    BOOST_TEST(!mailload::select(protocols, "SMTP", [&](auto) { ++calls; }));  // names are exact
    BOOST_TEST(!mailload::select(protocols, "smtp ", [&](auto) { ++calls; }));
    BOOST_TEST(!mailload::select(hana::tuple_t<>, "smtp", [&](auto) { ++calls; }));
    BOOST_TEST(calls == 0);
}

BOOST_AUTO_TEST_CASE(select_calls_once_for_a_duplicate_name)
{
    int calls = 0;
    bool first = false;
    BOOST_TEST(mailload::select(hana::tuple_t<smtp_tag, lmtp_tag, lmtp_again_tag>, "lmtp", [&](auto t) {
        ++calls;
        first = std::is_same_v<typename decltype(t)::type, lmtp_tag>;
    }));
    BOOST_TEST(calls == 1);
    BOOST_TEST(first);
}

BOOST_AUTO_TEST_CASE(dispatch_two_axes)
{
    const auto axes = hana::make_tuple(protocols, transports);
    for (std::string_view p : {"smtp", "lmtp"})
    {
        for (std::string_view t : {"inet", "unix"})
        {
            int calls = 0;
            std::string got;
            const bool ok = mailload::dispatch(
                axes,
                std::array<std::string_view, 2>{p, t},
                [&](auto a, auto b) {
                    ++calls;
                    got = name_of(a) + "+" + name_of(b);
                }
            );
            BOOST_TEST(ok);
            BOOST_TEST(calls == 1);
            BOOST_TEST(got == std::string(p) + "+" + std::string(t));
        }
    }
}

BOOST_AUTO_TEST_CASE(dispatch_passes_the_types)
{
    int calls = 0;
    bool right = false;
    BOOST_TEST(mailload::dispatch(
        hana::make_tuple(protocols, transports, pacings),
        std::array<std::string_view, 3>{"lmtp", "unix", "random"},
        [&](auto a, auto b, auto c) {
            ++calls;
            right = std::is_same_v<typename decltype(a)::type, lmtp_tag> &&
                    std::is_same_v<typename decltype(b)::type, unix_tag> &&
                    std::is_same_v<typename decltype(c)::type, random_tag>;
        }
    ));
    BOOST_TEST(calls == 1);
    BOOST_TEST(right);
}

BOOST_AUTO_TEST_CASE(dispatch_one_axis)
{
    int calls = 0;
    std::string got;
    BOOST_TEST(mailload::dispatch(
        hana::make_tuple(pacings),
        std::array<std::string_view, 1>{"fixed"},
        [&](auto a) {
            ++calls;
            got = name_of(a);
        }
    ));
    BOOST_TEST(calls == 1);
    BOOST_TEST(got == "fixed");
}

BOOST_AUTO_TEST_CASE(dispatch_unknown_key_on_any_axis)
{
    const auto axes = hana::make_tuple(protocols, transports, pacings);
    using keys = std::array<std::string_view, 3>;
    for (const keys& k : {
             keys{"qmqp", "inet", "fixed"},
             keys{"smtp", "tcp",  "fixed"},
             keys{"smtp", "inet", "none" },
             keys{"",     "",     ""     }
    })
    {
        int calls = 0;
        const bool ok = mailload::dispatch(axes, k, [&](auto, auto, auto) { ++calls; });
        BOOST_TEST(!ok, k[0] << '/' << k[1] << '/' << k[2]);
        BOOST_TEST(calls == 0, k[0] << '/' << k[1] << '/' << k[2]);
    }
}

BOOST_AUTO_TEST_CASE(dispatch_with_a_mutable_callable)
{
    counter f;
    BOOST_TEST(mailload::dispatch(
        hana::make_tuple(protocols, transports),
        std::array<std::string_view, 2>{"smtp", "unix"},
        f
    ));
    BOOST_TEST(f.calls == 1);  // called on the caller's object, not a copy
}

BOOST_AUTO_TEST_SUITE_END()

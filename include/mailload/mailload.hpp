// SPDX-License-Identifier: BSL-1.0
// mailload/mailload.hpp — umbrella header: everything a user needs (TLS over OpenSSL: add
// <mailload/tls/openssl.hpp>, which links OpenSSL)
#pragma once

#include <mailload/concepts.hpp>
#include <mailload/concurrency/single_thread.hpp>
#include <mailload/concurrency/thread_per_session.hpp>
#include <mailload/concurrency/thread_pool.hpp>
#include <mailload/dispatch.hpp>
#include <mailload/dump.hpp>
#include <mailload/error.hpp>
#include <mailload/io/connect.hpp>
#include <mailload/io/deadline.hpp>
#include <mailload/io/run.hpp>
#include <mailload/io/run_blocking.hpp>
#include <mailload/pacing/constant_rate.hpp>
#include <mailload/pacing/fixed_interval.hpp>
#include <mailload/pacing/no_pacing.hpp>
#include <mailload/pacing/random_interval.hpp>
#include <mailload/protocol/qmqp.hpp>
#include <mailload/report/codec.hpp>
#include <mailload/report/histogram.hpp>
#include <mailload/protocol/smtp.hpp>
#include <mailload/sansio/action.hpp>
#include <mailload/sansio/address.hpp>
#include <mailload/sansio/ascii.hpp>
#include <mailload/sansio/base64.hpp>
#include <mailload/sansio/data_scanner.hpp>
#include <mailload/sansio/ehlo.hpp>
#include <mailload/sansio/hostname.hpp>
#include <mailload/sansio/message_builder.hpp>
#include <mailload/sansio/netstring.hpp>
#include <mailload/sansio/qmqp.hpp>
#include <mailload/sansio/reply_parser.hpp>
#include <mailload/sansio/smtp_client.hpp>
#include <mailload/sansio/smtp_server.hpp>
#include <mailload/sink.hpp>
#include <mailload/source.hpp>
#include <mailload/tls/no_tls.hpp>
#include <mailload/transport/inet.hpp>
#include <mailload/transport/unix_domain.hpp>
#include <mailload/version.hpp>

// The application API: what you write to run on keel.
//
// An application is a class with three callbacks, the way an OTP gen_server
// is a module with callbacks: keel's `app_support` actor (one per copy) is
// the CAF actor that runs it, and calls your class for each partition the
// copy holds (one instance per partition). The callbacks run inside that
// actor, one at a time, never concurrently. When the copy stops or dies,
// its instances are destroyed a little later on another actor (so that the
// copy's death is reported first): a destructor must not rely on the copy.
//
//   handle(event, ctx) -> reply   apply one event to the partition's state
//   snapshot() -> json            the whole partition state (state transfer)
//   restore(json)                 replace the state with a snapshot
//
// Contract: `handle` must be deterministic (a function of the state and the
// event only: no clock, no randomness, no I/O). Standbys stay in sync by
// applying the same events in the same order, and a replayed event must
// produce the same reply. Reject bad input with reply::reject. An exception
// thrown from `handle` also rejects the event ("handler threw: ..."), and
// the sends it made are dropped, but changes it made to the state before
// throwing stay: keep handlers exception-safe.
#pragma once

#include <memory>
#include <string>

#include "runtime/event.hpp"
#include "runtime/json_value.hpp"
#include "runtime/types.hpp"

namespace keel {

/// What `handle` answers: a result (sent to the client in its event_reply)
/// or a rejection (the client gets error_code::app_rejected). Both are
/// final and deduplicated: a retry of the same request gets the same reply.
struct reply {
  json value;
  std::string rejection;

  bool ok() const noexcept {
    return rejection.empty();
  }

  static reply accept(json value = nullptr) {
    return reply{std::move(value), {}};
  }

  static reply reject(std::string why) {
    return reply{nullptr, why.empty() ? std::string{"rejected"} : why};
  }
};

/// What an application may do from inside `handle`.
class app_context {
public:
  virtual ~app_context() = default;

  /// The copy running this handler.
  virtual const copy_id& copy() const = 0;

  /// The partition of the event being handled.
  virtual partition_id partition() const = 0;

  /// Sends an event to application `app` (which hashes `key` to one of its
  /// partitions) through keel's distributor and router, like any client.
  /// Once the distributor accepted it, it reaches the target's active copy
  /// across the target's failovers and is applied there at most once: its
  /// request id is derived from the event being handled, so a resend is a
  /// duplicate the target drops. A send the distributor refuses for now
  /// (overloaded, timeout) is retried every retransmit_interval_ms by the
  /// sending copy; if that copy fails meanwhile, the send is lost (pending
  /// sends are not replicated yet). Only the active copy sends; a standby
  /// applying the same event does not. At most 64 sends per handled event;
  /// request ids must stay below 2^57. `app` is text (it often comes from
  /// an event's payload); a name no application of this process has fails
  /// the send at once (trace event `app_send_failed`, unknown_app).
  virtual void send(std::string_view app, std::string key, json payload) = 0;
};

/// The callbacks of an application. See the file comment for the contract.
class application {
public:
  virtual ~application() = default;

  virtual reply handle(const event& ev, app_context& ctx) = 0;

  virtual json snapshot() const = 0;

  virtual void restore(const json& state) = 0;
};

} // namespace keel

// The external event and the reply a client gets for it.
//
// An event names its application and key; the key decides the partition. The
// pair (client_id, request_id) identifies the request for deduplication:
// clients must use increasing request ids per client id, and a retry must
// reuse the id of the original request.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "runtime/json_value.hpp"
#include "runtime/types.hpp"

namespace keel {

struct event {
  app_name app;
  std::string key;
  json_value payload;
  std::string client_id;
  uint64_t request_id = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, event& x) {
  return f(caf::meta::type_name("keel_event"), x.app, x.key, x.payload,
           x.client_id, x.request_id);
}

/// The acknowledgement of an event: it was applied by the partition's active
/// copy and replicated to its standbys. `result` is the handler's reply.
struct event_reply {
  partition_id partition = 0;
  seq_t seq = 0;
  json_value result;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, event_reply& x) {
  return f(caf::meta::type_name("keel_event_reply"), x.partition, x.seq,
           x.result);
}

/// One event's outcome in an event_results batch: applied and replicated
/// (code 0, `result` is the handler's reply) or refused (`code` is an
/// error_code, `error` says why).
struct event_result {
  uint64_t request_id = 0;
  partition_id partition = 0;
  seq_t seq = 0;
  uint8_t code = 0;
  std::string error;
  json_value result;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, event_result& x) {
  return f(caf::meta::type_name("keel_event_result"), x.request_id,
           x.partition, x.seq, x.code, x.error, x.result);
}

/// distributor -> batch client: outcomes of events it sent in batches, in
/// the order they completed (per partition: in the order they were sent).
struct event_results {
  std::vector<event_result> results;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, event_results& x) {
  return f(caf::meta::type_name("keel_event_results"), x.results);
}

/// Whoever sends event batches: receives their outcomes.
using result_sink_actor = caf::typed_actor<caf::reacts_to<event_results>>;

/// client -> distributor: several events in one message (the batch ingress;
/// one event per request is the other). Each event is admitted on its own,
/// exactly as if sent alone; its outcome comes back to `reply_to` in an
/// event_results message, which carries the outcomes of many events. A
/// client matches outcomes to events by request id, so it must not reuse a
/// request id while it is in flight.
struct event_batch {
  result_sink_actor reply_to;
  std::vector<event> events;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, event_batch& x) {
  return f(caf::meta::type_name("keel_event_batch"), x.reply_to, x.events);
}

} // namespace keel

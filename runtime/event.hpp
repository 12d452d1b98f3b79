// The external event and the reply a client gets for it.
//
// An event names its application and key; the key decides the partition. The
// pair (client_id, request_id) identifies the request for deduplication:
// clients must use increasing request ids per client id, and a retry must
// reuse the id of the original request.
#pragma once

#include <cstdint>
#include <string>

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

} // namespace keel

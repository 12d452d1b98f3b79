// Protocol of the cluster gateway: the one actor each `keel node` process
// publishes on its endpoint (CAF middleman). A peer node, the control node
// or an admin client gets nothing from a node before it proves it knows the
// cluster secret:
//
//   client -> gateway: challenge            <- nonce (one use, 10 s)
//   client -> gateway: join{from, nonce, proof = HMAC(secret, "keel-join" |
//                      nonce | from), client_nonce}
//                                           <- join_reply{proof = HMAC(secret,
//                      "keel-gateway" | client_nonce | node), handles, ...}
//
// so the secret never travels and both sides learn the other knows it. A
// wrong proof is refused (error unauthorized), logged and traced. Both
// messages carry the sender's `wire_protocol`: a peer of another keel build
// is refused (error incompatible) instead of misreading messages whose
// layout changed.
#pragma once

#include <string>
#include <vector>

#include "actors/load_distributor/load_distributor_interface.hpp"
#include "actors/system_controller/system_controller_interface.hpp"

namespace keel {

/// The layout version of the messages that cross the middleman. Bump it
/// whenever a type registered in bootstrap.cpp changes what its `inspect`
/// writes, or a message a remote node must understand is added (2:
/// replica_meta carries a typed dedupe_image; 3: agents spawn and the fault
/// manager watches the copies of a node in one message; 4: node and
/// application names are `keel_symbol`s, not CAF strings).
constexpr uint32_t wire_protocol = 4;

struct join_request {
  /// The asker's wire_protocol (0: not set).
  uint32_t protocol = 0;
  /// Who asks: a node name, or an admin client's name.
  std::string from;
  /// The nonce this gateway issued (challenge).
  std::string nonce;
  std::string proof;
  /// The asker's nonce: the reply proves the gateway knows the secret too.
  std::string client_nonce;
  /// A node's own agent and router (empty for an admin client). When the
  /// control node admits a node while the system runs, the fault manager
  /// gets these: a restarted node rejoins this way.
  node_handles handles;
  /// The standby control node's watcher (a restarted standby node): the
  /// running controller replicates to it from then on.
  control_standby_actor standby;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, join_request& x) {
  return f(caf::meta::type_name("keel_join_request"), x.protocol, x.from,
           x.nonce, x.proof, x.client_nonce, x.handles, x.standby);
}

/// What an admitted peer learns.
struct join_reply {
  /// The gateway's wire_protocol.
  uint32_t protocol = 0;
  node_id node;
  std::string proof;
  /// This node's agent and router.
  node_handles handles;
  /// Control node only, once the system is activated: the control plane and
  /// every node's handles. `ready` false: not (yet) the case.
  bool ready = false;
  system_controller_actor controller;
  load_distributor_actor distributor;
  fault_manager_actor fault_manager;
  std::vector<node_handles> nodes;
  /// The standby control node only: its watcher, which the control node
  /// replicates to.
  control_standby_actor standby;
  /// This node is part of an activated system (its agent got its peers).
  bool member = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, join_reply& x) {
  return f(caf::meta::type_name("keel_join_reply"), x.protocol, x.node,
           x.proof,
           x.handles, x.ready, x.controller, x.distributor, x.fault_manager,
           x.nodes, x.standby, x.member);
}

using gateway_actor = caf::typed_actor<
  caf::replies_to<challenge_atom>::with<std::string>,
  caf::replies_to<join_atom, join_request>::with<join_reply>>;

} // namespace keel

#include "actors/cluster/gateway.hpp"

#include <iostream>

#include <caf/all.hpp>

#include "runtime/auth.hpp"
#include "runtime/error.hpp"

namespace keel {

gateway_actor::behavior_type gateway_impl(gateway_pointer self,
                                          context_ptr ctx, node_id node,
                                          std::string secret,
                                          std::shared_ptr<const gateway_cell> cell) {
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.node = std::move(node);
  st.secret = std::move(secret);
  st.cell = std::move(cell);
  return {
    [self](challenge_atom) {
      auto& st = self->state;
      auto now = self->clock().now();
      while (!st.nonces.empty()
             && (st.nonces.size() >= gateway_state::nonces_max
                 || st.nonces.front().expires <= now))
        st.nonces.pop_front();
      auto nonce = auth::make_nonce();
      st.nonces.push_back({nonce, now + gateway_state::nonce_ttl});
      return nonce;
    },
    [self](join_atom, join_request& req) -> caf::result<join_reply> {
      auto& st = self->state;
      auto now = self->clock().now();
      auto sender = self->current_sender();
      auto peer = sender ? to_string(sender->node()) : std::string{"?"};
      // What a peer calls itself is not trusted in logs: printable and
      // short.
      std::string from;
      for (auto c : req.from.substr(0, 64))
        from.push_back(c >= 0x20 && c < 0x7f && c != '"' ? c : '?');
      if (req.from.size() > 64)
        from += "...";
      auto refuse = [&](const std::string& why,
                        error_code code
                        = error_code::unauthorized) -> caf::result<join_reply> {
        std::cerr << "keel node " << st.node << ": refused \"" << from
                  << "\" (CAF node " << peer << "): " << why << std::endl;
        st.ctx->emit(self, "join_refused",
                     json{{"node", st.node}, {"from", from},
                          {"reason", why}});
        return make_error(code, "node " + st.node + " refused \"" + from
                                  + "\": " + why);
      };
      auto i = std::find_if(st.nonces.begin(), st.nonces.end(),
                            [&](auto& x) { return x.nonce == req.nonce; });
      if (i == st.nonces.end() || i->expires <= now)
        return refuse("unknown or expired challenge");
      st.nonces.erase(i);  // one use
      auto expected = auth::prove(st.secret, "keel-join", req.nonce, req.from);
      if (!auth::same_proof(expected, req.proof))
        return refuse("wrong cluster secret");
      if (req.protocol != wire_protocol)
        return refuse("it runs keel wire protocol "
                        + std::to_string(req.protocol) + ", this node "
                        + std::to_string(wire_protocol)
                        + " (every node and admin client of a cluster must "
                          "run the same keel build)",
                      error_code::incompatible);
      auto reply = st.cell->get();
      // A node (re)joining a running system: its process may be new.
      auto& nodes = st.ctx->config.nodes;
      if (reply.ready && reply.fault_manager && req.handles.agent
          && req.handles.router && req.handles.node == req.from
          && req.from != st.node && sender
          && req.handles.agent.node() == sender->node()
          && std::find(nodes.begin(), nodes.end(), req.from) != nodes.end())
        self->send(reply.fault_manager, rejoin_atom::value, req.handles);
      if (reply.ready && reply.controller && req.standby && sender
          && req.standby.node() == sender->node()
          && std::find(nodes.begin(), nodes.end(), req.from) != nodes.end()
          && req.from != st.node)
        self->send(reply.controller, standby_atom::value, req.standby,
                   node_id{req.from});  // one of the configured nodes
      reply.protocol = wire_protocol;
      reply.node = st.node;
      reply.member = st.ctx->member && st.ctx->member->load();
      reply.proof = auth::prove(st.secret, "keel-gateway", req.client_nonce,
                                st.node);
      st.ctx->emit(self, "join_admitted",
                   json{{"node", st.node}, {"from", req.from}});
      return reply;
    },
  };
}

} // namespace keel

// Every atom keel uses, in one place. CAF 0.17 atoms are at most 10
// characters from [0-9A-Za-z_ ]; other characters silently become ' ', so
// atoms with '-' or '.' would collide. Keep to letters and underscores.
#pragma once

#include <caf/atom.hpp>

namespace keel {

#define KEEL_ATOM(name, text)                                                  \
  using name = caf::atom_constant<caf::atom(text)>

// -- generic -----------------------------------------------------------------
KEEL_ATOM(ok_atom, "ok");
KEEL_ATOM(tick_atom, "tick");
KEEL_ATOM(deadline_atom, "deadline");
KEEL_ATOM(status_atom, "status");
KEEL_ATOM(which_children_atom, "children");

// -- controller ----------------------------------------------------------------
KEEL_ATOM(activate_atom, "activate");
KEEL_ATOM(get_assignment_atom, "assignment");

// -- node agent ----------------------------------------------------------------
KEEL_ATOM(spawn_copy_atom, "spawn_copy");
KEEL_ATOM(stop_copy_atom, "stop_copy");
KEEL_ATOM(peers_atom, "peers");
KEEL_ATOM(hb_tick_atom, "hb_tick");
KEEL_ATOM(reset_atom, "reset");
KEEL_ATOM(self_fence_atom, "self_fence");

// -- app_support -----------------------------------------------------------------
KEEL_ATOM(assign_roles_atom, "assign");
KEEL_ATOM(add_standby_atom, "add_stdby");
KEEL_ATOM(remove_standby_atom, "rm_stdby");
KEEL_ATOM(get_state_atom, "get_state");
KEEL_ATOM(sync_timeout_atom, "sync_tmo");
KEEL_ATOM(retry_send_atom, "retry_send");
KEEL_ATOM(health_atom, "health");
KEEL_ATOM(health_due_atom, "health_due");
KEEL_ATOM(inject_atom, "inject");
KEEL_ATOM(probe_atom, "probe");
KEEL_ATOM(get_snapshot_atom, "get_snap");
KEEL_ATOM(quiesce_atom, "quiesce");
KEEL_ATOM(quiesce_timeout_atom, "quiet_tmo");
KEEL_ATOM(flush_atom, "flush");
KEEL_ATOM(retransmit_atom, "retransmit");
KEEL_ATOM(resume_atom, "resume");
KEEL_ATOM(switchover_atom, "switchover");

// -- router / distributor ------------------------------------------------------------
KEEL_ATOM(subscribe_atom, "subscribe");
KEEL_ATOM(set_routes_atom, "set_routes");
KEEL_ATOM(fence_copy_atom, "fence_copy");
KEEL_ATOM(fence_atom, "fence");
KEEL_ATOM(routes_atom, "routes");

// -- fault manager -------------------------------------------------------------
KEEL_ATOM(watch_copy_atom, "watch_copy");
KEEL_ATOM(unwatch_copy_atom, "unwatch");
KEEL_ATOM(watch_node_atom, "watch_node");
KEEL_ATOM(node_up_atom, "node_up");
KEEL_ATOM(majority_atom, "majority");
KEEL_ATOM(rejoin_atom, "rejoin");
KEEL_ATOM(retry_standby_atom, "retry_sb");
KEEL_ATOM(run_queue_atom, "run_queue");

// -- load manager --------------------------------------------------------------
KEEL_ATOM(get_load_atom, "get_load");

// -- cluster gateway ---------------------------------------------------------
KEEL_ATOM(challenge_atom, "challenge");
KEEL_ATOM(join_atom, "join");
KEEL_ATOM(takeover_atom, "takeover");
KEEL_ATOM(standby_atom, "standby");
KEEL_ATOM(successor_atom, "successor");
KEEL_ATOM(died_atom, "died");

#undef KEEL_ATOM

} // namespace keel

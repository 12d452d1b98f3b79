// The system_controller actor: see system_controller_interface.hpp for its
// protocol and controller_state.hpp for its decisions.
//
// Recoveries run one at a time, in arrival order (a work queue): each is a
// short chain of fan-out steps (promote, install routes, restart and sync).
// Every step emits a trace event, so each failover has a timeline.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>

#include "actors/request_deadlines.hpp"
#include "actors/system_controller/controller_state.hpp"
#include "actors/system_controller/system_controller_interface.hpp"
#include "runtime/context.hpp"

namespace keel {

struct switchover_run;

/// The handle of each running copy: per application, a vector indexed by
/// the copy's index (8 bytes a copy instead of a 64-byte map node, keel bench
/// S1). Indexes beyond `dense_max` (none from a valid configuration, which
/// allows 64 copies an application) go to a map.
class copy_handle_table {
public:
  static constexpr uint32_t dense_max = 4096;

  /// The copy's handle; empty if none.
  app_support_actor find(const copy_id& copy) const {
    auto i = dense_.find(copy.app);
    if (i != dense_.end() && copy.index < i->second.size())
      return i->second[copy.index];
    auto j = sparse_.find(copy);
    return j != sparse_.end() ? j->second : app_support_actor{};
  }

  void set(const copy_id& copy, app_support_actor handle) {
    if (!handle) {
      erase(copy);
      return;
    }
    if (copy.index >= dense_max) {
      auto [i, added] = sparse_.insert_or_assign(copy, std::move(handle));
      count_ += added ? 1 : 0;
      return;
    }
    auto& handles = dense_[copy.app];
    if (copy.index >= handles.size())
      handles.resize(copy.index + 1);
    count_ += handles[copy.index] ? 0 : 1;
    handles[copy.index] = std::move(handle);
  }

  void erase(const copy_id& copy) {
    auto i = dense_.find(copy.app);
    if (i != dense_.end() && copy.index < i->second.size()) {
      count_ -= i->second[copy.index] ? 1 : 0;
      i->second[copy.index] = app_support_actor{};
      return;
    }
    count_ -= sparse_.erase(copy);
  }

  /// How many copies have a handle.
  size_t size() const noexcept {
    return count_;
  }

private:
  std::map<app_name, std::vector<app_support_actor>> dense_;
  std::map<copy_id, app_support_actor> sparse_;
  size_t count_ = 0;
};

struct system_controller_actor_state {
  using work_item = std::function<void(std::function<void()> done)>;

  context_ptr ctx;
  std::unique_ptr<controller_state> plan;
  activation handles;
  std::map<node_id, node_handles> nodes;
  /// Nodes back as new processes whose rejoin waits in the queue: the node
  /// agents learn of the new agent at once (send_peers), so that heartbeats
  /// flow again. Without that a control node that fenced itself while the
  /// node restarted never heard a majority again, and the queue that would
  /// have told the agents never ran.
  std::map<node_id, node_handles> restarted;
  copy_handle_table copies;
  std::deque<work_item> work;
  bool busy = false;
  /// Keep-majority: false while the control node does not reach a majority
  /// of the configured nodes; queued work waits.
  bool has_majority = true;
  /// The switchover running now, if any (system_controller.cpp).
  std::shared_ptr<switchover_run> switchover;
  bool activated = false;
  /// The node this controller runs on (the first configured node, or the
  /// standby control node after a takeover).
  node_id control_node;
  /// Snapshots sent to the standby control plane.
  uint64_t replicated = 0;
  /// The deadlines of the requests this controller sent.
  request_deadlines deadlines;
  static inline const char* name = "keel.system_controller";
};

using system_controller_pointer
  = system_controller_actor::stateful_pointer<system_controller_actor_state>;

system_controller_actor::behavior_type
system_controller_impl(system_controller_pointer self, context_ptr ctx);

} // namespace keel

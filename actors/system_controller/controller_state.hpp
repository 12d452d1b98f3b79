// The system controller's decisions, in plain C++: where copies go
// (placement), which copy is active or standby for each partition
// (assignment, per redundancy model), and what to do when a copy or a node
// fails (promotion, restart within the restart intensity, replacement on
// another node). system_controller.cpp carries the plans out.
//
// The escalation ladder (AMF's, with OTP's restart intensity), per failure
// of a copy whose node is up:
//   1. restart: the copy restarts in place, within copy_restart_max per
//      copy_restart_period_ms (its active partitions fail over to their
//      standbys at once either way);
//   2. failover: past that, the copy is not restarted there; it is placed on
//      another node, and the failover counts against its old node;
//   3. node out of service: past node_failover_max failovers per
//      node_failover_period_ms, the node's copies move away and nothing is
//      placed there any more.
//
// Placement rules: copies of one application go to distinct nodes while
// nodes last (round robin, continuing across applications so load spreads);
// an active and its standbys are never on the same node when another node is
// available; everything is deterministic (same config, same assignment).
//
// Thread safety: none; owned by the controller actor.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "runtime/config.hpp"
#include "runtime/packed_optional.hpp"
#include "runtime/restart_window.hpp"
#include "runtime/types.hpp"

namespace keel {

class controller_state {
public:
  using time_point = restart_window::time_point;
  using partition_key = std::pair<app_name, partition_id>;

  /// Orders partition keys as std::pair does, with one string comparison
  /// (std::pair's operator< makes two when the apps are equal, the usual
  /// case).
  struct partition_key_less {
    bool operator()(const partition_key& x, const partition_key& y) const {
      auto c = x.first.compare(y.first);
      return c != 0 ? c < 0 : x.second < y.second;
    }
  };

  /// A copy's record, kept under its id (not repeated here: a map node of
  /// 160 bytes instead of 224, keel bench S1).
  struct copy_record {
    node_id node;
    bool alive = false;
    uint32_t restarts = 0;
    restart_window window;
    /// Partitions this copy held (active or standby) when it last failed;
    /// a restarted or replacement copy takes them back.
    std::vector<partition_id> home;
  };

  /// A partition's record, kept under its key (not repeated here) and with
  /// packed optionals: a map node of 128 bytes (keel bench S1).
  struct partition_record {
    epoch_t epoch = 0;
    packed_optional<copy_id> active;
    std::vector<copy_id> standbys;
    /// The standby named in the routes as the successor of the active
    /// (see successor()): epoch `reserved_epoch` is its alone, because a
    /// distributor may promote it to that epoch without asking.
    packed_optional<copy_id> reserved_for;
    epoch_t reserved_epoch = 0;
    /// Epochs up to here were reserved for a successor that failed since
    /// (a distributor may still promote that incarnation to them): nobody
    /// gets them, not even a restarted incarnation of the same copy.
    epoch_t blocked_upto = 0;
  };

  using partition_map
    = std::map<partition_key, partition_record, partition_key_less>;
  static_assert(sizeof(partition_record) == 80, "see partition_record");

  /// A standby that becomes active in `epoch`; `standbys` stay standbys.
  struct promotion {
    partition_key key;
    copy_id copy;
    epoch_t epoch = 0;
    std::vector<copy_id> standbys;
  };

  /// How the failed copy comes back, if it does.
  struct restart_decision {
    copy_id copy;
    node_id node;
    bool in_place = false;
  };

  struct failover_plan {
    copy_id failed;
    /// Partitions whose active was the failed copy and got a standby
    /// promoted.
    std::vector<promotion> promotions;
    /// Partitions whose active failed with no standby left: they wait, in
    /// transition, for the restarted copy.
    std::vector<partition_key> orphaned;
    /// Partitions where the failed copy was a standby: (key, its active).
    std::vector<std::pair<partition_key, copy_id>> lost_standbys;
    std::optional<restart_decision> restart;
    /// The ladder's rung: "restart", "failover" or "node_out_of_service";
    /// empty when the copy's node itself failed.
    std::string escalation;
    /// Rung 3: the node taken out of service, and its other copies, which
    /// must be moved away.
    std::optional<node_id> node_out_of_service;
    std::vector<copy_id> evict;
  };

  /// A role for the restarted copy.
  struct rejoin_step {
    partition_key key;
    role new_role = role::standby;
    epoch_t epoch = 0;
    /// For standby: the active to sync from. For active: its standbys.
    std::optional<copy_id> active;
    std::vector<copy_id> standbys;
  };

  explicit controller_state(system_config config);

  // -- activation ---------------------------------------------------------------

  /// Places every copy and computes every partition's assignment (epoch 1).
  void plan_activation();

  // -- takeover -------------------------------------------------------------------

  /// What a standby controller takes over: the assignment as the active
  /// controller last replicated it.
  struct adopted_partition {
    partition_key key;
    epoch_t epoch = 0;
    std::optional<copy_id> active;
    std::vector<copy_id> standbys;
    epoch_t reserved_upto = 0;
  };
  struct adopted_copy {
    copy_id id;
    node_id node;
    bool alive = false;
    uint32_t restarts = 0;
  };

  /// Replaces the whole assignment with a replicated one (a controller
  /// takeover). Restart windows start empty; nodes in `failed` stay failed.
  void adopt(const std::vector<adopted_partition>& partitions,
             const std::vector<adopted_copy>& copies,
             const std::vector<node_id>& failed);

  /// A copy reported `r` for `key` in `epoch` (takeover reconciliation: the
  /// replicated assignment may lag behind the last change). Raises the
  /// partition's epoch to the newest seen; an active reported in a newer
  /// epoch than the assignment's becomes the partition's active.
  void reconcile(const partition_key& key, const copy_id& copy, role r,
                 epoch_t epoch);

  // -- recovery -------------------------------------------------------------------

  /// A copy failed: promote, orphan, decide the restart. Idempotent: a copy
  /// already known dead yields an empty plan (`failed.app` empty).
  failover_plan plan_copy_failure(const copy_id& copy, time_point now);

  /// A node failed. Returns its copies that are still marked alive (each
  /// must be recovered as failed).
  std::vector<copy_id> mark_node_failed(const node_id& node,
                                        bool may_return = false);

  /// Picks a node for a copy whose node failed, or nullopt if none is left.
  /// Nodes in `exclude` (tried already) are skipped.
  std::optional<node_id>
  replacement_node(const copy_id& copy,
                   const std::set<node_id>& exclude = {}) const;

  /// The promoted copy refused the role (not in sync). Puts it back among
  /// the standbys and returns the next live standby not in `tried` to
  /// promote instead (same epoch); nullopt leaves the partition without an
  /// active (orphaned).
  std::optional<promotion> promotion_refused(const partition_key& key,
                                             const copy_id& refused,
                                             const std::set<copy_id>& tried);

  /// A planned switchover of one partition.
  struct switchover_plan {
    partition_key key;
    copy_id from;
    copy_id to;
    epoch_t old_epoch = 0;
    epoch_t new_epoch = 0;
    /// Standbys after the switchover (the old active among them).
    std::vector<copy_id> standbys;
    /// Non-empty: the switchover cannot be done (why).
    std::string error;
  };

  /// Plans moving `key`'s active role to its first live standby. Changes
  /// nothing: commit_switchover does, once the active is quiesced.
  switchover_plan plan_switchover(const partition_key& key) const;

  /// Applies a planned switchover to the assignment.
  void commit_switchover(const switchover_plan& plan);

  /// The promotion of a committed switchover failed: the old active takes
  /// the role back with a newer epoch (its state is complete: it quiesced
  /// after everything was acknowledged). Returns that epoch and the
  /// partition's standbys.
  std::pair<epoch_t, std::vector<copy_id>>
  revert_switchover(const switchover_plan& plan);

  /// True if a copy without the partition's state may become active:
  /// models without a standby (seeded from the distributor's snapshot and
  /// log), or any model when unclean_activation is set.
  bool can_activate_without_state(const app_name& app) const;

  /// n_plus_m never keeps an active on a dedicated standby copy while an
  /// active copy is available: true if `key` is active on a dedicated
  /// standby copy and `standby` (a live standby of it) is an active copy,
  /// so that a switchover should hand the role back (failback).
  bool failback_needed(const partition_key& key,
                       const copy_id& standby) const;

  /// A live copy that becomes a standby of a partition to restore its
  /// configured redundancy.
  struct standby_addition {
    partition_key key;
    copy_id standby;
    copy_id active;
    epoch_t epoch = 0;
  };

  /// Standbys each partition of `app` should have (2n, n_plus_m: 1; n_way:
  /// standbys_per_partition; the others: 0).
  uint32_t desired_standbys(const app_name& app) const;

  /// Partitions of `app` with fewer live standbys than configured get new
  /// ones from the app's live copies on usable nodes (n_plus_m: dedicated
  /// standby copies first; then another node than the active's; then the
  /// copy with the fewest roles). Updates the assignment.
  std::vector<standby_addition> restore_redundancy(const app_name& app);

  /// Gives every partition of `app` that has no active to a live copy of
  /// the app on a node not declared failed (the one with the fewest
  /// actives; ties by index), with a new epoch. Used when the failed copy will not come back: the partition's
  /// state starts from what that copy holds for it (empty if nothing).
  std::vector<rejoin_step> reassign_orphans(const app_name& app);

  /// The copy is up again on `node`: returns its roles (standby of its home
  /// partitions that have an active - unless the model has no standbys -,
  /// active of those that have none if can_activate_without_state, with a
  /// new epoch) and updates the assignment.
  std::vector<rejoin_step> rejoin(const copy_id& copy, const node_id& node,
                                  bool with_state = false);

  /// `copy` (failed, not yet replaced) is on a node that may come back and
  /// was active or standby for a partition that now has no active: its
  /// state is the only one left.
  bool holds_lost_state(const copy_id& copy) const;

  /// Copies of `node` that were not replaced elsewhere when it failed: they
  /// hold the only state of some partition and wait for their node.
  std::vector<copy_id> awaiting(const node_id& node) const;

  /// Marks a copy as running on `node` (after spawn).
  void mark_alive(const copy_id& copy, const node_id& node);

  // -- queries ------------------------------------------------------------------

  const std::map<copy_id, copy_record>& copies() const noexcept {
    return copies_;
  }

  const partition_map& partitions() const noexcept {
    return partitions_;
  }

  const partition_record* find(const partition_key& key) const;

  const copy_record* find(const copy_id& copy) const;

  /// False once the node crashed (its actors are gone).
  /// A new epoch for `key` (the same active, promoted again); returns it.
  epoch_t bump_epoch(const partition_key& key) {
    auto& part = partitions_.at(key);
    if (!config_.test_skip_epoch_bump)
      part.epoch = part.active ? next_epoch(part, *part.active)
                               : part.epoch + 1;
    return part.epoch;
  }

  /// The successor the routes name for `key`'s active: the partition's
  /// only standby, when the app keeps one standby per partition and that
  /// one is promotable. Reserves epoch + 1 for it (never for a second copy:
  /// nullopt if another one holds that reservation). A distributor that
  /// sees the active die promotes the successor to epoch + 1 on its own;
  /// every other epoch change of the partition skips the reserved epoch,
  /// so one epoch never has two actives (G4).
  /// `copy` failed (or was cut off): the epochs reserved for it stay
  /// blocked, because a distributor may still promote that incarnation.
  void release_reservations(const copy_id& copy);

  /// Returns the successor and the epoch reserved for it.
  std::optional<std::pair<copy_id, epoch_t>>
  successor(const partition_key& key);

  /// The epoch after `part.epoch` for `to`: past every blocked epoch, and
  /// past the reserved one unless `to` holds it.
  static epoch_t next_epoch(const partition_record& part, const copy_id& to) {
    auto e = std::max(part.epoch, part.blocked_upto) + 1;
    if (part.reserved_for && part.reserved_epoch >= e)
      return *part.reserved_for == to ? part.reserved_epoch
                                      : part.reserved_epoch + 1;
    return e;
  }

  /// Alive, and on a node not declared failed (a copy cut off with its node
  /// cannot take a role: the request would only time out).
  bool promotable(const copy_id& copy) const {
    auto i = copies_.find(copy);
    return i != copies_.end() && i->second.alive
           && failed_nodes_.count(i->second.node) == 0;
  }

  /// A node declared failed is back (reset, empty): placements may use it.
  void mark_node_alive(const node_id& node) {
    failed_nodes_.erase(node);
    may_return_.erase(node);
  }

  bool node_alive(const node_id& node) const {
    return failed_nodes_.count(node) == 0;
  }

  /// Alive and in service: copies may be placed there.
  bool node_usable(const node_id& node) const {
    return node_alive(node) && out_of_service_.count(node) == 0;
  }

  const std::set<node_id>& out_of_service() const noexcept {
    return out_of_service_;
  }

  const std::set<node_id>& failed_nodes() const noexcept {
    return failed_nodes_;
  }

  const system_config& config() const noexcept {
    return config_;
  }

private:
  void assign_model(const app_config& app);

  std::set<node_id> may_return_;
  system_config config_;
  std::map<copy_id, copy_record> copies_;
  partition_map partitions_;
  std::set<node_id> failed_nodes_;
  std::set<node_id> out_of_service_;
  std::map<node_id, restart_window> node_failovers_;
};

} // namespace keel

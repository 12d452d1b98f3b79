#include "actors/system_controller/controller_state.hpp"

#include <algorithm>

namespace keel {

controller_state::controller_state(system_config config)
  : config_(std::move(config)) {
}

const controller_state::partition_record*
controller_state::find(const partition_key& key) const {
  auto i = partitions_.find(key);
  return i == partitions_.end() ? nullptr : &i->second;
}

const controller_state::copy_record*
controller_state::find(const copy_id& copy) const {
  auto i = copies_.find(copy);
  return i == copies_.end() ? nullptr : &i->second;
}

// -- activation -------------------------------------------------------------------

void controller_state::plan_activation() {
  auto period = std::chrono::milliseconds{config_.knobs.copy_restart_period_ms};
  size_t cursor = 0;  // continues across apps so that load spreads
  auto& nodes = config_.nodes;
  for (auto& app : config_.apps) {
    for (uint32_t i = 0; i < app.copies; ++i) {
      copy_id id{app.name, i};
      copy_record rec{nodes[(cursor + i) % nodes.size()], false, 0,
                      restart_window{config_.knobs.copy_restart_max, period},
                      {}};
      copies_.emplace(id, std::move(rec));
    }
    cursor += app.copies;
    assign_model(app);
  }
}

void controller_state::adopt(const std::vector<adopted_partition>& partitions,
                             const std::vector<adopted_copy>& copies,
                             const std::vector<node_id>& failed) {
  auto period = std::chrono::milliseconds{config_.knobs.copy_restart_period_ms};
  copies_.clear();
  partitions_.clear();
  failed_nodes_ = std::set<node_id>(failed.begin(), failed.end());
  may_return_.clear();
  out_of_service_.clear();
  node_failovers_.clear();
  for (auto& c : copies)
    copies_.emplace(c.id, copy_record{c.node, c.alive, c.restarts,
                                      restart_window{config_.knobs.copy_restart_max,
                                                     period},
                                      {}});
  for (auto& p : partitions) {
    partition_record rec{p.epoch, p.active, p.standbys, std::nullopt, 0};
    // Epochs the lost controller reserved for successors are nobody's now
    // (its distributor may have promoted them on the way down), and so is
    // one past the snapshot: a reservation made after it. reconcile() does
    // the same for the epochs the copies report.
    rec.blocked_upto = std::max(p.reserved_upto, p.epoch + 1);
    partitions_.emplace(p.key, std::move(rec));
  }
}

std::optional<std::pair<copy_id, epoch_t>>
controller_state::successor(const partition_key& key) {
  auto i = partitions_.find(key);
  if (i == partitions_.end())
    return std::nullopt;
  auto& part = i->second;
  if (!part.active || part.standbys.size() != 1
      || desired_standbys(key.first) != 1)
    return std::nullopt;
  auto& next = part.standbys.front();
  if (!promotable(next))
    return std::nullopt;
  auto e = std::max(part.epoch, part.blocked_upto) + 1;
  if (part.reserved_for && part.reserved_epoch >= e) {
    if (*part.reserved_for != next)
      return std::nullopt;  // the epoch is another copy's: none this time
    return std::make_pair(next, part.reserved_epoch);
  }
  part.reserved_for = next;
  part.reserved_epoch = e;
  return std::make_pair(next, e);
}

void controller_state::release_reservations(const copy_id& copy) {
  for (auto& [key, part] : partitions_)
    if (part.reserved_for == copy) {
      part.blocked_upto = std::max(part.blocked_upto, part.reserved_epoch);
      part.reserved_for.reset();
    }
}

void controller_state::reconcile(const partition_key& key,
                                 const copy_id& copy, role r, epoch_t epoch) {
  auto i = partitions_.find(key);
  if (i == partitions_.end())
    return;
  auto& part = i->second;
  if (r == role::active && epoch > part.epoch) {
    auto& sb = part.standbys;
    sb.erase(std::remove(sb.begin(), sb.end(), copy), sb.end());
    if (part.active && *part.active != copy)
      sb.push_back(*part.active);
    part.active = copy;
  }
  part.epoch = std::max(part.epoch, epoch);
  part.blocked_upto = std::max(part.blocked_upto, epoch + 1);
}

void controller_state::assign_model(const app_config& app) {
  auto node_of = [&](uint32_t index) {
    return copies_.at(copy_id{app.name, index}).node;
  };
  // Picks `count` standbys from `candidates` (in order), preferring copies
  // on another node than the active's.
  auto pick = [&](uint32_t active, const std::vector<uint32_t>& candidates,
                  size_t count) {
    std::vector<copy_id> result;
    for (int pass = 0; pass < 2 && result.size() < count; ++pass)
      for (auto c : candidates) {
        if (result.size() >= count)
          break;
        copy_id id{app.name, c};
        bool other_node = node_of(c) != node_of(active);
        if (c == active || (pass == 0 && !other_node)
            || std::find(result.begin(), result.end(), id) != result.end())
          continue;
        result.push_back(id);
      }
    return result;
  };
  for (partition_id p = 0; p < app.partitions; ++p) {
    partition_record rec{1, std::nullopt, {}, std::nullopt, 0};
    switch (app.model) {
      case redundancy_model::two_n:
        rec.active = copy_id{app.name, 0};
        rec.standbys = {copy_id{app.name, 1}};
        break;
      case redundancy_model::no_redundancy:
      case redundancy_model::n_way_active:
        rec.active = copy_id{app.name, p % app.copies};
        break;
      case redundancy_model::n_plus_m: {
        auto actives = app.copies - app.standby_copies;
        auto active = p % actives;
        rec.active = copy_id{app.name, active};
        std::vector<uint32_t> candidates;
        for (uint32_t k = 0; k < app.standby_copies; ++k)
          candidates.push_back(actives + (p + k) % app.standby_copies);
        rec.standbys = pick(active, candidates, 1);
        break;
      }
      case redundancy_model::n_way: {
        auto active = p % app.copies;
        rec.active = copy_id{app.name, active};
        std::vector<uint32_t> candidates;
        for (uint32_t k = 1; k < app.copies; ++k)
          candidates.push_back((active + k) % app.copies);
        rec.standbys = pick(active, candidates, app.standbys_per_partition);
        break;
      }
    }
    partitions_.emplace(partition_key{app.name, p}, std::move(rec));
  }
}

void controller_state::mark_alive(const copy_id& copy, const node_id& node) {
  auto& rec = copies_.at(copy);
  rec.alive = true;
  rec.node = node;
}

// -- recovery ---------------------------------------------------------------------

controller_state::failover_plan
controller_state::plan_copy_failure(const copy_id& copy, time_point now) {
  failover_plan plan;
  auto i = copies_.find(copy);
  if (i == copies_.end() || !i->second.alive)
    return plan;
  auto& rec = i->second;
  rec.alive = false;
  rec.home.clear();
  plan.failed = copy;
  release_reservations(copy);
  for (auto& [key, part] : partitions_) {
    if (key.first != copy.app)
      continue;
    if (part.active == copy) {
      rec.home.push_back(key.second);
      part.active.reset();
      // The first live standby takes over (deterministic: list order).
      auto live = std::find_if(part.standbys.begin(), part.standbys.end(),
                               [&](const copy_id& sb) {
                                 return promotable(sb);
                               });
      if (live != part.standbys.end()) {
        part.active = *live;
        part.standbys.erase(live);
        if (!config_.test_skip_epoch_bump)
          part.epoch = next_epoch(part, *part.active);
        plan.promotions.push_back(
          promotion{key, *part.active, part.epoch, part.standbys});
      } else {
        plan.orphaned.push_back(key);
      }
      continue;
    }
    auto sb = std::find(part.standbys.begin(), part.standbys.end(), copy);
    if (sb != part.standbys.end()) {
      rec.home.push_back(key.second);
      part.standbys.erase(sb);
      if (part.active)
        plan.lost_standbys.emplace_back(key, *part.active);
    }
  }
  auto replace = [&](std::set<node_id> exclude) {
    if (auto node = replacement_node(copy, exclude))
      plan.restart = restart_decision{copy, *node, false};
  };
  if (!node_usable(rec.node)) {
    // The node failed (or left service): not the copy's fault. A copy cut
    // off (not crashed) that holds the only state of a partition is not
    // replaced: it waits for its node, which brings the state back.
    if (may_return_.count(rec.node) > 0 && !plan.orphaned.empty())
      return plan;
    replace({});
    return plan;
  }
  if (rec.window.try_restart(now)) {
    rec.restarts += 1;
    plan.escalation = "restart";
    plan.restart = restart_decision{copy, rec.node, true};
    return plan;
  }
  // Rung 2: fail the copy over to another node; the node pays for it.
  auto period = std::chrono::milliseconds{
    config_.knobs.node_failover_period_ms};
  auto [win, added] = node_failovers_.try_emplace(
    rec.node, restart_window{config_.knobs.node_failover_max, period});
  if (win->second.try_restart(now)) {
    plan.escalation = "failover";
  } else {
    // Rung 3: the node leaves service; its other copies move away.
    plan.escalation = "node_out_of_service";
    plan.node_out_of_service = rec.node;
    out_of_service_.insert(rec.node);
    for (auto& [id, other] : copies_)
      if (other.alive && other.node == rec.node)
        plan.evict.push_back(id);
  }
  replace({rec.node});
  return plan;
}

std::vector<copy_id> controller_state::mark_node_failed(const node_id& node,
                                                       bool may_return) {
  failed_nodes_.insert(node);
  if (may_return)
    may_return_.insert(node);
  std::vector<copy_id> result;
  for (auto& [id, rec] : copies_)
    if (rec.alive && rec.node == node)
      result.push_back(id);
  return result;
}

std::optional<node_id>
controller_state::replacement_node(const copy_id& copy,
                                   const std::set<node_id>& exclude) const {
  // Prefer a live node without another copy of the same application, then
  // the live node with the fewest copies; ties go to configuration order.
  std::optional<node_id> best;
  std::pair<int, size_t> best_score{2, 0};
  for (auto& node : config_.nodes) {
    if (!node_usable(node) || exclude.count(node) > 0)
      continue;
    int same_app = 0;
    size_t load = 0;
    for (auto& [id, rec] : copies_) {
      if (!rec.alive || rec.node != node || id == copy)
        continue;
      ++load;
      if (id.app == copy.app)
        same_app = 1;
    }
    std::pair<int, size_t> score{same_app, load};
    if (!best || score < best_score) {
      best = node;
      best_score = score;
    }
  }
  return best;
}

std::optional<controller_state::promotion>
controller_state::promotion_refused(const partition_key& key,
                                    const copy_id& refused,
                                    const std::set<copy_id>& tried) {
  auto& part = partitions_.at(key);
  if (part.active == refused) {
    part.active.reset();
    part.standbys.push_back(refused);
  }
  for (auto i = part.standbys.begin(); i != part.standbys.end(); ++i) {
    if (tried.count(*i) > 0 || !promotable(*i))
      continue;
    part.active = *i;
    part.standbys.erase(i);
    // A new epoch: the refused copy may have taken the role after all (its
    // answer timed out), and one epoch never has two actives (G4).
    if (!config_.test_skip_epoch_bump)
      part.epoch = next_epoch(part, *part.active);
    return promotion{key, *part.active, part.epoch, part.standbys};
  }
  return std::nullopt;
}

controller_state::switchover_plan
controller_state::plan_switchover(const partition_key& key) const {
  switchover_plan plan;
  plan.key = key;
  auto part = find(key);
  if (!part) {
    plan.error = "no partition " + std::to_string(key.second) + " of "
                 + key.first;
    return plan;
  }
  if (!part->active) {
    plan.error = "partition has no active";
    return plan;
  }
  plan.from = *part->active;
  auto live = std::find_if(part->standbys.begin(), part->standbys.end(),
                           [&](const copy_id& sb) {
                             return promotable(sb);
                           });
  if (live == part->standbys.end()) {
    plan.error = "partition has no live standby to take over";
    return plan;
  }
  plan.to = *live;
  plan.old_epoch = part->epoch;
  plan.new_epoch = next_epoch(*part, plan.to);
  for (auto& sb : part->standbys)
    if (sb != plan.to)
      plan.standbys.push_back(sb);
  plan.standbys.push_back(plan.from);
  return plan;
}

void controller_state::commit_switchover(const switchover_plan& plan) {
  auto& part = partitions_.at(plan.key);
  part.active = plan.to;
  part.standbys = plan.standbys;
  part.epoch = plan.new_epoch;
}

std::pair<epoch_t, std::vector<copy_id>>
controller_state::revert_switchover(const switchover_plan& plan) {
  auto& part = partitions_.at(plan.key);
  part.active = plan.from;
  part.standbys.clear();
  for (auto& sb : plan.standbys)
    if (sb != plan.from)
      part.standbys.push_back(sb);
  if (copies_.at(plan.to).alive)
    part.standbys.push_back(plan.to);
  part.epoch = std::max(part.epoch, plan.new_epoch);
  part.epoch = next_epoch(part, plan.from);
  return {part.epoch, part.standbys};
}

bool controller_state::can_activate_without_state(const app_name& app) const {
  auto cfg = config_.find_app(app);
  if (!cfg)
    return false;
  return cfg->model == redundancy_model::no_redundancy
         || cfg->model == redundancy_model::n_way_active
         || config_.knobs.unclean_activation != 0;
}

bool controller_state::failback_needed(const partition_key& key,
                                       const copy_id& standby) const {
  auto cfg = config_.find_app(key.first);
  auto part = find(key);
  if (!cfg || cfg->model != redundancy_model::n_plus_m || !part
      || !part->active)
    return false;
  auto first_dedicated = cfg->copies - cfg->standby_copies;
  auto sb = find(standby);
  return part->active->index >= first_dedicated
         && standby.index < first_dedicated && sb && sb->alive
         && node_usable(sb->node)
         && std::find(part->standbys.begin(), part->standbys.end(), standby)
              != part->standbys.end()
         && part->standbys.front() == standby;
}

uint32_t controller_state::desired_standbys(const app_name& app) const {
  auto cfg = config_.find_app(app);
  return cfg ? keel::desired_standbys(*cfg) : 0;
}

std::vector<controller_state::standby_addition>
controller_state::restore_redundancy(const app_name& app) {
  std::vector<standby_addition> result;
  auto desired = desired_standbys(app);
  auto cfg = config_.find_app(app);
  if (desired == 0 || !cfg)
    return result;
  uint32_t first_dedicated = cfg->model == redundancy_model::n_plus_m
                               ? cfg->copies - cfg->standby_copies
                               : cfg->copies;
  std::map<copy_id, size_t> roles;
  for (auto& [id, rec] : copies_)
    if (id.app == app && rec.alive && node_usable(rec.node))
      roles[id] = 0;
  for (auto& [key, part] : partitions_) {
    if (key.first != app)
      continue;
    if (part.active && roles.count(*part.active))
      ++roles[*part.active];
    for (auto& sb : part.standbys)
      if (roles.count(sb))
        ++roles[sb];
  }
  for (auto& [key, part] : partitions_) {
    if (key.first != app || !part.active)
      continue;
    auto live = std::count_if(part.standbys.begin(), part.standbys.end(),
                              [&](const copy_id& sb) {
                                return copies_.at(sb).alive;
                              });
    auto& active_node = copies_.at(*part.active).node;
    while (static_cast<uint32_t>(live) < desired) {
      // Lower score wins: (not dedicated, same node as active, roles, index).
      std::optional<copy_id> best;
      std::tuple<int, int, size_t, uint32_t> best_score{};
      for (auto& [id, n] : roles) {
        if (id == *part.active
            || std::find(part.standbys.begin(), part.standbys.end(), id)
                 != part.standbys.end())
          continue;
        std::tuple<int, int, size_t, uint32_t> score{
          id.index >= first_dedicated ? 0 : 1,
          copies_.at(id).node == active_node ? 1 : 0, n, id.index};
        if (!best || score < best_score) {
          best = id;
          best_score = score;
        }
      }
      if (!best)
        break;  // no capacity left
      part.standbys.push_back(*best);
      ++roles[*best];
      ++live;
      result.push_back(
        standby_addition{key, *best, *part.active, part.epoch});
    }
  }
  return result;
}

std::vector<controller_state::rejoin_step>
controller_state::reassign_orphans(const app_name& app) {
  std::vector<rejoin_step> steps;
  if (!can_activate_without_state(app))
    return steps;
  // Like a promotion's successor: a copy on a node already declared failed
  // is still `alive` until its own recovery (queued behind this one) runs,
  // and would answer no activation.
  std::map<copy_id, size_t> actives;
  for (auto& [id, rec] : copies_)
    if (id.app == app && promotable(id))
      actives[id] = 0;
  if (actives.empty())
    return steps;
  for (auto& [key, part] : partitions_)
    if (key.first == app && part.active && actives.count(*part.active) > 0)
      ++actives[*part.active];
  for (auto& [key, part] : partitions_) {
    if (key.first != app || part.active)
      continue;
    auto best = actives.begin();
    for (auto i = actives.begin(); i != actives.end(); ++i)
      if (i->second < best->second)
        best = i;
    part.active = best->first;
    part.standbys.erase(std::remove(part.standbys.begin(),
                                    part.standbys.end(), best->first),
                        part.standbys.end());
    part.epoch = next_epoch(part, best->first);
    ++best->second;
    steps.push_back(rejoin_step{key, role::active, part.epoch, std::nullopt,
                                part.standbys});
  }
  return steps;
}

bool controller_state::holds_lost_state(const copy_id& copy) const {
  auto i = copies_.find(copy);
  if (i == copies_.end() || i->second.alive
      || may_return_.count(i->second.node) == 0)
    return false;
  for (auto p : i->second.home) {
    auto part = partitions_.find(partition_key{copy.app, p});
    if (part != partitions_.end() && !part->second.active)
      return true;
  }
  return false;
}

std::vector<copy_id> controller_state::awaiting(const node_id& node) const {
  std::vector<copy_id> result;
  for (auto& [id, rec] : copies_)
    if (!rec.alive && rec.node == node)
      result.push_back(id);
  return result;
}

std::vector<controller_state::rejoin_step>
controller_state::rejoin(const copy_id& copy, const node_id& node,
                         bool with_state) {
  std::vector<rejoin_step> steps;
  auto& rec = copies_.at(copy);
  rec.alive = true;
  rec.node = node;
  for (auto p : rec.home) {
    auto& part = partitions_.at(partition_key{copy.app, p});
    if (part.active == copy
        || std::find(part.standbys.begin(), part.standbys.end(), copy)
             != part.standbys.end())
      continue;
    if (!part.active) {
      if (!with_state && !can_activate_without_state(copy.app))
        continue;  // nobody holds its state: it stays unavailable
      part.active = copy;
      part.epoch = next_epoch(part, copy);
      steps.push_back(rejoin_step{{copy.app, p}, role::active, part.epoch,
                                  std::nullopt, part.standbys});
    } else if (desired_standbys(copy.app) == 0) {
      continue;  // the partition moved on; this model has no standbys
    } else {
      part.standbys.push_back(copy);
      steps.push_back(rejoin_step{{copy.app, p}, role::standby, part.epoch,
                                  part.active, {}});
    }
  }
  rec.home.clear();
  return steps;
}

} // namespace keel

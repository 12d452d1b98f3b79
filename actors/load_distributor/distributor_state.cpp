#include "actors/load_distributor/distributor_state.hpp"

#include "runtime/hash.hpp"

namespace keel {

distributor_state::distributor_state(std::string source,
                                     const system_config& config)
  : source_(std::move(source)),
    replay_buffer_max_(config.knobs.replay_buffer_max),
    retention_max_(config.knobs.retention_max) {
  for (auto& app : config.apps) {
    app_index_.emplace(app.name, apps_.size());
    bool retain = app.model == redundancy_model::no_redundancy
                  || app.model == redundancy_model::n_way_active;
    app_entry entry{app.name, retain,
                    std::vector<partition_entry>(app.partitions)};
    for (partition_id p = 0; p < app.partitions; ++p) {
      entry.partitions[p].current.app = app.name;
      entry.partitions[p].current.partition = p;
    }
    apps_.push_back(std::move(entry));
  }
}

size_t distributor_state::index_of(const app_name& app) const {
  // Traffic comes in runs of one application: check the last one first.
  if (last_app_ < apps_.size() && apps_[last_app_].name == app)
    return last_app_;
  auto i = app_index_.find(app);
  if (i == app_index_.end())
    return no_app;
  last_app_ = i->second;
  return i->second;
}

distributor_state::app_entry* distributor_state::app_of(const app_name& app) {
  auto i = index_of(app);
  return i == no_app ? nullptr : &apps_[i];
}

bool distributor_state::on_snapshot(partition_snapshot snap) {
  auto e = find(snap.app, snap.partition);
  if (!e || !app_of(snap.app)->retain)
    return false;
  // Where the snapshot stands in this distributor's stream.
  seq_t seq = 0;
  for (auto& [source, s] : snap.meta.applied_seqs)
    if (source == source_)
      seq = s;
  auto& kept = e->retain();
  if (kept.snapshot
      && (snap.epoch < kept.snapshot->epoch || seq < kept.snapshot_seq))
    return false;
  while (!kept.log.empty() && kept.log.front().seq <= seq) {
    release(kept.log.front());
    kept.log.pop_front();
    --retained_total_;
  }
  e->refresh_floor();
  kept.snapshot_seq = seq;
  snap.present = true;
  if (kept.snapshot)
    *kept.snapshot = std::move(snap);
  else
    kept.snapshot = std::make_unique<partition_snapshot>(std::move(snap));
  return true;
}

partition_snapshot distributor_state::snapshot_of(
  const app_name& app, partition_id partition) const {
  auto e = find(app, partition);
  if (!e || !e->kept || !e->kept->snapshot) {
    partition_snapshot none;
    none.app = app;
    none.partition = partition;
    none.present = false;
    return none;
  }
  return *e->kept->snapshot;
}

distributor_state::partition_entry*
distributor_state::find(const app_name& app, partition_id partition) {
  auto i = index_of(app);
  if (i == no_app)
    return nullptr;
  auto& parts = apps_[i].partitions;
  return partition < parts.size() ? &parts[partition] : nullptr;
}

const distributor_state::partition_entry*
distributor_state::find(const app_name& app, partition_id partition) const {
  return const_cast<distributor_state*>(this)->find(app, partition);
}

const route& distributor_state::route_for(const app_name& app,
                                          partition_id partition) const {
  auto e = find(app, partition);
  return e ? e->current : no_route_;
}

namespace {

/// Why `ev` is not a valid event (its application apart), or nullptr.
const char* invalid_reason(const event& ev) {
  if (ev.key.empty() || ev.key.size() > 1024)
    return "key must have 1-1024 bytes";
  if (ev.client_id.empty() || ev.client_id.size() > 256)
    return "client_id must have 1-256 bytes";
  if (ev.payload.value.is_discarded())
    return "payload is not valid JSON";
  if (ev.request_id >= (uint64_t{1} << 57))
    return "request_id must be below 2^57 (app-to-app ids derive from it)";
  return nullptr;
}

} // namespace

size_t distributor_state::room_of(const partition_entry& entry) const {
  if (entry.kept && entry.kept->log.size() >= retention_max_)
    return 0;
  auto held = entry.buffer.size();
  return held < replay_buffer_max_ ? replay_buffer_max_ - held : 0;
}

std::vector<std::shared_ptr<const std::vector<event>>>
distributor_state::blocks_of(std::vector<event>& events) {
  std::vector<std::shared_ptr<const std::vector<event>>> result;
  if (events.size() <= 4096 && block_of_.capacity() > 4096)
    std::vector<uint32_t>{}.swap(block_of_);
  places_.clear();
  block_of_.resize(events.size());
  // Per block: its events, and how many its partition has room for.
  std::vector<size_t> sizes;
  std::vector<size_t> rooms;
  size_t refused = 0;
  constexpr uint32_t none = ~uint32_t{0};
  constexpr uint32_t refuse = none - 1;
  // A batch is mostly for one application: its first event's application
  // finds blocks by partition in a table, others through places_.
  auto main_app = events.empty() ? no_app : index_of(events[0].app);
  if (main_app != no_app)
    by_partition_.assign(apps_[main_app].partitions.size(), none);
  for (size_t i = 0; i < events.size(); ++i) {
    auto& ev = events[i];
    auto app = index_of(ev.app);
    if (app == no_app || invalid_reason(ev) != nullptr) {
      block_of_[i] = refuse;
      ++refused;
      continue;
    }
    auto& parts = apps_[app].partitions;
    auto p = partition_of(ev.key, static_cast<uint32_t>(parts.size()));
    auto slot = app == main_app
                  ? &by_partition_[p]
                  : &places_.emplace((uint64_t{app} << 32) | p, none)
                       .first->second;
    if (*slot == none) {
      *slot = static_cast<uint32_t>(sizes.size());
      sizes.push_back(0);
      rooms.push_back(room_of(parts[p]));
    }
    if (sizes[*slot] >= rooms[*slot]) {
      block_of_[i] = refuse;  // past its partition's limits
      ++refused;
      continue;
    }
    ++sizes[*slot];
    block_of_[i] = *slot;
  }
  if ((refused == 0 && sizes.size() <= 1) || refused == events.size()) {
    if (!events.empty())
      result.push_back(
        std::make_shared<const std::vector<event>>(std::move(events)));
    events.clear();
    return result;
  }
  // What admit() will refuse goes last, in a block of its own that nothing
  // keeps: a refused event must not live as long as an accepted one.
  std::vector<std::vector<event>> blocks(sizes.size() + 1);
  for (size_t b = 0; b < sizes.size(); ++b)
    blocks[b].reserve(sizes[b]);
  blocks.back().reserve(refused);
  for (size_t i = 0; i < events.size(); ++i) {
    auto b = block_of_[i] == refuse ? sizes.size() : block_of_[i];
    blocks[b].push_back(std::move(events[i]));
  }
  events.clear();
  result.reserve(blocks.size());
  for (auto& block : blocks)
    if (!block.empty())  // a full partition's, or no refusal
      result.push_back(
        std::make_shared<const std::vector<event>>(std::move(block)));
  return result;
}

distributor_state::admitted
distributor_state::admit(std::shared_ptr<const event> shared, token client) {
  auto& ev = *shared;
  auto i = index_of(ev.app);
  if (i == no_app)
    return {error_code::unknown_app, "no application named \"" + ev.app + "\""};
  if (auto why = invalid_reason(ev))
    return {error_code::invalid_event, why};
  auto& parts = apps_[i].partitions;
  auto p = partition_of(ev.key, static_cast<uint32_t>(parts.size()));
  auto& entry = parts[p];
  if (entry.buffer.size() >= replay_buffer_max_)
    return {error_code::overloaded,
            "replay buffer of " + ev.app + " partition " + std::to_string(p)
              + " holds " + std::to_string(replay_buffer_max_)
              + " unacknowledged events"};
  if (entry.kept && entry.kept->log.size() >= retention_max_)
    return {error_code::overloaded,
            "retention log of " + ev.app + " partition " + std::to_string(p)
              + " holds " + std::to_string(retention_max_)
              + " events no snapshot covers yet"};
  auto seq = entry.next_seq++;
  auto request_id = ev.request_id;
  entry.buffer.push_back(pending{seq, client, request_id, std::move(shared)});
  ++pending_total_;
  return {error_code::none, {}, p, seq, i};
}

void distributor_state::route_of(const admitted& adm, dispatch& d) {
  auto& a = apps_[adm.app_index];
  auto partition = adm.partition;
  auto seq = adm.seq;
  d = dispatch{partition, 0, nullptr, nullptr};
  auto e = partition < a.partitions.size() ? &a.partitions[partition]
                                           : nullptr;
  if (!e || e->buffer.empty())
    return;
  if (e->buffer.back().seq == seq) {
    d.item = &e->buffer.back();  // just admitted (the front is cold)
  } else {
    auto front = e->buffer.front().seq;
    if (seq < front || seq - front >= e->buffer.size())
      return;
    d.item = &e->buffer[seq - front];
  }
  d.floor = e->floor();
  d.epoch = e->current.epoch;
  if (!e->current.in_transition && e->current.handle)
    d.target = &e->current;
}

std::vector<distributor_state::completed>
distributor_state::on_acks(event_acks acks) {
  std::vector<completed> result;
  auto e = find(acks.app, acks.partition);
  if (!e)
    return result;
  if (acks.epoch < e->current.min_ack_epoch()) {
    stale_acks_ += acks.entries.size();
    return result;
  }
  result.reserve(acks.entries.size());
  for (auto& a : acks.entries) {
    if (e->buffer.empty())
      break;
    auto front = e->buffer.front().seq;
    if (a.seq < front || a.seq - front >= e->buffer.size())
      continue;  // acknowledged before
    auto& item = e->buffer[a.seq - front];
    if (item.acked)
      continue;
    item.acked = true;
    e->progress_us = now_us_;
    result.push_back(completed{item.client, acks.partition, a.seq,
                               item.request_id, std::move(a)});
  }
  bool retain = app_of(acks.app)->retain;
  while (!e->buffer.empty() && e->buffer.front().acked) {
    if (retain) {
      e->retain().log.push_back(std::move(e->buffer.front()));
      ++retained_total_;
    } else {
      release(e->buffer.front());
    }
    e->buffer.pop_front();
    --pending_total_;
  }
  e->refresh_floor();
  return result;
}

void distributor_state::on_nack(const event_nack& nack) {
  auto e = find(nack.app, nack.partition);
  if (!e || e->buffer.empty())
    return;
  auto front = e->buffer.front().seq;
  if (nack.seq < front || nack.seq - front >= e->buffer.size())
    return;
  auto& item = e->buffer[nack.seq - front];
  if (!item.acked) {
    item.needs_resend = true;
    e->resend_flagged = true;
  }
}

bool distributor_state::newer(const route& next, const route& current) {
  if (next.epoch != current.epoch)
    return next.epoch > current.epoch;
  return next.in_transition && !current.in_transition;
}

std::vector<distributor_state::succession>
distributor_state::on_active_down(const caf::actor_addr& dead,
                                  std::vector<dispatch>& replays) {
  std::vector<succession> result;
  for (auto& app : apps_)
    for (auto& e : app.partitions) {
      auto& cur = e.current;
      if (cur.in_transition || !cur.handle || cur.handle.compare(dead) != 0
          || !cur.successor_handle || cur.successor_epoch <= cur.epoch)
        continue;
      route r;
      r.app = cur.app;
      r.partition = cur.partition;
      r.epoch = cur.successor_epoch;
      r.in_transition = false;
      r.active = cur.successor;
      r.node = cur.successor_node;
      r.handle = cur.successor_handle;
      auto before = replays.size();
      auto& s = result.emplace_back(
        succession{cur.app, cur.partition, cur.epoch, std::move(r), 0});
      install_one(s.to, replays);  // `cur` is s.to from here on
      s.replays = replays.size() - before;
    }
  return result;
}

void distributor_state::install(const std::vector<route>& routes,
                                std::vector<dispatch>& replays) {
  for (auto& r : routes)
    install_one(r, replays);
}

void distributor_state::install_one(const route& r,
                                    std::vector<dispatch>& replays) {
  auto e = find(r.app, r.partition);
  if (e && e->current.same_but_successor(r)) {
    e->current = r;  // nothing to replay: the same active
    return;
  }
  if (!e || !newer(r, e->current))
    return;
  e->current = r;
  if (r.in_transition)
    return;
  // The new active gets every unacknowledged event, in order; it drops
  // what it already applied (same seq) and acks it again. (A route
  // without a handle sends through the router.)
  const route* target = r.handle ? &e->current : nullptr;
  // Without a standby, the new active starts from the last snapshot: it
  // needs the acknowledged events after it too, before the others.
  if (e->kept)
    for (auto& item : e->kept->log) {
      replays.push_back(dispatch{r.partition, r.epoch, target, &item,
                                 e->floor()});
      ++replayed_;
    }
  for (auto& item : e->buffer) {
    if (item.acked)
      continue;
    item.needs_resend = false;
    replays.push_back(dispatch{r.partition, r.epoch, target, &item,
                               e->floor()});
    ++replayed_;
  }
  e->resend_flagged = false;
}

void distributor_state::fence_incarnation(const caf::actor_addr& isolated) {
  for (auto& app : apps_)
    for (auto& e : app.partitions)
      if (!e.current.in_transition && e.current.handle
          && e.current.handle.compare(isolated) == 0)
        e.current.in_transition = true;
}

void distributor_state::fence(const std::vector<route>& routes) {
  for (auto& r : routes) {
    auto e = find(r.app, r.partition);
    if (e && newer(r, e->current))
      e->current = r;
  }
}

std::vector<distributor_state::dispatch>
distributor_state::resend_due(int64_t now_us, int64_t after_us) {
  now_us_ = now_us;
  for (auto& app : apps_)
    for (auto& e : app.partitions) {
      // Acked events leave the front at once: a non-empty buffer waits.
      if (e.buffer.empty() || e.current.in_transition || !e.current.handle) {
        e.progress_us = now_us;
        continue;
      }
      if (now_us - e.progress_us < after_us)
        continue;
      e.progress_us = now_us;
      for (auto& item : e.buffer)
        if (!item.acked) {
          item.needs_resend = true;
          e.resend_flagged = true;
        }
    }
  return resend_due();
}

std::vector<distributor_state::dispatch> distributor_state::resend_due() {
  std::vector<dispatch> result;
  for (auto& app : apps_)
    for (auto& e : app.partitions) {
      if (!e.resend_flagged)
        continue;
      e.resend_flagged = false;
      const route* target = !e.current.in_transition && e.current.handle
                              ? &e.current
                              : nullptr;
      for (auto& item : e.buffer)
        if (item.needs_resend && !item.acked) {
          item.needs_resend = false;
          result.push_back(dispatch{e.current.partition,
                                    e.current.epoch, target, &item,
                                    e.floor()});
        }
    }
  return result;
}

} // namespace keel

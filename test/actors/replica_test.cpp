#include <catch2/catch.hpp>

#include <map>
#include <stdexcept>

#include "actors/app_support/replica.hpp"
#include "apps/journal/journal.hpp"

using namespace keel;

namespace {

const std::string src = "distributor@n1#1";

/// A partition's first active starts from the empty initial state.
const partition_snapshot fresh = initial_seed("journal", 0);

replica make_replica(uint32_t index, replica_limits limits = {}) {
  return replica{copy_id{"journal", index}, 0,
                 std::make_unique<apps::journal>(), limits};
}

event ev(std::string client, uint64_t rid, std::string key = "k") {
  return event{"journal", std::move(key), json_value{json::object()},
               std::move(client), rid};
}

std::vector<seq_t> acked(const replica_outbox& out) {
  std::vector<seq_t> result;
  for (auto& batch : out.acks)
    for (auto& a : batch.entries)
      result.push_back(a.seq);
  return result;
}

/// Brings `standby` in sync with `active` through the transfer in `out`.
void deliver_transfer(replica& active, replica& standby,
                      replica_outbox& out) {
  REQUIRE(out.transfers.size() == 1);
  auto& t = out.transfers.front();
  state_transfer msg{t.partition, t.epoch, copy_id{"journal", 0}, "n1", {},
                     t.index, json_value{t.app_state}, t.meta};
  auto ack = standby.on_transfer(msg);
  out = replica_outbox{};
  active.on_checkpoint_ack(ack, out);
}

/// Makes `active` the active of epoch 1 with `standby` in sync (the
/// transfer delivered); `out` is empty afterwards.
void start_synced(replica& active, replica& standby, replica_outbox& out) {
  standby.become_standby(1);
  active.become_active(1, {copy_id{"journal", 1}}, out, &fresh);
  deliver_transfer(active, standby, out);
  REQUIRE(out.synced_standbys.size() == 1);
  out = replica_outbox{};
}

/// Delivers every checkpoint in `out` to `standby` and its acks back.
void deliver_checkpoints(replica& active, replica& standby,
                         replica_outbox& out) {
  while (!out.checkpoints.empty()) {
    auto cps = std::move(out.checkpoints);
    out.checkpoints.clear();
    for (auto& cp : cps) {
      auto ack = standby.on_checkpoint(cp.epoch, cp.entries);
      active.on_checkpoint_ack(ack, out);
    }
  }
}

/// Gives `r`, holding seq 2 of `src`, seq 1: both must be applied, in
/// order, and acknowledged.
void release_held_second(replica& r, replica_outbox& out) {
  r.on_event(src, 1, 1, ev("c", 1), out);
  CHECK(r.applied() == 2);
  CHECK(acked(out) == std::vector<seq_t>{1, 2});
  auto& journal = static_cast<const apps::journal&>(r.app());
  auto& list = journal.entries().at("k");
  REQUIRE(list.size() == 2);
  CHECK(list[0].second == 1);
  CHECK(list[1].second == 2);
}

} // namespace

TEST_CASE("replica: applies one source's events in sequence order - holding "
          "early ones") {
  auto r = make_replica(0);
  replica_outbox out;
  r.become_active(1, {}, out, &fresh);
  r.on_event(src, 2, 1, ev("c", 2), out);
  CHECK(r.applied() == 0);
  CHECK(out.acks.empty());
  release_held_second(r, out);
}

TEST_CASE("replica: an early event borrowed from a routed_batch is held "
          "by sharing the batch's block - not copied - and outlives the "
          "message") {
  auto r = make_replica(0);
  replica_outbox out;
  r.become_active(1, {}, out, &fresh);
  std::weak_ptr<const std::vector<event>> watch;
  {
    auto block = std::make_shared<const std::vector<event>>(
      std::vector<event>{ev("c", 2)});
    watch = block;
    routed_batch rb{0, 1, src, {}, 0};
    rb.add(2, std::shared_ptr<const event>(block, &block->at(0)));
    auto& item = rb.items().at(0);
    r.on_event(src, item.seq, 1, *item.ev, rb.owner_of(item), out);
  }
  CHECK(r.applied() == 0);
  CHECK_FALSE(watch.expired());  // the held event keeps its block
  release_held_second(r, out);
}

TEST_CASE("replica: acknowledges only after the standby acknowledged the "
          "checkpoint") {
  auto active = make_replica(0);
  auto standby = make_replica(1);
  replica_outbox out;
  start_synced(active, standby, out);
  active.on_event(src, 1, 1, ev("c", 1), out);
  CHECK(active.applied() == 1);
  CHECK(out.acks.empty());  // replicated first
  REQUIRE(out.checkpoints.size() == 1);
  CHECK(out.checkpoints[0].entries.size() == 1);
  deliver_checkpoints(active, standby, out);
  CHECK(acked(out) == std::vector<seq_t>{1});
  CHECK(standby.applied() == 1);
  CHECK(standby.snapshot() == active.snapshot());
}

TEST_CASE("replica: batches events that arrive while a checkpoint is in "
          "flight") {
  auto active = make_replica(0);
  auto standby = make_replica(1);
  replica_outbox out;
  start_synced(active, standby, out);
  for (seq_t s = 1; s <= 5; ++s)
    active.on_event(src, s, 1, ev("c", s), out);
  // First event goes out alone; the next four wait for its ack.
  REQUIRE(out.checkpoints.size() == 1);
  CHECK(out.checkpoints[0].entries.size() == 1);
  deliver_checkpoints(active, standby, out);
  CHECK(acked(out) == std::vector<seq_t>{1, 2, 3, 4, 5});
  CHECK(standby.snapshot() == active.snapshot());
}

TEST_CASE("replica: rejects events of an older epoch (fencing)") {
  auto r = make_replica(0);
  replica_outbox out;
  r.become_active(2, {}, out, &fresh);
  r.on_event(src, 1, 1, ev("c", 1), out);
  REQUIRE(out.nacks.size() == 1);
  CHECK(out.nacks[0].code == error_code::stale_epoch);
  CHECK(r.applied() == 0);
  // And a newer epoch than its own: not the active (yet).
  out = replica_outbox{};
  r.on_event(src, 1, 3, ev("c", 1), out);
  REQUIRE(out.nacks.size() == 1);
  CHECK(out.nacks[0].code == error_code::not_active);
}

TEST_CASE("replica: a standby of a newer epoch rejects a deposed active's "
          "checkpoint - and the deposed active fences itself") {
  auto old_active = make_replica(0);
  auto standby = make_replica(1);
  replica_outbox out;
  start_synced(old_active, standby, out);
  // The controller moves on: the standby now belongs to epoch 2.
  standby.become_standby(2);
  old_active.on_event(src, 1, 1, ev("c", 1), out);
  REQUIRE(out.checkpoints.size() == 1);
  auto ack = standby.on_checkpoint(1, out.checkpoints[0].entries);
  CHECK_FALSE(ack.in_sync);
  CHECK(ack.epoch == 2);
  CHECK(standby.applied() == 0);  // nothing of epoch 1 applied
  replica_outbox after;
  old_active.on_checkpoint_ack(ack, after);
  CHECK(old_active.current_role() == role::offline);
  CHECK(after.acks.empty());  // the write is never acknowledged (G4)
}

TEST_CASE("replica: a request id changes state at most once (dedupe)") {
  auto r = make_replica(0);
  replica_outbox out;
  r.become_active(1, {}, out, &fresh);
  r.on_event(src, 1, 1, ev("c", 7), out);
  r.on_event(src, 2, 1, ev("c", 7), out);  // a client retry, new seq
  CHECK(r.applied() == 2);
  auto& journal = static_cast<const apps::journal&>(r.app());
  CHECK(journal.entries().at("k").size() == 1);
  REQUIRE(out.acks.size() == 1);
  REQUIRE(out.acks[0].entries.size() == 2);
  CHECK(out.acks[0].entries[0].result == out.acks[0].entries[1].result);
}

TEST_CASE("replica: a promoted standby answers a replayed event with the "
          "remembered reply") {
  auto active = make_replica(0);
  auto standby = make_replica(1);
  replica_outbox out;
  start_synced(active, standby, out);
  for (seq_t s = 1; s <= 3; ++s)
    active.on_event(src, s, 1, ev("c", s, "key" + std::to_string(s)), out);
  deliver_checkpoints(active, standby, out);
  std::map<seq_t, json> original;
  for (auto& batch : out.acks)
    for (auto& a : batch.entries)
      original[a.seq] = a.result.value;
  REQUIRE(original.size() == 3);
  // The active dies; the standby is promoted and gets the replay of 2..4.
  replica_outbox promoted;
  REQUIRE(standby.become_active(2, {}, promoted));
  for (seq_t s = 2; s <= 4; ++s)
    standby.on_event(src, s, 2, ev("c", s, "key" + std::to_string(s)),
                     promoted);
  CHECK(acked(promoted) == std::vector<seq_t>{2, 3, 4});
  for (auto& batch : promoted.acks)
    for (auto& a : batch.entries)
      if (a.seq <= 3)
        CHECK(a.result.value == original.at(a.seq));
  CHECK(standby.applied() == 4);  // 3 replicated + 1 new
  auto& journal = static_cast<const apps::journal&>(standby.app());
  for (auto& [key, list] : journal.entries())
    CHECK(list.size() == 1);  // no duplicate
  CHECK(promoted.first_served.size() == 1);
}

TEST_CASE("replica: a gap in the checkpoints makes the active resend the "
          "whole state") {
  auto active = make_replica(0);
  auto standby = make_replica(1);
  replica_outbox out;
  start_synced(active, standby, out);
  active.on_event(src, 1, 1, ev("c", 1), out);
  auto first = out.checkpoints.at(0);
  // The first batch is lost; a later one arrives.
  auto later = log_entry::make(2, src, 2, ev("c", 2));
  auto ack = standby.on_checkpoint(1, {later});
  CHECK_FALSE(ack.in_sync);
  replica_outbox resync;
  active.on_checkpoint_ack(ack, resync);
  REQUIRE(resync.transfers.size() == 1);
  CHECK(resync.resynced_standbys.size() == 1);
  deliver_transfer(active, standby, resync);
  CHECK(standby.applied() == active.applied());
  CHECK(standby.snapshot() == active.snapshot());
  CHECK(acked(resync) == std::vector<seq_t>{1});
}

TEST_CASE("replica: the reorder buffer is bounded") {
  replica_limits limits;
  limits.reorder_buffer_max = 2;
  auto r = make_replica(0, limits);
  replica_outbox out;
  r.become_active(1, {}, out, &fresh);
  r.on_event(src, 3, 1, ev("c", 3), out);
  r.on_event(src, 4, 1, ev("c", 4), out);
  r.on_event(src, 5, 1, ev("c", 5), out);
  REQUIRE(out.nacks.size() == 1);
  CHECK(out.nacks[0].seq == 5);
  CHECK(out.nacks[0].code == error_code::overloaded);
}

TEST_CASE("replica: app-to-app sends leave the active with derived request "
          "ids") {
  app_name counter{"counter"};  // as the system's configuration would
  auto active = make_replica(0);
  auto standby = make_replica(1);
  replica_outbox out;
  start_synced(active, standby, out);
  auto e = ev("c", 5);
  e.payload = json_value{json{{"forward", "counter"}}};
  active.on_event(src, 1, 1, e, out);
  REQUIRE(out.sends.size() == 1);
  CHECK(out.sends[0].ev.app == counter);
  CHECK(out.sends[0].unknown_app.empty());
  CHECK(out.sends[0].ev.client_id == "journal/c");
  CHECK(out.sends[0].ev.request_id == 5 * 64);
  // The standby applies the same entry (a forward in the journal) and
  // reaches the same state; it has no outbox to send from by design.
  deliver_checkpoints(active, standby, out);
  CHECK(standby.snapshot() == active.snapshot());
}

TEST_CASE("replica: a send to a name no application has fails without "
          "interning it") {
  auto active = make_replica(0);
  replica_outbox out;
  active.become_active(1, {}, out, &fresh);
  auto count = symbol::count();
  // A client's payload names the target: unknown, and far too long.
  std::string names[] = {"no-such-app-" + std::to_string(count),
                         std::string(5000, 'q')};
  uint64_t id = 1;
  for (auto& name : names) {
    out = replica_outbox{};
    auto e = ev("c", id);
    e.payload = json_value{json{{"forward", name}}};
    active.on_event(src, id, 1, e, out);
    ++id;
    REQUIRE(out.sends.size() == 1);
    CHECK(out.sends[0].ev.app.empty());
    CHECK(out.sends[0].unknown_app == name.substr(0, 256));
  }
  CHECK(symbol::count() == count);
}

namespace {

/// Fails on request id 13, after changing nothing; sends before throwing.
class faulty : public application {
public:
  reply handle(const event& e, app_context& ctx) override {
    ctx.send("other", e.key, json::object());
    if (e.request_id == 13)
      throw std::runtime_error("unlucky");
    ++count_;
    return reply::accept(json{{"count", count_}});
  }
  json snapshot() const override {
    return count_;
  }
  void restore(const json& state) override {
    count_ = state.is_null() ? 0 : state.get<int>();
  }

private:
  int count_ = 0;
};

} // namespace

TEST_CASE("replica: a handler that throws rejects the event instead of "
          "crashing the copy and drops its sends") {
  replica r{copy_id{"faulty", 0}, 0, std::make_unique<faulty>(), {}};
  replica_outbox out;
  r.become_active(1, {}, out, &fresh);
  r.on_event(src, 1, 1, ev("c", 13), out);
  r.on_event(src, 2, 1, ev("c", 14), out);
  REQUIRE(out.acks.size() == 1);
  auto& entries = out.acks[0].entries;
  REQUIRE(entries.size() == 2);
  CHECK(entries[0].rejection == "handler threw: unlucky");
  CHECK(entries[1].rejection.empty());
  CHECK(entries[1].result.value == json{{"count", 1}});
  CHECK(out.sends.size() == 1);  // only the successful event's send
}

TEST_CASE("replica: a standby that is not in sync refuses promotion") {
  auto active = make_replica(0);
  auto standby = make_replica(1);
  replica_outbox out;
  active.become_active(1, {}, out, &fresh);
  active.on_event(src, 1, 1, ev("c", 1), out);
  // The standby joins (epoch 1) but its state transfer has not arrived.
  standby.become_standby(1);
  out = replica_outbox{};
  active.add_standby(copy_id{"journal", 1}, out);
  REQUIRE(out.transfers.size() == 1);
  replica_outbox promoted;
  CHECK_FALSE(standby.become_active(2, {}, promoted));
  CHECK(standby.current_role() == role::standby);
  // Once the transfer is in, it may be promoted.
  deliver_transfer(active, standby, out);
  CHECK(standby.become_active(2, {}, promoted));
}

TEST_CASE("replica: acks wait for a new standby's state transfer") {
  auto active = make_replica(0);
  auto standby = make_replica(1);
  replica_outbox out;
  active.become_active(1, {}, out, &fresh);
  standby.become_standby(1);
  out = replica_outbox{};
  active.add_standby(copy_id{"journal", 1}, out);
  auto transfer = out;
  replica_outbox during;
  active.on_event(src, 1, 1, ev("c", 1), during);
  CHECK(acked(during).empty());  // the only copy of this event is the active
  deliver_transfer(active, standby, transfer);
  deliver_checkpoints(active, standby, transfer);
  CHECK(acked(transfer) == std::vector<seq_t>{1});
  CHECK(standby.snapshot() == active.snapshot());
}

TEST_CASE("replica: without a standby a copy that starts without the "
          "acknowledged history continues the stream at the distributor's "
          "floor") {
  replica_limits seeded;
  seeded.snapshot_interval_events = 1000;
  auto r = make_replica(0, seeded);
  replica_outbox out;
  REQUIRE(r.become_active(2, {}, out, &fresh));
  // Seqs 1..99 were acknowledged by a copy that is gone with its state.
  r.on_event(src, 101, 2, ev("c", 101), out, 100);
  CHECK(r.applied() == 0);  // 100 is still missing: hold 101
  r.on_event(src, 100, 2, ev("c", 100), out, 100);
  CHECK(r.applied() == 2);
  CHECK(acked(out) == std::vector<seq_t>{100, 101});
  CHECK(out.stream_gaps == 99);
  // A full state (a promoted standby) is never moved by the floor.
  replica_outbox more;
  r.on_event(src, 102, 2, ev("c", 102), more, 100);
  CHECK(more.stream_gaps == 0);
  CHECK(r.applied() == 3);
}

TEST_CASE("replica: without a standby the active snapshots every "
          "snapshot_interval_events and a new active starts from the seed") {
  replica_limits limits;
  limits.snapshot_interval_events = 3;
  auto r = make_replica(0, limits);
  replica_outbox out;
  REQUIRE(r.become_active(1, {}, out, &fresh));
  for (seq_t s = 1; s <= 7; ++s)
    r.on_event(src, s, 1, ev("c", s, "k" + std::to_string(s)), out);
  REQUIRE(out.snapshots.size() == 2);  // after 3 and after 6 events
  auto seed = out.snapshots.back();
  CHECK(seed.index == 6);
  CHECK(seed.meta.applied_seqs == std::vector<std::pair<std::string, seq_t>>{
                                    {src, 6}});
  // Another copy takes the partition over from the seed: it has 1..6, and
  // continues with 7 without applying anything twice.
  auto next = make_replica(1, limits);
  replica_outbox moved;
  REQUIRE(next.become_active(2, {}, moved, &seed));
  CHECK(next.applied() == 6);
  next.on_event(src, 6, 2, ev("c", 6, "k6"), moved);  // a replayed duplicate
  next.on_event(src, 7, 2, ev("c", 7, "k7"), moved);
  CHECK(next.applied() == 7);
  CHECK(next.snapshot() == r.snapshot());
}

TEST_CASE("replica: a checkpoint flush interval holds partial batches until "
          "it elapses or the batch is full") {
  replica_limits limits;
  limits.checkpoint_flush_interval_us = 1000;
  limits.checkpoint_batch_max = 3;
  auto active = make_replica(0, limits);
  auto standby = make_replica(1, limits);
  standby.become_standby(1);
  replica_outbox out;
  active.set_now(0);
  active.become_active(1, {copy_id{"journal", 1}}, out, &fresh);
  deliver_transfer(active, standby, out);
  out = replica_outbox{};
  active.on_event(src, 1, 1, ev("c", 1), out);
  CHECK(out.checkpoints.empty());
  CHECK(out.flush_at_us == 1000);
  active.set_now(500);
  active.on_event(src, 2, 1, ev("c", 2), out);
  CHECK(out.checkpoints.empty());
  active.set_now(1000);
  active.flush(out);
  REQUIRE(out.checkpoints.size() == 1);
  CHECK(out.checkpoints[0].entries.size() == 2);
  deliver_checkpoints(active, standby, out);
  CHECK(acked(out) == std::vector<seq_t>{1, 2});
  // A full batch does not wait.
  replica_outbox full;
  for (seq_t s = 3; s <= 5; ++s)
    active.on_event(src, s, 1, ev("c", s), full);
  REQUIRE(full.checkpoints.size() == 1);
  CHECK(full.checkpoints[0].entries.size() == 3);
}

TEST_CASE("replica: with standbys an active never skips acknowledged events "
          "it lacks - it holds them instead") {
  auto r = make_replica(0);
  replica_outbox out;
  REQUIRE(r.become_active(2, {}, out, &fresh));
  r.on_event(src, 101, 2, ev("c", 101), out, 100);
  CHECK(out.stream_gap_held);
  CHECK(out.stream_gaps == 0);
  CHECK(r.applied() == 0);
  CHECK(out.acks.empty());
}

TEST_CASE("replica: a new replica is not in sync until seeded or given a "
          "state transfer") {
  auto r = make_replica(0);
  replica_outbox out;
  CHECK_FALSE(r.in_sync());
  CHECK_FALSE(r.become_active(1, {}, out));
  CHECK(r.become_active(1, {}, out, &fresh));
  CHECK(r.in_sync());
}

TEST_CASE("replica: acks go to their own source when several sources "
          "interleave - and names of sources gone are reused") {
  auto active = make_replica(0);
  auto standby = make_replica(1);
  replica_outbox out;
  start_synced(active, standby, out);
  // Acks per source, in the order they leave.
  auto acks_of = [](const replica_outbox& o) {
    std::vector<std::pair<std::string, seq_t>> result;
    for (auto& batch : o.acks)
      for (auto& a : batch.entries)
        result.emplace_back(batch.source, a.seq);
    return result;
  };
  // Three sources interleaved while a checkpoint is in flight: the acks
  // leave together, each with its own source.
  const std::string a = "distributor@n1#1", b = "distributor@n2#7",
                    c = "distributor@n3#9";
  active.on_event(a, 1, 1, ev("x", 1), out);
  active.on_event(b, 1, 1, ev("y", 1), out);
  active.on_event(a, 2, 1, ev("x", 2), out);
  active.on_event(c, 1, 1, ev("z", 1), out);
  active.on_event(b, 2, 1, ev("y", 2), out);
  deliver_checkpoints(active, standby, out);
  using acks = std::vector<std::pair<std::string, seq_t>>;
  CHECK(acks_of(out)
        == acks{{a, 1}, {b, 1}, {a, 2}, {c, 1}, {b, 2}});
  // Many more sources over time (restarted distributors), each with
  // nothing pending once acknowledged: still the right names.
  for (int i = 0; i < 200; ++i) {
    out = replica_outbox{};
    auto name = "distributor@n9#" + std::to_string(i);
    active.on_event(name, 1, 1, ev("w" + std::to_string(i), 1), out);
    active.on_event(a, 3 + i, 1, ev("x", 3 + i), out);
    deliver_checkpoints(active, standby, out);
    REQUIRE(acks_of(out)
            == acks{{name, 1}, {a, static_cast<seq_t>(3 + i)}});
  }
  CHECK(standby.snapshot() == active.snapshot());
}

TEST_CASE("replica: an inconsistent dedupe table in a state transfer or a "
          "seed leaves the copy out of sync and unpromotable") {
  auto active = make_replica(0);
  auto standby = make_replica(1);
  standby.become_standby(1);
  replica_outbox out;
  active.become_active(1, {copy_id{"journal", 1}}, out, &fresh);
  REQUIRE(out.transfers.size() == 1);
  auto& t = out.transfers.front();
  auto meta = t.meta;
  // Columns of different lengths (no stamps).
  meta.dedupe.clients.push_back(dedupe_client_image{
    "c", 1, 1, {1}, {1}, {}, {json_value{nullptr}}, {}});
  state_transfer bad{t.partition, t.epoch, copy_id{"journal", 0}, "n1", {},
                     t.index, json_value{t.app_state}, meta};
  auto ack = standby.on_transfer(bad);
  CHECK_FALSE(ack.in_sync);
  replica_outbox none;
  CHECK_FALSE(standby.become_active(2, {}, none, nullptr));
  // The same state, consistent, brings it in sync.
  state_transfer good{t.partition, t.epoch, copy_id{"journal", 0}, "n1", {},
                      t.index, json_value{t.app_state}, t.meta};
  CHECK(standby.on_transfer(good).in_sync);
  // A seed with an inconsistent dedupe table is refused.
  auto fresh_copy = make_replica(2);
  partition_snapshot seed = fresh;
  seed.meta = meta;
  CHECK_FALSE(fresh_copy.become_active(1, {}, none, &seed));
  CHECK(fresh_copy.become_active(1, {}, none, &fresh));
}

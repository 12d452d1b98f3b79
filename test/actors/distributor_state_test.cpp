#include <catch2/catch.hpp>

#include "actors/load_distributor/distributor_state.hpp"
#include "runtime/hash.hpp"

#include <caf/all.hpp>

using namespace keel;

namespace {

system_config config(uint32_t replay_max = 100) {
  system_config cfg;
  cfg.nodes = {"n1", "n2"};
  cfg.apps = {app_config{"journal", "journal", redundancy_model::two_n, 2, 4}};
  cfg.knobs.replay_buffer_max = replay_max;
  return cfg;
}

/// A key of partition `p` (of 4).
std::string key_of(partition_id p) {
  for (int i = 0;; ++i) {
    auto k = "k" + std::to_string(i);
    if (partition_of(k, 4) == p)
      return k;
  }
}

event ev(std::string key, uint64_t rid) {
  return event{"journal", std::move(key), json_value{json::object()}, "c",
               rid};
}

route active_route(partition_id p, epoch_t epoch, bool in_transition = false) {
  route r;
  r.app = "journal";
  r.partition = p;
  r.epoch = epoch;
  r.in_transition = in_transition;
  return r;
}

event_acks acks(partition_id p, epoch_t epoch, std::vector<seq_t> seqs) {
  event_acks result{"journal", p, epoch, {}};
  for (auto s : seqs)
    result.entries.push_back(ack_entry{s, json_value{nullptr}, ""});
  return result;
}

} // namespace

TEST_CASE("distributor_state: admission validates and numbers events per "
          "partition") {
  distributor_state st{"d", config()};
  auto k = key_of(2);
  auto a = st.admit(ev(k, 1), 1);
  auto b = st.admit(ev(k, 2), 2);
  CHECK(a.code == error_code::none);
  CHECK(a.partition == 2);
  CHECK(a.seq == 1);
  CHECK(b.seq == 2);
  CHECK(st.admit(ev(key_of(1), 3), 3).seq == 1);
  auto unknown = ev(k, 4);
  unknown.app = "ledger";
  CHECK(st.admit(unknown, 4).code == error_code::unknown_app);
  CHECK(st.admit(ev("", 5), 5).code == error_code::invalid_event);
  auto no_client = ev(k, 6);
  no_client.client_id.clear();
  CHECK(st.admit(no_client, 6).code == error_code::invalid_event);
  CHECK(st.pending_total() == 3);
}

TEST_CASE("distributor_state: a client batch becomes one block per "
          "partition, and a partition's acknowledged events free its block "
          "while another partition's wait") {
  distributor_state st{"d", config()};
  std::vector<distributor_state::dispatch> replays;
  st.install({active_route(0, 1), active_route(1, 1)}, replays);
  std::vector<event> batch{ev(key_of(0), 1), ev(key_of(1), 2),
                           ev(key_of(0), 3), ev(key_of(1), 4)};
  auto blocks = st.blocks_of(batch);
  CHECK(batch.empty());
  REQUIRE(blocks.size() == 2);
  // Each block holds one partition's events, in the batch's order.
  REQUIRE(blocks[0]->size() == 2);
  CHECK(blocks[0]->at(0).request_id == 1);
  CHECK(blocks[0]->at(1).request_id == 3);
  REQUIRE(blocks[1]->size() == 2);
  CHECK(blocks[1]->at(0).request_id == 2);
  CHECK(blocks[1]->at(1).request_id == 4);
  for (auto& block : blocks)
    for (auto& e : *block)
      REQUIRE(st.admit(std::shared_ptr<const event>(block, &e), e.request_id)
                .code
              == error_code::none);
  std::weak_ptr<const std::vector<event>> first = blocks[0];
  std::weak_ptr<const std::vector<event>> second = blocks[1];
  blocks.clear();
  // Partition 0's events acknowledged and released: its block goes.
  CHECK(st.on_acks(acks(0, 1, {1, 2})).size() == 2);
  st.take_released();
  CHECK(first.expired());
  CHECK_FALSE(second.expired());
  CHECK(st.pending_total() == 2);
  // A batch for one partition is taken whole: its buffer, not a copy.
  std::vector<event> one{ev(key_of(2), 5), ev(key_of(2), 6)};
  auto data = one.data();
  auto whole = st.blocks_of(one);
  REQUIRE(whole.size() == 1);
  CHECK(whole[0]->data() == data);
  // An event of an unknown application gets a block of its own (admit
  // refuses it).
  std::vector<event> mixed{ev(key_of(2), 7), ev(key_of(2), 8)};
  mixed[1].app = "ledger";
  auto split = st.blocks_of(mixed);
  REQUIRE(split.size() == 2);
  CHECK(st.admit(std::shared_ptr<const event>(split[1], &split[1]->at(0)), 8)
          .code
        == error_code::unknown_app);
}

TEST_CASE("distributor_state: the events of a client batch that admission "
          "will refuse get a block of their own - no accepted event keeps "
          "them alive") {
  distributor_state st{"d", config(4)};
  std::vector<event> batch;
  for (uint64_t i = 1; i <= 1000; ++i)
    batch.push_back(ev(key_of(0), i));
  batch[1].key.clear();  // invalid
  auto blocks = st.blocks_of(batch);
  REQUIRE(blocks.size() == 2);
  CHECK(blocks[0]->size() == 4);    // the partition's room
  CHECK(blocks[1]->size() == 996);  // the invalid one and the overflow
  CHECK(blocks[1]->at(0).request_id == 2);
  std::vector<uint64_t> accepted;
  size_t overloaded = 0;
  size_t invalid = 0;
  for (auto& block : blocks)
    for (auto& e : *block) {
      auto adm = st.admit(std::shared_ptr<const event>(block, &e), 1);
      if (adm.code == error_code::none)
        accepted.push_back(e.request_id);
      overloaded += adm.code == error_code::overloaded ? 1 : 0;
      invalid += adm.code == error_code::invalid_event ? 1 : 0;
    }
  // The outcomes of admitting the batch's events one by one, in order.
  CHECK(accepted == std::vector<uint64_t>{1, 3, 4, 5});
  CHECK(overloaded == 995);
  CHECK(invalid == 1);
  std::weak_ptr<const std::vector<event>> kept = blocks[0];
  std::weak_ptr<const std::vector<event>> refused = blocks[1];
  blocks.clear();
  CHECK_FALSE(kept.expired());
  CHECK(refused.expired());
  // A full partition takes nothing more: the whole next batch is refused
  // and kept by nobody.
  std::vector<event> more{ev(key_of(0), 1001), ev(key_of(0), 1002)};
  auto next = st.blocks_of(more);
  REQUIRE(next.size() == 1);
  refused = next[0];
  for (auto& e : *next[0])
    CHECK(st.admit(std::shared_ptr<const event>(next[0], &e), 1).code
          == error_code::overloaded);
  next.clear();
  CHECK(refused.expired());
}

TEST_CASE("distributor_state: the replay buffer is bounded and refuses with "
          "overloaded") {
  distributor_state st{"d", config(2)};
  auto k = key_of(0);
  CHECK(st.admit(ev(k, 1), 1).code == error_code::none);
  CHECK(st.admit(ev(k, 2), 2).code == error_code::none);
  auto third = st.admit(ev(k, 3), 3);
  CHECK(third.code == error_code::overloaded);
  CHECK(third.why.find("replay buffer") != std::string::npos);
  // Another partition is not affected.
  CHECK(st.admit(ev(key_of(1), 4), 4).code == error_code::none);
}

TEST_CASE("distributor_state: replays every unacknowledged event - in order - "
          "to a newly promoted active") {
  distributor_state st{"d", config()};
  std::vector<distributor_state::dispatch> replays;
  st.install({active_route(0, 1)}, replays);
  CHECK(replays.empty());
  auto k = key_of(0);
  for (uint64_t i = 1; i <= 4; ++i)
    st.admit(ev(k, i), i);
  CHECK(st.on_acks(acks(0, 1, {1, 2})).size() == 2);
  // The active fails; a standby is promoted with epoch 2.
  st.fence({active_route(0, 1, true)});
  st.install({active_route(0, 2)}, replays);
  REQUIRE(replays.size() == 2);
  CHECK(replays[0].item->seq == 3);
  CHECK(replays[1].item->seq == 4);
  CHECK(replays[0].epoch == 2);
  CHECK(replays[0].floor == 3);  // 1 and 2 were acknowledged
  CHECK(st.replayed() == 2);
}

TEST_CASE("distributor_state: acks of a fenced epoch are rejected") {
  distributor_state st{"d", config()};
  std::vector<distributor_state::dispatch> replays;
  st.install({active_route(0, 1)}, replays);
  st.admit(ev(key_of(0), 1), 1);
  st.fence({active_route(0, 1, true)});
  CHECK(st.on_acks(acks(0, 1, {1})).empty());
  CHECK(st.stale_acks() == 1);
  CHECK(st.pending_total() == 1);
  // The new active's ack (epoch 2) is accepted, even before its route.
  auto done = st.on_acks(acks(0, 2, {1}));
  REQUIRE(done.size() == 1);
  CHECK(done[0].client == 1);
  CHECK(st.pending_total() == 0);
  // And an ack repeated later is ignored.
  CHECK(st.on_acks(acks(0, 2, {1})).empty());
}

TEST_CASE("distributor_state: refused events are resent - acknowledged ones "
          "are not") {
  distributor_state st{"d", config()};
  std::vector<distributor_state::dispatch> replays;
  st.install({active_route(0, 1)}, replays);
  auto k = key_of(0);
  st.admit(ev(k, 1), 1);
  st.admit(ev(k, 2), 2);
  st.on_nack(event_nack{"journal", 0, 1, 1, 0});
  st.on_nack(event_nack{"journal", 0, 1, 2, 0});
  st.on_acks(acks(0, 1, {2}));
  auto due = st.resend_due();
  REQUIRE(due.size() == 1);
  CHECK(due[0].item->seq == 1);
  CHECK(st.resend_due().empty());
}

namespace {

system_config no_standby_config(uint32_t retention_max = 100) {
  auto cfg = config();
  cfg.apps[0].model = redundancy_model::n_way_active;
  cfg.apps[0].copies = 2;
  cfg.knobs.retention_max = retention_max;
  return cfg;
}

partition_snapshot snapshot_at(partition_id p, epoch_t epoch, seq_t seq) {
  partition_snapshot snap;
  snap.app = "journal";
  snap.partition = p;
  snap.epoch = epoch;
  snap.index = seq;
  snap.app_state = json_value{json{{"upto", seq}}};
  snap.meta.applied_seqs = {{"d", seq}};
  return snap;
}

} // namespace

TEST_CASE("distributor_state: without a standby, acknowledged events are "
          "retained until a snapshot covers them and replayed to a new "
          "active") {
  distributor_state st{"d", no_standby_config()};
  std::vector<distributor_state::dispatch> replays;
  st.install({active_route(0, 1)}, replays);
  auto k = key_of(0);
  for (uint64_t i = 1; i <= 5; ++i)
    st.admit(ev(k, i), i);
  st.on_acks(acks(0, 1, {1, 2, 3, 4}));
  CHECK(st.retained_total() == 4);
  CHECK(st.released_count() == 0);  // retained, not released
  CHECK_FALSE(st.snapshot_of("journal", 0).present);
  // The active snapshots after seq 2: 1 and 2 are no longer needed, and
  // are handed to the caller to free.
  CHECK(st.on_snapshot(snapshot_at(0, 1, 2)));
  CHECK(st.retained_total() == 2);
  auto released = st.take_released();
  REQUIRE(released.size() == 2);
  CHECK(released[0]->request_id == 1);
  CHECK(released[1]->request_id == 2);
  CHECK(st.released_count() == 0);
  auto snap = st.snapshot_of("journal", 0);
  REQUIRE(snap.present);
  CHECK(snap.app_state.value == json{{"upto", 2}});
  // An older snapshot does not replace it.
  CHECK_FALSE(st.on_snapshot(snapshot_at(0, 1, 1)));
  // The partition moves: the new active gets 3, 4 (acknowledged, after the
  // snapshot) and 5 (unacknowledged), in order, with the floor at 3.
  st.fence({active_route(0, 1, true)});
  st.install({active_route(0, 2)}, replays);
  REQUIRE(replays.size() == 3);
  CHECK(replays[0].item->seq == 3);
  CHECK(replays[1].item->seq == 4);
  CHECK(replays[2].item->seq == 5);
  for (auto& r : replays)
    CHECK(r.floor == 3);
}

TEST_CASE("distributor_state: a full retention log refuses new events") {
  distributor_state st{"d", no_standby_config(2)};
  std::vector<distributor_state::dispatch> replays;
  st.install({active_route(0, 1)}, replays);
  auto k = key_of(0);
  st.admit(ev(k, 1), 1);
  st.admit(ev(k, 2), 2);
  st.on_acks(acks(0, 1, {1, 2}));
  auto refused = st.admit(ev(k, 3), 3);
  CHECK(refused.code == error_code::overloaded);
  CHECK(refused.why.find("retention log") != std::string::npos);
  st.on_snapshot(snapshot_at(0, 1, 2));
  CHECK(st.admit(ev(k, 4), 4).code == error_code::none);
}

TEST_CASE("distributor_state: models with a standby retain nothing") {
  distributor_state st{"d", config()};
  std::vector<distributor_state::dispatch> replays;
  st.install({active_route(0, 1)}, replays);
  st.admit(ev(key_of(0), 1), 1);
  st.admit(ev(key_of(0), 2), 2);
  st.on_acks(acks(0, 1, {2}));
  CHECK(st.released_count() == 0);  // 1 still waits: 2 stays in order
  st.on_acks(acks(0, 1, {1}));
  CHECK(st.retained_total() == 0);
  // Both are released (to be freed by the caller), in order.
  auto released = st.take_released();
  REQUIRE(released.size() == 2);
  CHECK(released[0]->request_id == 1);
  CHECK(released[1]->request_id == 2);
  CHECK_FALSE(st.on_snapshot(snapshot_at(0, 1, 1)));
}

TEST_CASE("distributor_state: a dead active's partitions go to its successor "
          "in the reserved epoch, each with its own replays, and isolating the "
          "successor fences them again") {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  // Two stand-in actors: only their addresses matter here.
  auto dummy = [&] {
    return caf::actor_cast<app_support_actor>(sys.spawn(
      [](caf::event_based_actor*, int) -> caf::behavior {
        return {[](int) {}};
      },
      0));
  };
  auto active = dummy();
  auto successor = dummy();
  distributor_state st{"d", config()};
  std::vector<distributor_state::dispatch> replays;
  auto r = active_route(0, 1);
  r.handle = active;
  r.successor_handle = successor;
  r.successor_epoch = 3;  // epoch 2 was blocked
  auto r1 = active_route(1, 1);
  r1.handle = active;
  r1.successor_handle = successor;
  r1.successor_epoch = 2;
  st.install({r, r1}, replays);
  auto k = key_of(0);
  for (uint64_t i = 1; i <= 3; ++i)
    st.admit(ev(k, i), i);
  st.admit(ev(key_of(1), 4), 4);
  CHECK(st.on_acks(acks(0, 1, {1})).size() == 1);
  // Another copy's death changes nothing.
  CHECK(st.on_active_down(successor.address(), replays).empty());
  auto moved = st.on_active_down(active.address(), replays);
  REQUIRE(moved.size() == 2);
  CHECK(moved[0].partition == 0);
  CHECK(moved[0].from_epoch == 1);
  CHECK(moved[0].to.epoch == 3);
  CHECK(moved[1].partition == 1);
  CHECK(moved[1].to.epoch == 2);
  // Each partition's replays follow the one before's, counted per
  // succession: 2 and 3 of partition 0 to the successor in epoch 3, then
  // partition 1's only event in epoch 2.
  CHECK(moved[0].replays == 2);
  CHECK(moved[1].replays == 1);
  REQUIRE(replays.size() == 3);
  CHECK(replays[0].item->seq == 2);
  CHECK(replays[0].epoch == 3);
  CHECK(replays[1].item->seq == 3);
  CHECK(replays[2].partition == 1);
  CHECK(replays[2].item->seq == 1);
  CHECK(replays[2].epoch == 2);
  CHECK(st.route_for("journal", 0).handle == successor);
  // A fence of the old epoch (the router's view) does not undo it.
  st.fence({active_route(0, 1, true)});
  CHECK(st.on_acks(acks(0, 3, {2})).size() == 1);
  // The successor is isolated (its node failed): its acks are refused.
  st.fence_incarnation(successor.address());
  CHECK(st.on_acks(acks(0, 3, {3})).empty());
  CHECK(st.stale_acks() == 1);
  caf::anon_send_exit(active, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(successor, caf::exit_reason::user_shutdown);
}

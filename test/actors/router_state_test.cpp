#include <catch2/catch.hpp>

#include <caf/all.hpp>

#include "actors/router/router_state.hpp"

using namespace keel;

namespace {

/// Actor handles used only as identities (never sent to).
struct tokens {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  std::vector<caf::actor> actors;

  app_support_actor make() {
    // (With an argument: CAF 0.17 dereferences a null argument tuple when
    // it spawns a functor that takes none, which UBSan reports.)
    actors.push_back(sys.spawn(
      [](caf::event_based_actor*, int) -> caf::behavior {
        return {[](int) {}};
      },
      0));
    return caf::actor_cast<app_support_actor>(actors.back());
  }

  ~tokens() {
    for (auto& a : actors)
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  }
};

routed_event ev(seq_t seq, partition_id p = 0) {
  routed_event result;
  result.partition = p;
  result.seq = seq;
  result.source = "d";
  auto e = std::make_shared<event>();
  e->app = "journal";
  result.ev = std::move(e);
  return result;
}

route make_route(epoch_t epoch, bool in_transition, uint32_t copy = 0,
                 app_support_actor handle = {}) {
  route r;
  r.handle = handle;
  r.app = "journal";
  r.partition = 0;
  r.epoch = epoch;
  r.in_transition = in_transition;
  r.active = copy_id{"journal", copy};
  r.node = "n1";
  return r;
}

} // namespace

TEST_CASE("router_state: buffers a partition in transition and flushes it in "
          "order after a newer route") {
  tokens t;
  auto copy = t.make();
  router_state st{100};
  std::vector<std::pair<route, routed_event>> flushes;
  st.install({make_route(1, true)}, flushes);
  const route* target = nullptr;
  for (seq_t s = 1; s <= 3; ++s) {
    auto e = ev(s);
    CHECK(st.on_event(e, &target) == router_state::verdict::buffered);
  }
  CHECK(st.buffered("journal", 0) == 3);
  // A route without a handle is no active: nothing is flushed.
  st.install({make_route(2, false)}, flushes);
  CHECK(flushes.empty());
  // The promoted active gets the buffer, in arrival order, stamped with
  // its epoch; later events go straight to it.
  st.install({make_route(3, false, 1, copy)}, flushes);
  REQUIRE(flushes.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    CHECK(flushes[i].second.seq == i + 1);
    CHECK(flushes[i].second.epoch == 3);
    CHECK(flushes[i].first.handle == copy);
  }
  CHECK(st.buffered("journal", 0) == 0);
  auto next = ev(4);
  CHECK(st.on_event(next, &target) == router_state::verdict::forward);
  CHECK(target->handle == copy);
  CHECK(next.epoch == 3);
}

TEST_CASE("router_state: an older or equal route does not replace a newer "
          "one - but a fence at the same epoch does") {
  router_state st{100};
  std::vector<std::pair<route, routed_event>> flushes;
  CHECK(st.install({make_route(3, false)}, flushes).size() == 1);
  CHECK(st.install({make_route(2, false)}, flushes).empty());
  CHECK(st.install({make_route(3, false)}, flushes).empty());
  CHECK(st.install({make_route(3, true)}, flushes).size() == 1);
  CHECK(st.table().at(0).in_transition);
  CHECK(st.table().at(0).min_ack_epoch() == 4);
}

TEST_CASE("router_state: fencing a copy puts its partitions in transition") {
  tokens t;
  auto a = t.make();
  auto b = t.make();
  router_state st{100};
  std::vector<std::pair<route, routed_event>> flushes;
  auto other = make_route(1, false, 1, b);
  other.partition = 1;
  st.install({make_route(1, false, 0, a), other}, flushes);
  auto fenced = st.fence_copy(copy_id{"journal", 0}, a);
  REQUIRE(fenced.size() == 1);
  CHECK(fenced[0].partition == 0);
  CHECK(fenced[0].in_transition);
  CHECK(st.fence_copy(copy_id{"journal", 0}, a).empty());  // repeat: no-op
  CHECK_FALSE(st.table().at(1).in_transition);
}

TEST_CASE("router_state: fencing a dead incarnation leaves its restarted "
          "successor alone") {
  tokens t;
  auto old_incarnation = t.make();
  auto new_incarnation = t.make();
  router_state st{100};
  std::vector<std::pair<route, routed_event>> flushes;
  // The copy was restarted and made active in epoch 2 before the old
  // incarnation's failure report got to the router.
  st.install({make_route(2, false, 0, new_incarnation)}, flushes);
  CHECK(st.fence_copy(copy_id{"journal", 0}, old_incarnation).empty());
  CHECK_FALSE(st.table().at(0).in_transition);
}

TEST_CASE("router_state: the buffer is bounded") {
  router_state st{2};
  const route* target = nullptr;
  auto a = ev(1), b = ev(2), c = ev(3);
  CHECK(st.on_event(a, &target) == router_state::verdict::buffered);
  CHECK(st.on_event(b, &target) == router_state::verdict::buffered);
  CHECK(st.on_event(c, &target) == router_state::verdict::overloaded);
}

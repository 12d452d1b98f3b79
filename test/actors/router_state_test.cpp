#include <catch2/catch.hpp>

#include "actors/router/router_state.hpp"

using namespace keel;

namespace {

routed_event ev(seq_t seq, partition_id p = 0) {
  routed_event result;
  result.partition = p;
  result.seq = seq;
  result.source = "d";
  result.ev.app = "journal";
  return result;
}

route make_route(epoch_t epoch, bool in_transition, uint32_t copy = 0) {
  route r;
  r.app = "journal";
  r.partition = 0;
  r.epoch = epoch;
  r.in_transition = in_transition;
  r.active = copy_id{"journal", copy};
  r.node = "n1";
  return r;
}

} // namespace

// Handles cannot be made without an actor system; a route without a handle
// counts as "no active", which is all these tests need.

TEST_CASE("router_state: buffers a partition in transition and flushes it in "
          "order after a newer route") {
  router_state st{100};
  std::vector<std::pair<route, routed_event>> flushes;
  st.install({make_route(1, true)}, flushes);
  const route* target = nullptr;
  for (seq_t s = 1; s <= 3; ++s) {
    auto e = ev(s);
    CHECK(st.on_event(e, &target) == router_state::verdict::buffered);
  }
  CHECK(st.buffered("journal", 0) == 3);
  // A route without a handle flushes nothing.
  st.install({make_route(2, false)}, flushes);
  CHECK(flushes.empty());
  CHECK(st.buffered("journal", 0) == 3);
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
  router_state st{100};
  std::vector<std::pair<route, routed_event>> flushes;
  auto other = make_route(1, false, 1);
  other.partition = 1;
  st.install({make_route(1, false, 0), other}, flushes);
  auto fenced = st.fence_copy(copy_id{"journal", 0});
  REQUIRE(fenced.size() == 1);
  CHECK(fenced[0].partition == 0);
  CHECK(fenced[0].in_transition);
  CHECK(st.fence_copy(copy_id{"journal", 0}).empty());  // repeat: no-op
  CHECK_FALSE(st.table().at(1).in_transition);
}

TEST_CASE("router_state: the buffer is bounded") {
  router_state st{2};
  const route* target = nullptr;
  auto a = ev(1), b = ev(2), c = ev(3);
  CHECK(st.on_event(a, &target) == router_state::verdict::buffered);
  CHECK(st.on_event(b, &target) == router_state::verdict::buffered);
  CHECK(st.on_event(c, &target) == router_state::verdict::overloaded);
}

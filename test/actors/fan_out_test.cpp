#include <catch2/catch.hpp>

#include "actors/fan_out.hpp"

using namespace keel;

TEST_CASE("node_waits: releasing a node answers its waits as failed once - "
          "the others' answers still count") {
  node_waits waits;
  std::vector<size_t> finished;
  auto counter = std::make_shared<fan_out_counter>(
    3, [&](size_t failed) { finished.push_back(failed); });
  auto a = waits.add("n1", counter);
  auto b = waits.add("n2", counter);
  auto c = waits.add("n3", counter);
  a->answer(true);
  waits.release("n2");  // n2 went away: not waited for
  CHECK(finished.empty());
  b->answer(true);  // its late answer does not count twice
  CHECK(finished.empty());
  c->answer(true);
  REQUIRE(finished == std::vector<size_t>{1});
  // A released node's entries are gone; releasing again does nothing.
  waits.release("n2");
  CHECK(finished.size() == 1);
}

TEST_CASE("node_waits: holds no more entries than the waits in flight") {
  node_waits waits;
  size_t done = 0;
  for (int round = 0; round < 100; ++round) {
    auto counter = std::make_shared<fan_out_counter>(
      1, [&](size_t) { ++done; });
    auto w = waits.add("n1", counter);
    w->answer(true);
  }  // each wait expired when its holder went
  CHECK(done == 100);
  CHECK(waits.size() <= 1);
  // A wait still held survives the purge of the expired ones.
  auto counter = std::make_shared<fan_out_counter>(1, [&](size_t) { ++done; });
  auto held = waits.add("n1", counter);
  waits.add("n1", std::make_shared<fan_out_counter>(1, [](size_t) {}));
  CHECK(waits.size() == 2);
  waits.release("n1");
  CHECK(done == 101);
  CHECK(waits.size() == 0);
}

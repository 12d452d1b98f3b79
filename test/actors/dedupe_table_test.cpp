#include <catch2/catch.hpp>

#include "actors/app_support/dedupe_table.hpp"

using namespace keel;

TEST_CASE("dedupe_table: remembers the last `window` requests per client") {
  dedupe_table t{2, 10};
  t.record("c", 1, {1, json{{"n", 1}}, ""});
  t.record("c", 2, {2, json{{"n", 2}}, ""});
  REQUIRE(t.find("c", 1));
  CHECK(t.find("c", 1)->result == json{{"n", 1}});
  t.record("c", 3, {3, nullptr, ""});
  CHECK_FALSE(t.find("c", 1));
  CHECK(t.find("c", 2));
  CHECK(t.find("c", 3));
  CHECK(t.evicted() == 1);
}

TEST_CASE("dedupe_table: forgets the least recently seen client first") {
  dedupe_table t{4, 2};
  t.record("a", 1, {1, nullptr, ""});
  t.record("b", 1, {2, nullptr, ""});
  t.record("a", 2, {3, nullptr, ""});
  t.record("c", 1, {4, nullptr, ""});
  CHECK(t.clients() == 2);
  CHECK(t.find("a", 1));
  CHECK_FALSE(t.find("b", 1));
  CHECK(t.find("c", 1));
}

TEST_CASE("dedupe_table: survives a round trip through its image") {
  dedupe_table t{4, 4};
  t.record("a", 1, {1, json{{"x", 1}}, ""});
  t.record("b", 9, {2, nullptr, "no"});
  dedupe_table u{4, 4};
  REQUIRE(u.restore(t.image()));
  CHECK(u.image() == t.image());
  REQUIRE(u.find("b", 9));
  CHECK(u.find("b", 9)->rejection == "no");
  auto bad = t.image();
  bad.clients[0].rejections.emplace_back(7, "past the rows");
  CHECK_FALSE(u.restore(bad));
  CHECK(u.clients() == 0);
}

TEST_CASE("dedupe_table: ids out of order are kept in order, the first "
          "reply stays, the window forgets the oldest recorded") {
  dedupe_table t{3, 4};
  t.record("c", 5, {1, json(5), ""});
  t.record("c", 2, {2, json(2), ""});  // lower than the last: inserted
  t.record("c", 5, {3, json(99), ""}); // a repeat: the first reply stays
  REQUIRE(t.find("c", 2));
  CHECK(t.find("c", 2)->result == json(2));
  CHECK(t.find("c", 5)->result == json(5));
  CHECK_FALSE(t.find("c", 3));
  CHECK_FALSE(t.find("c", 7));
  t.record("c", 7, {4, json(7), "late"});
  t.record("c", 9, {5, json(9), ""});  // window 3: 5, the oldest, goes
  CHECK(t.find("c", 2));
  CHECK_FALSE(t.find("c", 5));
  CHECK(t.evicted() == 1);
  dedupe_table u{3, 4};
  REQUIRE(u.restore(t.image()));
  CHECK(u.image() == t.image());
  REQUIRE(u.find("c", 7));
  CHECK(u.find("c", 7)->rejection == "late");
  CHECK(u.find("c", 9)->index == 5);
}

TEST_CASE("dedupe_table: refuses columns of different lengths") {
  dedupe_table t{3, 4};
  dedupe_image bad;
  bad.clock = 1;
  bad.clients.push_back(dedupe_client_image{
    "c", 1, 2, {1, 2}, {1}, {7, 8}, {json_value{nullptr}, json_value{nullptr}},
    {}});
  CHECK_FALSE(t.restore(bad));
  CHECK(t.clients() == 0);
  bad.clients[0].indexes.push_back(2);
  CHECK(t.restore(bad));
  CHECK(t.clients() == 1);
  CHECK(t.find("c", 2));
  // A client twice, or more than the window or the client limit allow.
  auto twice = bad;
  twice.clients.push_back(bad.clients[0]);
  CHECK_FALSE(t.restore(twice));
  CHECK(t.clients() == 0);
  auto long_window = bad;
  for (uint64_t id : {3, 4})
    for (auto* col : {&long_window.clients[0].ids,
                      &long_window.clients[0].indexes,
                      &long_window.clients[0].stamps})
      col->push_back(id);
  long_window.clients[0].results.resize(4);
  CHECK_FALSE(t.restore(long_window));  // window 3
  dedupe_table one_client{3, 1};
  auto two = bad;
  two.clients.push_back(bad.clients[0]);
  two.clients[1].name = "d";
  CHECK_FALSE(one_client.restore(two));
  CHECK(t.restore(two));
}

TEST_CASE("dedupe_table: record returns the remembered reply, a late "
          "request is remembered and the oldest recorded one goes") {
  dedupe_table t{2, 4};
  CHECK(t.record("c", 10, {1, json(10), ""}).result == json(10));
  CHECK(t.record("c", 10, {2, json(99), ""}).result == json(10));
  CHECK(t.record("c", 12, {3, json(12), ""}).index == 3);
  CHECK(t.record("c", 11, {4, json(11), ""}).result == json(11));
  CHECK_FALSE(t.find("c", 10));  // window 2: 11 and 12 stay
  // App-to-app ids come from several upstream partitions: a low id can
  // arrive after higher ones and must still be remembered.
  auto& late = t.record("c", 3, {5, json(3), "no"});
  CHECK(late.result == json(3));
  CHECK(late.rejection == "no");
  REQUIRE(t.find("c", 3));
  CHECK(t.find("c", 3)->rejection == "no");
  CHECK(t.find("c", 11));
  CHECK_FALSE(t.find("c", 12));  // recorded before 11 and 3
  CHECK(t.evicted() == 2);
  // The recording order survives a round trip through the image.
  dedupe_table u{2, 4};
  REQUIRE(u.restore(t.image()));
  CHECK(u.image() == t.image());
  u.record("c", 20, {6, json(20), ""});  // 11 is the oldest now
  CHECK_FALSE(u.find("c", 11));
  CHECK(u.find("c", 3));
  CHECK(u.find("c", 20));
}

TEST_CASE("dedupe_table: many late requests keep the window bounded and "
          "forget in recording order") {
  dedupe_table t{8, 2};
  // Ids from two interleaved upstream streams, one far behind the other.
  for (uint64_t i = 0; i < 100; ++i) {
    t.record("a/c", 1000 + i, {i, json(i), ""});
    t.record("a/c", 10 + i, {i, json(i), ""});
  }
  // The last 8 recorded: 1096..1099 and 106..109.
  for (uint64_t i = 96; i < 100; ++i) {
    CHECK(t.find("a/c", 1000 + i));
    CHECK(t.find("a/c", 10 + i));
  }
  CHECK_FALSE(t.find("a/c", 1095));
  CHECK_FALSE(t.find("a/c", 105));
  CHECK(t.evicted() == 192);
}

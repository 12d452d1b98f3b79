#include <catch2/catch.hpp>

#include "runtime/hash.hpp"
#include "runtime/packed_optional.hpp"
#include "runtime/random.hpp"
#include "runtime/types.hpp"

using namespace keel;

TEST_CASE("types: copy ids round-trip through their text form") {
  auto id = parse_copy_id("journal/12");
  REQUIRE(id);
  CHECK(*id == copy_id{"journal", 12});
  CHECK(to_string(*id) == "journal/12");
  CHECK_FALSE(parse_copy_id("journal"));
  CHECK_FALSE(parse_copy_id("journal/x"));
  CHECK_FALSE(parse_copy_id("/3"));
}

TEST_CASE("types: redundancy model names round-trip") {
  for (auto m : {redundancy_model::no_redundancy, redundancy_model::two_n,
                 redundancy_model::n_plus_m, redundancy_model::n_way,
                 redundancy_model::n_way_active})
    CHECK(parse_redundancy_model(to_string(m)) == m);
  CHECK_FALSE(parse_redundancy_model("2N"));
}

TEST_CASE("hash: keys map to stable partitions") {
  // Pinned values: changing the hash would move every key of every
  // deployed system to another partition.
  CHECK(fnv1a64("") == 14695981039346656037ull);
  CHECK(fnv1a64("k0") == 0x08be0e07b562230eull);
  CHECK(partition_of("k0", 8) == 0x08be0e07b562230eull % 8);
}

TEST_CASE("random: the same seed gives the same sequence") {
  random_source a{42}, b{42};
  for (int i = 0; i < 100; ++i)
    CHECK(a.next() == b.next());
  random_source d{42}, e{43};
  bool differs = false;
  for (int i = 0; i < 10; ++i)
    differs |= d.next() != e.next();
  CHECK(differs);
  random_source r{7};
  for (int i = 0; i < 1000; ++i)
    CHECK(r.below(10) < 10);
}

TEST_CASE("packed_optional: std::optional's meaning in a copy id's size") {
  static_assert(sizeof(packed_optional<copy_id>) == sizeof(copy_id));
  packed_optional<copy_id> none;
  CHECK_FALSE(none);
  CHECK(none == std::nullopt);
  CHECK(none != copy_id{});  // empty is not the default copy id
  packed_optional<copy_id> some = copy_id{"journal", 3};
  REQUIRE(some);
  CHECK(*some == copy_id{"journal", 3});
  CHECK(some->index == 3);
  CHECK(some == copy_id{"journal", 3});
  CHECK(some != copy_id{"journal", 4});
  CHECK(some != none);
  CHECK(some == packed_optional<copy_id>{copy_id{"journal", 3}});
  std::optional<copy_id> plain = some;
  CHECK(plain == copy_id{"journal", 3});
  some.reset();
  CHECK_FALSE(some);
  CHECK(some == none);
  CHECK_FALSE(std::optional<copy_id>(some));
  some = copy_id{"x", 0};
  CHECK(some.value_or(copy_id{"y", 1}) == copy_id{"x", 0});
  some = std::nullopt;
  CHECK(some.value_or(copy_id{"y", 1}) == copy_id{"y", 1});
  // Against std::optional, in both orders.
  CHECK(std::optional<copy_id>{} == packed_optional<copy_id>{});
  CHECK(packed_optional<copy_id>{} == std::optional<copy_id>{});
  CHECK(std::optional<copy_id>{copy_id{"x", 1}}
        != packed_optional<copy_id>{});
  CHECK(packed_optional<copy_id>{copy_id{"x", 1}}
        == std::optional<copy_id>{copy_id{"x", 1}});
}

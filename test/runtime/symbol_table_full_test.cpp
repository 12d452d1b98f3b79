// Its own executable: it fills the process-wide table of symbols.
#include <catch2/catch.hpp>

#include <caf/all.hpp>

#include "runtime/json_reader.hpp"
#include "runtime/symbol.hpp"
#include "runtime/type_registry.hpp"
#include "runtime/types.hpp"

using namespace keel;

TEST_CASE("symbol table: full, it refuses new names and keeps the old ones") {
  symbol kept{"kept-before-full"};
  size_t added = 0;
  while (symbol::count() < symbol::max_peer_count) {
    REQUIRE(symbol::make("filler-" + std::to_string(added)));
    ++added;
  }
  // Half full: a peer's new names are refused, validated ones still fit.
  CHECK_FALSE(symbol::from_peer("peer-name"));
  CHECK(symbol::from_peer("filler-0"));
  CHECK(symbol::make("validated-name"));
  while (symbol::count() < symbol::max_count) {
    REQUIRE(symbol::make("filler-" + std::to_string(added)));
    ++added;
  }
  CHECK(added > symbol::max_count / 2);
  CHECK_FALSE(symbol::make("one-too-many"));
  CHECK_FALSE(symbol::find("one-too-many"));
  CHECK(symbol::count() == symbol::max_count);
  CHECK(symbol::make("kept-before-full") == kept);
  CHECK(symbol::make("filler-0"));
  CHECK_FALSE(parse_copy_id("one-too-many/3"));
  // A configuration's new name: an error naming the path.
  try {
    read_name(json("one-too-many"), "$.apps[0].name");
    FAIL("read_name accepted a name the table cannot keep");
  } catch (const json_path_error& e) {
    CHECK(std::string{e.what()}.find("$.apps[0].name") != std::string::npos);
    CHECK(std::string{e.what()}.find("one name too many")
          != std::string::npos);
  }
  // A peer's message with a new name fails to deserialize.
  struct cfg_t : caf::actor_system_config {
    cfg_t() {
      register_runtime_types(*this);
    }
  } cfg;
  caf::actor_system sys{cfg};
  std::vector<char> buf;
  {
    caf::binary_serializer sink{sys, buf};
    REQUIRE_FALSE(sink(std::string{"one-too-many"}, uint32_t{1}));
  }
  copy_id id;
  caf::binary_deserializer source{sys, buf};
  CHECK(source(id));
}

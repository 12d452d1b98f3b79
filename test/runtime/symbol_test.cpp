#include <catch2/catch.hpp>

#include <map>
#include <unordered_set>

#include <caf/all.hpp>

#include "runtime/symbol.hpp"
#include "runtime/type_registry.hpp"
#include "runtime/types.hpp"

using namespace keel;

namespace {

struct registered_config : caf::actor_system_config {
  registered_config() {
    register_runtime_types(*this);
  }
};

} // namespace

TEST_CASE("symbol: one name is one symbol, equal by identity") {
  symbol a{"journal"};
  symbol b{std::string{"jour"} + "nal"};
  CHECK(a == b);
  CHECK(a.c_str() == b.c_str());  // the same interned text
  CHECK(a.hash() == b.hash());
  CHECK(std::hash<symbol>{}(a) == std::hash<std::string_view>{}("journal"));
  CHECK(a == "journal");
  CHECK(std::string{"journal"} == a);
  CHECK(a != std::string_view{"journa"});
  CHECK(a.str() == "journal");
  CHECK(a + "/1" == "journal/1");
  CHECK("x" + a == "xjournal");
  CHECK(symbol{} == symbol{""});
  CHECK(symbol{}.empty());
  CHECK_FALSE(a.empty());
  CHECK(sizeof(symbol) == sizeof(void*));
}

TEST_CASE("symbol: ordered by text, not by address") {
  // Interned in the reverse of their order: addresses would say otherwise.
  symbol z{"zz-order-test"}, m{"mm-order-test"}, a{"aa-order-test"};
  std::map<symbol, int> sorted{{z, 3}, {m, 2}, {a, 1}};
  std::vector<std::string> order;
  for (auto& [k, v] : sorted)
    order.push_back(k.str());
  CHECK(order
        == std::vector<std::string>{"aa-order-test", "mm-order-test",
                                    "zz-order-test"});
  CHECK(a < m);
  CHECK_FALSE(m < a);
  CHECK(symbol{} < a);
  CHECK(a.compare(a) == 0);
  CHECK(copy_id{"b", 1} < copy_id{"b", 2});
  CHECK(copy_id{"a", 9} < copy_id{"b", 1});
}

TEST_CASE("symbol: find never adds, make refuses a name too long") {
  CHECK_FALSE(symbol::find("never-interned-before-this-test"));
  auto before = symbol::count();
  CHECK_FALSE(symbol::find("never-interned-before-this-test"));
  CHECK(symbol::count() == before);
  auto made = symbol::make("never-interned-before-this-test");
  REQUIRE(made);
  CHECK(symbol::count() == before + 1);
  CHECK(symbol::find("never-interned-before-this-test") == made);
  CHECK_FALSE(symbol::make(std::string(symbol::max_size + 1, 'x')));
  CHECK(symbol::make(std::string(symbol::max_size, 'y')));
  CHECK_FALSE(parse_copy_id(std::string(symbol::max_size + 1, 'x') + "/1"));
}

TEST_CASE("symbol: crosses the middleman as its text, interned on arrival") {
  registered_config cfg;
  caf::actor_system sys{cfg};
  CHECK(sys.types().make_value("keel_symbol") != nullptr);
  std::vector<char> buf;
  {
    caf::binary_serializer sink{sys, buf};
    std::string text = "arrives-over-the-wire";  // never interned here
    REQUIRE_FALSE(sink(text));
  }
  CHECK_FALSE(symbol::find("arrives-over-the-wire"));
  symbol got;
  caf::binary_deserializer source{sys, buf};
  REQUIRE_FALSE(source(got));
  CHECK(got == "arrives-over-the-wire");
  CHECK(symbol::find("arrives-over-the-wire") == got);
  // A peer's name longer than a configuration allows fails to deserialize
  // (the same text from validated input is fine).
  std::vector<char> long_buf;
  {
    caf::binary_serializer sink{sys, long_buf};
    std::string text(symbol::max_peer_size + 1, 'z');
    REQUIRE_FALSE(sink(text));
  }
  symbol refused;
  caf::binary_deserializer long_source{sys, long_buf};
  CHECK(long_source(refused));
  CHECK(refused.empty());
  CHECK_FALSE(symbol::find(std::string(symbol::max_peer_size + 1, 'z')));
  CHECK(symbol::from_peer(std::string(symbol::max_peer_size, 'z')));
  auto validated = symbol::make(std::string(symbol::max_peer_size + 1, 'z'));
  REQUIRE(validated);
  {
    // Known already: a peer may name it.
    caf::binary_deserializer again{sys, long_buf};
    symbol known;
    REQUIRE_FALSE(again(known));
    CHECK(known == *validated);
  }
  // And a symbol serializes as its text.
  std::vector<char> sym_buf;
  {
    caf::binary_serializer sink{sys, sym_buf};
    symbol s{"journal"};
    REQUIRE_FALSE(sink(s));
  }
  std::string text;
  caf::binary_deserializer text_source{sys, sym_buf};
  REQUIRE_FALSE(text_source(text));
  CHECK(text == "journal");
}

#include <catch2/catch.hpp>

#include <caf/all.hpp>

#include "actors/system_controller/system_controller.hpp"

using namespace keel;

TEST_CASE("copy_handle_table: handles by copy id, dense and sparse") {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto make = [&] {
    return caf::actor_cast<app_support_actor>(
      // An argument: CAF 0.17 hands an argument-less spawn a null tuple.
      sys.spawn([](int) -> caf::behavior { return {[](int) {}}; }, 0));
  };
  auto a = make(), b = make(), c = make();
  copy_handle_table t;
  CHECK(t.size() == 0);
  CHECK_FALSE(t.find(copy_id{"journal", 0}));
  t.set(copy_id{"journal", 2}, a);
  t.set(copy_id{"ledger", 0}, b);
  t.set(copy_id{"journal", copy_handle_table::dense_max + 7}, c);
  CHECK(t.size() == 3);
  CHECK(t.find(copy_id{"journal", 2}) == a);
  CHECK(t.find(copy_id{"ledger", 0}) == b);
  CHECK(t.find(copy_id{"journal", copy_handle_table::dense_max + 7}) == c);
  CHECK_FALSE(t.find(copy_id{"journal", 1}));  // a hole
  CHECK_FALSE(t.find(copy_id{"journal", 3}));  // past the end
  CHECK_FALSE(t.find(copy_id{"other", 2}));
  t.set(copy_id{"journal", 2}, b);  // a new incarnation
  CHECK(t.size() == 3);
  CHECK(t.find(copy_id{"journal", 2}) == b);
  t.erase(copy_id{"journal", 2});
  t.erase(copy_id{"journal", 2});  // twice: no harm
  t.erase(copy_id{"journal", 9});  // never set
  CHECK(t.size() == 2);
  CHECK_FALSE(t.find(copy_id{"journal", 2}));
  t.set(copy_id{"ledger", 0}, app_support_actor{});  // empty: erases
  t.erase(copy_id{"journal", copy_handle_table::dense_max + 7});
  CHECK(t.size() == 0);
  for (auto& x : {a, b, c})
    caf::anon_send_exit(x, caf::exit_reason::user_shutdown);
}

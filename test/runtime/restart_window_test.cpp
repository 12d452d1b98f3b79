#include <catch2/catch.hpp>

#include "runtime/restart_window.hpp"

using namespace keel;
using namespace std::chrono_literals;

TEST_CASE("restart_window: allows `intensity` restarts within the period - "
          "then refuses") {
  restart_window w{3, 1000ms};
  auto t0 = restart_window::time_point{} + 10s;
  CHECK(w.try_restart(t0));
  CHECK(w.try_restart(t0 + 100ms));
  CHECK(w.try_restart(t0 + 200ms));
  CHECK_FALSE(w.try_restart(t0 + 300ms));
  CHECK(w.recent(t0 + 300ms) == 3);
}

TEST_CASE("restart_window: restarts older than the period no longer count") {
  restart_window w{2, 1000ms};
  auto t0 = restart_window::time_point{} + 10s;
  CHECK(w.try_restart(t0));
  CHECK(w.try_restart(t0 + 500ms));
  CHECK_FALSE(w.try_restart(t0 + 999ms));
  // At t0 + 1000ms the first restart leaves the window (OTP: within MaxT).
  CHECK(w.try_restart(t0 + 1000ms));
  CHECK_FALSE(w.try_restart(t0 + 1400ms));
  CHECK(w.try_restart(t0 + 1500ms));
}

TEST_CASE("restart_window: intensity 0 escalates at once") {
  restart_window w{0, 1000ms};
  CHECK_FALSE(w.try_restart(restart_window::time_point{} + 1s));
}

TEST_CASE("restart_window: a refused attempt is not recorded") {
  restart_window w{1, 1000ms};
  auto t0 = restart_window::time_point{} + 10s;
  CHECK(w.try_restart(t0));
  CHECK_FALSE(w.try_restart(t0 + 900ms));
  // Had the refusal counted, this one would still be inside the window.
  CHECK(w.try_restart(t0 + 1000ms));
}

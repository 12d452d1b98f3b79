// App-to-app traffic through keel: counter forwards every event to journal
// via the distributor; journal's active copy is killed in the middle. Every
// forwarded event must land in journal exactly once.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <optional>
#include <set>
#include <thread>

#include <caf/all.hpp>

#include "actors/bootstrap.hpp"
#include "apps/builtin_apps.hpp"
#include "apps/journal/journal.hpp"
#include "runtime/error.hpp"

using namespace keel;

namespace {

/// journal's state from every partition's active; nullopt while a
/// recovery makes some partition unreadable (the caller polls).
std::optional<std::map<std::string, std::vector<apps::journal::entry>>>
journal_state(caf::scoped_actor& self, const system_handles& h) {
  std::map<std::string, std::vector<apps::journal::entry>> result;
  bool complete = true;
  assignment_table table;
  self->request(h.controller, std::chrono::seconds{5},
                get_assignment_atom::value)
    .receive([&](assignment_table& t) { table = std::move(t); },
             [&](caf::error&) { complete = false; });
  for (auto& pa : table.partitions) {
    if (pa.app != "journal")
      continue;
    if (!pa.active_handle) {
      complete = false;
      continue;
    }
    self->request(pa.active_handle, std::chrono::seconds{5},
                  get_state_atom::value, pa.partition)
      .receive(
        [&](partition_state& ps) {
          std::map<std::string, std::vector<apps::journal::entry>> part;
          if (!apps::read_journal_snapshot(ps.app_state.value, part))
            complete = false;
          for (auto& [k, v] : part)
            result[k] = v;
        },
        [&](caf::error&) { complete = false; });
  }
  if (!complete)
    return std::nullopt;
  return result;
}

/// Stops the system even when an assertion ends the test early (the actor
/// system's destructor waits for every actor).
struct shutdown_guard {
  system_handles& handles;
  ~shutdown_guard() {
    handles.shutdown();
  }
};

size_t entries(const std::map<std::string,
                              std::vector<apps::journal::entry>>& state) {
  size_t n = 0;
  for (auto& [k, v] : state)
    n += v.size();
  return n;
}

} // namespace

TEST_CASE("app-to-app: events forwarded to another application survive its "
          "failover and land exactly once") {
  apps::register_builtin_apps();
  auto config = parse_system_config(json::parse(R"({"topology": {
    "nodes": ["n1", "n2", "n3"],
    "apps": [{"name": "counter", "model": "2n", "copies": 2, "partitions": 2},
             {"name": "journal", "model": "2n", "copies": 2, "partitions": 2}]
    }})"));
  REQUIRE(config);
  caf::actor_system_config cfg;
  configure_actor_system(cfg, *config);
  caf::actor_system sys{cfg};
  // KEEL_TEST_TRACE=file writes the trace, for chasing a failure.
  std::ofstream trace_file;
  if (auto path = std::getenv("KEEL_TEST_TRACE"))
    trace_file.open(path);
  auto ctx = make_context(sys, *config,
                          trace_file.is_open() ? &trace_file : nullptr);
  auto h = start_system(sys, ctx, app_registry::global(),
                        std::chrono::seconds{10});
  REQUIRE(h);
  shutdown_guard guard{*h};
  constexpr uint64_t total = 200;
  {
    caf::scoped_actor self{sys};
    size_t acked = 0;
    // Requests go out without waiting for their replies, so forwards are in
    // flight in both applications when journal's active is killed.
    using handle_t = decltype(self->request(h->distributor,
                                            std::chrono::seconds{1}, event{}));
    std::vector<handle_t> replies;
    auto send = [&](uint64_t rid) {
      event ev{"counter", "k" + std::to_string(rid % 16),
               json_value{json{{"add", 1}, {"forward", "journal"}}}, "test",
               rid};
      replies.push_back(
        self->request(h->distributor, std::chrono::seconds{10}, ev));
    };
    for (uint64_t rid = 1; rid <= total / 2; ++rid)
      send(rid);
    // Kill journal's active copy (2n: the same copy for every partition).
    assignment_table table;
    self->request(h->controller, std::chrono::seconds{5},
                  get_assignment_atom::value)
      .receive([&](assignment_table& t) { table = std::move(t); },
               [](caf::error& err) { FAIL(render(err)); });
    for (auto& pa : table.partitions)
      if (pa.app == "journal") {
        caf::anon_send_exit(pa.active_handle, caf::exit_reason::kill);
        break;
      }
    for (uint64_t rid = total / 2 + 1; rid <= total; ++rid)
      send(rid);
    for (auto& rh : replies)
      rh.receive([&](event_reply&) { ++acked; },
                 [](caf::error& err) { FAIL(render(err)); });
    CHECK(acked == total);
    // Forwarding is asynchronous: wait (bounded) until journal has them all.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{10};
    auto polled = journal_state(self, *h);
    while ((!polled || entries(*polled) < total)
           && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds{10});
      polled = journal_state(self, *h);
    }
    REQUIRE(polled);
    auto& state = *polled;
    std::set<uint64_t> seen;
    for (auto& [key, list] : state)
      for (auto& [client, rid] : list) {
        CHECK(client == "counter/test");
        CHECK(rid % 64 == 0);
        CHECK(seen.insert(rid / 64).second);  // exactly once
      }
    CHECK(seen.size() == total);
  }
}

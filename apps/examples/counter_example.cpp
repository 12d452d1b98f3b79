// The README's example: a tiny application written for keel, run embedded
// in this program (three logical nodes in one process), fed a few events,
// with its active copy killed in the middle. Prints the final sums.
//
//   build/counter_example        exits 0 if every sum is what was sent
#include <iostream>

#include <caf/all.hpp>

#include "actors/bootstrap.hpp"
#include "apps/api/app_registry.hpp"
#include "runtime/error.hpp"

// -- the application ---------------------------------------------------------

/// Per key, a running total. One instance per partition; keel calls these
/// inside the copy's actor, one at a time.
class tally : public keel::application {
public:
  keel::reply handle(const keel::event& ev, keel::app_context&) override {
    auto& add = ev.payload.value["add"];
    if (!add.is_number_integer())
      return keel::reply::reject("payload.add must be an integer");
    auto& sum = sums_[ev.key];
    sum += add.get<int64_t>();
    return keel::reply::accept({{"sum", sum}});
  }

  keel::json snapshot() const override {
    return keel::json(sums_);
  }

  void restore(const keel::json& state) override {
    sums_ = state.is_null() ? std::map<std::string, int64_t>{}
                            : state.get<std::map<std::string, int64_t>>();
  }

private:
  std::map<std::string, int64_t> sums_;
};

// -- running it --------------------------------------------------------------

int main() {
  keel::register_app<tally>("tally");
  auto config = keel::parse_system_config(keel::json::parse(R"({
    "topology": {
      "nodes": ["n1", "n2", "n3"],
      "apps": [{"name": "tally", "model": "2n", "copies": 2, "partitions": 4}]
    }})"));
  if (!config) {
    std::cerr << keel::render(config.error()) << "\n";
    return 2;
  }
  caf::actor_system_config cfg;
  keel::configure_actor_system(cfg, *config);
  caf::actor_system sys{cfg};
  auto ctx = keel::make_context(sys, *config);
  auto keel_system = keel::start_system(sys, ctx, keel::app_registry::global(),
                                        std::chrono::seconds{10});
  if (!keel_system) {
    std::cerr << keel::render(keel_system.error()) << "\n";
    return 1;
  }
  int failures = 0;
  {
    caf::scoped_actor self{sys};
    auto send = [&](const std::string& key, int64_t add, uint64_t id) {
      keel::event ev{"tally", key, keel::json{{"add", add}}, "example", id};
      int64_t sum = -1;
      self->request(keel_system->distributor, std::chrono::seconds{5}, ev)
        .receive([&](keel::event_reply& r) { sum = r.result.value["sum"]; },
                 [&](caf::error& err) {
                   std::cerr << "event " << id << ": " << keel::render(err)
                             << "\n";
                   ++failures;
                 });
      return sum;
    };
    uint64_t id = 0;
    for (int i = 0; i < 10; ++i)
      send("apples", 1, ++id);
    // Kill the copy that is active for every partition (2n: copy 0).
    self->request(keel_system->controller, std::chrono::seconds{5},
                  keel::get_assignment_atom::value)
      .receive(
        [&](keel::assignment_table& t) {
          caf::anon_send_exit(t.partitions.front().active_handle,
                              caf::exit_reason::kill);
        },
        [&](caf::error&) { ++failures; });
    for (int i = 0; i < 10; ++i)
      send("apples", 1, ++id);
    auto total = send("apples", 0, ++id);
    std::cout << "apples: " << total << " (expected 20)\n";
    if (total != 20)
      ++failures;
  }
  keel_system->shutdown();
  return failures == 0 ? 0 : 1;
}

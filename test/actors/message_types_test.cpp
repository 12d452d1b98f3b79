// Every message type must cross CAF's middleman unchanged: registered under
// its name on every node and serializable through its inspect overload.
#include <catch2/catch.hpp>

#include <caf/all.hpp>

#include "actors/bootstrap.hpp"
#include "actors/load_distributor/load_distributor_interface.hpp"
#include "actors/system_controller/system_controller_interface.hpp"

using namespace keel;

namespace {

struct registered_config : caf::actor_system_config {
  registered_config() {
    register_message_types(*this);
  }
};

template <class T>
T round_trip(caf::actor_system& sys, T value) {
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  REQUIRE_FALSE(sink(value));
  T result;
  caf::binary_deserializer source{sys, buf};
  REQUIRE_FALSE(source(result));
  return result;
}

} // namespace

TEST_CASE("message types: every keel type name is registered") {
  registered_config cfg;
  caf::actor_system sys{cfg};
  for (auto name :
       {"keel_copy_id", "keel_json", "keel_event", "keel_event_reply",
        "keel_load_report", "keel_event_acks", "keel_event_nack",
        "keel_routed_event", "keel_role_assignment", "keel_role_assignments",
        "keel_checkpoint", "keel_checkpoint_ack", "keel_state_transfer",
        "keel_partition_state", "keel_copy_status", "keel_route",
        "keel_routes", "keel_distributor_status", "keel_copy_spec",
        "keel_copy_failed", "keel_node_failed", "keel_assignment_table",
        "keel_activation", "keel_app_support_actor",
        "keel_route_subscriber_actor", "keel_event_batch",
        "keel_event_results", "keel_event_result", "keel_result_sink_actor",
        "keel_routed_batch", "keel_routed_item", "keel_copy_specs",
        "keel_app_support_actors", "keel_copy_ids"}) {
    INFO(name);
    CHECK(sys.types().make_value(name) != nullptr);
  }
}

TEST_CASE("message types: events and checkpoints survive binary "
          "serialization with their JSON payloads") {
  registered_config cfg;
  caf::actor_system sys{cfg};
  event ev{"journal", "k7", json_value{json{{"add", 3}, {"tags", {"a", "b"}}}},
           "client-1", 42};
  auto ev2 = round_trip(sys, ev);
  CHECK(ev2.app == "journal");
  CHECK(ev2.key == "k7");
  CHECK(ev2.payload.value == ev.payload.value);
  CHECK(ev2.request_id == 42);
  checkpoint cp{3, 9, copy_id{"journal", 1}, "n2", {},
                {log_entry::make(17, "src", 5, ev)}};
  auto cp2 = round_trip(sys, cp);
  CHECK(cp2.partition == 3);
  CHECK(cp2.epoch == 9);
  CHECK(cp2.from == copy_id{"journal", 1});
  REQUIRE(cp2.entries.size() == 1);
  CHECK(cp2.entries[0].index == 17);
  REQUIRE(cp2.entries[0].ev);
  REQUIRE(cp2.entries[0].source);
  CHECK(*cp2.entries[0].source == "src");
  CHECK(cp2.entries[0].seq == 5);
  CHECK(cp2.entries[0].ev->key == "k7");
  CHECK(cp2.entries[0].ev->request_id == 42);
  CHECK(cp2.entries[0].ev->payload.value == ev.payload.value);
  dedupe_table dedupe{4, 4};
  dedupe.record("c", 3, {1, json{{"n", 1}}, ""});
  dedupe.record("c", 4, {2, nullptr, "refused"});
  dedupe.record("d", 1, {3, json(7), ""});
  state_transfer st{1, 2, copy_id{"journal", 0}, "n1", {}, 99,
                    json_value{json{{"keys", json::object()}}},
                    replica_meta{{{"src", 5}}, dedupe.image()}};
  auto st2 = round_trip(sys, st);
  CHECK(st2.index == 99);
  CHECK(st2.app_state.value == st.app_state.value);
  CHECK(st2.meta.applied_seqs == st.meta.applied_seqs);
  REQUIRE(st2.meta.dedupe.clients.size() == 2);
  CHECK(st2.meta.dedupe == st.meta.dedupe);
  dedupe_table back{4, 4};
  REQUIRE(back.restore(st2.meta.dedupe));
  REQUIRE(back.find("c", 4));
  CHECK(back.find("c", 4)->rejection == "refused");
  CHECK(back.find("d", 1)->result == json(7));
}

TEST_CASE("message types: control messages survive binary serialization") {
  registered_config cfg;
  caf::actor_system sys{cfg};
  role_assignment ra{4, role::active, 7, {}};
  auto ra2 = round_trip(sys, ra);
  CHECK(ra2.partition == 4);
  CHECK(ra2.new_role == role::active);
  CHECK(ra2.epoch == 7);
  route r;
  r.app = "journal";
  r.partition = 2;
  r.epoch = 5;
  r.in_transition = false;
  r.active = copy_id{"journal", 1};
  r.node = "n2";
  auto r2 = round_trip(sys, r);
  CHECK(r2.epoch == 5);
  CHECK_FALSE(r2.in_transition);
  CHECK(r2.active == r.active);
  load_report lr{copy_id{"journal", 0}, "n1", 123, 456.5, 7,
                 {partition_load{1, role::standby, 10}}};
  auto lr2 = round_trip(sys, lr);
  CHECK(lr2.events_per_s == 456.5);
  CHECK(lr2.partitions.at(0).current_role == role::standby);
  event_batch batch{{}, {event{"journal", "k1", json_value{json(1)}, "c", 7}}};
  auto batch2 = round_trip(sys, batch);
  REQUIRE(batch2.events.size() == 1);
  CHECK(batch2.events[0].request_id == 7);
  event_results results{{event_result{7, 2, 3, 0, "", json_value{json(5)}}}};
  auto results2 = round_trip(sys, results);
  REQUIRE(results2.results.size() == 1);
  CHECK(results2.results[0].seq == 3);
  CHECK(results2.results[0].result.value == json(5));
  routed_batch rb{1, 2, "src", {}, 4};
  auto block = std::make_shared<const std::vector<event>>(batch.events);
  rb.add(9, std::shared_ptr<const event>(block, &block->at(0)));
  rb.add(10, std::make_shared<const event>(batch.events[0]));
  REQUIRE(rb.owner_count() == 2);
  CHECK(rb.items()[1].owner == 1);
  auto rb2 = round_trip(sys, rb);
  CHECK(rb2.floor == 4);
  REQUIRE(rb2.items().size() == 2);
  CHECK(rb2.items()[0].seq == 9);
  CHECK(rb2.items()[1].seq == 10);
  REQUIRE(rb2.items()[0].ev);
  CHECK(rb2.items()[0].ev->key == "k1");
  CHECK(rb2.items()[1].ev->request_id == 7);
  // A received batch owns its events as one block.
  REQUIRE(rb2.owner_count() == 1);
  CHECK(rb2.items()[1].owner == 0);
  auto& second = rb2.items()[1];
  auto kept = std::shared_ptr<const event>(rb2.owner_of(second), second.ev);
  rb2 = routed_batch{};
  CHECK(kept->key == "k1");  // the block outlives the message
  // On the wire a batch's items are (seq, event) values, as when each
  // item held its own shared event.
  std::vector<char> batch_bytes;
  {
    caf::binary_serializer sink{sys, batch_bytes};
    REQUIRE_FALSE(sink(rb));
  }
  std::vector<char> item_bytes;
  {
    caf::binary_serializer sink{sys, item_bytes};
    auto e0 = batch.events[0];
    auto e1 = batch.events[0];
    seq_t s0 = 9;
    seq_t s1 = 10;
    size_t n = 2;
    REQUIRE_FALSE(sink(rb.partition, rb.epoch, rb.source, rb.reply_to,
                       rb.floor));
    REQUIRE_FALSE(sink.begin_sequence(n));
    REQUIRE_FALSE(sink(s0, e0, s1, e1));
    REQUIRE_FALSE(sink.end_sequence());
  }
  CHECK(batch_bytes == item_bytes);
  auto& first = rb.items()[0];
  routed_event re{1, 2, 8, "src", {},
                  std::shared_ptr<const event>(rb.owner_of(first), first.ev),
                  4};
  auto re2 = round_trip(sys, re);
  CHECK(re2.seq == 8);
  CHECK(re2.floor == 4);
  REQUIRE(re2.ev);
  CHECK(re2.ev != re.ev);  // a new event on the receiving side
  CHECK(re2.ev->key == "k1");
  CHECK(re2.ev->request_id == 7);
  // A routed_event and a one-item routed_batch put the event the same way
  // on the wire: the same bytes as when routed_event carried a value.
  std::vector<char> shared_bytes;
  {
    caf::binary_serializer sink{sys, shared_bytes};
    REQUIRE_FALSE(sink(re));
  }
  std::vector<char> value_bytes;
  {
    caf::binary_serializer sink{sys, value_bytes};
    auto ev_copy = *re.ev;
    REQUIRE_FALSE(sink(re.partition, re.epoch, re.seq, re.source, re.reply_to,
                       ev_copy, re.floor));
  }
  CHECK(shared_bytes == value_bytes);
  event_nack nack{"journal", 1, 2, 3, 4};
  auto nack2 = round_trip(sys, nack);
  CHECK(nack2.seq == 3);
  CHECK(nack2.code == 4);
}

TEST_CASE("message types: malformed JSON text arrives as a discarded value, "
          "not a crash") {
  registered_config cfg;
  caf::actor_system sys{cfg};
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  std::string broken = "{\"add\": ";
  REQUIRE_FALSE(sink(broken));
  json_value value;
  caf::binary_deserializer source{sys, buf};
  REQUIRE_FALSE(source(value));
  CHECK(value.value.is_discarded());
}

TEST_CASE("configure_actor_system: the scheduler follows the knobs") {
  system_config config;
  config.knobs.scheduler_max_threads = 3;
  config.knobs.scheduler_max_throughput = 77;
  config.knobs.scheduler_idle_sleep_us = 250;
  caf::actor_system_config cfg;
  configure_actor_system(cfg, config);
  CHECK(caf::get_or(cfg, "scheduler.max-threads", size_t{0}) == 3);
  CHECK(caf::get_or(cfg, "scheduler.max-throughput", size_t{0}) == 77);
  CHECK(caf::get_or(cfg, "work-stealing.relaxed-sleep-duration",
                    caf::timespan{0})
        == caf::timespan{std::chrono::microseconds{250}});
  // The default is bounded: CAF's own (unlimited) lets one busy actor keep
  // a worker thread until its mailbox is empty.
  CHECK(tuning{}.scheduler_max_throughput == 300);
}

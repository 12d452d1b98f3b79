#include <catch2/catch.hpp>

#include <sstream>

#include "runtime/trace.hpp"

using namespace keel;

TEST_CASE("trace_sink: snapshots give back the fields as emitted") {
  std::ostringstream out;
  trace_sink sink{10, &out};
  json fields{{"app", "counter"},
              {"partition", 3},
              {"epoch", uint64_t{1} << 40},
              {"delta", -7},
              {"ratio", 0.25},
              {"in_transition", false},
              {"nested", {{"list", {1, "two", nullptr}}}}};
  sink.emit(5, "route_installed", fields);
  sink.emit(6, "no_fields");
  auto events = sink.snapshot();
  REQUIRE(events.size() == 2);
  CHECK(events[0].t_us == 5);
  CHECK(events[0].name == "route_installed");
  CHECK(events[0].fields == fields);
  CHECK(events[0].fields["delta"].get<int64_t>() == -7);
  CHECK(events[1].fields == json::object());
  CHECK(sink.snapshot_from(1).size() == 1);
  CHECK(sink.snapshot_from(1)[0].name == "no_fields");
  CHECK(sink.snapshot_from(2).empty());
  // The stream gets every event as one JSON line, fields inlined.
  std::istringstream lines{out.str()};
  std::string line;
  REQUIRE(std::getline(lines, line));
  auto first = json::parse(line);
  CHECK(first["event"] == "route_installed");
  CHECK(first["partition"] == 3);
  CHECK(first["nested"] == fields["nested"]);
}

TEST_CASE("trace_sink: events past max_events are counted, not kept") {
  trace_sink sink{2};
  for (int i = 0; i < 5; ++i)
    sink.emit(i, "e", json{{"i", i}});
  CHECK(sink.size() == 2);
  CHECK(sink.dropped() == 3);
  auto events = sink.snapshot();
  CHECK(events[1].fields["i"] == 1);
}

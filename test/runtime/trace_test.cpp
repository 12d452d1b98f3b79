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

TEST_CASE("trace_sink: events packed across chunks and one bigger than a "
          "chunk read back whole and in order") {
  trace_sink sink{100000};
  // 64 KiB chunks: 5000 records of about 40 bytes fill several.
  for (int i = 0; i < 5000; ++i)
    sink.emit(i, i % 2 ? "odd" : "even_event",
              trace_fields{}.add("i", i).add("copy", "s" + std::to_string(i)));
  std::string big(100000, 'x');  // a record bigger than a chunk
  sink.emit(-1, "big", json{{"blob", big}});
  sink.emit(5001, "after_big");
  REQUIRE(sink.size() == 5002);
  auto events = sink.snapshot();
  REQUIRE(events.size() == 5002);
  for (int i = 0; i < 5000; ++i) {
    INFO("event " << i);
    REQUIRE(events[i].t_us == i);
    REQUIRE(events[i].name == (i % 2 ? "odd" : "even_event"));
    REQUIRE(events[i].fields["i"] == i);
    REQUIRE(events[i].fields["copy"] == "s" + std::to_string(i));
  }
  CHECK(events[5000].t_us == -1);
  CHECK(events[5000].fields["blob"] == big);
  CHECK(events[5001].name == "after_big");
  CHECK(events[5001].fields == json::object());
  auto tail = sink.snapshot_from(4999);
  REQUIRE(tail.size() == 3);
  CHECK(tail[0].fields["i"] == 4999);
}

TEST_CASE("trace_sink: an event whose name does not fit a record is counted "
          "as dropped, not cut, and still streamed") {
  std::ostringstream out;
  trace_sink sink{10, &out};
  sink.emit(1, std::string(70000, 'n'));
  sink.emit(2, "kept");
  CHECK(sink.size() == 1);
  CHECK(sink.dropped() == 1);
  CHECK(sink.snapshot()[0].name == "kept");
  CHECK(out.str().find(std::string(70000, 'n')) != std::string::npos);
}

TEST_CASE("trace_fields: written straight into MessagePack, an event reads "
          "back and streams exactly as the same fields given as JSON") {
  std::string long_text(300, 'x');  // str16
  std::string mid_text(40, 'y');    // str8
  std::vector<std::pair<std::string, json>> cases{
    {"small", 7},
    {"byte", 200},
    {"short", 60000},
    {"word", uint64_t{4000000000}},
    {"huge", uint64_t{1} << 63},
    {"minus", -5},
    {"minus8", -100},
    {"minus16", -30000},
    {"minus32", -2000000000},
    {"minus64", -(int64_t{1} << 40)},
    {"yes", true},
    {"no", false},
    {"ratio", -0.125},
    {"empty", ""},
    {"mid", mid_text},
    {"long", long_text}};
  trace_fields fields;
  json expected = json::object();
  for (auto& [key, value] : cases) {
    if (value.is_boolean())
      fields.add(key, value.get<bool>());
    else if (value.is_number_unsigned())
      fields.add(key, value.get<uint64_t>());
    else if (value.is_number_integer())
      fields.add(key, value.get<int64_t>());
    else if (value.is_number_float())
      fields.add(key, value.get<double>());
    else
      fields.add(key, value.get<std::string>());
    expected[key] = value;
  }
  CHECK(fields.size() == cases.size());  // 16: a map16 header, not fixmap
  std::ostringstream out_a, out_b;
  trace_sink direct{10, &out_a}, as_json{10, &out_b};
  direct.emit(5, "e", std::move(fields));
  direct.emit(6, "few", trace_fields{}.add("copy", "a/1").add("partition", 3u));
  direct.emit(7, "none", trace_fields{});
  as_json.emit(5, "e", expected);
  as_json.emit(6, "few", json{{"copy", "a/1"}, {"partition", 3}});
  as_json.emit(7, "none");
  auto a = direct.snapshot();
  auto b = as_json.snapshot();
  REQUIRE(a.size() == 3);
  REQUIRE(b.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    INFO(a[i].name);
    CHECK(a[i].name == b[i].name);
    CHECK(a[i].fields == b[i].fields);
  }
  CHECK(a[0].fields == expected);
  CHECK(a[0].fields["minus64"].get<int64_t>() == -(int64_t{1} << 40));
  CHECK(a[0].fields["huge"].get<uint64_t>() == uint64_t{1} << 63);
  CHECK(out_a.str() == out_b.str());
}

TEST_CASE("trace_sink: records keep their shape's number and values only, "
          "and read back exactly for any fields and times") {
  trace_sink sink{100};
  json all_types{{"nil", nullptr},
                 {"bin", json::binary({1, 2, 3})},
                 {"ext", json::binary(std::vector<uint8_t>(20, 7), 5)},
                 {"list", json::array({1, -1, 300, -300, 70000, 2.5, "s"})},
                 {"map", {{"inner", {{"deeper", true}}}}},
                 {"big", std::string(70000, 'b')}};
  // Deeper than the reader's limit of 64: the fields are kept whole.
  json deep = json::array();
  for (int i = 0; i < 70; ++i)
    deep = json::array({deep});
  json nested{{"deep", deep}, {"after", 1}};
  const int64_t times[] = {0, -1, 1, INT64_MIN, INT64_MAX, 1234567890123};
  for (auto t : times)
    sink.emit(t, "types", all_types);
  sink.emit(7, "types", json{{"other", 1}, {"keys", 2}});   // a second shape
  sink.emit(8, "types", json{{"keys", 2}, {"other", 1}});   // key order
  sink.emit(9, "nested", nested);
  sink.emit(10, "types");                                    // no fields
  auto events = sink.snapshot();
  REQUIRE(events.size() == 10);
  for (size_t i = 0; i < std::size(times); ++i) {
    INFO("event " << i);
    CHECK(events[i].t_us == times[i]);
    CHECK(events[i].name == "types");
    CHECK(events[i].fields == all_types);
  }
  CHECK(events[6].fields == json{{"other", 1}, {"keys", 2}});
  CHECK(events[7].fields == json{{"keys", 2}, {"other", 1}});
  CHECK(events[8].fields == nested);
  CHECK(events[9].fields == json::object());
  CHECK(sink.dropped() == 0);
}

TEST_CASE("trace_sink: the shape table is bounded, an event that needs one "
          "more shape is counted as dropped") {
  trace_sink sink{1'000'000};
  auto limit = size_t{65536};
  for (size_t i = 0; i < limit + 5; ++i)
    sink.emit(1, "e" + std::to_string(i), trace_fields{}.add("i", i));
  CHECK(sink.size() == limit);
  CHECK(sink.dropped() == 5);
  // Known shapes still record.
  sink.emit(2, "e7", trace_fields{}.add("i", 70));
  CHECK(sink.size() == limit + 1);
  CHECK(sink.snapshot_from(limit)[0].fields["i"] == 70);
}

TEST_CASE("trace_fields: a moved-from or taken object is empty and reusable, "
          "and a map of more than 65535 fields gets a map32 header") {
  trace_fields a;
  a.add("x", 1);
  trace_fields b{std::move(a)};
  CHECK(a.size() == 0);
  CHECK(std::move(a).take().empty());
  a.add("y", 2);  // reused after the move
  auto packed_a = std::move(a).take();
  CHECK(json::from_msgpack(packed_a) == json{{"y", 2}});
  CHECK(std::move(a).take().empty());  // taken twice
  auto packed_b = std::move(b).take();
  CHECK(json::from_msgpack(packed_b) == json{{"x", 1}});
  trace_fields many;
  json expected = json::object();
  for (int i = 0; i < 70000; ++i) {
    many.add("k" + std::to_string(i), i);
    expected["k" + std::to_string(i)] = i;
  }
  auto packed = std::move(many).take();
  REQUIRE(packed.size() > 5);
  CHECK(packed[0] == 0xdf);
  CHECK(json::from_msgpack(packed) == expected);
  trace_sink sink{10};
  trace_fields again;
  for (int i = 0; i < 70000; ++i)
    again.add("k" + std::to_string(i), i);
  sink.emit(1, "wide", std::move(again));
  CHECK(sink.snapshot()[0].fields == expected);
}

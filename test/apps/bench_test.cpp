// keel bench: the OTP peer's output is parsed into the right figures, and a
// smoke run of every benchmark produces sane rows (non-zero rates and
// times, baselines where there are baselines) and loses nothing. The
// targets are for the benchmark run itself, not for CI.
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "apps/bench/bench.hpp"
#include "apps/bench/peer.hpp"

using namespace keel::bench;

TEST_CASE("bench: parses the OTP peer's output") {
  peer_figures p;
  std::string why;
  REQUIRE(read_peer("test/data/otp_peer_sample.txt", p, why));
  CHECK(p.header.rfind("Erlang/OTP 25.2.3", 0) == 0);
  CHECK(p.b_raw == Approx(4.63e6));
  CHECK(p.t1 == Approx(1.23e6));
  CHECK(p.t3 == Approx(0.62e6));
  CHECK(p.l1_p50 == Approx(2.7));
  CHECK(p.l1_p99 == Approx(20.7));
  CHECK(p.l1_p999 == Approx(81.3));
  CHECK(p.f1_idle_p50 == Approx(141.1));
  CHECK(p.f1_idle_p99 == Approx(237.2));
  CHECK(p.f1_loaded_p50 == Approx(78.3));
  CHECK(p.f1_loaded_p99 == Approx(577.0));
  peer_figures none;
  CHECK_FALSE(parse_peer("no figures here\n", none, why));
  CHECK(why.find("T1") != std::string::npos);
}

TEST_CASE("bench: unknown names, a zero repeat and a batch outside "
          "1..window are refused") {
  std::ostringstream out, err;
  options bad;
  bad.names = {"T9"};
  CHECK(run(bad, out, err) == 2);
  CHECK(err.str().find("unknown benchmark 'T9'") != std::string::npos);
  options zero;
  zero.repeat = 0;
  CHECK(run(zero, out, err) == 2);
  for (uint32_t batch : {0u, 20001u}) {
    options wrong;
    wrong.batch = batch;
    err.str("");
    CHECK(run(wrong, out, err) == 2);
    CHECK(err.str().find("--batch must be 1..20000") != std::string::npos);
  }
}

TEST_CASE("bench: a smoke run of every benchmark gives sane rows and loses "
          "nothing") {
  options opts;
  opts.smoke = true;
  opts.repeat = 1;
  opts.f1_trials = 3;
  opts.json_out = "bench_smoke_test.json";
  std::ostringstream out, err;
  REQUIRE(run(opts, out, err) == 0);
  INFO(out.str() << err.str());
  std::ifstream in{opts.json_out};
  auto doc = nlohmann::json::parse(in);
  std::remove(opts.json_out.c_str());
  CHECK(doc.at("scheduler").at("max-threads") == 2);
  CHECK(doc.at("scheduler").at("max-throughput") == opts.max_throughput);
  CHECK(doc.at("client_batch") == opts.batch);
  std::set<std::string> ids;
  for (auto& r : doc.at("results")) {
    auto id = r.at("id").get<std::string>();
    INFO(id);
    ids.insert(id);
    CHECK(r.at("value").get<double>() > 0);
    CHECK(r.at("min").get<double>() <= r.at("value").get<double>());
    CHECK(r.at("max").get<double>() >= r.at("value").get<double>());
    CHECK(r.at("lost") == 0);
    CHECK(r.at("duplicated") == 0);
    if (id == "T1" || id == "T3" || id.rfind("L1", 0) == 0
        || id.rfind("S1", 0) == 0) {
      CHECK(r.at("baseline").get<double>() > 0);
      CHECK(r.at("ratio").get<double>() > 0);
    }
    if (id == "T1" || id == "T3")
      CHECK(r.at("events_checked").get<uint64_t>() > 0);
  }
  for (auto id : {"T1", "T3", "L1 p50", "L1 p99", "L1 p99.9", "L1 idle p50",
                  "F1 idle p50", "F1 idle p99", "F1 loaded p50",
                  "F1 loaded p99", "F1 idle served p99", "S1 spawn"})
    CHECK(ids.count(id) == 1);
  // Heap statistics exist except under a sanitizer's allocator, and then
  // the output says so instead of reporting 0 bytes.
  CHECK((ids.count("S1 bytes") == 1
         || out.str().find("S1 bytes: not measured") != std::string::npos));
}

// Pieces every benchmark uses: clocks, percentiles, the result rows, and the
// actors that drive load (raw CAF and through keel's distributor).
#pragma once

#include <algorithm>
#include <chrono>
#include <memory>
#include <cstdint>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "actors/bootstrap.hpp"
#include "runtime/event.hpp"

namespace keel::bench {

using clock_type = std::chrono::steady_clock;

inline int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           clock_type::now().time_since_epoch())
    .count();
}

/// The p-th percentile (0..100) of `xs` (sorted in place); 0 if empty.
double percentile(std::vector<double>& xs, double p);

double median(std::vector<double> xs);

/// A number for the table: 3 significant digits, k/M suffixes.
std::string fmt(double x);

/// One row of the table and of the JSON file.
struct result {
  std::string id;
  std::string what;
  std::string unit;
  /// Median over rounds (latency rows: the percentile over pooled samples).
  double value = 0;
  double baseline = 0;  ///< 0: no baseline
  double ratio = 0;     ///< value / baseline (0: no baseline)
  double min = 0;
  double max = 0;
  /// "higher" or "lower": which way is better.
  std::string better;
  std::string target;
  bool target_met = true;
  uint64_t lost = 0;
  uint64_t duplicated = 0;
  uint64_t events = 0;
};

/// The same event every sender uses (keys vary): small app, key and client
/// names (no heap), an integer payload.
event make_event(const std::string& app, const std::string& key,
                 uint64_t request_id);

// -- load through keel ------------------------------------------------------

/// What a load run saw.
struct load_outcome {
  uint64_t sent = 0;
  uint64_t acked = 0;
  uint64_t failed = 0;
  int64_t elapsed_ns = 0;
  std::string first_error;
};

/// Sends `total` events to `sink` keeping at most `window` unanswered;
/// returns when every one is answered. Keys cycle through `keys`. With
/// `batch` > 0 the events go in event_batch messages of that many (the
/// sink must be a distributor), else one request per event.
load_outcome flood(caf::actor_system& sys, const event_sink_actor& sink,
                   const std::string& app, const std::vector<std::string>& keys,
                   uint64_t total, uint32_t window,
                   const std::string& client_id, uint32_t batch = 0);

/// A paced background load: `rate` events/s in 250 us steps, at most `window`
/// unanswered (beyond it, it falls behind rather than queue without bound).
/// `batched`: each step's events go in one event_batch, else one request
/// per event.
class paced_load {
public:
  paced_load(caf::actor_system& sys, event_sink_actor sink, std::string app,
             std::vector<std::string> keys, double rate,
             std::string client_id, bool batched = true);
  ~paced_load();
  /// Stops sending, waits for every answer and returns the counts.
  load_outcome stop();

private:
  caf::actor_system& sys_;
  caf::actor actor_;
  std::shared_ptr<load_outcome> result_;
  bool stopped_ = false;
};

/// Closed-loop latency: one request in flight, `samples` answers (or
/// `max_ns` elapsed). Returns the latencies in microseconds.
std::vector<double> probe_latency(caf::actor_system& sys,
                                  const event_sink_actor& sink,
                                  const std::string& app,
                                  const std::vector<std::string>& keys,
                                  size_t samples, int64_t max_ns,
                                  const std::string& client_id);

/// Keys "k0", "k1", ... (`count` of them).
std::vector<std::string> make_keys(size_t count);

/// For each partition (0..partitions-1), one key that maps to it.
std::vector<std::string> key_per_partition(uint32_t partitions);

} // namespace keel::bench

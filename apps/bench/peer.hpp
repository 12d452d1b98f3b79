// The Erlang/OTP peer (../shared/peers/erlang): runs its run.sh (or reads
// the output of an earlier run) and compares its figures with keel's.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/bench/harness.hpp"

namespace keel::bench {

struct peer_figures {
  bool present = false;
  std::string header;  ///< the peer's first line (OTP version, machine)
  double b_raw = 0;    ///< raw BEAM one-way, msgs/s
  double t1 = 0, t3 = 0;  ///< events/s
  double l1_p50 = 0, l1_p99 = 0, l1_p999 = 0;  ///< us, solo, closed loop
  /// us, kill -> promoted copy handles its first event / first ack back.
  double f1_idle_p50 = 0, f1_idle_p99 = 0;
  double f1_loaded_p50 = 0, f1_loaded_p99 = 0;
  double f1_idle_ack_p99 = 0, f1_loaded_ack_p99 = 0;
};

/// Parses the peer's output (what run.sh prints). False if T1 is missing.
bool parse_peer(const std::string& text, peer_figures& out, std::string& why);

bool read_peer(const std::string& file, peer_figures& out, std::string& why);

/// Runs `dir`/run.sh (tput lat f1; quick if `smoke`), parses its output
/// and copies it to `log`.
bool run_peer(const std::string& dir, bool smoke, peer_figures& out,
              std::ostream& log, std::string& why);

void print_peer_comparison(const std::vector<result>& rows,
                           const peer_figures& peer, std::ostream& out);

nlohmann::json peer_json(const std::vector<result>& rows,
                         const peer_figures& peer);

} // namespace keel::bench

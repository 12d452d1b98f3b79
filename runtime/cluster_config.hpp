// Cluster mode's configuration: where each node's process listens and the
// cluster secret. It sits beside the system config in one file:
//
//   { "topology": {...}, "tuning": {...},
//     "cluster": { "endpoints": {"n1": "127.0.0.1:4701", ...},
//                  "secret_env": "KEEL_CLUSTER_SECRET",   (or "secret": "...")
//                  "startup_timeout_ms": 10000 } }
//
// Every configured node needs an endpoint; the control node is the first of
// topology.nodes, as in embedded mode.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include <caf/expected.hpp>

#include "runtime/config.hpp"

namespace keel {

struct endpoint {
  std::string host;
  uint16_t port = 0;
};

std::string to_string(const endpoint& x);

struct cluster_config {
  system_config system;
  std::map<node_id, endpoint> endpoints;
  /// The resolved secret (from "secret", or the variable "secret_env" names).
  std::string secret;
  /// Where the secret came from, for messages ("$.cluster.secret" or
  /// "environment variable X"); never the secret itself.
  std::string secret_origin;
  /// How long the control node waits for every node to be admitted, and a
  /// node for its peers, before giving up.
  uint32_t startup_timeout_ms = 10000;
  /// The node that holds a dormant second control plane and takes over when
  /// the control node's process is lost (empty: none). Default: the second
  /// configured node when there are at least three.
  node_id control_standby;
};

/// Shortest cluster secret accepted.
constexpr size_t cluster_secret_min = 16;

/// Reads `{"topology", "tuning", "cluster"}`. Errors are invalid_config and
/// name the JSON path (or the environment variable that is missing/short).
caf::expected<cluster_config> parse_cluster_config(const json& doc);

/// Parses a cluster file; `file` prefixes error messages.
caf::expected<cluster_config> load_cluster_config(const std::string& file);

} // namespace keel

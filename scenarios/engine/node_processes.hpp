// The `keel node` processes of one --mode process run (or a test): start,
// signal, restart and reap them. Thread-safe: the scenario driver's fault
// hook runs in a CAF worker, the rest in the runner's thread.
//
// Children get SIGKILL when the thread that started them ends
// (PR_SET_PDEATHSIG), so a runner that dies leaves no node behind; the
// destructor stops and reaps every node still running.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include <sys/types.h>

#include <caf/expected.hpp>

#include "runtime/types.hpp"

namespace keel::scenarios {

/// The environment variable that carries the cluster secret to the nodes.
constexpr const char* secret_variable = "KEEL_CLUSTER_SECRET";

/// `n` free TCP ports on 127.0.0.1 (bound at once, so they differ, then
/// released for the nodes to bind with SO_REUSEADDR).
caf::expected<std::vector<uint16_t>> free_ports(size_t n);

class node_processes {
public:
  /// Nodes run `binary node --cluster DIR/cluster.json --name N --trace
  /// DIR/N.trace --origin-ns ORIGIN` with the secret in secret_variable;
  /// their output goes to DIR/N.log.
  node_processes(std::string binary, std::string dir, std::string secret,
                 int64_t origin_ns);

  ~node_processes();

  node_processes(const node_processes&) = delete;
  node_processes& operator=(const node_processes&) = delete;

  std::string log_path(const node_id& n) const;
  std::string trace_path(const node_id& n) const;
  std::string cluster_path() const;

  /// Starts (or restarts) node `n`, with `cluster_file` instead of
  /// cluster_path() and `secret` instead of the run's if given. Returns an
  /// empty string, or why not.
  std::string start(const node_id& n, const std::string& cluster_file = {},
                    const std::string& secret = {});

  /// Sends `sig` to node `n`'s process; SIGKILL also reaps it.
  std::string signal(const node_id& n, int sig);

  /// Nodes that exited although nobody stopped them (checked without
  /// waiting), with how.
  std::vector<std::string> unexpected_exits();

  /// Waits up to `timeout_ms` for node `n` to exit by itself; its exit
  /// status (as waitpid's), or -1 if it still runs (then it is left running).
  int wait_exit(const node_id& n, int timeout_ms);

  /// Stops every node still running: SIGCONT (a stopped process cannot
  /// exit), SIGTERM, up to 8 s (longer than a node's own 5 s watchdog),
  /// then SIGKILL; reaps all. Returns the problems (a node that did not exit
  /// 0, or had to be killed); they also go to `log`.
  std::vector<std::string> reap_all(std::ostream& log);

  static std::string describe(int status);

private:
  std::mutex mtx_;
  std::string binary_;
  std::string dir_;
  std::string secret_;
  int64_t origin_ns_;
  std::map<node_id, pid_t> running_;
  std::set<node_id> stopped_;
};

} // namespace keel::scenarios

// Embedding keel in another program: this program has its own CAF actor
// system and main loop, joins a running cluster as one of its nodes (it
// hosts copies like any `keel node` process), and, as a service would, sends
// events to the cluster and reads the replies.
//
//   KEEL_CLUSTER_SECRET=... build/cluster_embed CLUSTER.json NODE [EVENTS]
//
// The cluster's other nodes run `keel node --cluster CLUSTER.json --name ..`;
// the cluster's applications must be registered here too (this example uses
// keel's built-in counter). Exit 0 if every event was acknowledged with the
// expected running total.
#include <iostream>

#include <unistd.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/cluster/cluster_node.hpp"
#include "apps/builtin_apps.hpp"
#include "runtime/error.hpp"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: cluster_embed CLUSTER.json NODE [EVENTS]\n";
    return 2;
  }
  auto events = argc > 3 ? std::stoi(argv[3]) : 100;
  // Every line out at once: if a step hangs, the log shows which.
  std::cout << std::unitbuf;
  keel::apps::register_builtin_apps();
  auto config = keel::load_cluster_config(argv[1]);
  if (!config) {
    std::cerr << "cluster_embed: " << keel::context_of(config.error()) << "\n";
    return 2;
  }
  caf::actor_system_config cfg;
  keel::cluster::configure(cfg, *config);
  caf::actor_system sys{cfg};
  // 1. Become node NODE of the cluster (blocks until it joined its peers).
  keel::cluster::node::start_options opts;
  opts.log = &std::cout;
  auto node = keel::cluster::node::start(sys, *config, argv[2],
                                         keel::app_registry::global(), opts);
  if (!node) {
    std::cerr << "cluster_embed: " << keel::context_of(node.error()) << "\n";
    return 1;
  }
  // 2. As a client: ask the control node for the running system (this
  // proves the cluster secret as well).
  auto ready = keel::cluster::join_ready(
    sys, *config, "cluster_embed",
    std::chrono::steady_clock::now() + std::chrono::seconds{10});
  if (!ready) {
    std::cerr << "cluster_embed: " << keel::context_of(ready.error()) << "\n";
    return 1;
  }
  std::cout << "cluster_embed: the system is ready\n";
  // 3. Send events to the cluster's distributor; the counter's reply is the
  // key's running total.
  int failures = 0;
  {
    caf::scoped_actor self{sys};
    for (int i = 1; i <= events; ++i) {
      keel::event ev{"counter", "visits", keel::json{{"add", 1}},
                     "cluster_embed-" + std::to_string(::getpid()),
                     static_cast<uint64_t>(i)};
      self->request(ready->distributor, std::chrono::seconds{5}, ev)
        .receive(
          [&](keel::event_reply& r) {
            if (r.result.value.value("value", int64_t{-1}) != i) {
              std::cerr << "event " << i << ": total "
                        << r.result.value.dump() << ", expected " << i << "\n";
              ++failures;
            }
          },
          [&](caf::error& err) {
            std::cerr << "event " << i << ": " << keel::render(err) << "\n";
            ++failures;
          });
    }
  }
  std::cout << "cluster_embed: " << (events - failures) << " of " << events
            << " events acknowledged with the right total\n";
  // 4. Leave: stop this node's actors (the cluster sees the node go).
  (*node)->stop();
  std::cout << "cluster_embed: stopping\n";
  return failures == 0 ? 0 : 1;
}

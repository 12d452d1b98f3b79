// Cluster mode: the cluster file, the secret proofs, and real `keel node`
// processes admitting (or refusing) each other and admin clients.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <thread>

#include <stdlib.h>
#include <sys/wait.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/bootstrap.hpp"
#include "actors/cluster/cluster_node.hpp"
#include "actors/cluster/gateway.hpp"
#include "runtime/auth.hpp"
#include "runtime/cluster_config.hpp"
#include "runtime/error.hpp"
#include "scenarios/engine/node_processes.hpp"

using namespace keel;

namespace {

json base_doc() {
  return json::parse(R"({
    "topology": {"nodes": ["n1", "n2"],
                 "apps": [{"name": "journal", "model": "2n", "copies": 2,
                           "partitions": 4}]},
    "cluster": {"endpoints": {"n1": "127.0.0.1:4701", "n2": "127.0.0.1:4702"},
                "secret": "0123456789abcdef"}})");
}

std::string error_of(const json& doc) {
  auto cfg = parse_cluster_config(doc);
  REQUIRE_FALSE(cfg);
  CHECK(code_of(cfg.error()) == error_code::invalid_config);
  return context_of(cfg.error());
}

std::string slurp(const std::string& path) {
  std::ifstream in{path};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// The file's text once it contains `text`, or after `timeout_ms`.
std::string wait_for_text(const std::string& path, const std::string& text,
                          int timeout_ms = 5000) {
  auto deadline = std::chrono::steady_clock::now()
                  + std::chrono::milliseconds{timeout_ms};
  auto content = slurp(path);
  while (content.find(text) == std::string::npos
         && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
    content = slurp(path);
  }
  return content;
}

struct temp_dir {
  std::string path;
  temp_dir() {
    char tmpl[] = "/tmp/keel-cluster-test-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~temp_dir() {
    std::string cmd = "rm -rf '" + path + "'";
    if (std::system(cmd.c_str()) != 0)
      WARN("could not remove " + path);
  }
};

/// Writes a two-node cluster file on free ports with `secret`.
std::string write_cluster(const std::string& dir, const std::string& name,
                          const std::vector<uint16_t>& ports,
                          const std::string& secret) {
  auto doc = base_doc();
  doc["cluster"]["endpoints"]["n1"] = "127.0.0.1:" + std::to_string(ports[0]);
  doc["cluster"]["endpoints"]["n2"] = "127.0.0.1:" + std::to_string(ports[1]);
  doc["cluster"]["secret"] = secret;
  doc["cluster"]["startup_timeout_ms"] = 2500;
  auto path = dir + "/" + name;
  std::ofstream out{path};
  out << doc.dump(2);
  return path;
}

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           std::chrono::steady_clock::now().time_since_epoch())
    .count();
}

} // namespace

TEST_CASE("cluster file: every error names the path") {
  auto ok = parse_cluster_config(base_doc());
  REQUIRE(ok);
  CHECK(ok->endpoints.at("n2").port == 4702);
  CHECK(ok->secret_origin == "$.cluster.secret");
  auto doc = base_doc();
  doc["cluster"]["endpoints"].erase("n2");
  CHECK_THAT(error_of(doc), Catch::Contains("$.cluster.endpoints")
                              && Catch::Contains("no endpoint for node \"n2\""));
  doc = base_doc();
  doc["cluster"]["endpoints"]["n2"] = "127.0.0.1:99999";
  CHECK_THAT(error_of(doc), Catch::Contains("$.cluster.endpoints.n2"));
  doc = base_doc();
  doc["cluster"]["endpoints"]["n9"] = "127.0.0.1:1";
  CHECK_THAT(error_of(doc), Catch::Contains("n9"));
  doc = base_doc();
  doc["cluster"]["secret"] = "short";
  CHECK_THAT(error_of(doc), Catch::Contains("$.cluster.secret")
                              && Catch::Contains("at least 16"));
  doc = base_doc();
  doc["cluster"]["secret_env"] = "KEEL_TEST_SECRET";
  CHECK_THAT(error_of(doc), Catch::Contains("exactly one of"));
  doc["cluster"].erase("secret");
  ::unsetenv("KEEL_TEST_SECRET");
  CHECK_THAT(error_of(doc), Catch::Contains("KEEL_TEST_SECRET is not set"));
  ::setenv("KEEL_TEST_SECRET", "from-the-environment-1", 1);
  auto env = parse_cluster_config(doc);
  REQUIRE(env);
  CHECK(env->secret == "from-the-environment-1");
  CHECK(env->secret_origin == "environment variable KEEL_TEST_SECRET");
  doc = base_doc();
  doc["cluster"]["colour"] = "blue";
  CHECK_THAT(error_of(doc), Catch::Contains("colour"));
}

TEST_CASE("gateway: a peer of another wire protocol is refused as "
          "incompatible, after the secret is proven") {
  caf::actor_system_config sys_cfg;
  register_message_types(sys_cfg);
  caf::actor_system sys{sys_cfg};
  system_config config;
  config.nodes = {"n1"};
  std::string secret = "the-right-secret-0001";
  auto ctx = make_context(sys, config);
  auto cell = std::make_shared<gateway_cell>();
  auto gw = sys.spawn(gateway_impl, ctx, node_id{"n1"}, secret,
                      std::shared_ptr<const gateway_cell>{cell});
  caf::scoped_actor self{sys};
  auto ask = [&](uint32_t protocol, const std::string& key) {
    std::string nonce;
    self->request(gw, std::chrono::seconds{5}, challenge_atom::value)
      .receive([&](std::string& x) { nonce = std::move(x); },
               [&](caf::error& err) { FAIL(render(err)); });
    join_request req;
    req.protocol = protocol;
    req.from = "n2";
    req.nonce = nonce;
    req.proof = auth::prove(key, "keel-join", nonce, req.from);
    req.client_nonce = auth::make_nonce();
    caf::expected<join_reply> result{join_reply{}};
    self->request(gw, std::chrono::seconds{5}, join_atom::value, req)
      .receive([&](join_reply& x) { result = std::move(x); },
               [&](caf::error& err) { result = std::move(err); });
    return result;
  };
  auto ok = ask(wire_protocol, secret);
  REQUIRE(ok);
  CHECK(ok->protocol == wire_protocol);
  auto old = ask(wire_protocol - 1, secret);
  REQUIRE_FALSE(old);
  CHECK(code_of(old.error()) == error_code::incompatible);
  CHECK_THAT(render(old.error()),
             Catch::Contains("wire protocol " + std::to_string(wire_protocol - 1)
                             + ", this node "
                             + std::to_string(wire_protocol)));
  // Who cannot prove the secret learns nothing about the protocol.
  auto stranger = ask(wire_protocol - 1, "not-the-secret-0002");
  REQUIRE_FALSE(stranger);
  CHECK(code_of(stranger.error()) == error_code::unauthorized);
  self->send_exit(gw, caf::exit_reason::user_shutdown);
}

TEST_CASE("gateway: a joiner refuses a gateway of another wire protocol at "
          "once, without retrying") {
  auto ports = scenarios::free_ports(1);
  REQUIRE(ports);
  std::string secret = "the-right-secret-0001";
  auto doc = base_doc();
  doc["cluster"]["endpoints"]["n1"] = "127.0.0.1:"
                                      + std::to_string(ports->front());
  doc["cluster"]["secret"] = secret;
  auto cfg = parse_cluster_config(doc);
  REQUIRE(cfg);
  caf::actor_system_config sys_cfg;
  cluster::configure(sys_cfg, *cfg);
  caf::actor_system sys{sys_cfg};
  // n1's endpoint: a gateway that proves the secret but runs the next
  // protocol (a newer build), counting the joins it gets.
  auto joins = std::make_shared<std::atomic<int>>(0);
  // With an argument: CAF 0.17 hands an argument-less spawn a null tuple.
  auto fake = sys.spawn([secret, joins](int) -> gateway_actor::behavior_type {
    return {
      [](challenge_atom) { return std::string{"nonce-0123456789"}; },
      [secret, joins](join_atom, join_request& req) {
        ++*joins;
        join_reply reply;
        reply.protocol = wire_protocol + 1;
        reply.node = "n1";
        reply.proof = auth::prove(secret, "keel-gateway", req.client_nonce,
                                  "n1");
        return reply;
      },
    };
  }, 0);
  REQUIRE(sys.middleman().publish(fake, ports->front(), "127.0.0.1"));
  auto t0 = std::chrono::steady_clock::now();
  auto reply = cluster::join(sys, *cfg, "n1", "test-admin",
                             t0 + std::chrono::seconds{10});
  auto took = std::chrono::steady_clock::now() - t0;
  REQUIRE_FALSE(reply);
  CHECK(code_of(reply.error()) == error_code::incompatible);
  CHECK_THAT(render(reply.error()),
             Catch::Contains("runs keel wire protocol "
                             + std::to_string(wire_protocol + 1)));
  CHECK(*joins == 1);
  CHECK(took < std::chrono::seconds{5});
  auto ready = cluster::join_ready(sys, *cfg, "test-admin",
                                   std::chrono::steady_clock::now()
                                     + std::chrono::seconds{10});
  REQUIRE_FALSE(ready);
  CHECK(code_of(ready.error()) == error_code::incompatible);
  CHECK(*joins == 2);
  caf::anon_send_exit(fake, caf::exit_reason::user_shutdown);
}

TEST_CASE("auth: a proof binds secret, purpose, nonce and name") {
  auto n = auth::make_nonce();
  CHECK(n.size() == 32);
  CHECK(n != auth::make_nonce());
  auto p = auth::prove("secret-a", "keel-join", n, "n1");
  CHECK(auth::same_proof(p, auth::prove("secret-a", "keel-join", n, "n1")));
  CHECK_FALSE(auth::same_proof(p, auth::prove("secret-b", "keel-join", n, "n1")));
  CHECK_FALSE(auth::same_proof(p, auth::prove("secret-a", "keel-gateway", n, "n1")));
  CHECK_FALSE(auth::same_proof(p, auth::prove("secret-a", "keel-join", n, "n2")));
  CHECK_FALSE(auth::same_proof(p, p.substr(1)));
}

TEST_CASE("cluster: nodes with the same secret form a cluster, and an admin "
          "client without it is refused") {
  temp_dir dir;
  auto ports = scenarios::free_ports(2);
  REQUIRE(ports);
  std::string secret = "the-right-secret-0001";
  auto file = write_cluster(dir.path, "cluster.json", *ports, secret);
  scenarios::node_processes procs{KEEL_BINARY, dir.path, secret, now_ns()};
  REQUIRE(procs.start("n1", file).empty());
  REQUIRE(procs.start("n2", file).empty());
  auto cfg = load_cluster_config(file);
  REQUIRE(cfg);
  {
    caf::actor_system_config sys_cfg;
    cluster::configure(sys_cfg, *cfg);
    caf::actor_system sys{sys_cfg};
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{10};
    auto ready = cluster::join_ready(sys, *cfg, "test-admin", deadline);
    REQUIRE(ready);
    CHECK(ready->ready);
    CHECK(ready->controller);
    CHECK(ready->distributor);
    CHECK(ready->nodes.size() == 2);
    auto wrong = *cfg;
    wrong.secret = "not-the-secret-0002";
    auto refused = cluster::join(sys, wrong, "n1", "intruder",
                                 std::chrono::steady_clock::now()
                                   + std::chrono::milliseconds{300});
    REQUIRE_FALSE(refused);
    CHECK(code_of(refused.error()) == error_code::unauthorized);
  }
  CHECK_THAT(slurp(procs.log_path("n1")),
             Catch::Contains("cluster ready (2 nodes")
               && Catch::Contains("refused \"intruder\"")
               && Catch::Contains("wrong cluster secret"));
  // n2 may still be joining n1 when n1 is ready (n1 joined n2 first).
  CHECK_THAT(wait_for_text(procs.log_path("n2"), "joined 1 peers"),
             Catch::Contains("joined 1 peers"));
  std::ostringstream problems;
  procs.reap_all(problems);
  CHECK(problems.str().empty());  // both stopped cleanly on SIGTERM
}

TEST_CASE("cluster: a node started with the wrong secret is refused and the "
          "cluster does not form with it") {
  temp_dir dir;
  auto ports = scenarios::free_ports(2);
  REQUIRE(ports);
  auto good = write_cluster(dir.path, "good.json", *ports,
                            "the-right-secret-0001");
  auto bad = write_cluster(dir.path, "bad.json", *ports,
                           "a-wrong-secret-000002");
  scenarios::node_processes procs{KEEL_BINARY, dir.path, "unused-unused-0",
                                  now_ns()};
  REQUIRE(procs.start("n1", good).empty());
  REQUIRE(procs.start("n2", bad).empty());
  auto s1 = procs.wait_exit("n1", 15000);
  auto s2 = procs.wait_exit("n2", 15000);
  REQUIRE(s1 != -1);
  REQUIRE(s2 != -1);
  CHECK(WIFEXITED(s1));
  CHECK(WEXITSTATUS(s1) == 1);
  CHECK(WIFEXITED(s2));
  CHECK(WEXITSTATUS(s2) == 1);
  auto log1 = slurp(procs.log_path("n1"));
  auto log2 = slurp(procs.log_path("n2"));
  INFO("n1:\n" << log1 << "\nn2:\n" << log2);
  CHECK_THAT(log1, Catch::Contains("refused \"n2\"")
                     && Catch::Contains("wrong cluster secret")
                     && Catch::Contains("cluster did not form"));
  CHECK_THAT(log1, !Catch::Contains("cluster ready"));
  CHECK_THAT(log2, Catch::Contains("refused \"n1\"")
                     && Catch::Contains("cluster did not form"));
}

TEST_CASE("cluster: a program embedding keel joins as a node and serves "
          "events through the cluster") {
  temp_dir dir;
  auto ports = scenarios::free_ports(3);
  REQUIRE(ports);
  auto doc = base_doc();
  doc["topology"]["nodes"] = json::array({"n1", "n2", "n3"});
  doc["topology"]["apps"] = json::parse(
    R"([{"name": "counter", "model": "n_way", "copies": 3, "partitions": 6}])");
  for (size_t i = 0; i < 3; ++i)
    doc["cluster"]["endpoints"]["n" + std::to_string(i + 1)]
      = "127.0.0.1:" + std::to_string((*ports)[i]);
  doc["cluster"]["secret"] = "the-right-secret-0001";
  doc["cluster"]["startup_timeout_ms"] = 10000;
  auto file = dir.path + "/cluster.json";
  {
    std::ofstream out{file};
    out << doc.dump(2);
  }
  scenarios::node_processes procs{KEEL_BINARY, dir.path, "unused-unused-0",
                                  now_ns()};
  REQUIRE(procs.start("n1", file).empty());
  REQUIRE(procs.start("n2", file).empty());
  auto log = dir.path + "/embed.log";
  auto cmd = std::string{"timeout 60 '"} + CLUSTER_EMBED_BINARY + "' '" + file
             + "' n3 50 > '" + log + "' 2>&1";
  auto status = std::system(cmd.c_str());
  INFO(slurp(log));
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK_THAT(slurp(log), Catch::Contains("joined 2 peers")
                           && Catch::Contains("50 of 50 events acknowledged"));
  CHECK_THAT(slurp(procs.log_path("n1")),
             Catch::Contains("cluster ready (3 nodes"));
}

#include <catch2/catch.hpp>

#include "actors/system_controller/controller_state.hpp"

using namespace keel;
using namespace std::chrono_literals;

namespace {

system_config config(std::vector<node_id> nodes,
                     std::vector<app_config> apps) {
  system_config cfg;
  cfg.nodes = std::move(nodes);
  cfg.apps = std::move(apps);
  return cfg;
}

app_config app(std::string name, redundancy_model model, uint32_t copies,
               uint32_t partitions, uint32_t standbys = 1) {
  app_config a{app_name{name}, name, model, copies, partitions};
  a.standby_copies = standbys;
  a.standbys_per_partition = standbys;
  return a;
}

const node_id& node_of(const controller_state& st, const copy_id& c) {
  return st.find(c)->node;
}

/// Every partition: its standbys are on other nodes than its active.
void check_separation(const controller_state& st) {
  for (auto& [key, part] : st.partitions()) {
    REQUIRE(part.active);
    for (auto& sb : part.standbys) {
      INFO(key.first << " partition " << key.second);
      CHECK(node_of(st, sb) != node_of(st, *part.active));
      CHECK(sb != *part.active);
    }
  }
}

const auto t0 = restart_window::time_point{} + 100s;

} // namespace

TEST_CASE("controller_state: 2n puts every partition active on copy 0 and "
          "standby on copy 1 - on another node") {
  controller_state st{config({"n1", "n2", "n3"},
                             {app("journal", redundancy_model::two_n, 2, 8)})};
  st.plan_activation();
  for (auto& [key, part] : st.partitions()) {
    CHECK(part.epoch == 1);
    CHECK(part.active == copy_id{"journal", 0});
    CHECK(part.standbys == std::vector<copy_id>{copy_id{"journal", 1}});
  }
  check_separation(st);
}

TEST_CASE("controller_state: active and standby never share a node when "
          "another node exists - in every model") {
  auto cfg = config({"n1", "n2", "n3", "n4"},
                    {app("a", redundancy_model::two_n, 2, 8),
                     app("b", redundancy_model::n_plus_m, 4, 12, 1),
                     app("c", redundancy_model::n_way, 3, 9, 2),
                     app("d", redundancy_model::n_way, 6, 12, 1)});
  controller_state st{cfg};
  st.plan_activation();
  check_separation(st);
  // n_way with more copies than nodes still finds other-node standbys.
  controller_state crowded{config(
    {"n1", "n2"}, {app("e", redundancy_model::n_way, 4, 8, 1)})};
  crowded.plan_activation();
  check_separation(crowded);
}

TEST_CASE("controller_state: n_plus_m never makes a dedicated standby copy "
          "active") {
  controller_state st{config({"n1", "n2", "n3", "n4"},
                             {app("b", redundancy_model::n_plus_m, 4, 12, 1)})};
  st.plan_activation();
  for (auto& [key, part] : st.partitions()) {
    CHECK(part.active->index < 3);
    CHECK(part.standbys.at(0).index == 3);
  }
}

TEST_CASE("controller_state: placement is deterministic") {
  auto cfg = config({"n1", "n2", "n3"},
                    {app("a", redundancy_model::n_way, 3, 16, 1),
                     app("b", redundancy_model::n_way_active, 3, 16)});
  controller_state x{cfg}, y{cfg};
  x.plan_activation();
  y.plan_activation();
  REQUIRE(x.partitions().size() == y.partitions().size());
  for (auto& [key, part] : x.partitions()) {
    auto& other = y.partitions().at(key);
    CHECK(part.active == other.active);
    CHECK(part.standbys == other.standbys);
  }
  for (auto& [id, rec] : x.copies())
    CHECK(rec.node == y.copies().at(id).node);
}

TEST_CASE("controller_state: a failed active is replaced by its standby with "
          "a new epoch and restarted in place as standby") {
  controller_state st{config({"n1", "n2", "n3"},
                             {app("journal", redundancy_model::two_n, 2, 4)})};
  st.plan_activation();
  st.mark_alive({"journal", 0}, "n1");
  st.mark_alive({"journal", 1}, "n2");
  auto plan = st.plan_copy_failure({"journal", 0}, t0);
  CHECK(plan.promotions.size() == 4);
  for (auto& p : plan.promotions) {
    CHECK(p.copy == copy_id{"journal", 1});
    CHECK(p.epoch == 2);
  }
  CHECK(plan.orphaned.empty());
  REQUIRE(plan.restart);
  CHECK(plan.restart->in_place);
  CHECK(plan.restart->node == "n1");
  // A second report of the same failure plans nothing.
  CHECK(st.plan_copy_failure({"journal", 0}, t0).failed.app.empty());
  auto steps = st.rejoin({"journal", 0}, "n1");
  REQUIRE(steps.size() == 4);
  for (auto& s : steps) {
    CHECK(s.new_role == role::standby);
    CHECK(s.active == copy_id{"journal", 1});
    CHECK(s.epoch == 2);
  }
}

TEST_CASE("controller_state: the escalation ladder climbs from restart to "
          "failover to node out of service") {
  auto cfg = config({"n1", "n2", "n3"},
                    {app("a", redundancy_model::two_n, 2, 2),
                     app("b", redundancy_model::two_n, 2, 2),
                     app("c", redundancy_model::two_n, 2, 2)});
  cfg.knobs.copy_restart_max = 2;
  cfg.knobs.copy_restart_period_ms = 10000;
  cfg.knobs.node_failover_max = 1;
  cfg.knobs.node_failover_period_ms = 60000;
  controller_state st{cfg};
  st.plan_activation();
  for (auto& [id, rec] : st.copies())
    st.mark_alive(id, rec.node);
  // a/1 and c/0 share n2 (placement continues round robin across apps).
  REQUIRE(st.find(copy_id{"a", 1})->node == "n2");
  REQUIRE(st.find(copy_id{"c", 0})->node == "n2");
  auto fail = [&](const copy_id& c, std::chrono::seconds at) {
    auto plan = st.plan_copy_failure(c, t0 + at);
    if (plan.restart)
      st.rejoin(c, plan.restart->node);
    return plan;
  };
  // Rung 1: two restarts in place.
  for (int i = 0; i < 2; ++i) {
    auto plan = fail({"a", 1}, std::chrono::seconds{i});
    CHECK(plan.escalation == "restart");
    REQUIRE(plan.restart);
    CHECK(plan.restart->in_place);
    CHECK(plan.restart->node == "n2");
  }
  // Rung 2: the third failure within the period moves the copy away.
  auto moved = fail({"a", 1}, std::chrono::seconds{2});
  CHECK(moved.escalation == "failover");
  REQUIRE(moved.restart);
  CHECK_FALSE(moved.restart->in_place);
  CHECK(moved.restart->node != "n2");
  // c/0 on the same node: restarts, then its failover is the node's second
  // within the period: n2 leaves service.
  fail({"c", 0}, std::chrono::seconds{3});
  fail({"c", 0}, std::chrono::seconds{4});
  auto out = fail({"c", 0}, std::chrono::seconds{5});
  CHECK(out.escalation == "node_out_of_service");
  REQUIRE(out.node_out_of_service);
  CHECK(*out.node_out_of_service == "n2");
  REQUIRE(out.restart);
  CHECK(out.restart->node != "n2");
  CHECK_FALSE(st.node_usable("n2"));
  CHECK(st.node_alive("n2"));  // still running, just not used
  CHECK_FALSE(st.replacement_node(copy_id{"b", 0}) == node_id{"n2"});
}

TEST_CASE("controller_state: with every other node gone a copy past its "
          "intensity stays down") {
  auto cfg = config({"n1", "n2"},
                    {app("journal", redundancy_model::two_n, 2, 2)});
  cfg.knobs.copy_restart_max = 0;
  controller_state st{cfg};
  st.plan_activation();
  st.mark_alive({"journal", 0}, "n1");
  st.mark_alive({"journal", 1}, "n2");
  st.mark_node_failed("n1");
  auto plan = st.plan_copy_failure({"journal", 1}, t0);
  CHECK(plan.escalation == "failover");
  CHECK_FALSE(plan.restart);
}

TEST_CASE("controller_state: copies of a failed node are replaced on another "
          "node - away from their peers") {
  controller_state st{config({"n1", "n2", "n3"},
                             {app("journal", redundancy_model::two_n, 2, 4)})};
  st.plan_activation();
  st.mark_alive({"journal", 0}, "n1");
  st.mark_alive({"journal", 1}, "n2");
  auto lost = st.mark_node_failed("n2");
  REQUIRE(lost == std::vector<copy_id>{copy_id{"journal", 1}});
  auto plan = st.plan_copy_failure({"journal", 1}, t0);
  CHECK(plan.promotions.empty());  // it was standby everywhere
  CHECK(plan.lost_standbys.size() == 4);
  REQUIRE(plan.restart);
  CHECK_FALSE(plan.restart->in_place);
  CHECK(plan.restart->node == "n3");
}

TEST_CASE("controller_state: with no standby left - partitions wait for the "
          "restarted copy - which becomes active with a new epoch") {
  controller_state st{config({"n1", "n2"},
                             {app("solo", redundancy_model::no_redundancy, 1,
                                  3)})};
  st.plan_activation();
  st.mark_alive({"solo", 0}, "n1");
  auto plan = st.plan_copy_failure({"solo", 0}, t0);
  CHECK(plan.promotions.empty());
  CHECK(plan.orphaned.size() == 3);
  auto steps = st.rejoin({"solo", 0}, "n1");
  REQUIRE(steps.size() == 3);
  for (auto& s : steps) {
    CHECK(s.new_role == role::active);
    CHECK(s.epoch == 2);
  }
}

TEST_CASE("controller_state: after a copy is gone for good its partitions "
          "get standbys again from the live copies") {
  auto cfg = config({"n1", "n2", "n3", "n4"},
                    {app("w", redundancy_model::n_way, 4, 8, 1)});
  cfg.knobs.copy_restart_max = 0;
  controller_state st{cfg};
  st.plan_activation();
  for (auto& [id, rec] : st.copies())
    st.mark_alive(id, rec.node);
  // Copy 3 fails and every other node already hosts a copy of the app:
  // it is failed over to one of them (n_way allows two on a node).
  st.mark_node_failed("n4");
  auto plan = st.plan_copy_failure({"w", 3}, t0);
  CHECK(plan.escalation.empty());  // its node failed: not the copy's fault
  // Pretend it could not be placed: its standby roles must move.
  auto additions = st.restore_redundancy("w");
  for (auto& [key, part] : st.partitions()) {
    INFO("partition " << key.second);
    CHECK(part.standbys.size() >= 1);
    for (auto& sb : part.standbys) {
      CHECK(sb != *part.active);
    }
  }
  CHECK_FALSE(additions.empty());
  // Nothing more to do the second time.
  CHECK(st.restore_redundancy("w").empty());
}

TEST_CASE("controller_state: orphaned partitions are not given to a copy on "
          "a node already declared failed - whose own recovery is queued") {
  // Two nodes cut off at once: the recovery of the first one's copy runs
  // while the second one's copy is still alive in the plan.
  controller_state st{config({"n1", "n2", "n3", "n4", "n5"},
                             {app("spread", redundancy_model::n_way_active,
                                  3, 6)})};
  st.plan_activation();
  for (auto& [id, rec] : st.copies())
    st.mark_alive(id, rec.node);
  copy_id first{"spread", 0};
  copy_id second{"spread", 2};
  copy_id survivor{"spread", 1};
  REQUIRE(node_of(st, first) != node_of(st, second));
  REQUIRE(node_of(st, survivor) != node_of(st, second));
  st.mark_node_failed(node_of(st, first), true);
  st.mark_node_failed(node_of(st, second), true);
  auto plan = st.plan_copy_failure(first, t0);
  CHECK(plan.promotions.empty());  // n_way_active: no standbys
  REQUIRE_FALSE(plan.orphaned.empty());
  auto steps = st.reassign_orphans("spread");
  REQUIRE(steps.size() == plan.orphaned.size());
  for (auto& s : steps) {
    INFO("partition " << s.key.second);
    CHECK(st.find(s.key)->active == survivor);
  }
}

TEST_CASE("controller_state: n_plus_m restores a lost standby on a "
          "dedicated standby copy first") {
  auto cfg = config({"n1", "n2", "n3", "n4", "n5"},
                    {app("b", redundancy_model::n_plus_m, 5, 6, 2)});
  controller_state st{cfg};
  st.plan_activation();
  for (auto& [id, rec] : st.copies())
    st.mark_alive(id, rec.node);
  // Copies 3 and 4 are the dedicated standbys; lose copy 3 for good.
  st.mark_node_failed(st.find(copy_id{"b", 3})->node);
  st.plan_copy_failure({"b", 3}, t0);
  for (auto& add : st.restore_redundancy("b"))
    CHECK(add.standby == copy_id{"b", 4});
  for (auto& [key, part] : st.partitions()) {
    REQUIRE(part.standbys.size() >= 1);
    CHECK(part.active->index < 3);
  }
}

TEST_CASE("controller_state: n_plus_m hands a partition back from the "
          "dedicated standby once its active copy is back (failback)") {
  controller_state st{config({"n1", "n2", "n3", "n4"},
                             {app("b", redundancy_model::n_plus_m, 4, 6, 1)})};
  st.plan_activation();
  for (auto& [id, rec] : st.copies())
    st.mark_alive(id, rec.node);
  auto plan = st.plan_copy_failure({"b", 0}, t0);
  REQUIRE_FALSE(plan.promotions.empty());
  for (auto& p : plan.promotions)
    CHECK(p.copy == copy_id{"b", 3});  // the dedicated standby takes over
  controller_state::partition_key key = plan.promotions.front().key;
  CHECK_FALSE(st.failback_needed(key, copy_id{"b", 0}));  // not back yet
  st.rejoin({"b", 0}, plan.restart->node);
  CHECK(st.failback_needed(key, copy_id{"b", 0}));
  auto so = st.plan_switchover(key);
  REQUIRE(so.error.empty());
  CHECK(so.from == copy_id{"b", 3});
  CHECK(so.to == copy_id{"b", 0});
  st.commit_switchover(so);
  CHECK(st.find(key)->active == copy_id{"b", 0});
  CHECK(st.find(key)->standbys == std::vector<copy_id>{copy_id{"b", 3}});
  CHECK_FALSE(st.failback_needed(key, copy_id{"b", 3}));
  // Other models never fail back.
  controller_state two{config({"n1", "n2"},
                              {app("j", redundancy_model::two_n, 2, 2)})};
  two.plan_activation();
  CHECK_FALSE(two.failback_needed({"j", 0}, copy_id{"j", 1}));
}

TEST_CASE("controller_state: a takeover adopts a replicated assignment and "
          "reconciles it with newer epochs the copies report") {
  auto cfg = config({"n1", "n2", "n3"},
                    {app("j", redundancy_model::n_way, 3, 6, 1)});
  controller_state active{cfg};
  active.plan_activation();
  for (auto& [id, rec] : active.copies())
    active.mark_alive(id, rec.node);
  std::vector<controller_state::adopted_partition> parts;
  for (auto& [key, p] : active.partitions())
    parts.push_back({key, p.epoch, p.active, p.standbys});
  std::vector<controller_state::adopted_copy> copies;
  for (auto& [id, rec] : active.copies())
    copies.push_back({id, rec.node, rec.alive, rec.restarts});
  controller_state standby{cfg};
  standby.adopt(parts, copies, {});
  REQUIRE(standby.partitions().size() == active.partitions().size());
  for (auto& [key, p] : active.partitions()) {
    auto q = standby.find(key);
    REQUIRE(q);
    CHECK(q->epoch == p.epoch);
    CHECK(q->active == p.active);
    CHECK(q->standbys == p.standbys);
  }
  CHECK(standby.promotable(copy_id{"j", 1}));
  // A promotion the replication missed: partition 0's standby became active
  // in epoch 2. The standby controller learns it from the copy.
  auto key = controller_state::partition_key{"j", 0};
  auto before = *standby.find(key);
  REQUIRE_FALSE(before.standbys.empty());
  auto promoted = before.standbys.front();
  standby.reconcile(key, promoted, role::active, before.epoch + 1);
  auto after = *standby.find(key);
  CHECK(after.epoch == before.epoch + 1);
  CHECK(after.active == promoted);
  CHECK(std::find(after.standbys.begin(), after.standbys.end(), promoted)
        == after.standbys.end());
  CHECK(std::find(after.standbys.begin(), after.standbys.end(), *before.active)
        != after.standbys.end());
  // Older or equal reports change nothing.
  standby.reconcile(key, *before.active, role::active, before.epoch);
  CHECK(standby.find(key)->active == promoted);
  CHECK(standby.find(key)->epoch == before.epoch + 1);
  // A later failure plans from the adopted state: the node failed.
  auto gone = standby.mark_node_failed(standby.find(promoted)->node);
  CHECK(std::find(gone.begin(), gone.end(), promoted) != gone.end());
}

namespace {

/// n_way, 3 copies on 3 nodes, one standby per partition; all alive.
controller_state three_way() {
  controller_state st{config({"n1", "n2", "n3"},
                             {app("journal", redundancy_model::n_way, 3, 3)})};
  st.plan_activation();
  for (uint32_t c = 0; c < 3; ++c)
    st.mark_alive({"journal", c}, node_id{"n" + std::to_string(c + 1)});
  return st;
}

/// The promotion `plan` makes for `key`: which copy, which epoch.
std::optional<std::pair<copy_id, epoch_t>>
promotion_of(const controller_state::failover_plan& plan,
             const controller_state::partition_key& key) {
  for (auto& p : plan.promotions)
    if (p.key == key)
      return std::make_pair(p.copy, p.epoch);
  return std::nullopt;
}

} // namespace

TEST_CASE("controller_state: the successor a route names holds the next epoch, "
          "every other epoch change of the partition skips it") {
  auto st = three_way();
  controller_state::partition_key key{"journal", 0};
  auto part = *st.find(key);
  REQUIRE(part.active);
  REQUIRE(part.standbys.size() == 1);
  auto first = part.standbys.front();
  auto next = st.successor(key);
  REQUIRE(next);
  CHECK(next->first == first);
  CHECK(next->second == 2);
  // Asked again, the same answer (the routes are sent many times).
  CHECK(st.successor(key) == next);
  // The active promoted again (a takeover, a reinstatement) skips epoch 2.
  CHECK(st.bump_epoch(key) == 3);
  // The successor's own promotion after the active fails keeps its epoch.
  auto st2 = three_way();
  auto active = *st2.find(key)->active;
  auto successor = st2.successor(key)->first;
  auto promoted = promotion_of(st2.plan_copy_failure(active, t0), key);
  REQUIRE(promoted);
  CHECK(promoted->first == successor);
  CHECK(promoted->second == 2);
}

TEST_CASE("controller_state: a promotion that cannot go to the named successor "
          "takes epoch + 2, and no route names a second successor for the "
          "reserved epoch") {
  auto st = three_way();
  controller_state::partition_key key{"journal", 0};
  auto active = *st.find(key)->active;
  auto successor = st.successor(key)->first;
  // The successor's node fails: it is no longer promotable, and another copy
  // becomes the partition's standby.
  st.mark_node_failed(st.find(successor)->node, false);
  st.plan_copy_failure(successor, t0);
  for (auto& add : st.restore_redundancy("journal"))
    (void)add;
  auto part = *st.find(key);
  REQUIRE(part.standbys.size() == 1);
  auto other = part.standbys.front();
  CHECK(other != successor);
  // Epoch 2 stays blocked (the old successor may still be promoted to it by
  // a distributor that saw the old route): the new standby gets epoch 3.
  auto again = st.successor(key);
  REQUIRE(again);
  CHECK(again->first == other);
  CHECK(again->second == 3);
  auto promoted = promotion_of(st.plan_copy_failure(active, t0), key);
  REQUIRE(promoted);
  CHECK(promoted->first == other);
  CHECK(promoted->second == 3);
}

TEST_CASE("controller_state: no successor where a partition keeps more than "
          "one standby or none") {
  controller_state st{config(
    {"n1", "n2", "n3", "n4"},
    {app("wide", redundancy_model::n_way, 4, 2, 2),
     app("flat", redundancy_model::n_way_active, 2, 2, 0)})};
  st.plan_activation();
  for (uint32_t c = 0; c < 4; ++c)
    st.mark_alive({"wide", c}, node_id{"n" + std::to_string(c + 1)});
  for (uint32_t c = 0; c < 2; ++c)
    st.mark_alive({"flat", c}, node_id{"n" + std::to_string(c + 1)});
  CHECK_FALSE(st.successor({"wide", 0}));
  CHECK_FALSE(st.successor({"flat", 0}));
}

TEST_CASE("controller_state: a restarted successor never gets the epoch its "
          "failed incarnation held") {
  controller_state st{config({"n1", "n2", "n3"},
                             {app("journal", redundancy_model::two_n, 2, 1)})};
  st.plan_activation();
  st.mark_alive({"journal", 0}, "n1");
  st.mark_alive({"journal", 1}, "n2");
  controller_state::partition_key key{"journal", 0};
  auto named = st.successor(key);
  REQUIRE(named);
  CHECK(named->first == copy_id{"journal", 1});
  CHECK(named->second == 2);
  // The standby fails and comes back (a new incarnation) as standby.
  st.plan_copy_failure({"journal", 1}, t0);
  auto steps = st.rejoin({"journal", 1}, "n2");
  REQUIRE(steps.size() == 1);
  CHECK(steps[0].new_role == role::standby);
  auto renamed = st.successor(key);
  REQUIRE(renamed);
  CHECK(renamed->second == 3);
  // The active fails: the new incarnation is promoted past epoch 2.
  auto plan = st.plan_copy_failure({"journal", 0}, t0);
  REQUIRE(plan.promotions.size() == 1);
  CHECK(plan.promotions[0].copy == copy_id{"journal", 1});
  CHECK(plan.promotions[0].epoch == 3);
}

#include "scenarios/engine/scenario.hpp"

#include <algorithm>

#include "runtime/error.hpp"
#include "runtime/json_reader.hpp"

namespace keel::scenarios {

const std::vector<std::string>& check_names() {
  static const std::vector<std::string> names{
    "no_lost_acknowledged", "no_duplicates", "per_key_order",
    "single_active", "recovered_within_ms", "all_partitions_active",
    "all_answered", "detected_within_ms", "no_unexpected_failures",
    "escalation_ladder", "switchovers_completed", "forwards_exactly_once",
    "redundancy_restored_within_ms", "restarted_nodes_used",
    "minority_self_fenced", "takeover_within_ms"};
  return names;
}

class step_reader {
public:
  json_object_reader obj;
};

std::string join_names(const std::vector<std::string>& xs) {
  std::string result;
  for (auto& x : xs)
    result += (result.empty() ? "" : ", ") + x;
  return result;
}

namespace {

workload_spec read_workload(const json& value, const std::string& path,
                            const system_config& sys) {
  json_object_reader obj{value, path};
  workload_spec w;
  auto app_text = obj.optional_string("app", sys.apps.front().name);
  auto found = sys.find_app_named(app_text);
  if (!found)
    throw json_path_error(obj.path_of("app"),
                          "no application named \"" + app_text
                            + "\" in the topology");
  w.app = found->name;
  w.clients = static_cast<uint32_t>(obj.optional_uint("clients", 4, 1, 1000));
  w.rate_per_s = obj.optional_double("rate_per_s", 1000, 0, 10'000'000);
  w.keys = static_cast<uint32_t>(obj.optional_uint("keys", 64, 1, 10'000'000));
  w.duration_ms = static_cast<uint32_t>(
    obj.optional_uint("duration_ms", 4000, 1, 24u * 3600 * 1000));
  w.request_timeout_ms = static_cast<uint32_t>(
    obj.optional_uint("request_timeout_ms", 10000, 1, 3'600'000));
  w.max_in_flight = static_cast<uint32_t>(
    obj.optional_uint("max_in_flight", 10000, 1, 10'000'000));
  if (auto p = obj.optional("payload")) {
    if (!p->is_object())
      throw json_path_error(obj.path_of("payload"),
                            "expected an object, got " + describe_json(*p));
    w.payload = *p;
  }
  auto ingress = obj.optional_string("ingress", "request");
  if (ingress != "request" && ingress != "batch")
    throw json_path_error(obj.path_of("ingress"),
                          "expected \"request\" or \"batch\", got \""
                            + ingress + "\"");
  w.batch = ingress == "batch";
  obj.finish({"app", "clients", "rate_per_s", "keys", "duration_ms",
              "request_timeout_ms", "max_in_flight", "payload", "ingress"});
  return w;
}

/// The copy a copy step targets: {app, which: active_of|standby_of with
/// partition, or copy with copy}.
void read_copy_target(step_reader& in, step_spec& s, const scenario& sc) {
  auto& obj = in.obj;
  auto app_text = obj.required_string("app");
  auto app = sc.system.find_app_named(app_text);
  if (!app)
    throw json_path_error(obj.path_of("app"),
                          "no application named \"" + app_text + "\"");
  s.app = app->name;
  s.which = obj.optional_string("which", "active_of");
  if (s.which == "active_of" || s.which == "standby_of") {
    s.partition = static_cast<partition_id>(
      obj.required_uint("partition", 0, app->partitions - 1));
  } else if (s.which == "copy") {
    s.copy = static_cast<uint32_t>(
      obj.required_uint("copy", 0, app->copies - 1));
  } else {
    throw json_path_error(obj.path_of("which"),
                          "expected one of active_of, standby_of, copy, got "
                          "\""
                            + s.which + "\"");
  }
}

void read_slow_copy(step_reader& in, step_spec& s, const scenario& sc) {
  read_copy_target(in, s, sc);
  s.delay_ms = static_cast<uint32_t>(
    in.obj.required_uint("delay_ms", 1, 3'600'000));
}

node_id read_node(step_reader& in, const scenario& sc) {
  auto& obj = in.obj;
  auto& nodes = sc.system.nodes;
  auto node = read_name(obj.required("node"), obj.path_of("node"));
  if (std::find(nodes.begin(), nodes.end(), node) == nodes.end())
    throw json_path_error(obj.path_of("node"),
                          "no node named \"" + node + "\" in the topology");
  return node;
}

void read_flap_node(step_reader& in, step_spec& s, const scenario& sc) {
  s.node = read_node(in, sc);
  s.interval_ms = static_cast<uint32_t>(
    in.obj.required_uint("interval_ms", 1, 3'600'000));
  s.until_ms = static_cast<uint32_t>(
    in.obj.required_uint("until_ms", s.at_ms, sc.workload.duration_ms));
}

void read_switchover(step_reader& in, step_spec& s, const scenario& sc) {
  auto& obj = in.obj;
  auto app_text = obj.required_string("app");
  auto app = sc.system.find_app_named(app_text);
  if (!app)
    throw json_path_error(obj.path_of("app"),
                          "no application named \"" + app_text + "\"");
  s.app = app->name;
  if (app->model == redundancy_model::no_redundancy
      || app->model == redundancy_model::n_way_active)
    throw json_path_error(obj.path_of("app"),
                          "model " + to_string(app->model)
                            + " has no standby to switch over to");
  if (obj.has("partition") == obj.has("copy"))
    throw json_path_error(obj.path(), "give exactly one of partition (one "
                                      "partition) or copy (every partition "
                                      "it is active for)");
  if (obj.has("partition")) {
    s.which = "partition";
    s.partition = static_cast<partition_id>(
      obj.required_uint("partition", 0, app->partitions - 1));
  } else {
    s.which = "copy";
    s.copy = static_cast<uint32_t>(
      obj.required_uint("copy", 0, app->copies - 1));
  }
}

void read_crash_node(step_reader& in, step_spec& s, const scenario& sc) {
  auto& obj = in.obj;
  auto& nodes = sc.system.nodes;
  s.node = read_name(obj.required("node"), obj.path_of("node"));
  if (std::find(nodes.begin(), nodes.end(), s.node) == nodes.end())
    throw json_path_error(obj.path_of("node"),
                          "no node named \"" + s.node + "\" in the topology");
}

/// A list of distinct topology node names at `key`.
std::vector<node_id> read_node_list(step_reader& in, const scenario& sc,
                                    const char* key) {
  auto& obj = in.obj;
  auto& value = obj.required(key);
  auto path = obj.path_of(key);
  if (!value.is_array())
    throw json_path_error(path, "expected an array of node names, got "
                                  + describe_json(value));
  std::vector<node_id> result;
  auto& nodes = sc.system.nodes;
  for (size_t i = 0; i < value.size(); ++i) {
    auto at = path + "[" + std::to_string(i) + "]";
    auto node = read_name(value[i], at);
    if (std::find(nodes.begin(), nodes.end(), node) == nodes.end())
      throw json_path_error(at, "no node named \"" + node
                                  + "\" in the topology");
    if (std::find(result.begin(), result.end(), node) != result.end())
      throw json_path_error(at, "node \"" + node + "\" is listed twice");
    result.push_back(std::move(node));
  }
  return result;
}

uint32_t read_for_ms(step_reader& in) {
  return static_cast<uint32_t>(
    in.obj.optional_uint("for_ms", 0, 0, 24u * 3600 * 1000));
}

void read_partition(step_reader& in, step_spec& s, const scenario& sc) {
  s.nodes = read_node_list(in, sc, "nodes");
  if (s.nodes.empty() || s.nodes.size() >= sc.system.nodes.size())
    throw json_path_error(in.obj.path_of("nodes"),
                          "expected the nodes on one side: at least one "
                          "and not all of them");
  s.for_ms = read_for_ms(in);
}

void read_heal(step_reader&, step_spec&, const scenario&) {
  // No fields: every partition heals.
}

void read_link(step_reader& in, step_spec& s, const scenario& sc) {
  s.nodes = read_node_list(in, sc, "nodes");
  if (s.nodes.size() != 2)
    throw json_path_error(in.obj.path_of("nodes"),
                          "expected the link's two ends: [\"n1\", \"n2\"]");
  s.for_ms = read_for_ms(in);
}

void read_delay_link(step_reader& in, step_spec& s, const scenario& sc) {
  read_link(in, s, sc);
  s.delay_ms = static_cast<uint32_t>(
    in.obj.required_uint("delay_ms", 0, 60'000));
  s.jitter_ms = static_cast<uint32_t>(
    in.obj.optional_uint("jitter_ms", 0, 0, 60'000));
}

void read_drop_link(step_reader& in, step_spec& s, const scenario& sc) {
  read_link(in, s, sc);
  if (!in.obj.has("probability"))
    throw json_path_error(in.obj.path_of("probability"),
                          "missing: the loss probability per message, "
                          "0 < p <= 1");
  s.probability = in.obj.optional_double("probability", 0, 0, 1);
  if (s.probability <= 0)
    throw json_path_error(in.obj.path_of("probability"),
                          "expected a loss probability 0 < p <= 1");
}

void read_hang_node(step_reader& in, step_spec& s, const scenario& sc) {
  s.node = read_node(in, sc);
  s.for_ms = read_for_ms(in);
}

void read_resume_node(step_reader& in, step_spec& s, const scenario& sc) {
  s.node = read_node(in, sc);
}

void read_overload(step_reader& in, step_spec& s, const scenario&) {
  s.events = static_cast<uint32_t>(
    in.obj.required_uint("events", 1, 10'000'000));
}

step_spec read_step(const json& value, const std::string& path,
                    const scenario& sc) {
  step_reader in{json_object_reader{value, path}};
  step_spec s;
  s.at_ms = static_cast<uint32_t>(
    in.obj.required_uint("at_ms", 0, sc.workload.duration_ms));
  s.kind = in.obj.required_string("do");
  auto& kinds = step_kinds();
  auto kind = std::find_if(kinds.begin(), kinds.end(),
                           [&](auto& k) { return s.kind == k.name; });
  if (kind == kinds.end()) {
    std::vector<std::string> names;
    for (auto& k : kinds)
      names.emplace_back(k.name);
    throw json_path_error(in.obj.path_of("do"), "unknown step \"" + s.kind
                                                  + "\" (known steps: "
                                                  + join_names(names) + ")");
  }
  kind->read(in, s, sc);
  auto fields = kind->fields;
  fields.insert(fields.begin(), {"at_ms", "do"});
  in.obj.finish(fields);
  return s;
}

check_spec read_check(const json& value, const std::string& path) {
  check_spec c;
  auto& names = check_names();
  if (value.is_string()) {
    c.name = value.get<std::string>();
    if (c.name == "recovered_within_ms" || c.name == "detected_within_ms"
        || c.name == "redundancy_restored_within_ms"
        || c.name == "takeover_within_ms")
      throw json_path_error(path, c.name + " needs a bound: {\"" + c.name
                                    + "\": 500}");
  } else if (value.is_object() && value.size() == 1) {
    c.name = value.begin().key();
    if (c.name != "recovered_within_ms" && c.name != "detected_within_ms"
        && c.name != "redundancy_restored_within_ms"
        && c.name != "takeover_within_ms")
      throw json_path_error(path, "only recovered_within_ms, "
                                  "detected_within_ms, takeover_within_ms "
                                  "and redundancy_restored_within_ms take a "
                                  "value; write \""
                                    + c.name + "\" as a plain string");
    auto& bound = value.begin().value();
    if (!bound.is_number() || bound.get<double>() <= 0)
      throw json_path_error(path + "." + c.name,
                            "expected a positive number of milliseconds, got "
                              + describe_json(bound));
    c.bound_ms = bound.get<double>();
  } else {
    throw json_path_error(path, "expected a check name or "
                                "{\"recovered_within_ms\": N}, got "
                                  + describe_json(value));
  }
  if (std::find(names.begin(), names.end(), c.name) == names.end())
    throw json_path_error(path, "unknown check \"" + c.name
                                  + "\" (known checks: " + join_names(names) + ")");
  return c;
}

} // namespace

const std::vector<step_kind>& step_kinds() {
  static const std::vector<step_kind> kinds{
    {"kill_copy",
     "kill one copy (exit_reason::kill); which: active_of|standby_of "
     "(with partition) or copy (with copy index)",
     read_copy_target,
     {"app", "which", "partition", "copy"}},
    {"hang_copy",
     "make one copy stop handling anything (no replies, no progress); "
     "targets like kill_copy",
     read_copy_target,
     {"app", "which", "partition", "copy"}},
    {"slow_copy",
     "make one copy answer health checks delay_ms late (slow but alive); "
     "targets like kill_copy",
     read_slow_copy,
     {"app", "which", "partition", "copy", "delay_ms"}},
    {"crash_node",
     "kill every actor of a logical node (--mode process: kill -9 its "
     "process)",
     read_crash_node,
     {"node"}},
    {"switchover",
     "planned switchover: move the active role of one partition (or of "
     "every partition a copy is active for) to its standby",
     read_switchover,
     {"app", "partition", "copy"}},
    {"flap_node",
     "kill every copy on a node (they crash, restart, crash again) every "
     "interval_ms until until_ms: climbs the escalation ladder",
     read_flap_node,
     {"node", "interval_ms", "until_ms"}},
    {"partition",
     "cut the listed nodes off from the others (both ways) until a heal, "
     "or for for_ms",
     read_partition,
     {"nodes", "for_ms"}},
    {"heal", "end every partition", read_heal, {}},
    {"delay_link",
     "add delay_ms (plus up to jitter_ms, order kept) to every message "
     "between two nodes, for for_ms or until the end",
     read_delay_link,
     {"nodes", "delay_ms", "jitter_ms", "for_ms"}},
    {"drop_link",
     "lose each message between two nodes with the given probability, for "
     "for_ms or until the end",
     read_drop_link,
     {"nodes", "probability", "for_ms"}},
    {"hang_node",
     "stop a node (as SIGSTOP would; --mode process: SIGSTOP): nothing "
     "reaches or leaves it until resume_node (SIGCONT), or for for_ms; then "
     "what queued is delivered",
     read_hang_node,
     {"node", "for_ms"}},
    {"resume_node", "resume a hung node", read_resume_node, {"node"}},
    {"restart_node",
     "--mode process only: start a crashed node's process again; it "
     "rejoins the cluster and gets copies back",
     read_resume_node,
     {"node"}},
    {"overload",
     "a burst of `events` extra events at once, far above capacity: "
     "answered or refused (overloaded), never lost",
     read_overload,
     {"events"}},
  };
  return kinds;
}

caf::expected<scenario> parse_scenario(const json& doc,
                                       const std::string& origin) {
  try {
    scenario sc;
    sc.origin = origin;
    json_object_reader obj{doc, "$"};
    sc.title = obj.optional_string("title", origin);
    sc.seed = obj.optional_uint("seed", 1, 0, UINT64_MAX);
    read_topology(obj.required("topology"), obj.path_of("topology"),
                  sc.system);
    if (auto t = obj.optional("tuning"))
      read_tuning(*t, obj.path_of("tuning"), sc.system.knobs);
    sc.workload = read_workload(obj.optional("workload")
                                  ? *obj.optional("workload")
                                  : json::object(),
                                obj.path_of("workload"), sc.system);
    sc.settle_timeout_ms = static_cast<uint32_t>(
      obj.optional_uint("settle_timeout_ms", 10000, 1, 3'600'000));
    if (auto steps = obj.optional("steps")) {
      if (!steps->is_array())
        throw json_path_error(obj.path_of("steps"),
                              "expected an array of steps, got "
                                + describe_json(*steps));
      for (size_t i = 0; i < steps->size(); ++i)
        sc.steps.push_back(read_step((*steps)[i],
                                     obj.path_of("steps") + "["
                                       + std::to_string(i) + "]",
                                     sc));
      std::stable_sort(sc.steps.begin(), sc.steps.end(),
                       [](auto& x, auto& y) { return x.at_ms < y.at_ms; });
    }
    if (auto checks = obj.optional("checks")) {
      if (!checks->is_array())
        throw json_path_error(obj.path_of("checks"),
                              "expected an array of checks, got "
                                + describe_json(*checks));
      for (size_t i = 0; i < checks->size(); ++i)
        sc.checks.push_back(read_check((*checks)[i], obj.path_of("checks")
                                                       + "["
                                                       + std::to_string(i)
                                                       + "]"));
    }
    obj.optional("fuzz");  // read by keel scenario fuzz (fuzz.hpp)
    obj.finish({"title", "seed", "topology", "tuning", "workload",
                "settle_timeout_ms", "steps", "checks", "fuzz"});
    // The journal-based checks read the workload app's final state.
    auto app = sc.system.find_app(sc.workload.app);
    bool needs_journal = std::any_of(
      sc.checks.begin(), sc.checks.end(), [](auto& c) {
        return c.name == "no_lost_acknowledged" || c.name == "no_duplicates"
               || c.name == "per_key_order";
      });
    if (needs_journal && app->type != "journal")
      throw json_path_error("$.workload.app",
                            "checks no_lost_acknowledged, no_duplicates and "
                            "per_key_order read the final state of a journal "
                            "application, but \""
                              + app->name + "\" has type \"" + app->type
                              + "\"");
    return sc;
  } catch (const json_path_error& e) {
    return make_error(error_code::invalid_config, origin + ": " + e.what());
  }
}

caf::expected<scenario> load_scenario(const std::string& file) {
  auto doc = read_json_file(file);
  if (!doc)
    return doc.error();
  return parse_scenario(*doc, file);
}

} // namespace keel::scenarios

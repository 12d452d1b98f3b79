#include "scenarios/engine/fuzz.hpp"

#include <algorithm>
#include <map>
#include <utility>

#include "runtime/error.hpp"
#include "runtime/json_reader.hpp"
#include "runtime/random.hpp"

namespace keel::scenarios {

// -- the fuzz section ---------------------------------------------------------

const std::vector<std::string>& fuzzable_kinds() {
  static const std::vector<std::string> kinds{
    // Copy and node faults, and planned operations.
    "kill_copy", "hang_copy", "slow_copy", "crash_node", "switchover",
    // Network and node faults (simulation): undone after for_ms.
    "partition", "delay_link", "drop_link", "hang_node", "overload"};
  return kinds;
}

namespace {

/// Kinds that last for_ms and are then undone by the driver.
bool is_undone(const std::string& kind) {
  return kind == "partition" || kind == "delay_link" || kind == "drop_link"
         || kind == "hang_node";
}

bool has_standbys(const app_config& app) {
  return app.model == redundancy_model::two_n
         || app.model == redundancy_model::n_plus_m
         || app.model == redundancy_model::n_way;
}

/// Why `kind` can never be drawn for `sc`, or empty.
std::string infeasible(const std::string& kind, const scenario& sc,
                       const fuzz_spec& f) {
  auto nodes = sc.system.nodes.size();
  if (kind == "crash_node" && f.crash_nodes_max == 0)
    return nodes < 3 ? "needs at least 3 nodes: crashed nodes stay fewer "
                       "than half, and the first node is never crashed"
                     : "crash_nodes_max is 0";
  if (kind == "partition" && nodes < 3)
    return "needs at least 3 nodes: the side cut off is fewer than half of "
           "them";
  if ((kind == "delay_link" || kind == "drop_link") && nodes < 2)
    return "needs at least 2 nodes";
  if (kind == "hang_node" && nodes < 3)
    return "needs at least 3 nodes: a hung node is fewer than half of them";
  if (kind == "switchover"
      && std::none_of(sc.system.apps.begin(), sc.system.apps.end(),
                      has_standbys))
    return "no application has a standby to switch over to (models 2n, "
           "n_plus_m, n_way)";
  return {};
}

void read_kinds(const json& value, const std::string& path,
                const scenario& sc, fuzz_spec& f) {
  if (!value.is_object())
    throw json_path_error(path, "expected an object of step kinds and "
                                "relative weights, e.g. {\"kill_copy\": 2, "
                                "\"crash_node\": 1}, got "
                                  + describe_json(value));
  auto& fuzzable = fuzzable_kinds();
  std::map<std::string, uint32_t> weights;
  for (auto& [name, weight] : value.items()) {
    auto at = path + "." + name;
    if (std::find(fuzzable.begin(), fuzzable.end(), name) == fuzzable.end()) {
      auto& known = step_kinds();
      bool is_step = std::any_of(known.begin(), known.end(),
                                 [&](auto& k) { return name == k.name; });
      throw json_path_error(at, (is_step ? "step \"" + name
                                             + "\" is not drawn by the fuzzer"
                                         : "unknown step kind \"" + name
                                             + "\"")
                                  + " (it draws: " + join_names(fuzzable) + ")");
    }
    auto w = static_cast<uint32_t>(read_uint(weight, at, 0, 1000));
    if (w == 0)
      continue;
    if (auto why = infeasible(name, sc, f); !why.empty())
      throw json_path_error(at, why);
    weights[name] = w;
  }
  for (auto& kind : fuzzable)
    if (auto i = weights.find(kind); i != weights.end())
      f.kinds.push_back({kind, i->second});
  if (f.kinds.empty())
    throw json_path_error(path, "expected at least one kind with a weight "
                                "above 0");
}

void read_fault_ms(const json& value, const std::string& path,
                   fuzz_spec& f) {
  if (!value.is_array() || value.size() != 2)
    throw json_path_error(path, "expected [min, max]: how long a partition, "
                                "link fault or hung node lasts, in ms; got "
                                  + describe_json(value));
  f.fault_min_ms = static_cast<uint32_t>(
    read_uint(value[0], path + "[0]", 1, 3'600'000));
  f.fault_max_ms = static_cast<uint32_t>(
    read_uint(value[1], path + "[1]", f.fault_min_ms, 3'600'000));
}

fuzz_spec read_fuzz(const json& value, const std::string& path,
                    const scenario& sc) {
  json_object_reader obj{value, path};
  fuzz_spec f;
  auto duration = sc.workload.duration_ms;
  auto latest_end = duration > fuzz_liveness_margin_ms
                      ? duration - fuzz_liveness_margin_ms
                      : 0;
  f.faults = static_cast<uint32_t>(obj.optional_uint("faults", 4, 1, 1000));
  f.from_ms = static_cast<uint32_t>(
    obj.optional_uint("from_ms", 500, 0, latest_end));
  auto default_until = duration - std::min(duration,
                                           std::max(fuzz_liveness_margin_ms,
                                                    duration / 4));
  f.until_ms = static_cast<uint32_t>(
    obj.optional_uint("until_ms", std::max(default_until, f.from_ms), 0,
                      UINT32_MAX));
  if (f.until_ms > latest_end)
    throw json_path_error(obj.path_of("until_ms"),
                          "expected at most " + std::to_string(latest_end)
                            + ": faults stop at least "
                            + std::to_string(fuzz_liveness_margin_ms)
                            + " ms before the workload ends (workload."
                              "duration_ms "
                            + std::to_string(duration)
                            + ") so that recovery shows; got "
                            + std::to_string(f.until_ms));
  if (f.until_ms < f.from_ms)
    throw json_path_error(obj.path_of("until_ms"),
                          "expected at least from_ms ("
                            + std::to_string(f.from_ms) + "), got "
                            + std::to_string(f.until_ms));
  f.min_gap_ms = static_cast<uint32_t>(
    obj.optional_uint("min_gap_ms", 200, 0, 3'600'000));
  if (auto v = obj.optional("fault_ms"))
    read_fault_ms(*v, obj.path_of("fault_ms"), f);
  auto nodes = static_cast<uint32_t>(sc.system.nodes.size());
  auto crash_limit = nodes > 0 ? (nodes - 1) / 2 : 0;
  f.crash_nodes_max = static_cast<uint32_t>(obj.optional_uint(
    "crash_nodes_max", std::min(1u, crash_limit), 0, crash_limit));
  read_kinds(obj.required("kinds"), obj.path_of("kinds"), sc, f);
  obj.finish({"faults", "from_ms", "until_ms", "min_gap_ms", "kinds",
              "fault_ms", "crash_nodes_max"});
  // The starts, min_gap_ms apart, must fit before the latest start.
  bool undone = std::any_of(f.kinds.begin(), f.kinds.end(),
                            [](auto& k) { return is_undone(k.kind); });
  auto latest_start = int64_t{f.until_ms} - (undone ? f.fault_min_ms : 0);
  auto span = int64_t{f.min_gap_ms} * (f.faults - 1);
  if (f.from_ms + span > latest_start)
    throw json_path_error(obj.path_of("faults"),
                          std::to_string(f.faults) + " faults "
                            + std::to_string(f.min_gap_ms)
                            + " ms apart do not fit between from_ms ("
                            + std::to_string(f.from_ms) + ") and "
                            + (undone ? "until_ms minus the shortest "
                                        "fault_ms ("
                                      : "until_ms (")
                            + std::to_string(latest_start) + ")");
  return f;
}

} // namespace

caf::expected<fuzz_spec> parse_fuzz_spec(const json& value,
                                         const std::string& path,
                                         const scenario& sc) {
  try {
    return read_fuzz(value, path, sc);
  } catch (const json_path_error& e) {
    return make_error(error_code::invalid_config, sc.origin + ": " + e.what());
  }
}

// -- generation ---------------------------------------------------------------

namespace {

/// Kinds that take copies away (kill, hang, crash, cut off) or move roles.
/// They come one at a time, each min_gap_ms after the previous one's effect
/// ended, so that each is a single failure the system must survive: two
/// copies of a 2n application down at once lose state by design.
bool takes_copies(const std::string& kind) {
  return kind != "delay_link" && kind != "drop_link" && kind != "overload";
}

/// What the faults drawn so far left behind, as seen at the next start.
class fault_world {
public:
  fault_world(const scenario& sc, const fuzz_spec& spec, random_source& rng)
    : sc_(sc), spec_(spec), rng_(rng) {
    auto& knobs = sc.system.knobs;
    detection_ms_ = knobs.health_check_interval_ms
                    * (knobs.health_check_misses + 1);
  }

  /// Draws one fault starting at `at`, or nothing if no kind fits then.
  std::optional<json> draw(uint32_t at) {
    now_ = at;
    uint64_t total = 0;
    for (auto& k : spec_.kinds)
      if (fits(k.kind))
        total += k.weight;
    if (total == 0)
      return std::nullopt;
    auto pick = rng_.below(total);
    for (auto& k : spec_.kinds) {
      if (!fits(k.kind))
        continue;
      if (pick < k.weight)
        return make(k.kind);
      pick -= k.weight;
    }
    return std::nullopt;  // unreachable
  }

  /// The next time after the last draw's at which a kind that did not fit
  /// may fit; none if waiting does not help (e.g. crash_nodes_max reached).
  std::optional<uint32_t> next_change() const {
    std::optional<uint32_t> result;
    auto consider = [&](uint32_t t) {
      if (t > now_ && (!result || t < *result))
        result = t;
    };
    consider(copies_quiet_at_);
    for (auto& link : link_until_)
      consider(link.second);
    return result;
  }

private:
  // -- state ------------------------------------------------------------------

  bool crashed(const node_id& n) const {
    return std::find(crashed_.begin(), crashed_.end(), n) != crashed_.end();
  }

  /// Would `extra` more unavailable nodes leave a majority up?
  bool majority_left(size_t extra) const {
    return 2 * (crashed_.size() + extra) < sc_.system.nodes.size();
  }

  /// Nodes not crashed, in topology order.
  std::vector<node_id> live(bool include_first) const {
    std::vector<node_id> result;
    auto& nodes = sc_.system.nodes;
    for (size_t i = include_first ? 0 : 1; i < nodes.size(); ++i)
      if (!crashed(nodes[i]))
        result.push_back(nodes[i]);
    return result;
  }

  std::vector<std::pair<node_id, node_id>> free_links() const {
    auto nodes = live(true);
    std::vector<std::pair<node_id, node_id>> result;
    for (size_t i = 0; i < nodes.size(); ++i)
      for (size_t j = i + 1; j < nodes.size(); ++j) {
        auto link = std::make_pair(nodes[i], nodes[j]);
        auto busy = link_until_.find(link);
        if (busy == link_until_.end() || busy->second <= now_)
          result.push_back(link);
      }
    return result;
  }

  bool fits(const std::string& kind) const {
    if (takes_copies(kind) && now_ < copies_quiet_at_)
      return false;
    if (kind == "crash_node")
      return crashed_.size() < spec_.crash_nodes_max && majority_left(1)
             && !live(false).empty();
    if (kind == "partition" || kind == "hang_node")
      return majority_left(1);
    if (kind == "delay_link" || kind == "drop_link")
      return !free_links().empty();
    return true;
  }

  // -- drawing ----------------------------------------------------------------

  uint32_t between(uint32_t lo, uint32_t hi) {
    return lo + static_cast<uint32_t>(rng_.below(uint64_t{hi} - lo + 1));
  }

  uint32_t draw_for_ms() {
    auto hi = std::min(spec_.fault_max_ms, spec_.until_ms - now_);
    return between(spec_.fault_min_ms, std::max(hi, spec_.fault_min_ms));
  }

  template <class T>
  const T& one_of(const std::vector<T>& xs) {
    return xs[rng_.below(xs.size())];
  }

  json make(const std::string& kind) {
    json step{{"at_ms", now_}, {"do", kind}};
    // Until when the fault keeps copies away: a hung or too slow copy until
    // health checks must have found it, a cut-off or hung node for for_ms.
    uint32_t busy_until = now_;
    auto& apps = sc_.system.apps;
    if (kind == "kill_copy" || kind == "hang_copy" || kind == "slow_copy") {
      auto& app = one_of(apps);
      step["app"] = app.name;
      // Mostly a partition's active, where a fault hurts most.
      auto which = rng_.below(4);
      if (which < 2 || (which == 2 && !has_standbys(app))) {
        step["which"] = "active_of";
        step["partition"] = rng_.below(app.partitions);
      } else if (which == 2) {
        step["which"] = "standby_of";
        step["partition"] = rng_.below(app.partitions);
      } else {
        step["which"] = "copy";
        step["copy"] = rng_.below(app.copies);
      }
      if (kind == "slow_copy") {
        // Within a health check round (slow but alive) or past it
        // (declared hung): both must be handled.
        auto interval = sc_.system.knobs.health_check_interval_ms;
        step["delay_ms"] = between(1, std::max(2 * interval, 2u));
      }
      if (kind != "kill_copy")
        busy_until = now_ + detection_ms_;
    } else if (kind == "crash_node") {
      auto node = one_of(live(false));
      crashed_.push_back(node);
      step["node"] = node;
    } else if (kind == "switchover") {
      std::vector<const app_config*> candidates;
      for (auto& app : apps)
        if (has_standbys(app))
          candidates.push_back(&app);
      auto& app = *one_of(candidates);
      step["app"] = app.name;
      step["partition"] = rng_.below(app.partitions);
    } else if (kind == "partition") {
      // A minority side: with the crashed nodes, fewer than half.
      auto nodes = live(true);
      size_t most = 1;
      while (most < nodes.size() && majority_left(most + 1))
        ++most;
      auto size = 1 + rng_.below(most);
      for (size_t i = 0; i < size; ++i)  // partial Fisher-Yates
        std::swap(nodes[i], nodes[i + rng_.below(nodes.size() - i)]);
      nodes.resize(size);
      std::vector<node_id> side;
      for (auto& n : sc_.system.nodes)  // topology order, for readers
        if (std::find(nodes.begin(), nodes.end(), n) != nodes.end())
          side.push_back(n);
      auto for_ms = draw_for_ms();
      step["nodes"] = side;
      step["for_ms"] = for_ms;
      busy_until = now_ + for_ms;
    } else if (kind == "hang_node") {
      auto for_ms = draw_for_ms();
      step["node"] = one_of(live(true));
      step["for_ms"] = for_ms;
      busy_until = now_ + for_ms;
    } else if (kind == "delay_link" || kind == "drop_link") {
      auto link = one_of(free_links());
      auto for_ms = draw_for_ms();
      step["nodes"] = {link.first, link.second};
      if (kind == "delay_link") {
        auto delay = between(1, 200);
        step["delay_ms"] = delay;
        step["jitter_ms"] = between(0, delay / 2);
      } else {
        step["probability"] = between(1, 10) / 20.0;  // 0.05 .. 0.5
      }
      step["for_ms"] = for_ms;
      link_until_[link] = now_ + for_ms;
    } else if (kind == "overload") {
      // A quarter of a second's to two seconds' worth of load at once.
      auto rate = static_cast<uint32_t>(
        std::min(sc_.workload.rate_per_s, 1'000'000.0));
      step["events"] = between(std::max(rate / 4, 1u),
                               std::max(2 * rate, 1u));
    }
    if (takes_copies(kind))
      copies_quiet_at_ = busy_until + spec_.min_gap_ms;
    return step;
  }

  const scenario& sc_;
  const fuzz_spec& spec_;
  random_source& rng_;
  uint32_t detection_ms_ = 0;
  uint32_t now_ = 0;
  /// No fault that takes copies away starts before this.
  uint32_t copies_quiet_at_ = 0;
  std::vector<node_id> crashed_;
  std::map<std::pair<node_id, node_id>, uint32_t> link_until_;
};

} // namespace

std::vector<json> generate_faults(const scenario& sc, const fuzz_spec& spec,
                                  uint64_t seed) {
  // Its own stream: the run uses `seed` itself for the workload and the
  // interleaving.
  random_source rng{seed ^ 0x66757a7a5f666175ull};
  // Proposed starts: uniform among the placements min_gap_ms apart in
  // [from_ms, latest] (sorted offsets plus i gaps). A start at which no
  // kind fits moves (with all later ones) to when one may.
  bool undone = std::any_of(spec.kinds.begin(), spec.kinds.end(),
                            [](auto& k) { return is_undone(k.kind); });
  uint64_t latest = spec.until_ms - (undone ? spec.fault_min_ms : 0);
  uint64_t span = uint64_t{spec.min_gap_ms} * (spec.faults - 1);
  uint64_t slack = latest - spec.from_ms - span;  // >= 0: validated
  std::vector<uint64_t> offsets;
  for (uint32_t i = 0; i < spec.faults; ++i)
    offsets.push_back(rng.below(slack + 1));
  std::sort(offsets.begin(), offsets.end());
  fault_world world{sc, spec, rng};
  std::vector<json> result;
  uint64_t shift = 0;
  for (uint32_t i = 0; i < spec.faults; ++i) {
    auto at = spec.from_ms + offsets[i] + uint64_t{spec.min_gap_ms} * i
              + shift;
    std::optional<json> step;
    while (at <= latest && !(step = world.draw(static_cast<uint32_t>(at)))) {
      auto next = world.next_change();
      if (!next)
        break;
      shift += *next - at;
      at = *next;
    }
    if (!step)
      break;  // nothing fits any more before the latest start
    result.push_back(std::move(*step));
  }
  return result;
}

json fuzz_document(const json& doc, const std::vector<json>& faults,
                   uint64_t seed) {
  auto result = doc;
  result.erase("fuzz");
  result["seed"] = seed;
  std::vector<json> steps;
  if (auto own = doc.find("steps"); own != doc.end() && own->is_array())
    steps.assign(own->begin(), own->end());
  steps.insert(steps.end(), faults.begin(), faults.end());
  std::stable_sort(steps.begin(), steps.end(), [](auto& x, auto& y) {
    return x.at("at_ms").template get<uint64_t>()
           < y.at("at_ms").template get<uint64_t>();
  });
  result["steps"] = steps;
  return result;
}

// -- loading ------------------------------------------------------------------

caf::expected<fuzzable_scenario> parse_fuzzable_scenario(json doc,
                                                         const std::string& origin) {
  fuzzable_scenario result;
  // parse_scenario admits the key "fuzz" but reads nothing of it: the
  // section is validated here, against the scenario without it.
  auto rest = doc;
  if (rest.is_object())
    rest.erase("fuzz");
  auto sc = parse_scenario(rest, origin);
  if (!sc)
    return sc.error();
  result.sc = std::move(*sc);
  if (doc.is_object() && doc.contains("fuzz")) {
    auto spec = parse_fuzz_spec(doc["fuzz"], "$.fuzz", result.sc);
    if (!spec)
      return spec.error();
    result.fuzz = std::move(*spec);
  }
  result.doc = std::move(doc);
  return result;
}

caf::expected<fuzzable_scenario> load_fuzzable_scenario(const std::string& file) {
  auto doc = read_json_file(file);
  if (!doc)
    return doc.error();
  return parse_fuzzable_scenario(std::move(*doc), file);
}

} // namespace keel::scenarios

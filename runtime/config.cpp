#include "runtime/config.hpp"

#include <algorithm>
#include <set>

#include "runtime/error.hpp"
#include "runtime/json_reader.hpp"

namespace keel {

const std::vector<knob_info>& knobs() {
  static const std::vector<knob_info> result{
#define KEEL_KNOB_INFO(type, name, def, min, max, help)                        \
  knob_info{#name, def, min, max, help},
    KEEL_TUNING_KNOBS(KEEL_KNOB_INFO)
#undef KEEL_KNOB_INFO
  };
  return result;
}

const app_config* system_config::find_app(const app_name& name) const {
  for (auto& app : apps)
    if (app.name == name)
      return &app;
  return nullptr;
}

const app_config* system_config::find_app_named(std::string_view text) const {
  auto name = symbol::find(text);
  return name ? find_app(*name) : nullptr;
}

namespace {

void validate_app(const app_config& app, const std::string& path) {
  auto fail = [&](const std::string& key, const std::string& what) {
    throw json_path_error(path + "." + key, what);
  };
  switch (app.model) {
    case redundancy_model::two_n:
      if (app.copies != 2)
        fail("copies", "model 2n needs exactly 2 copies, got "
                         + std::to_string(app.copies));
      break;
    case redundancy_model::n_plus_m:
      if (app.standby_copies < 1 || app.standby_copies >= app.copies)
        fail("standby_copies", "model n_plus_m needs 1 <= standby_copies < "
                               "copies ("
                                 + std::to_string(app.copies) + "), got "
                                 + std::to_string(app.standby_copies));
      break;
    case redundancy_model::n_way:
      if (app.copies < 2)
        fail("copies", "model n_way needs at least 2 copies");
      if (app.standbys_per_partition < 1
          || app.standbys_per_partition >= app.copies)
        fail("standbys_per_partition",
             "model n_way needs 1 <= standbys_per_partition < copies ("
               + std::to_string(app.copies) + "), got "
               + std::to_string(app.standbys_per_partition));
      break;
    default:
      break;
  }
}

} // namespace

void read_topology(const json& value, const std::string& path,
                   system_config& out) {
  json_object_reader obj{value, path};
  auto& nodes = obj.required("nodes");
  auto nodes_path = obj.path_of("nodes");
  if (!nodes.is_array() || nodes.empty() || nodes.size() > 1024)
    throw json_path_error(nodes_path, "expected an array of 1-1024 node names, "
                                      "got "
                                        + describe_json(nodes));
  out.nodes.clear();
  for (size_t i = 0; i < nodes.size(); ++i) {
    auto item_path = nodes_path + "[" + std::to_string(i) + "]";
    auto name = read_name(nodes[i], item_path);
    if (std::find(out.nodes.begin(), out.nodes.end(), name) != out.nodes.end())
      throw json_path_error(item_path, "duplicate node name \"" + name + "\"");
    out.nodes.push_back(std::move(name));
  }
  auto& apps = obj.required("apps");
  auto apps_path = obj.path_of("apps");
  if (!apps.is_array() || apps.empty() || apps.size() > 256)
    throw json_path_error(apps_path, "expected an array of 1-256 application "
                                     "objects, got "
                                       + describe_json(apps));
  out.apps.clear();
  for (size_t i = 0; i < apps.size(); ++i) {
    auto item_path = apps_path + "[" + std::to_string(i) + "]";
    json_object_reader app_obj{apps[i], item_path};
    app_config app;
    app.name = read_name(app_obj.required("name"), app_obj.path_of("name"));
    if (out.find_app(app.name))
      throw json_path_error(app_obj.path_of("name"),
                            "duplicate application name \"" + app.name + "\"");
    app.type = app_obj.optional_string("type", app.name);
    auto model_text = app_obj.required_string("model");
    auto model = parse_redundancy_model(model_text);
    if (!model)
      throw json_path_error(app_obj.path_of("model"),
                            "expected one of no_redundancy, 2n, n_plus_m, "
                            "n_way, n_way_active, got \""
                              + model_text + "\"");
    app.model = *model;
    app.copies = static_cast<uint32_t>(app_obj.required_uint("copies", 1, 64));
    app.partitions = static_cast<uint32_t>(
      app_obj.required_uint("partitions", 1, 4096));
    app.standby_copies = static_cast<uint32_t>(
      app_obj.optional_uint("standby_copies", 1, 0, 63));
    app.standbys_per_partition = static_cast<uint32_t>(
      app_obj.optional_uint("standbys_per_partition", 1, 0, 63));
    app_obj.finish({"name", "type", "model", "copies", "partitions",
                    "standby_copies", "standbys_per_partition"});
    validate_app(app, item_path);
    out.apps.push_back(std::move(app));
  }
  obj.finish({"nodes", "apps"});
}

void read_tuning(const json& value, const std::string& path, tuning& out) {
  json_object_reader obj{value, path};
#define KEEL_READ_KNOB(type, name, def, min, max, help)                        \
  out.name = static_cast<type>(obj.optional_uint(#name, out.name, min, max));
  KEEL_TUNING_KNOBS(KEEL_READ_KNOB)
#undef KEEL_READ_KNOB
  std::vector<std::string> known;
  for (auto& k : knobs())
    known.emplace_back(k.name);
  obj.finish(known);
  // A retention log that fills before the first snapshot could be taken
  // would refuse every event for good.
  if (out.retention_max <= out.snapshot_interval_events)
    throw json_path_error(obj.path_of("retention_max"),
                          "must exceed snapshot_interval_events ("
                            + std::to_string(out.snapshot_interval_events)
                            + "), got " + std::to_string(out.retention_max));
  // A copy rebuilt from a snapshot replays up to snapshot_interval_events
  // events through its handler; the app-to-app sends they cause again are
  // recognised as duplicates only within the receiver's dedupe window.
  if (out.dedupe_window <= out.snapshot_interval_events)
    throw json_path_error(obj.path_of("dedupe_window"),
                          "must exceed snapshot_interval_events ("
                            + std::to_string(out.snapshot_interval_events)
                            + "): a copy rebuilt from a snapshot replays up "
                              "to that many events, and the app-to-app "
                              "events they send again are recognised as "
                              "duplicates only within the window; got "
                            + std::to_string(out.dedupe_window));
}

caf::expected<system_config> parse_system_config(const json& doc) {
  try {
    system_config result;
    json_object_reader obj{doc, "$"};
    read_topology(obj.required("topology"), obj.path_of("topology"), result);
    if (auto t = obj.optional("tuning"))
      read_tuning(*t, obj.path_of("tuning"), result.knobs);
    obj.finish({"topology", "tuning"});
    return result;
  } catch (const json_path_error& e) {
    return make_error(error_code::invalid_config, e.what());
  }
}

json to_json(const system_config& config) {
  json apps = json::array();
  for (auto& app : config.apps)
    apps.push_back(json{{"name", app.name},
                        {"type", app.type},
                        {"model", to_string(app.model)},
                        {"copies", app.copies},
                        {"partitions", app.partitions},
                        {"standby_copies", app.standby_copies},
                        {"standbys_per_partition",
                         app.standbys_per_partition}});
  json tuning = json::object();
#define KEEL_KNOB_TO_JSON(type, name, def, min, max, help)                     \
  tuning[#name] = config.knobs.name;
  KEEL_TUNING_KNOBS(KEEL_KNOB_TO_JSON)
#undef KEEL_KNOB_TO_JSON
  return json{{"topology", json{{"nodes", config.nodes}, {"apps", apps}}},
              {"tuning", tuning}};
}

caf::expected<system_config> load_system_config(const std::string& file) {
  auto doc = read_json_file(file);
  if (!doc)
    return doc.error();
  auto result = parse_system_config(*doc);
  if (!result)
    return make_error(error_code::invalid_config,
                      file + ": " + context_of(result.error()));
  return result;
}

} // namespace keel

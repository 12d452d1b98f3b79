#include "runtime/cluster_config.hpp"

#include <algorithm>
#include <cstdlib>

#include "runtime/error.hpp"
#include "runtime/json_reader.hpp"

namespace keel {

std::string to_string(const endpoint& x) {
  return x.host + ":" + std::to_string(x.port);
}

namespace {

endpoint read_endpoint(const json& value, const std::string& path) {
  if (!value.is_string())
    throw json_path_error(path, "expected \"host:port\", got "
                                  + describe_json(value));
  auto text = value.get<std::string>();
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
    throw json_path_error(path, "expected \"host:port\", got \"" + text
                                  + "\"");
  endpoint result;
  result.host = text.substr(0, colon);
  auto port_text = text.substr(colon + 1);
  char* end = nullptr;
  auto port = std::strtoul(port_text.c_str(), &end, 10);
  if (*end != '\0' || port == 0 || port > 65535)
    throw json_path_error(path, "expected a port in [1, 65535] after ':', "
                                "got \"" + port_text + "\"");
  result.port = static_cast<uint16_t>(port);
  return result;
}

} // namespace

caf::expected<cluster_config> parse_cluster_config(const json& doc) {
  try {
    cluster_config result;
    json_object_reader obj{doc, "$"};
    read_topology(obj.required("topology"), obj.path_of("topology"),
                  result.system);
    if (auto t = obj.optional("tuning"))
      read_tuning(*t, obj.path_of("tuning"), result.system.knobs);
    json_object_reader cl{obj.required("cluster"), obj.path_of("cluster")};
    obj.finish({"topology", "tuning", "cluster"});
    json_object_reader eps{cl.required("endpoints"),
                           cl.path_of("endpoints")};
    for (auto& node : result.system.nodes) {
      if (!eps.has(node))
        throw json_path_error(eps.path(), "no endpoint for node \"" + node
                                            + "\" (every node of "
                                              "$.topology.nodes needs one)");
      result.endpoints[node] = read_endpoint(eps.required(node),
                                             eps.path_of(node));
    }
    std::vector<std::string> known(result.system.nodes.begin(),
                                   result.system.nodes.end());
    eps.finish(known);
    bool has_secret = cl.has("secret");
    bool has_env = cl.has("secret_env");
    if (has_secret == has_env)
      throw json_path_error(cl.path(), "expected exactly one of \"secret\" "
                                       "and \"secret_env\"");
    if (has_secret) {
      result.secret = cl.required_string("secret");
      result.secret_origin = cl.path_of("secret");
    } else {
      auto var = cl.required_string("secret_env");
      auto value = std::getenv(var.c_str());
      if (value == nullptr)
        throw json_path_error(cl.path_of("secret_env"),
                              "environment variable " + var + " is not set");
      result.secret = value;
      result.secret_origin = "environment variable " + var;
    }
    if (result.secret.size() < cluster_secret_min)
      throw json_path_error(has_secret ? cl.path_of("secret")
                                       : cl.path_of("secret_env"),
                            "the cluster secret (" + result.secret_origin
                              + ") must have at least "
                              + std::to_string(cluster_secret_min)
                              + " characters");
    result.startup_timeout_ms = static_cast<uint32_t>(
      cl.optional_uint("startup_timeout_ms", 10000, 100, 3600000));
    auto& nodes = result.system.nodes;
    if (auto standby = cl.optional("control_standby")) {
      if (!standby->is_null()) {
        auto path = cl.path_of("control_standby");
        auto name = read_name(*standby, path);
        if (std::find(nodes.begin(), nodes.end(), name) == nodes.end())
          throw json_path_error(path, "no node named \"" + name
                                        + "\" in $.topology.nodes");
        if (name == nodes.front())
          throw json_path_error(path, "\"" + name
                                        + "\" is the control node itself; "
                                          "name another node (or null: none)");
        result.control_standby = name;
      }
    } else if (nodes.size() >= 3) {
      result.control_standby = nodes[1];
    }
    cl.finish({"endpoints", "secret", "secret_env", "startup_timeout_ms",
               "control_standby"});
    return result;
  } catch (const json_path_error& e) {
    return make_error(error_code::invalid_config, e.what());
  }
}

caf::expected<cluster_config> load_cluster_config(const std::string& file) {
  auto doc = read_json_file(file);
  if (!doc)
    return doc.error();
  auto result = parse_cluster_config(*doc);
  if (!result)
    return make_error(error_code::invalid_config,
                      file + ": " + context_of(result.error()));
  return result;
}

} // namespace keel

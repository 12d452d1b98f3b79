#include "runtime/type_registry.hpp"

#include "runtime/error.hpp"
#include "runtime/event.hpp"
#include "runtime/supervisor.hpp"

namespace keel {

void register_runtime_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<symbol>("keel_symbol");
  cfg.add_message_type<copy_id>("keel_copy_id");
  cfg.add_message_type<json_value>("keel_json");
  cfg.add_message_type<event>("keel_event");
  cfg.add_message_type<event_reply>("keel_event_reply");
  cfg.add_message_type<event_result>("keel_event_result");
  cfg.add_message_type<event_results>("keel_event_results");
  cfg.add_message_type<result_sink_actor>("keel_result_sink_actor");
  cfg.add_message_type<event_batch>("keel_event_batch");
  cfg.add_message_type<child_info>("keel_child_info");
  cfg.add_message_type<std::vector<child_info>>("keel_child_infos");
  cfg.add_error_category(error_category, [](uint8_t code, caf::atom_value,
                                            const caf::message& ctx) {
    return render(caf::error{code, error_category, ctx});
  });
}

} // namespace keel

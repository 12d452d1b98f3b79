// The load_manager actor: see load_manager_interface.hpp. It keeps the
// latest report of each copy (bounded by the number of copies: a report
// replaces the previous one of the same copy).
#pragma once

#include <map>

#include "actors/load_manager/load_manager_interface.hpp"
#include "runtime/context.hpp"

namespace keel {

struct load_manager_state {
  context_ptr ctx;
  std::map<copy_id, load_report> latest;
  static inline const char* name = "keel.load_manager";
};

using load_manager_pointer
  = load_manager_actor::stateful_pointer<load_manager_state>;

load_manager_actor::behavior_type load_manager_impl(load_manager_pointer self,
                                                    context_ptr ctx);

} // namespace keel

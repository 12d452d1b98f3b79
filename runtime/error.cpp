#include "runtime/error.hpp"

#include <caf/deep_to_string.hpp>
#include <caf/message.hpp>
#include <caf/exit_reason.hpp>
#include <caf/sec.hpp>

namespace keel {

std::string to_string(error_code x) {
  switch (x) {
    case error_code::none: return "none";
    case error_code::overloaded: return "overloaded";
    case error_code::stale_epoch: return "stale_epoch";
    case error_code::not_active: return "not_active";
    case error_code::unknown_app: return "unknown_app";
    case error_code::invalid_event: return "invalid_event";
    case error_code::app_rejected: return "app_rejected";
    case error_code::unavailable: return "unavailable";
    case error_code::invalid_config: return "invalid_config";
    case error_code::unauthorized: return "unauthorized";
    case error_code::incompatible: return "incompatible";
  }
  return "invalid";
}

caf::error make_error(error_code code, std::string context) {
  if (context.empty())
    return caf::error{static_cast<uint8_t>(code), error_category};
  return caf::error{static_cast<uint8_t>(code), error_category,
                    caf::make_message(std::move(context))};
}

error_code code_of(const caf::error& err) {
  if (!err || err.category() != error_category)
    return error_code::none;
  return static_cast<error_code>(err.code());
}

std::string context_of(const caf::error& err) {
  auto& ctx = err.context();
  if (ctx.empty())
    return {};
  if (ctx.size() == 1 && ctx.match_element<std::string>(0))
    return ctx.get_as<std::string>(0);
  return caf::deep_to_string(ctx);
}

std::string render(const caf::error& err) {
  if (!err)
    return "no error";
  std::string result;
  if (err.category() == error_category)
    result = to_string(static_cast<error_code>(err.code()));
  else if (err.category() == caf::atom("system"))
    result = caf::to_string(static_cast<caf::sec>(err.code()));
  else if (err.category() == caf::atom("exit"))
    result = caf::to_string(static_cast<caf::exit_reason>(err.code()));
  else
    result = caf::to_string(err.category()) + ":" + std::to_string(err.code());
  if (auto ctx = context_of(err); !ctx.empty())
    result += ": " + ctx;
  return result;
}

} // namespace keel

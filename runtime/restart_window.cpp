#include "runtime/restart_window.hpp"

namespace keel {

void restart_window::expire(time_point now) {
  // A restart at t counts while now - t < period (OTP: within MaxT).
  while (!restarts_.empty() && now - restarts_.front() >= period_)
    restarts_.pop_front();
}

bool restart_window::try_restart(time_point now) {
  expire(now);
  if (restarts_.size() >= intensity_)
    return false;
  restarts_.push_back(now);
  return true;
}

size_t restart_window::recent(time_point now) {
  expire(now);
  return restarts_.size();
}

} // namespace keel

#include "runtime/trace.hpp"

namespace keel {

json trace_event::to_json() const {
  json result = json::object();
  result["t_us"] = t_us;
  result["event"] = name;
  if (fields.is_object())
    for (auto& [key, value] : fields.items())
      result[key] = value;
  return result;
}

void trace_sink::emit(int64_t t_us, std::string name, json fields) {
  trace_event ev{t_us, std::move(name), std::move(fields)};
  std::lock_guard<std::mutex> guard{mtx_};
  if (out_)
    *out_ << ev.to_json().dump() + '\n';  // one write: a kill keeps whole lines
  if (events_.size() < max_events_)
    events_.push_back(std::move(ev));
  else
    ++dropped_;
}

std::vector<trace_event> trace_sink::snapshot() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return events_;
}

std::vector<trace_event> trace_sink::snapshot_from(size_t from) const {
  std::lock_guard<std::mutex> guard{mtx_};
  if (from >= events_.size())
    return {};
  return std::vector<trace_event>(events_.begin() + static_cast<long>(from),
                                  events_.end());
}

size_t trace_sink::size() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return events_.size();
}

size_t trace_sink::dropped() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return dropped_;
}

} // namespace keel

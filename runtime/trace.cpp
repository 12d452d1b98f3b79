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
  stored_event ev{t_us, std::move(name), {}};
  if (fields.is_object() && !fields.empty())
    ev.fields = json::to_msgpack(fields);
  std::lock_guard<std::mutex> guard{mtx_};
  if (out_) {
    trace_event full{ev.t_us, ev.name, std::move(fields)};
    *out_ << full.to_json().dump() + '\n';  // one write: a kill keeps whole lines
  }
  if (events_.size() < max_events_)
    events_.push_back(std::move(ev));
  else
    ++dropped_;
}

trace_event trace_sink::parse(const stored_event& ev) {
  return trace_event{ev.t_us, ev.name,
                     ev.fields.empty() ? json::object()
                                       : json::from_msgpack(ev.fields)};
}

std::vector<trace_event> trace_sink::snapshot() const {
  return snapshot_from(0);
}

std::vector<trace_event> trace_sink::snapshot_from(size_t from) const {
  std::vector<stored_event> kept;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (from < events_.size())
      kept.assign(events_.begin() + static_cast<long>(from), events_.end());
  }
  // Parsed outside the lock: emitters do not wait for a snapshot.
  std::vector<trace_event> result;
  result.reserve(kept.size());
  for (auto& ev : kept)
    result.push_back(parse(ev));
  return result;
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

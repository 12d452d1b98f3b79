// counter: per key, a running sum. The README's example application.
//
// Payload: {"add": <integer>} (default 1), optionally {"forward": "<app>"}
// to pass the event on to another application with the same key.
// Reply: {"value": <sum after this event>}.
// A non-integer "add" is rejected (the client gets app_rejected).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "apps/api/application.hpp"

namespace keel::apps {

class counter : public application {
public:
  reply handle(const event& ev, app_context& ctx) override {
    int64_t add = 1;
    auto& payload = ev.payload.value;
    if (payload.is_object()) {
      if (auto i = payload.find("add"); i != payload.end()) {
        if (!i->is_number_integer())
          return reply::reject("payload.add must be an integer");
        add = i->get<int64_t>();
      }
      if (auto fwd = payload.find("forward");
          fwd != payload.end() && fwd->is_string()) {
        auto next = payload;
        next.erase("forward");
        ctx.send(fwd->get<std::string>(), ev.key, std::move(next));
      }
    }
    auto& sum = sums_[ev.key];
    sum += add;
    return reply::accept(json{{"value", sum}});
  }

  json snapshot() const override {
    return json(sums_);
  }

  void restore(const json& state) override {
    sums_.clear();
    if (!state.is_null())
      sums_ = state.get<std::map<std::string, int64_t>>();
  }

private:
  std::map<std::string, int64_t> sums_;
};

} // namespace keel::apps

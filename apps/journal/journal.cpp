#include "apps/journal/journal.hpp"

namespace keel::apps {

reply journal::handle(const event& ev, app_context& ctx) {
  if (total_ >= max_entries)
    return reply::reject("journal full");
  auto& list = entries_[ev.key];
  list.emplace_back(ev.client_id, ev.request_id);
  ++total_;
  auto& payload = ev.payload.value;
  if (payload.is_object()) {
    auto fwd = payload.find("forward");
    if (fwd != payload.end() && fwd->is_string()) {
      auto next = payload;
      next.erase("forward");
      ctx.send(fwd->get<std::string>(), ev.key, std::move(next));
    } else if (fwd != payload.end() && fwd->is_array() && !fwd->empty()
               && (*fwd)[0].is_string()) {
      // A chain: the first app gets the event with the rest of the chain.
      auto next = payload;
      auto rest = *fwd;
      rest.erase(rest.begin());
      if (rest.empty())
        next.erase("forward");
      else
        next["forward"] = rest;
      ctx.send((*fwd)[0].get<std::string>(), ev.key, std::move(next));
    }
  }
  return reply::accept(json{{"position", list.size() - 1}});
}

json journal::snapshot() const {
  json keys = json::object();
  for (auto& [key, list] : entries_) {
    json items = json::array();
    for (auto& [client, rid] : list)
      items.push_back(json::array({client, rid}));
    keys[key] = std::move(items);
  }
  return json{{"keys", std::move(keys)}};
}

bool read_journal_snapshot(
  const json& state,
  std::map<std::string, std::vector<journal::entry>>& out) {
  out.clear();
  try {
    for (auto& [key, items] : state.at("keys").items()) {
      auto& list = out[key];
      for (auto& item : items)
        list.emplace_back(item.at(0).get<std::string>(),
                          item.at(1).get<uint64_t>());
    }
    return true;
  } catch (const json::exception&) {
    out.clear();
    return false;
  }
}

void journal::restore(const json& state) {
  std::map<std::string, std::vector<entry>> tmp;
  if (!state.is_null() && !read_journal_snapshot(state, tmp))
    throw std::invalid_argument("journal: malformed snapshot");
  entries_ = std::move(tmp);
  total_ = 0;
  for (auto& [key, list] : entries_)
    total_ += list.size();
}

} // namespace keel::apps

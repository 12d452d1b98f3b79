// journal: the verification application. Per key, it keeps the ordered list
// of applied requests (client id, request id), so that a checker can tell
// from its final state which events were lost, duplicated or reordered.
//
// Payload: ignored, except {"forward": "<app>"}, which also sends the event
// on to that application with the same key (app-to-app traffic), or
// {"forward": ["a", "b", ...]}, which sends it to "a" with the rest of the
// chain, and so on.
// Reply: {"position": n}, the entry's index in its key's list.
// Bounded: at most `max_entries` entries per partition; past it the event
// is rejected ("journal full").
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "apps/api/application.hpp"

namespace keel::apps {

class journal : public application {
public:
  static constexpr size_t max_entries = 4'000'000;

  using entry = std::pair<std::string, uint64_t>;  // client id, request id

  reply handle(const event& ev, app_context& ctx) override;

  json snapshot() const override;

  void restore(const json& state) override;

  const std::map<std::string, std::vector<entry>>& entries() const {
    return entries_;
  }

private:
  std::map<std::string, std::vector<entry>> entries_;
  size_t total_ = 0;
};

/// Reads a journal snapshot into key -> entries. Returns false if malformed.
bool read_journal_snapshot(
  const json& state,
  std::map<std::string, std::vector<journal::entry>>& out);

} // namespace keel::apps

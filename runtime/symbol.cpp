#include "runtime/symbol.hpp"

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

namespace keel {

namespace {

struct name_table {
  std::shared_mutex mtx;
  // Keyed by a view of the rep's own text; reps live as long as the process.
  std::unordered_map<std::string_view, const void*> names;
};

name_table& table() {
  // Never destroyed: names may be used by static objects' destructors.
  static auto* t = new name_table;
  return *t;
}

} // namespace

const symbol::rep& symbol::empty_rep() noexcept {
  // Never destroyed, as the table: static objects' destructors may use it.
  static const rep* r = new rep{std::string{}, std::hash<std::string_view>{}({})};
  return *r;
}

const symbol::rep* symbol::lookup(std::string_view text, size_t size_limit,
                                  size_t count_limit) {
  if (text.empty())
    return &empty_rep();
  auto& t = table();
  {
    std::shared_lock guard{t.mtx};
    auto i = t.names.find(text);
    if (i != t.names.end())
      return static_cast<const rep*>(i->second);
  }
  if (text.size() > size_limit)
    return nullptr;
  std::unique_lock guard{t.mtx};
  auto i = t.names.find(text);
  if (i != t.names.end())
    return static_cast<const rep*>(i->second);
  if (t.names.size() >= count_limit)
    return nullptr;
  auto* r = new rep{std::string{text}, std::hash<std::string_view>{}(text)};
  t.names.emplace(std::string_view{r->text}, r);
  return r;
}

symbol::symbol(std::string_view text)
  : rep_(lookup(text, max_size, max_count)) {
  if (rep_ == nullptr) {
    std::fprintf(stderr,
                 "keel: cannot intern the symbol \"%.64s\" (%zu bytes; the "
                 "table holds %zu of at most %zu names of at most %zu "
                 "bytes): an unvalidated input reached symbol's constructor\n",
                 std::string{text.substr(0, 64)}.c_str(), text.size(),
                 count(), max_count, max_size);
    std::abort();
  }
}

std::optional<symbol> symbol::make(std::string_view text) {
  if (auto r = lookup(text, max_size, max_count))
    return symbol{r};
  return std::nullopt;
}

std::optional<symbol> symbol::find(std::string_view text) {
  if (auto r = lookup(text, 0, 0))
    return symbol{r};
  return std::nullopt;
}

std::optional<symbol> symbol::from_peer(std::string_view text) {
  if (auto r = lookup(text, max_peer_size, max_peer_count))
    return symbol{r};
  return std::nullopt;
}

size_t symbol::count() {
  auto& t = table();
  std::shared_lock guard{t.mtx};
  return t.names.size();
}

} // namespace keel

// keel::symbol: an interned, immutable string, for the names of nodes and
// applications (Erlang's atoms). A symbol is one pointer: copying, comparing for
// equality and hashing cost no string work, and each of the many records an
// idle copy leaves (routes, the controller's, fault manager's and node agent's
// tables: keel bench S1) keeps 8 bytes per symbol instead of a 32-byte string.
//
// Ordering compares the text, never the address, so maps keyed by names
// iterate in the same order in every run (simulations replay from a seed).
//
// The table of names is process-wide, never shrinks and holds at most
// `symbol::max_count` names of at most `symbol::max_size` bytes each. Names
// interned implicitly (from a string) come from validated configuration and
// code; a table filled by anything else is a bug and aborts with a message.
// Input that may carry arbitrary names (a network peer's messages, a client's
// request) goes through `symbol::make` or `symbol::find`, which refuse instead.
//
// Thread safety: names are values; the table is guarded (readers share it).
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include <caf/error.hpp>
#include <caf/meta/load_callback.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/sec.hpp>

namespace keel {

class symbol {
public:
  /// The most names the process keeps, and the longest one (bytes).
  static constexpr size_t max_count = 65536;
  static constexpr size_t max_size = 1024;
  /// What a network peer's message may add (`from_peer`): names as long as
  /// a configuration allows, while the table is less than half full. A
  /// peer that sends garbage names (even before it authenticated: CAF
  /// deserializes first) never takes the room validated input needs.
  static constexpr size_t max_peer_size = 64;
  static constexpr size_t max_peer_count = max_count / 2;

  /// The empty symbol.
  symbol() noexcept : rep_(&empty_rep()) {
  }

  /// Interns `text` (aborts if the table is full or `text` too long: use
  /// `make` for input that has not been validated, `find` for text that
  /// names something that must exist already). Explicit, so that text
  /// never becomes a name unnoticed; a literal converts implicitly (it is
  /// code, not input).
  explicit symbol(std::string_view text);
  explicit symbol(const std::string& text) : symbol(std::string_view{text}) {
  }
  symbol(const char* text) : symbol(std::string_view{text}) {
  }

  /// Interns `text`; none if the table is full or `text` is longer than
  /// `max_size`.
  static std::optional<symbol> make(std::string_view text);

  /// The symbol `text` if it was interned already (never adds one).
  static std::optional<symbol> find(std::string_view text);

  /// The symbol `text`, interned within a peer's limits (see
  /// `max_peer_size`); none if refused.
  static std::optional<symbol> from_peer(std::string_view text);

  /// How many names the table holds.
  static size_t count();

  const std::string& str() const noexcept {
    return rep_->text;
  }
  operator const std::string&() const noexcept {
    return rep_->text;
  }
  operator std::string_view() const noexcept {
    return rep_->text;
  }
  std::string_view view() const noexcept {
    return rep_->text;
  }
  const char* c_str() const noexcept {
    return rep_->text.c_str();
  }
  const char* data() const noexcept {
    return rep_->text.data();
  }
  size_t size() const noexcept {
    return rep_->text.size();
  }
  bool empty() const noexcept {
    return rep_->text.empty();
  }
  size_t hash() const noexcept {
    return rep_->hash;
  }

  int compare(const symbol& other) const noexcept {
    return rep_ == other.rep_ ? 0 : rep_->text.compare(other.rep_->text);
  }
  int compare(std::string_view other) const noexcept {
    return view().compare(other);
  }

  friend bool operator==(const symbol& x, const symbol& y) noexcept {
    return x.rep_ == y.rep_;
  }
  friend bool operator!=(const symbol& x, const symbol& y) noexcept {
    return x.rep_ != y.rep_;
  }
  friend bool operator<(const symbol& x, const symbol& y) noexcept {
    return x.compare(y) < 0;
  }
  friend bool operator>(const symbol& x, const symbol& y) noexcept {
    return y < x;
  }
  friend bool operator<=(const symbol& x, const symbol& y) noexcept {
    return !(y < x);
  }
  friend bool operator>=(const symbol& x, const symbol& y) noexcept {
    return !(x < y);
  }

  // Against plain text (exact overloads: no interning to compare).
  friend bool operator==(const symbol& x, const std::string& y) noexcept {
    return x.view() == y;
  }
  friend bool operator==(const std::string& x, const symbol& y) noexcept {
    return y.view() == x;
  }
  friend bool operator==(const symbol& x, const char* y) noexcept {
    return x.view() == y;
  }
  friend bool operator==(const char* x, const symbol& y) noexcept {
    return y.view() == x;
  }
  friend bool operator==(const symbol& x, std::string_view y) noexcept {
    return x.view() == y;
  }
  friend bool operator==(std::string_view x, const symbol& y) noexcept {
    return y.view() == x;
  }
  friend bool operator!=(const symbol& x, std::string_view y) noexcept {
    return !(x == y);
  }
  friend bool operator!=(std::string_view x, const symbol& y) noexcept {
    return !(x == y);
  }
  friend bool operator!=(const symbol& x, const std::string& y) noexcept {
    return !(x == y);
  }
  friend bool operator!=(const std::string& x, const symbol& y) noexcept {
    return !(x == y);
  }
  friend bool operator!=(const symbol& x, const char* y) noexcept {
    return !(x == y);
  }
  friend bool operator!=(const char* x, const symbol& y) noexcept {
    return !(x == y);
  }

  friend std::string operator+(const symbol& x, const std::string& y) {
    return x.str() + y;
  }
  friend std::string operator+(const std::string& x, const symbol& y) {
    return x + y.str();
  }
  friend std::string operator+(const symbol& x, const char* y) {
    return x.str() + y;
  }
  friend std::string operator+(const char* x, const symbol& y) {
    return x + y.str();
  }
  friend std::string operator+(const symbol& x, char y) {
    return x.str() + y;
  }
  friend std::string operator+(char x, const symbol& y) {
    return x + y.str();
  }
  friend std::string operator+(std::string&& x, const symbol& y) {
    x += y.str();
    return std::move(x);
  }

  friend std::ostream& operator<<(std::ostream& out, const symbol& x) {
    return out << x.str();
  }

private:
  struct rep {
    std::string text;
    size_t hash = 0;
  };

  explicit symbol(const rep* r) noexcept : rep_(r) {
  }

  static const rep& empty_rep() noexcept;

  /// The interned rep of `text`; null if refused. Adds one if `text` is at
  /// most `size_limit` bytes and the table holds fewer than `count_limit`.
  static const rep* lookup(std::string_view text, size_t size_limit,
                           size_t count_limit);

  const rep* rep_;
};

inline std::string to_string(const symbol& x) {
  return x.str();
}

/// nlohmann::json writes a symbol as its text. (No from_json: JSON from
/// outside is validated first, then interned with `symbol::make`.)
template <class Json>
void to_json(Json& j, const symbol& x) {
  j = x.str();
}

/// On the wire a symbol is its text. A peer's message that would add a name
/// beyond a peer's limits (`symbol::from_peer`) fails to deserialize: CAF
/// drops it with the error.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, symbol& x) {
  if constexpr (Inspector::reads_state) {
    auto& text = const_cast<std::string&>(x.str());
    return f(text);
  } else {
    std::string text;
    auto load = [&]() -> caf::error {
      auto n = symbol::from_peer(text);
      if (!n)
        return caf::make_error(caf::sec::invalid_argument,
                               "keel: a peer's name that cannot be interned "
                               "(longer than 64 bytes, or too many names)");
      x = *n;
      return caf::none;
    };
    return f(text, caf::meta::load_callback(load));
  }
}

} // namespace keel

template <>
struct std::hash<keel::symbol> {
  size_t operator()(const keel::symbol& x) const noexcept {
    return x.hash();
  }
};

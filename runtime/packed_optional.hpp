// keel::packed_optional<T>: std::optional's interface, with the flag in T's
// tail padding when T has some ([[no_unique_address]]): an optional copy id
// is 16 bytes instead of 24 (the controller keeps two per partition, keel
// bench S1). T must be default-constructible; an empty one holds T{}.
//
// Thread safety: a value.
#pragma once

#include <optional>
#include <utility>

namespace keel {

template <class T>
class packed_optional {
public:
  packed_optional() = default;
  packed_optional(std::nullopt_t) noexcept {
  }
  packed_optional(T value) : value_(std::move(value)), engaged_(true) {
  }
  packed_optional(const std::optional<T>& x)
    : value_(x ? *x : T{}), engaged_(x.has_value()) {
  }

  packed_optional& operator=(std::nullopt_t) noexcept {
    reset();
    return *this;
  }
  packed_optional& operator=(T value) {
    value_ = std::move(value);
    engaged_ = true;
    return *this;
  }

  bool has_value() const noexcept {
    return engaged_;
  }
  explicit operator bool() const noexcept {
    return engaged_;
  }
  const T& operator*() const noexcept {
    return value_;
  }
  T& operator*() noexcept {
    return value_;
  }
  const T* operator->() const noexcept {
    return &value_;
  }
  T* operator->() noexcept {
    return &value_;
  }
  const T& value() const {
    if (!engaged_)
      throw std::bad_optional_access{};
    return value_;
  }
  T value_or(T fallback) const {
    return engaged_ ? value_ : std::move(fallback);
  }
  void reset() noexcept {
    value_ = T{};
    engaged_ = false;
  }
  operator std::optional<T>() const {
    return engaged_ ? std::optional<T>{value_} : std::nullopt;
  }

  friend bool operator==(const packed_optional& x, const packed_optional& y) {
    return x.engaged_ == y.engaged_ && (!x.engaged_ || x.value_ == y.value_);
  }
  friend bool operator!=(const packed_optional& x, const packed_optional& y) {
    return !(x == y);
  }
  friend bool operator==(const packed_optional& x, const T& y) {
    return x.engaged_ && x.value_ == y;
  }
  friend bool operator==(const T& x, const packed_optional& y) {
    return y == x;
  }
  friend bool operator!=(const packed_optional& x, const T& y) {
    return !(x == y);
  }
  friend bool operator!=(const T& x, const packed_optional& y) {
    return !(y == x);
  }
  // Against std::optional (without these, std::optional's `== U` template
  // would take a packed_optional as a value).
  friend bool operator==(const packed_optional& x, const std::optional<T>& y) {
    return x.engaged_ == y.has_value() && (!x.engaged_ || x.value_ == *y);
  }
  friend bool operator==(const std::optional<T>& x, const packed_optional& y) {
    return y == x;
  }
  friend bool operator!=(const packed_optional& x, const std::optional<T>& y) {
    return !(x == y);
  }
  friend bool operator!=(const std::optional<T>& x, const packed_optional& y) {
    return !(y == x);
  }
  friend bool operator==(const packed_optional& x, std::nullopt_t) noexcept {
    return !x.engaged_;
  }
  friend bool operator!=(const packed_optional& x, std::nullopt_t) noexcept {
    return x.engaged_;
  }

private:
  [[no_unique_address]] T value_{};
  bool engaged_ = false;
};

} // namespace keel

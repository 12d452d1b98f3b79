// A std::deque that allocates nothing until it first holds an element.
//
// libstdc++'s deque allocates its map and one 512-byte node when it is
// constructed, empty or not. keel keeps several per partition (a replica's
// log, log times and pending acks, the distributor's replay buffer and
// retention log, the router's transition buffer) and one per copy (the
// restart window); in an idle copy all of them stay empty, and together they
// were about 4 KiB of the copy's 12 KiB (`keel bench S1`). Once allocated the
// storage is kept, so a buffer that drains and refills on the hot path does
// not allocate per batch.
#pragma once

#include <cstddef>
#include <deque>
#include <memory>
#include <utility>

namespace keel {

template <class T>
class lazy_deque {
public:
  using container = std::deque<T>;
  using value_type = T;
  using iterator = typename container::iterator;
  using const_iterator = typename container::const_iterator;

  lazy_deque() = default;

  lazy_deque(const lazy_deque& other)
    : items_(other.empty() ? nullptr : std::make_unique<container>(*other.items_)) {
  }

  lazy_deque& operator=(const lazy_deque& other) {
    if (this != &other)
      *this = lazy_deque{other};
    return *this;
  }

  lazy_deque(lazy_deque&&) noexcept = default;
  lazy_deque& operator=(lazy_deque&&) noexcept = default;

  bool empty() const noexcept {
    return !items_ || items_->empty();
  }

  size_t size() const noexcept {
    return items_ ? items_->size() : 0;
  }

  // front, back, pop_front and [] require a non-empty deque, as std::deque's.

  T& front() {
    return items_->front();
  }

  const T& front() const {
    return items_->front();
  }

  T& back() {
    return items_->back();
  }

  const T& back() const {
    return items_->back();
  }

  T& operator[](size_t i) {
    return (*items_)[i];
  }

  const T& operator[](size_t i) const {
    return (*items_)[i];
  }

  void push_back(T x) {
    storage().push_back(std::move(x));
  }

  template <class... Ts>
  T& emplace_back(Ts&&... xs) {
    return storage().emplace_back(std::forward<Ts>(xs)...);
  }

  void pop_front() {
    items_->pop_front();
  }

  /// Empties the deque and keeps its storage.
  void clear() noexcept {
    if (items_)
      items_->clear();
  }

  // Value-initialized iterators compare equal (C++14): an unallocated deque
  // is an empty range.

  iterator begin() noexcept {
    return items_ ? items_->begin() : iterator{};
  }

  iterator end() noexcept {
    return items_ ? items_->end() : iterator{};
  }

  const_iterator begin() const noexcept {
    return items_ ? items_->cbegin() : const_iterator{};
  }

  const_iterator end() const noexcept {
    return items_ ? items_->cend() : const_iterator{};
  }

private:
  container& storage() {
    if (!items_)
      items_ = std::make_unique<container>();
    return *items_;
  }

  std::unique_ptr<container> items_;
};

} // namespace keel

// Structured trace events, written as JSON lines.
//
// Every step of a failover emits one (copy_down, copy_isolated,
// partition_promoted, first_event_served, ...): tests and scenario checks
// match on names and fields, never on prose. Timestamps are microseconds on
// the actor clock since the system started, so they stay meaningful under a
// virtual clock.
//
// Thread safety: emit() and snapshot() may be called from any thread. Memory
// is bounded by `max_events`; events past it are counted in dropped() and
// still written to the stream, if any.
#pragma once

#include <cstdint>
#include <mutex>
#include <ostream>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "runtime/json_value.hpp"

namespace keel {

/// An event's fields written straight as a MessagePack map, for events
/// emitted once per copy or per route: a json object costs a tree node and
/// a key string per field and then a second pass into MessagePack, and
/// activation spent about half its time in three such events per copy
/// (decisions.md 40). Reads back as the same JSON object.
class trace_fields {
public:
  trace_fields& add(std::string_view key, std::string_view value);

  trace_fields& add(std::string_view key, const char* value) {
    return add(key, std::string_view{value});
  }

  trace_fields& add(std::string_view key, const std::string& value) {
    return add(key, std::string_view{value});
  }

  trace_fields& add(std::string_view key, bool value);

  trace_fields& add(std::string_view key, double value);

  template <class Int,
            class = std::enable_if_t<std::is_integral_v<Int>
                                     && !std::is_same_v<Int, bool>>>
  trace_fields& add(std::string_view key, Int value) {
    if constexpr (std::is_signed_v<Int>)
      return add_int(key, static_cast<int64_t>(value));
    else
      return add_uint(key, static_cast<uint64_t>(value));
  }

  size_t size() const noexcept {
    return count_;
  }

  /// The MessagePack map (empty if no field was added).
  std::vector<uint8_t> take() &&;

private:
  trace_fields& add_int(std::string_view key, int64_t value);
  trace_fields& add_uint(std::string_view key, uint64_t value);
  void put_str(std::string_view s);
  void put_uint(uint64_t x);
  void put_be(uint64_t x, int bytes);

  std::vector<uint8_t> body_;
  uint32_t count_ = 0;
};

struct trace_event {
  int64_t t_us = 0;
  std::string name;
  json fields;

  /// The event as one JSON object: {"t_us": .., "event": name, fields...}.
  json to_json() const;
};

class trace_sink {
public:
  explicit trace_sink(size_t max_events, std::ostream* out = nullptr)
    : max_events_(max_events), out_(out) {
  }

  /// Records one event; `fields` must be an object (or null, which
  /// snapshots give back as an empty object).
  void emit(int64_t t_us, std::string name, json fields = json::object());

  /// The same with fields already in MessagePack.
  void emit(int64_t t_us, std::string name, trace_fields fields);

  /// A copy of the events kept in memory, in emission order.
  std::vector<trace_event> snapshot() const;

  /// A copy of the events kept in memory from position `from` on.
  std::vector<trace_event> snapshot_from(size_t from) const;

  /// Events kept in memory so far.
  size_t size() const;

  /// Events not kept in memory because max_events was reached.
  size_t dropped() const;

private:
  /// An event copied out of the log, parsed by parse() outside the lock.
  struct stored_event {
    int64_t t_us;
    std::string name;
    std::vector<uint8_t> fields;  // empty: an empty object
  };

  /// Where an event's record starts: chunk and offset.
  struct record_ref {
    uint32_t chunk;
    uint32_t offset;
  };

  static trace_event parse(const stored_event& ev);

  /// Appends one record (the lock held); counts it in dropped_ instead if
  /// its name is longer than 65535 bytes or its fields than 4 GiB.
  void append(int64_t t_us, std::string_view name, const uint8_t* fields,
              size_t fields_size);

  /// Event `i` copied out of its record (the lock held).
  stored_event read(size_t i) const;

  mutable std::mutex mtx_;
  size_t max_events_;
  std::ostream* out_;
  /// Events kept in memory as records packed into chunks of 64 KiB (a
  /// bigger record gets a chunk of its own): time (8 bytes), name length
  /// (2), fields length (4), the name, the fields as MessagePack. About 80
  /// bytes for an activation's events, half of what a string and a vector
  /// apiece in a doubling vector took (a system keeps three events per copy
  /// from its activation alone: `keel bench S1`). Parsed again by
  /// snapshot().
  std::vector<std::vector<uint8_t>> chunks_;
  std::vector<record_ref> records_;
  size_t dropped_ = 0;
};

} // namespace keel

// Structured trace events, written as JSON lines.
//
// Every step of a failover emits one (copy_down, copy_isolated,
// partition_promoted, first_event_served, ...): tests and scenario checks
// match on names and fields, never on prose. Timestamps are microseconds on
// the actor clock since the system started, so they stay meaningful under a
// virtual clock.
//
// Thread safety: emit() and snapshot() may be called from any thread. Memory
// is bounded by `max_events` (and the table of event shapes by 65536 entries);
// events past it are counted in dropped() and still written to the stream, if
// any.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <ostream>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "runtime/json_value.hpp"
#include "runtime/symbol.hpp"

namespace keel {

/// An event's fields written straight as a MessagePack map, for events
/// emitted once per copy or per route: a json object costs a tree node and
/// a key string per field and then a second pass into MessagePack, and
/// activation spent about half its time in three such events per copy
/// (decisions.md 40). Reads back as the same JSON object.
class trace_fields {
public:
  trace_fields() = default;
  trace_fields(const trace_fields&) = default;
  trace_fields& operator=(const trace_fields&) = default;
  /// A moved-from object is empty (no fields), ready for reuse.
  trace_fields(trace_fields&& other) noexcept
    : body_(std::move(other.body_)), count_(other.count_) {
    other.body_.clear();
    other.count_ = 0;
  }
  trace_fields& operator=(trace_fields&& other) noexcept {
    body_ = std::move(other.body_);
    count_ = other.count_;
    other.body_.clear();
    other.count_ = 0;
    return *this;
  }

  trace_fields& add(std::string_view key, std::string_view value);

  trace_fields& add(std::string_view key, const char* value) {
    return add(key, std::string_view{value});
  }

  trace_fields& add(std::string_view key, const std::string& value) {
    return add(key, std::string_view{value});
  }
  trace_fields& add(std::string_view key, const symbol& value) {
    return add(key, value.view());
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

  /// The MessagePack map (empty if no field was added); leaves this object
  /// empty.
  std::vector<uint8_t> take() &&;

private:
  /// The map header's room at the front of body_ (a map32's 5 bytes; take()
  /// drops what a smaller header does not use), made with the first field
  /// along with room for a typical event's fields: one allocation per event.
  static constexpr size_t header_room = 5;
  void start();

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

  /// A shape's lookup key: name length (16 bits), name, raw flag ('0' or
  /// '1'), keys; with its hash.
  struct shape_key {
    std::string bytes;
    size_t hash;
    friend bool operator==(const shape_key& x, const shape_key& y) {
      return x.hash == y.hash && x.bytes == y.bytes;
    }
  };
  struct shape_key_hash {
    size_t operator()(const shape_key& k) const noexcept {
      return k.hash;
    }
  };

  /// An event split into its shape's key and its values, outside the lock
  /// (each thread reuses its own): the lock covers one lookup with the
  /// hash computed here and a copy of the values.
  struct prepared {
    shape_key key;
    size_t name_size = 0;
    uint32_t key_count = 0;
    bool raw = false;
    bool fits = true;  ///< name within 65535 bytes, fields within 4 GiB
    std::vector<std::pair<const uint8_t*, size_t>> values;
    size_t values_size = 0;
  };

  /// Splits `fields` (a MessagePack map with string keys, else kept whole)
  /// into this thread's prepared event, which it returns.
  static prepared& prepare(std::string_view name, const uint8_t* fields,
                           size_t fields_size);

  /// Appends one record (the lock held); counts it in dropped_ instead if
  /// it does not fit or needs a new shape when shapes_max are known.
  void append(int64_t t_us, const prepared& ev);

  /// Event `i` copied out of its record (the lock held).
  stored_event read(size_t i) const;

  /// What records of one event name and one list of field keys share: the
  /// name, and the keys as their MessagePack strings, in order. A record
  /// keeps its shape's number and its values only. Fields that are not a
  /// map with string keys are kept whole under a `raw` shape of the name.
  struct shape {
    std::string name;
    std::string keys;
    uint32_t key_count = 0;
    bool raw = false;
  };

  /// At most this many shapes (keel's own events have a few dozen): an
  /// event that would need one more is dropped, so that the table stays
  /// bounded even if names or keys are made up on the fly.
  static constexpr size_t shapes_max = 65536;

  mutable std::mutex mtx_;
  size_t max_events_;
  std::ostream* out_;
  /// Events kept in memory as records packed into chunks of 64 KiB (a
  /// bigger record gets a chunk of its own): time, shape and size of the
  /// values as varints, then the values as MessagePack. About 30 bytes for
  /// one of the three events a copy's activation leaves (`keel bench S1`):
  /// a record with the name and the keys was 80-104. Parsed again by
  /// snapshot().
  struct chunk {
    std::unique_ptr<uint8_t[]> data;  // not zeroed: written before read
    size_t size = 0;
    size_t capacity = 0;
  };
  std::vector<chunk> chunks_;
  std::vector<record_ref> records_;
  std::vector<shape> shapes_;
  std::unordered_map<shape_key, uint32_t, shape_key_hash> shape_ids_;
  size_t dropped_ = 0;
};

} // namespace keel

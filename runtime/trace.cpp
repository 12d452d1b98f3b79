#include "runtime/trace.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace keel {

// -- trace_fields: MessagePack (msgpack.org spec), the subset keel emits ----------

void trace_fields::put_be(uint64_t x, int bytes) {
  for (int i = bytes - 1; i >= 0; --i)
    body_.push_back(static_cast<uint8_t>(x >> (8 * i)));
}

void trace_fields::put_uint(uint64_t x) {
  if (x < 0x80) {
    body_.push_back(static_cast<uint8_t>(x));  // positive fixint
  } else if (x <= 0xff) {
    body_.push_back(0xcc);
    put_be(x, 1);
  } else if (x <= 0xffff) {
    body_.push_back(0xcd);
    put_be(x, 2);
  } else if (x <= 0xffffffff) {
    body_.push_back(0xce);
    put_be(x, 4);
  } else {
    body_.push_back(0xcf);
    put_be(x, 8);
  }
}

void trace_fields::put_str(std::string_view s) {
  auto n = s.size();
  if (n < 32) {
    body_.push_back(static_cast<uint8_t>(0xa0 | n));  // fixstr
  } else if (n <= 0xff) {
    body_.push_back(0xd9);
    put_be(n, 1);
  } else if (n <= 0xffff) {
    body_.push_back(0xda);
    put_be(n, 2);
  } else {
    body_.push_back(0xdb);
    put_be(n, 4);
  }
  body_.insert(body_.end(), s.begin(), s.end());
}

trace_fields& trace_fields::add(std::string_view key, std::string_view value) {
  put_str(key);
  put_str(value);
  ++count_;
  return *this;
}

trace_fields& trace_fields::add(std::string_view key, bool value) {
  put_str(key);
  body_.push_back(value ? 0xc3 : 0xc2);
  ++count_;
  return *this;
}

trace_fields& trace_fields::add(std::string_view key, double value) {
  put_str(key);
  uint64_t bits = 0;
  static_assert(sizeof bits == sizeof value);
  std::memcpy(&bits, &value, sizeof bits);
  body_.push_back(0xcb);
  put_be(bits, 8);
  ++count_;
  return *this;
}

trace_fields& trace_fields::add_uint(std::string_view key, uint64_t value) {
  put_str(key);
  put_uint(value);
  ++count_;
  return *this;
}

trace_fields& trace_fields::add_int(std::string_view key, int64_t value) {
  if (value >= 0)
    return add_uint(key, static_cast<uint64_t>(value));
  put_str(key);
  auto bits = static_cast<uint64_t>(value);
  if (value >= -32) {
    body_.push_back(static_cast<uint8_t>(bits));  // negative fixint
  } else if (value >= INT8_MIN) {
    body_.push_back(0xd0);
    put_be(bits, 1);
  } else if (value >= INT16_MIN) {
    body_.push_back(0xd1);
    put_be(bits, 2);
  } else if (value >= INT32_MIN) {
    body_.push_back(0xd2);
    put_be(bits, 4);
  } else {
    body_.push_back(0xd3);
    put_be(bits, 8);
  }
  ++count_;
  return *this;
}

std::vector<uint8_t> trace_fields::take() && {
  if (count_ == 0)
    return {};
  std::vector<uint8_t> result;
  result.reserve(body_.size() + 3);
  if (count_ < 16) {
    result.push_back(static_cast<uint8_t>(0x80 | count_));  // fixmap
  } else {
    result.push_back(0xde);  // map 16: an event has far fewer fields
    result.push_back(static_cast<uint8_t>(count_ >> 8));
    result.push_back(static_cast<uint8_t>(count_));
  }
  result.insert(result.end(), body_.begin(), body_.end());
  return result;
}

// -- trace_event and trace_sink ------------------------------------------------------

json trace_event::to_json() const {
  json result = json::object();
  result["t_us"] = t_us;
  result["event"] = name;
  if (fields.is_object())
    for (auto& [key, value] : fields.items())
      result[key] = value;
  return result;
}

namespace {

/// A record's header: time, name length, fields length.
constexpr size_t record_header = 8 + 2 + 4;
constexpr size_t chunk_size = size_t{64} << 10;

void put_le(uint8_t* at, uint64_t x, int bytes) {
  for (int i = 0; i < bytes; ++i)
    at[i] = static_cast<uint8_t>(x >> (8 * i));
}

uint64_t get_le(const uint8_t* at, int bytes) {
  uint64_t x = 0;
  for (int i = 0; i < bytes; ++i)
    x |= uint64_t{at[i]} << (8 * i);
  return x;
}

} // namespace

void trace_sink::append(int64_t t_us, std::string_view name,
                        const uint8_t* fields, size_t fields_size) {
  if (name.size() > 0xffff || fields_size > 0xffffffff) {
    ++dropped_;  // does not fit a record (never for keel's own events)
    return;
  }
  auto size = record_header + name.size() + fields_size;
  if (chunks_.empty()
      || chunks_.back().capacity() - chunks_.back().size() < size) {
    chunks_.emplace_back();
    chunks_.back().reserve(std::max(chunk_size, size));
  }
  auto& chunk = chunks_.back();
  auto offset = chunk.size();
  chunk.resize(offset + size);  // within capacity: never moves
  auto* at = chunk.data() + offset;
  put_le(at, static_cast<uint64_t>(t_us), 8);
  put_le(at + 8, name.size(), 2);
  put_le(at + 10, fields_size, 4);
  std::memcpy(at + record_header, name.data(), name.size());
  if (fields_size > 0)
    std::memcpy(at + record_header + name.size(), fields, fields_size);
  records_.push_back(record_ref{static_cast<uint32_t>(chunks_.size() - 1),
                                static_cast<uint32_t>(offset)});
}

trace_sink::stored_event trace_sink::read(size_t i) const {
  auto ref = records_[i];
  auto* at = chunks_[ref.chunk].data() + ref.offset;
  auto name_size = static_cast<size_t>(get_le(at + 8, 2));
  auto fields_size = static_cast<size_t>(get_le(at + 10, 4));
  auto* name = reinterpret_cast<const char*>(at + record_header);
  auto* fields = at + record_header + name_size;
  return stored_event{static_cast<int64_t>(get_le(at, 8)),
                      std::string{name, name_size},
                      std::vector<uint8_t>(fields, fields + fields_size)};
}

void trace_sink::emit(int64_t t_us, std::string name, json fields) {
  std::vector<uint8_t> packed;
  if (fields.is_object() && !fields.empty())
    packed = json::to_msgpack(fields);
  std::lock_guard<std::mutex> guard{mtx_};
  if (out_) {
    trace_event full{t_us, name, std::move(fields)};
    *out_ << full.to_json().dump() + '\n';  // one write: a kill keeps whole lines
  }
  if (records_.size() < max_events_)
    append(t_us, name, packed.data(), packed.size());
  else
    ++dropped_;
}

void trace_sink::emit(int64_t t_us, std::string name, trace_fields fields) {
  auto packed = std::move(fields).take();
  std::lock_guard<std::mutex> guard{mtx_};
  if (out_)
    *out_ << parse(stored_event{t_us, name, packed}).to_json().dump() + '\n';
  if (records_.size() < max_events_)
    append(t_us, name, packed.data(), packed.size());
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
    for (auto i = from; i < records_.size(); ++i)
      kept.push_back(read(i));
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
  return records_.size();
}

size_t trace_sink::dropped() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return dropped_;
}

} // namespace keel

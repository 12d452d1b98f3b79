#include "runtime/trace.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace keel {

// -- trace_fields: MessagePack (msgpack.org spec), the subset keel emits ----------

void trace_fields::start() {
  if (body_.empty()) {
    body_.reserve(128);
    body_.resize(header_room);
  }
}

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
  start();
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
  auto count = count_;
  count_ = 0;
  if (count == 0 || body_.size() < header_room) {
    body_.clear();
    return {};
  }
  size_t unused = 0;
  if (count < 16) {
    unused = header_room - 1;
    body_[unused] = static_cast<uint8_t>(0x80 | count);  // fixmap
  } else if (count <= 0xffff) {
    unused = header_room - 3;
    body_[unused] = 0xde;  // map 16
    body_[unused + 1] = static_cast<uint8_t>(count >> 8);
    body_[unused + 2] = static_cast<uint8_t>(count);
  } else {
    body_[0] = 0xdf;  // map 32
    for (int i = 0; i < 4; ++i)
      body_[1 + i] = static_cast<uint8_t>(count >> (8 * (3 - i)));
  }
  body_.erase(body_.begin(), body_.begin() + static_cast<ptrdiff_t>(unused));
  auto result = std::move(body_);
  body_.clear();
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

constexpr size_t chunk_size = size_t{64} << 10;

size_t varint_size(uint64_t x) {
  size_t n = 1;
  while (x >= 0x80) {
    x >>= 7;
    ++n;
  }
  return n;
}

uint8_t* put_varint(uint8_t* at, uint64_t x) {
  while (x >= 0x80) {
    *at++ = static_cast<uint8_t>(x | 0x80);
    x >>= 7;
  }
  *at++ = static_cast<uint8_t>(x);
  return at;
}

/// Reads a varint this file wrote.
const uint8_t* get_varint(const uint8_t* at, uint64_t& x) {
  x = 0;
  for (int shift = 0;; shift += 7) {
    auto b = *at++;
    x |= uint64_t{b & 0x7fu} << shift;
    if (b < 0x80)
      return at;
  }
}

uint64_t zigzag(int64_t x) {
  return (static_cast<uint64_t>(x) << 1) ^ static_cast<uint64_t>(x >> 63);
}

int64_t unzigzag(uint64_t x) {
  return static_cast<int64_t>(x >> 1) ^ -static_cast<int64_t>(x & 1);
}

uint64_t get_be(const uint8_t* at, int bytes) {
  uint64_t x = 0;
  for (int i = 0; i < bytes; ++i)
    x = (x << 8) | at[i];
  return x;
}

/// The end of the one MessagePack object at `p`, or nullptr if there is no
/// whole one before `end` (or it nests deeper than 64).
const uint8_t* skip(const uint8_t* p, const uint8_t* end, int depth = 0) {
  if (p >= end || depth > 64)
    return nullptr;
  auto b = *p;
  // Bytes after the type byte (or the length field), a length field's
  // width, and elements to skip after it.
  uint64_t fixed = 0;
  int len_bytes = 0;
  uint64_t extra = 0;  // ext: the type byte after the length
  uint64_t elements = 0;
  bool length_is_count = false;
  uint64_t per_count = 1;
  if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
    fixed = 0;
  } else if (b <= 0x8f) {
    elements = uint64_t{b & 0x0fu} * 2;
  } else if (b <= 0x9f) {
    elements = b & 0x0fu;
  } else if (b <= 0xbf) {
    fixed = b & 0x1fu;
  } else {
    switch (b) {
      case 0xc4: len_bytes = 1; break;
      case 0xc5: len_bytes = 2; break;
      case 0xc6: len_bytes = 4; break;
      case 0xc7: len_bytes = 1; extra = 1; break;
      case 0xc8: len_bytes = 2; extra = 1; break;
      case 0xc9: len_bytes = 4; extra = 1; break;
      case 0xca: fixed = 4; break;
      case 0xcb: fixed = 8; break;
      case 0xcc: case 0xd0: fixed = 1; break;
      case 0xcd: case 0xd1: fixed = 2; break;
      case 0xce: case 0xd2: fixed = 4; break;
      case 0xcf: case 0xd3: fixed = 8; break;
      case 0xd4: fixed = 2; break;
      case 0xd5: fixed = 3; break;
      case 0xd6: fixed = 5; break;
      case 0xd7: fixed = 9; break;
      case 0xd8: fixed = 17; break;
      case 0xd9: len_bytes = 1; break;
      case 0xda: len_bytes = 2; break;
      case 0xdb: len_bytes = 4; break;
      case 0xdc: len_bytes = 2; length_is_count = true; break;
      case 0xdd: len_bytes = 4; length_is_count = true; break;
      case 0xde: len_bytes = 2; length_is_count = true; per_count = 2; break;
      case 0xdf: len_bytes = 4; length_is_count = true; per_count = 2; break;
      default: return nullptr;  // 0xc1: never used
    }
  }
  ++p;
  auto left = static_cast<uint64_t>(end - p);
  if (len_bytes > 0) {
    if (left < static_cast<uint64_t>(len_bytes))
      return nullptr;
    auto n = get_be(p, len_bytes);
    p += len_bytes;
    left -= static_cast<uint64_t>(len_bytes);
    if (length_is_count)
      elements = n * per_count;
    else
      fixed = n + extra;
  }
  if (fixed > left)
    return nullptr;
  p += fixed;
  for (uint64_t i = 0; i < elements; ++i)
    if ((p = skip(p, end, depth + 1)) == nullptr)
      return nullptr;
  return p;
}

bool is_str(uint8_t b) {
  return (b >= 0xa0 && b <= 0xbf) || b == 0xd9 || b == 0xda || b == 0xdb;
}

} // namespace

trace_sink::prepared& trace_sink::prepare(std::string_view name,
                                          const uint8_t* fields,
                                          size_t fields_size) {
  thread_local prepared ev;
  // Kept between events, but not at the size of a rare huge one.
  if (ev.values.capacity() > 1024)
    std::vector<std::pair<const uint8_t*, size_t>>{}.swap(ev.values);
  if (ev.key.bytes.capacity() > 65536)
    std::string{}.swap(ev.key.bytes);
  auto& key = ev.key.bytes;
  key.clear();
  ev.values.clear();
  ev.values_size = 0;
  ev.key_count = 0;
  ev.raw = false;
  ev.fits = name.size() <= 0xffff && fields_size <= 0xffffffff;
  ev.name_size = name.size();
  if (!ev.fits)
    return ev;  // never for keel's own events
  key.push_back(static_cast<char>(name.size() >> 8));
  key.push_back(static_cast<char>(name.size() & 0xff));
  key.append(name);
  key.push_back('0');
  auto keys_at = key.size();
  if (fields_size > 0) {
    // A map with string keys: its keys go to the shape, its values apart.
    auto p = fields;
    auto end = fields + fields_size;
    uint64_t count = 0;
    if (*p >= 0x80 && *p <= 0x8f) {
      count = *p & 0x0fu;
      p += 1;
    } else if (*p == 0xde && fields_size >= 3) {
      count = get_be(p + 1, 2);
      p += 3;
    } else if (*p == 0xdf && fields_size >= 5) {
      count = get_be(p + 1, 4);
      p += 5;
    } else {
      ev.raw = true;
    }
    for (uint64_t i = 0; !ev.raw && i < count; ++i) {
      auto key_end = p < end && is_str(*p) ? skip(p, end) : nullptr;
      auto value_end = key_end ? skip(key_end, end) : nullptr;
      if (!value_end) {
        ev.raw = true;
        break;
      }
      key.append(reinterpret_cast<const char*>(p),
                 static_cast<size_t>(key_end - p));
      ev.values.emplace_back(key_end, static_cast<size_t>(value_end - key_end));
      p = value_end;
    }
    if (!ev.raw && p != end)
      ev.raw = true;
    if (ev.raw) {
      key.resize(keys_at);
      key.back() = '1';
      ev.values.clear();
      ev.values.emplace_back(fields, fields_size);
    } else {
      ev.key_count = static_cast<uint32_t>(count);
    }
  }
  for (auto& v : ev.values)
    ev.values_size += v.second;
  ev.key.hash = std::hash<std::string>{}(key);
  return ev;
}

void trace_sink::append(int64_t t_us, const prepared& ev) {
  if (!ev.fits) {
    ++dropped_;  // does not fit a record
    return;
  }
  uint32_t id = 0;
  if (auto i = shape_ids_.find(ev.key); i != shape_ids_.end()) {
    id = i->second;
  } else if (shapes_.size() < shapes_max) {
    id = static_cast<uint32_t>(shapes_.size());
    auto& bytes = ev.key.bytes;
    shapes_.push_back(shape{bytes.substr(2, ev.name_size),
                            bytes.substr(2 + ev.name_size + 1), ev.key_count,
                            ev.raw});
    shape_ids_.emplace(ev.key, id);
  } else {
    ++dropped_;
    return;
  }
  auto tz = zigzag(t_us);
  auto body = ev.values_size;
  auto size = varint_size(tz) + varint_size(id) + varint_size(body) + body;
  if (chunks_.empty()
      || chunks_.back().capacity - chunks_.back().size < size) {
    auto capacity = std::max(chunk_size, size);
    chunks_.push_back(chunk{std::unique_ptr<uint8_t[]>{new uint8_t[capacity]},
                            0, capacity});
  }
  auto& chunk = chunks_.back();
  auto offset = chunk.size;
  chunk.size += size;
  auto* at = chunk.data.get() + offset;
  at = put_varint(at, tz);
  at = put_varint(at, id);
  at = put_varint(at, body);
  for (auto& [value, n] : ev.values) {
    std::memcpy(at, value, n);
    at += n;
  }
  records_.push_back(record_ref{static_cast<uint32_t>(chunks_.size() - 1),
                                static_cast<uint32_t>(offset)});
}

trace_sink::stored_event trace_sink::read(size_t i) const {
  auto ref = records_[i];
  const uint8_t* at = chunks_[ref.chunk].data.get() + ref.offset;
  uint64_t tz = 0, id = 0, body = 0;
  at = get_varint(at, tz);
  at = get_varint(at, id);
  at = get_varint(at, body);
  auto& s = shapes_[id];
  stored_event ev{unzigzag(tz), s.name, {}};
  if (s.raw || s.key_count == 0) {
    ev.fields.assign(at, at + body);
    return ev;
  }
  // The map again: its header, then each key of the shape and its value.
  auto& out = ev.fields;
  out.reserve(5 + s.keys.size() + body);
  auto n = s.key_count;
  if (n < 16) {
    out.push_back(static_cast<uint8_t>(0x80 | n));
  } else if (n <= 0xffff) {
    out.push_back(0xde);
    out.push_back(static_cast<uint8_t>(n >> 8));
    out.push_back(static_cast<uint8_t>(n));
  } else {
    out.push_back(0xdf);
    for (int shift = 24; shift >= 0; shift -= 8)
      out.push_back(static_cast<uint8_t>(n >> shift));
  }
  auto key = reinterpret_cast<const uint8_t*>(s.keys.data());
  auto keys_end = key + s.keys.size();
  auto value = at;
  auto values_end = at + body;
  for (uint32_t k = 0; k < n; ++k) {
    // Both were whole objects when the record was written.
    auto key_end = skip(key, keys_end);
    auto value_end = skip(value, values_end);
    out.insert(out.end(), key, key_end);
    out.insert(out.end(), value, value_end);
    key = key_end;
    value = value_end;
  }
  return ev;
}

void trace_sink::emit(int64_t t_us, std::string name, json fields) {
  std::vector<uint8_t> packed;
  if (fields.is_object() && !fields.empty())
    packed = json::to_msgpack(fields);
  auto& ev = prepare(name, packed.data(), packed.size());
  std::lock_guard<std::mutex> guard{mtx_};
  // Kept before it is streamed: nothing runs between prepare and append.
  if (records_.size() < max_events_)
    append(t_us, ev);
  else
    ++dropped_;
  if (out_) {
    trace_event full{t_us, name, std::move(fields)};
    *out_ << full.to_json().dump() + '\n';  // one write: a kill keeps whole lines
  }
}

void trace_sink::emit(int64_t t_us, std::string name, trace_fields fields) {
  auto packed = std::move(fields).take();
  auto& ev = prepare(name, packed.data(), packed.size());
  std::lock_guard<std::mutex> guard{mtx_};
  // Kept before it is streamed: nothing runs between prepare and append.
  if (records_.size() < max_events_)
    append(t_us, ev);
  else
    ++dropped_;
  if (out_)
    *out_ << parse(stored_event{t_us, name, packed}).to_json().dump() + '\n';
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

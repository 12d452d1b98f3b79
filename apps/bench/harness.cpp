#include "apps/bench/harness.hpp"

#include <cmath>
#include <cstdio>
#include <memory>

#include "runtime/error.hpp"
#include "runtime/hash.hpp"

namespace keel::bench {

using go_atom = caf::atom_constant<caf::atom("go")>;

/// How long one load run may take before it is reported as failed.
constexpr auto run_limit = std::chrono::seconds{300};
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using stop_atom = caf::atom_constant<caf::atom("stop")>;
using done_atom = caf::atom_constant<caf::atom("done")>;

double percentile(std::vector<double>& xs, double p) {
  if (xs.empty())
    return 0;
  std::sort(xs.begin(), xs.end());
  auto rank = p / 100.0 * static_cast<double>(xs.size() - 1);
  auto lo = static_cast<size_t>(std::floor(rank));
  auto hi = std::min(lo + 1, xs.size() - 1);
  auto frac = rank - static_cast<double>(lo);
  return xs[lo] + (xs[hi] - xs[lo]) * frac;
}

std::string fmt(double x) {
  char buf[64];
  auto ax = std::fabs(x);
  if (ax >= 1e6)
    std::snprintf(buf, sizeof buf, "%.3gM", x / 1e6);
  else if (ax >= 1e4)
    std::snprintf(buf, sizeof buf, "%.0fk", x / 1e3);
  else if (ax >= 100)
    std::snprintf(buf, sizeof buf, "%.0f", x);
  else
    std::snprintf(buf, sizeof buf, "%.3g", x);
  return buf;
}

double median(std::vector<double> xs) {
  return percentile(xs, 50);
}

event make_event(const std::string& app, const std::string& key,
                 uint64_t request_id) {
  return event{app_name{app}, key, json_value{json(1)}, "bench", request_id};
}

std::vector<std::string> make_keys(size_t count) {
  std::vector<std::string> keys;
  keys.reserve(count);
  for (size_t i = 0; i < count; ++i)
    keys.push_back("k" + std::to_string(i));
  return keys;
}

std::vector<std::string> key_per_partition(uint32_t partitions) {
  std::vector<std::string> keys(partitions);
  uint32_t found = 0;
  for (uint64_t i = 0; found < partitions; ++i) {
    auto key = "probe" + std::to_string(i);
    auto p = partition_of(key, partitions);
    if (keys[p].empty()) {
      keys[p] = key;
      ++found;
    }
  }
  return keys;
}

namespace {

/// What a load actor sends and where: keys in turn, increasing ids.
struct event_source {
  event_sink_actor sink;
  app_name app;  // interned once, not per event
  std::string client_id;
  std::vector<std::string> keys;
  uint64_t next_id = 0;

  event next() {
    auto& key = keys[next_id % keys.size()];
    return event{app, key, json_value{json(1)}, client_id, ++next_id};
  }
};

void note_error(load_outcome& out, const caf::error& err) {
  ++out.failed;
  if (out.first_error.empty())
    out.first_error = render(err);
}

// -- flood ------------------------------------------------------------------

struct flood_state {
  event_source src;
  uint64_t total = 0;
  uint32_t window = 0;
  uint32_t batch = 0;
  int64_t start_ns = 0;
  std::shared_ptr<load_outcome> out;
  caf::response_promise done;
};

using flood_ptr = caf::stateful_actor<flood_state>*;

void flood_answered(flood_ptr self);

void flood_send(flood_ptr self) {
  auto& st = self->state;
  auto ev = st.src.next();
  ++st.out->sent;
  self->request(st.src.sink, caf::infinite, std::move(ev))
    .then(
      [self](event_reply&) {
        ++self->state.out->acked;
        flood_answered(self);
      },
      [self](caf::error& err) {
        note_error(*self->state.out, err);
        flood_answered(self);
      });
}

void flood_answered(flood_ptr self) {
  auto& st = self->state;
  auto answered = st.out->acked + st.out->failed;
  if (st.out->sent < st.total)
    flood_send(self);
  else if (answered >= st.total && st.done.pending()) {
    st.out->elapsed_ns = now_ns() - st.start_ns;
    st.done.deliver(done_atom::value);
  }
}

/// Sends one batch of up to `st.batch` events.
void flood_send_batch(flood_ptr self) {
  auto& st = self->state;
  event_batch b;
  b.reply_to = caf::actor_cast<result_sink_actor>(self);
  auto n = std::min<uint64_t>(st.batch, st.total - st.out->sent);
  b.events.reserve(n);
  for (uint64_t i = 0; i < n; ++i) {
    b.events.push_back(st.src.next());
  }
  st.out->sent += n;
  self->send(caf::actor_cast<caf::actor>(st.src.sink), std::move(b));
}

void flood_refill(flood_ptr self) {
  auto& st = self->state;
  auto answered = st.out->acked + st.out->failed;
  while (st.out->sent < st.total
         && st.out->sent - answered + st.batch <= st.window)
    flood_send_batch(self);
  if (answered >= st.total && st.done.pending()) {
    st.out->elapsed_ns = now_ns() - st.start_ns;
    st.done.deliver(done_atom::value);
  }
}

caf::behavior flood_actor(flood_ptr self, event_sink_actor sink,
                          std::string app, std::string client_id,
                          std::vector<std::string> keys, uint64_t total,
                          uint32_t window, uint32_t batch,
                          std::shared_ptr<load_outcome> out) {
  auto& st = self->state;
  st.batch = batch;
  st.src.sink = std::move(sink);
  st.src.app = app_name{app};
  st.src.client_id = std::move(client_id);
  st.src.keys = std::move(keys);
  st.total = total;
  st.window = window;
  st.out = std::move(out);
  return {
    [self](go_atom) {
      auto& st = self->state;
      st.done = self->make_response_promise();
      st.start_ns = now_ns();
      if (st.total == 0) {
        st.done.deliver(done_atom::value);
        return;
      }
      if (st.batch > 0) {
        flood_refill(self);
        return;
      }
      for (uint32_t i = 0; i < st.window && st.out->sent < st.total; ++i)
        flood_send(self);
    },
    [self](event_results& res) {
      auto& st = self->state;
      for (auto& r : res.results) {
        if (r.code == 0)
          ++st.out->acked;
        else {
          ++st.out->failed;
          if (st.out->first_error.empty())
            st.out->first_error = "request " + std::to_string(r.request_id)
                                  + ": " + r.error;
        }
      }
      flood_refill(self);
    },
  };
}

// -- paced load -------------------------------------------------------------

struct paced_state {
  event_source src;
  double rate = 0;
  uint32_t window = 20000;
  int64_t start_ns = 0;
  bool stopping = false;
  bool batched = false;
  load_outcome out;
  std::shared_ptr<load_outcome> result;
  caf::response_promise stopped;
};

using paced_ptr = caf::stateful_actor<paced_state>*;

/// The paced load's step: small, so that its bursts stay small.
constexpr auto pace_step = std::chrono::microseconds{250};

void paced_maybe_stopped(paced_ptr self) {
  auto& st = self->state;
  if (st.stopping && st.out.acked + st.out.failed >= st.out.sent
      && st.stopped.pending()) {
    st.out.elapsed_ns = now_ns() - st.start_ns;
    *st.result = st.out;
    st.stopped.deliver(done_atom::value);
  }
}

caf::behavior paced_actor(paced_ptr self, event_sink_actor sink,
                          std::string app, std::vector<std::string> keys,
                          double rate, std::string client_id, bool batched,
                          std::shared_ptr<load_outcome> result) {
  auto& st = self->state;
  st.batched = batched;
  st.src.sink = std::move(sink);
  st.src.app = app_name{app};
  st.src.keys = std::move(keys);
  st.rate = rate;
  st.src.client_id = std::move(client_id);
  st.start_ns = now_ns();
  st.result = std::move(result);
  self->send(self, tick_atom::value);
  return {
    [self](tick_atom) {
      auto& st = self->state;
      if (st.stopping)
        return;
      auto elapsed_s = static_cast<double>(now_ns() - st.start_ns) / 1e9;
      auto due = static_cast<uint64_t>(st.rate * elapsed_s);
      if (st.batched) {
        // One event_batch per tick with everything due (within the window).
        event_batch b;
        b.reply_to = caf::actor_cast<result_sink_actor>(self);
        while (st.out.sent < due
               && st.out.sent - st.out.acked - st.out.failed < st.window) {
          b.events.push_back(st.src.next());
          ++st.out.sent;
        }
        if (!b.events.empty())
          self->send(caf::actor_cast<caf::actor>(st.src.sink), std::move(b));
        self->delayed_send(self, pace_step,
                           tick_atom::value);
        return;
      }
      while (st.out.sent < due
             && st.out.sent - st.out.acked - st.out.failed < st.window) {
        auto ev = st.src.next();
        ++st.out.sent;
        self->request(st.src.sink, caf::infinite, std::move(ev))
          .then(
            [self](event_reply&) {
              ++self->state.out.acked;
              paced_maybe_stopped(self);
            },
            [self](caf::error& err) {
              note_error(self->state.out, err);
              paced_maybe_stopped(self);
            });
      }
      self->delayed_send(self, pace_step, tick_atom::value);
    },
    [self](event_results& res) {
      auto& st = self->state;
      for (auto& r : res.results) {
        if (r.code == 0) {
          ++st.out.acked;
        } else {
          ++st.out.failed;
          if (st.out.first_error.empty())
            st.out.first_error = r.error;
        }
      }
      paced_maybe_stopped(self);
    },
    [self](stop_atom) {
      auto& st = self->state;
      st.stopping = true;
      st.stopped = self->make_response_promise();
      paced_maybe_stopped(self);
    },
  };
}

// -- closed-loop probe --------------------------------------------------------

struct probe_state {
  event_source src;
  size_t samples = 0;
  int64_t deadline_ns = 0;
  int64_t sent_ns = 0;
  std::shared_ptr<std::vector<double>> out;
  caf::response_promise done;
};

using probe_ptr = caf::stateful_actor<probe_state>*;

void probe_send(probe_ptr self) {
  auto& st = self->state;
  auto ev = st.src.next();
  st.sent_ns = now_ns();
  auto next = [self] {
    auto& st = self->state;
    auto now = now_ns();
    st.out->push_back(static_cast<double>(now - st.sent_ns) / 1000.0);
    if (st.out->size() >= st.samples || now >= st.deadline_ns)
      st.done.deliver(done_atom::value);
    else
      probe_send(self);
  };
  self->request(st.src.sink, caf::infinite, std::move(ev))
    .then([next](event_reply&) { next(); },
          [self](caf::error& err) {
            self->state.done.deliver(err);
          });
}

caf::behavior probe_actor(probe_ptr self, event_sink_actor sink,
                          std::string app, std::vector<std::string> keys,
                          size_t samples, int64_t max_ns,
                          std::string client_id,
                          std::shared_ptr<std::vector<double>> out) {
  auto& st = self->state;
  st.src.sink = std::move(sink);
  st.src.app = app_name{app};
  st.src.keys = std::move(keys);
  st.samples = samples;
  st.src.client_id = std::move(client_id);
  st.out = std::move(out);
  return {
    [self, max_ns](go_atom) {
      auto& st = self->state;
      st.done = self->make_response_promise();
      st.out->reserve(st.samples);
      st.deadline_ns = now_ns() + max_ns;
      probe_send(self);
    },
  };
}

} // namespace

load_outcome flood(caf::actor_system& sys, const event_sink_actor& sink,
                   const std::string& app, const std::vector<std::string>& keys,
                   uint64_t total, uint32_t window,
                   const std::string& client_id, uint32_t batch) {
  auto out = std::make_shared<load_outcome>();
  auto client = sys.spawn(flood_actor, sink, app, client_id, keys, total,
                          window, batch, out);
  caf::scoped_actor self{sys};
  // A lost or doubled outcome must end the run with an error, not hang it.
  self->request(client, run_limit, go_atom::value)
    .receive([](done_atom) {},
             [&](caf::error& err) { note_error(*out, err); });
  self->send_exit(client, caf::exit_reason::user_shutdown);
  return *out;
}

paced_load::paced_load(caf::actor_system& sys, event_sink_actor sink,
                       std::string app, std::vector<std::string> keys,
                       double rate, std::string client_id, bool batched)
  : sys_(sys) {
  result_ = std::make_shared<load_outcome>();
  actor_ = sys.spawn(paced_actor, std::move(sink), std::move(app),
                     std::move(keys), rate, std::move(client_id), batched,
                     result_);
}

paced_load::~paced_load() {
  if (!stopped_)
    caf::anon_send_exit(actor_, caf::exit_reason::user_shutdown);
}

load_outcome paced_load::stop() {
  stopped_ = true;
  caf::scoped_actor self{sys_};
  load_outcome out;
  bool ok = false;
  self->request(actor_, run_limit, stop_atom::value)
    .receive([&](done_atom) { ok = true; },
             [&](caf::error& err) { note_error(out, err); });
  self->send_exit(actor_, caf::exit_reason::user_shutdown);
  self->wait_for(actor_);
  if (ok)
    out = *result_;
  return out;
}

std::vector<double> probe_latency(caf::actor_system& sys,
                                  const event_sink_actor& sink,
                                  const std::string& app,
                                  const std::vector<std::string>& keys,
                                  size_t samples, int64_t max_ns,
                                  const std::string& client_id) {
  auto out = std::make_shared<std::vector<double>>();
  auto probe = sys.spawn(probe_actor, sink, app, keys, samples, max_ns,
                         client_id, out);
  caf::scoped_actor self{sys};
  std::vector<double> result;
  self->request(probe, run_limit, go_atom::value)
    .receive([&](done_atom) { result = *out; },
             [&](caf::error&) { result.clear(); });
  self->send_exit(probe, caf::exit_reason::user_shutdown);
  return result;
}

} // namespace keel::bench

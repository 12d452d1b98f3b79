#include "scenarios/engine/workload_client.hpp"

#include <caf/all.hpp>

#include "runtime/error.hpp"

namespace keel::scenarios {

namespace {

using client_ptr = caf::stateful_actor<client_state>*;

constexpr auto tick_interval = std::chrono::milliseconds{5};

void maybe_done(client_ptr self) {
  auto& st = self->state;
  if (st.load_over && st.in_flight == 0) {
    self->send(st.args.driver, done_atom::value, st.args.index);
    self->quit();
  }
}

/// Sends request `index` (again, after a switch: same id, the copies
/// dedupe it). The first outcome counts; a later acknowledgement still
/// replaces "failed" (the checker then knows the effect).
void request_one(client_ptr self, size_t index) {
  auto& st = self->state;
  auto& rec = st.args.log->requests[index];
  event ev{st.args.workload.app, rec.key,
           json_value{st.args.workload.payload}, st.args.client_id,
           rec.request_id};
  auto timeout = std::chrono::milliseconds{
    st.args.workload.request_timeout_ms};
  auto target = st.args.distributor;
  self->request(st.args.distributor, timeout, std::move(ev))
    .then(
      [self, index](event_reply&) {
        auto& st = self->state;
        auto& r = st.args.log->requests[index];
        if (r.result == request_record::outcome::acknowledged
            || r.result == request_record::outcome::refused)
          return;
        if (r.result == request_record::outcome::open)
          --st.in_flight;
        r.result = request_record::outcome::acknowledged;
        r.error.clear();
        r.done_us = st.args.ctx->now_us(self);
        maybe_done(self);
      },
      [self, index, target](caf::error& err) {
        auto& st = self->state;
        auto& r = st.args.log->requests[index];
        if (r.result != request_record::outcome::open)
          return;
        if (target != st.args.distributor)
          return;  // sent to a distributor left behind: the resend counts
        // An explicit keel error means the event was refused and has no
        // effect; anything else (timeout, dead distributor) leaves the
        // outcome unknown.
        auto code = code_of(err);
        r.result = code != error_code::none ? request_record::outcome::refused
                                            : request_record::outcome::failed;
        r.error = render(err);
        r.done_us = st.args.ctx->now_us(self);
        --st.in_flight;
        maybe_done(self);
      });
}

void send_one(client_ptr self) {
  auto& st = self->state;
  auto index = st.args.log->requests.size();
  request_record rec;
  rec.request_id = index + 1;
  rec.key = "k" + std::to_string(st.rng.below(st.args.workload.keys));
  rec.sent_us = st.args.ctx->now_us(self);
  st.args.log->requests.push_back(std::move(rec));
  ++st.sent;
  ++st.in_flight;
  request_one(self, index);
}

/// Batch ingress: this tick's due events in one event_batch.
void send_batch(client_ptr self, uint64_t due) {
  auto& st = self->state;
  event_batch batch;
  batch.reply_to = caf::actor_cast<result_sink_actor>(self);
  auto now = st.args.ctx->now_us(self);
  while (st.sent < due && st.in_flight < st.args.workload.max_in_flight) {
    auto index = st.args.log->requests.size();
    request_record rec;
    rec.request_id = index + 1;
    rec.key = "k" + std::to_string(st.rng.below(st.args.workload.keys));
    rec.sent_us = now;
    batch.events.push_back(event{st.args.workload.app, rec.key,
                                 json_value{st.args.workload.payload},
                                 st.args.client_id, rec.request_id});
    st.args.log->requests.push_back(std::move(rec));
    st.unanswered.push_back(index);
    ++st.sent;
    ++st.in_flight;
  }
  if (!batch.events.empty())
    self->send(caf::actor_cast<caf::actor>(st.args.distributor),
               std::move(batch));
}

/// Batch ingress: events unanswered for request_timeout_ms count as failed
/// (the batch or its outcome may have been lost: effect unknown).
void expire_batch_requests(client_ptr self) {
  auto& st = self->state;
  auto now = st.args.ctx->now_us(self);
  auto timeout = int64_t{st.args.workload.request_timeout_ms} * 1000;
  auto& requests = st.args.log->requests;
  while (!st.unanswered.empty()) {
    auto& r = requests[st.unanswered.front()];
    if (r.result == request_record::outcome::open) {
      if (now - r.sent_us < timeout)
        break;
      r.result = request_record::outcome::failed;
      r.error = "no outcome within request_timeout_ms";
      r.done_us = now;
      --st.in_flight;
    }
    st.unanswered.pop_front();
  }
}

void on_results(client_ptr self, event_results& res) {
  auto& st = self->state;
  auto& requests = st.args.log->requests;
  auto now = st.args.ctx->now_us(self);
  for (auto& x : res.results) {
    if (x.request_id == 0 || x.request_id > requests.size())
      continue;  // not ours
    auto& r = requests[x.request_id - 1];
    auto code = static_cast<error_code>(x.code);
    if (r.result == request_record::outcome::acknowledged
        || r.result == request_record::outcome::refused)
      continue;  // answered already
    if (r.result == request_record::outcome::open)
      --st.in_flight;
    // A late outcome replaces "failed": the checker then knows the effect.
    r.result = code == error_code::none ? request_record::outcome::acknowledged
                                        : request_record::outcome::refused;
    r.error = x.error;
    r.done_us = now;
  }
  maybe_done(self);
}

} // namespace

caf::behavior workload_client(caf::stateful_actor<client_state>* self,
                              client_args args) {
  auto& st = self->state;
  st.rng = random_source{args.seed};
  st.args = std::move(args);
  st.start = self->clock().now();
  // A run that stops early (a simulation whose safety monitor fired) shuts
  // its driver down while clients still send: they go with it, or the actor
  // system would wait for them forever.
  self->link_to(st.args.driver);
  self->send(self, tick_atom::value);
  return {
    [self](tick_atom) {
      auto& st = self->state;
      auto elapsed = self->clock().now() - st.start;
      auto duration = std::chrono::milliseconds{st.args.workload.duration_ms};
      auto until = std::min<caf::actor_clock::duration_type>(elapsed, duration);
      auto seconds = std::chrono::duration<double>(until).count();
      auto due = static_cast<uint64_t>(st.args.rate_per_s * seconds);
      if (st.args.workload.batch) {
        expire_batch_requests(self);
        send_batch(self, due);
      } else {
        while (st.sent < due && st.in_flight < st.args.workload.max_in_flight)
          send_one(self);
      }
      if (elapsed >= duration) {
        st.load_over = true;
        maybe_done(self);
        // Batch ingress keeps ticking to expire what is never answered.
        if (!st.args.workload.batch || st.in_flight == 0)
          return;
      }
      self->delayed_send(self, tick_interval, tick_atom::value);
    },
    [self](event_results& res) { on_results(self, res); },
    [self](switch_atom, event_sink_actor& distributor) {
      auto& st = self->state;
      st.args.distributor = std::move(distributor);
      if (st.args.workload.batch)
        return;  // open batch events expire as failed (effect unknown)
      // Open requests, and those that failed without a keel error (the
      // distributor was lost: effect unknown), go again with their ids.
      auto& requests = st.args.log->requests;
      for (size_t i = 0; i < requests.size(); ++i) {
        auto& r = requests[i];
        if (r.result == request_record::outcome::failed) {
          r.result = request_record::outcome::open;
          r.error.clear();
          ++st.in_flight;
        }
        if (r.result == request_record::outcome::open)
          request_one(self, i);
      }
    },
  };
}

} // namespace keel::scenarios

#include "runtime/quiet_clock.hpp"

#include <thread>

#include <caf/actor_system.hpp>
#include <caf/detail/set_thread_name.hpp>
#include <caf/policy/work_sharing.hpp>
#include <caf/policy/work_stealing.hpp>
#include <caf/scheduler/coordinator.hpp>
#include <caf/scheduler/test_coordinator.hpp>

namespace keel {

// -- actor_clock ----------------------------------------------------------------

void quiet_clock::set_ordinary_timeout(time_point t, caf::abstract_actor* self,
                                       caf::atom_value type, uint64_t id) {
  submit(t, std::make_unique<ordinary_timeout>(
              t, caf::strong_actor_ptr{self->ctrl()}, type, id));
}

void quiet_clock::set_multi_timeout(time_point t, caf::abstract_actor* self,
                                    caf::atom_value type, uint64_t id) {
  submit(t, std::make_unique<multi_timeout>(
              t, caf::strong_actor_ptr{self->ctrl()}, type, id));
}

void quiet_clock::set_request_timeout(time_point t, caf::abstract_actor* self,
                                      caf::message_id id) {
  submit(t, std::make_unique<request_timeout>(
              t, caf::strong_actor_ptr{self->ctrl()}, id));
}

void quiet_clock::cancel_ordinary_timeout(caf::abstract_actor* self,
                                          caf::atom_value type) {
  submit(time_point::max(),
         std::make_unique<ordinary_timeout_cancellation>(self->id(), type));
}

void quiet_clock::cancel_request_timeout(caf::abstract_actor* self,
                                         caf::message_id id) {
  submit(time_point::max(),
         std::make_unique<request_timeout_cancellation>(self->id(), id));
}

void quiet_clock::cancel_timeouts(caf::abstract_actor* self) {
  submit(time_point::max(),
         std::make_unique<timeouts_cancellation>(self->id()));
}

void quiet_clock::schedule_message(time_point t,
                                   caf::strong_actor_ptr receiver,
                                   caf::mailbox_element_ptr content) {
  submit(t, std::make_unique<actor_msg>(t, std::move(receiver),
                                        std::move(content)));
}

void quiet_clock::schedule_message(time_point t, caf::group target,
                                   caf::strong_actor_ptr sender,
                                   caf::message content) {
  submit(t, std::make_unique<group_msg>(t, std::move(target),
                                        std::move(sender),
                                        std::move(content)));
}

void quiet_clock::cancel_all() {
  // Applied by the thread, as with CAF's clock; only wakes it at once.
  submit(time_point::min(), std::make_unique<drop_all>());
}

// -- the thread -------------------------------------------------------------------

void quiet_clock::submit(time_point due, unique_event_ptr x) {
  bool wake = false;
  unique_event_ptr dropped;  // destroyed after the lock is released
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (done_) {
      // Stopped: dropped, as CAF's clock drops what comes after its
      // shutdown. Destroying it may release an actor, whose cleanup calls
      // back into this clock.
      dropped = std::move(x);
      return;
    }
    pending_.push_back(std::move(x));
    if (sleeping_ && (due < wake_at_ || pending_.size() >= wake_backlog)) {
      sleeping_ = false;  // one notification is enough
      ++wakeups_;
      wake = true;
    }
  }
  // Outside the lock: the woken thread does not block on it again.
  if (wake)
    cv_.notify_one();
}

template <class T>
void quiet_clock::add(unique_event_ptr& x) {
  std::unique_ptr<T> e{static_cast<T*>(x.release())};
  auto due = e->due;
  add_schedule_entry(due, std::move(e));  // CAF's own, per event type
}

void quiet_clock::apply(unique_event_ptr& x) {
  switch (x->subtype) {
    case ordinary_timeout_type:
      add<ordinary_timeout>(x);
      break;
    case multi_timeout_type:
      add<multi_timeout>(x);
      break;
    case request_timeout_type:
      add<request_timeout>(x);
      break;
    case actor_msg_type:
      add<actor_msg>(x);
      break;
    case group_msg_type:
      add<group_msg>(x);
      break;
    case ordinary_timeout_cancellation_type:
      handle(static_cast<const ordinary_timeout_cancellation&>(*x));
      break;
    case request_timeout_cancellation_type:
      handle(static_cast<const request_timeout_cancellation&>(*x));
      break;
    case timeouts_cancellation_type:
      handle(static_cast<const timeouts_cancellation&>(*x));
      break;
    case drop_all_type:
      schedule_.clear();
      actor_lookup_.clear();
      break;
    default:
      break;
  }
}

void quiet_clock::run() {
  std::vector<unique_event_ptr> batch;
  std::unique_lock<std::mutex> guard{mtx_};
  while (!done_) {
    batch.swap(pending_);
    guard.unlock();
    for (auto& x : batch)
      apply(x);
    batch.clear();
    // Ships with CAF's code; no lock held, so the receivers may set timers.
    trigger_expired_timeouts();
    guard.lock();
    if (!pending_.empty() || done_)
      continue;
    wake_at_ = schedule_.empty() ? time_point::max() : schedule_.begin()->first;
    sleeping_ = true;
    auto woken = [this] { return !sleeping_ || done_; };
    if (wake_at_ == time_point::max())
      cv_.wait(guard, woken);
    else
      cv_.wait_until(guard, wake_at_, woken);
    sleeping_ = false;
  }
  // Destroyed without the lock: an entry may hold the last reference to an
  // actor, whose cleanup cancels its timeouts here (dropped by submit).
  batch.swap(pending_);
  guard.unlock();
  batch.clear();
  schedule_.clear();
  actor_lookup_.clear();
}

void quiet_clock::stop() {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    done_ = true;
  }
  cv_.notify_one();
}

size_t quiet_clock::wakeups() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return wakeups_;
}

bool quiet_clock::sleeping() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return sleeping_;
}

size_t quiet_clock::queued() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return pending_.size();
}

// -- the scheduler --------------------------------------------------------------

namespace {

/// CAF's work-stealing coordinator with a quiet_clock. CAF's own clock
/// thread still starts (the base class owns it) and sleeps unused.
class quiet_coordinator final
  : public caf::scheduler::coordinator<caf::policy::work_stealing> {
public:
  using super = caf::scheduler::coordinator<caf::policy::work_stealing>;

  explicit quiet_coordinator(caf::actor_system& sys) : super(sys) {
    // nop
  }

  quiet_clock& clock() noexcept override {
    return quiet_;
  }

protected:
  void start() override {
    thread_ = std::thread{[this] {
      caf::detail::set_thread_name("keel.clock");
      system().thread_started();
      quiet_.run();
      system().thread_terminates();
    }};
    super::start();
  }

  void stop() override {
    // Workers first: actors that quit while stopping still cancel timeouts.
    super::stop();
    quiet_.stop();
    thread_.join();
  }

private:
  quiet_clock quiet_;
  std::thread thread_;
};

} // namespace

void use_quiet_clock(caf::actor_system_config& cfg) {
  cfg.module_factories.push_back(
    [](caf::actor_system& sys) -> caf::actor_system::module* {
      auto policy = caf::get_or(sys.config(), "scheduler.policy",
                                caf::atom("stealing"));
      if (policy == caf::atom("testing"))
        return new caf::scheduler::test_coordinator(sys);
      if (policy == caf::atom("sharing"))
        return new caf::scheduler::coordinator<caf::policy::work_sharing>(sys);
      // "stealing", CAF's default; CAF itself falls back to it for a policy
      // it does not know. Its profiled schedulers are not offered.
      return new quiet_coordinator(sys);
    });
}

} // namespace keel

// quiet_clock: timeouts and delayed messages as with CAF's clock, with its
// thread woken only for an earlier deadline or a full backlog.
#include "runtime/quiet_clock.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include "actors/bootstrap.hpp"

using namespace keel;
using namespace std::chrono_literals;

namespace {

/// Waits (up to 5 s) until the clock's thread sleeps with nothing queued.
bool settles(const quiet_clock& clock) {
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (clock.sleeping() && clock.queued() == 0)
      return true;
    std::this_thread::sleep_for(100us);
  }
  return false;
}

caf::mailbox_element_ptr tick(int n) {
  return caf::make_mailbox_element(nullptr, caf::make_message_id(), {}, n);
}

/// Runs a clock's thread; stops and joins it however the test ends.
struct clock_thread {
  quiet_clock& clock;
  std::thread thread{[this] { clock.run(); }};
  ~clock_thread() {
    stop();
  }
  void stop() {
    if (thread.joinable()) {
      clock.stop();
      thread.join();
    }
  }
};

} // namespace

TEST_CASE("quiet_clock: wakes its thread only for an earlier deadline or a "
          "full backlog, and still delivers everything on time") {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  auto receiver = caf::actor_cast<caf::strong_actor_ptr>(self);
  auto* raw_receiver = caf::actor_cast<caf::abstract_actor*>(receiver);
  quiet_clock clock;
  clock_thread running{clock};
  REQUIRE(settles(clock));
  auto now = clock.now();
  // Nothing scheduled: the first message wakes the thread.
  clock.schedule_message(now + 1h, receiver, tick(1));
  CHECK(clock.wakeups() == 1);
  REQUIRE(settles(clock));
  // Later than what the thread waits for: queued, no wake-up.
  clock.schedule_message(now + 2h, receiver, tick(2));
  // Cancellations never wake it.
  clock.cancel_timeouts(raw_receiver);
  clock.cancel_ordinary_timeout(raw_receiver, caf::atom("tick"));
  CHECK(clock.wakeups() == 1);
  CHECK(clock.queued() == 3);
  CHECK(clock.sleeping());
  // Earlier: wakes it, and it takes the queued operations along.
  clock.schedule_message(clock.now() + 20ms, receiver, tick(3));
  CHECK(clock.wakeups() == 2);
  int got = 0;
  self->receive([&](int n) { got = n; },
                caf::after(std::chrono::seconds{5}) >> [] {});
  CHECK(got == 3);
  REQUIRE(settles(clock));
  // A request timeout cancelled before its deadline never fires, although
  // the cancellation only waits in the queue: the thread applies it before
  // it ships what is due. Without the cancellation, the error arrives.
  auto id = caf::make_message_id(uint64_t{7}).response_id();
  clock.set_request_timeout(clock.now() + 20ms, raw_receiver, id);
  clock.cancel_request_timeout(raw_receiver, id);
  std::this_thread::sleep_for(60ms);
  CHECK(self->mailbox().empty());
  clock.set_request_timeout(clock.now() + 20ms, raw_receiver, id);
  std::this_thread::sleep_for(60ms);
  CHECK_FALSE(self->mailbox().empty());
  REQUIRE(settles(clock));
  // A backlog of wake_backlog operations wakes it whatever they are.
  auto before = clock.wakeups();
  for (size_t i = 0; i + 1 < quiet_clock::wake_backlog; ++i)
    clock.cancel_timeouts(raw_receiver);
  CHECK(clock.wakeups() == before);
  clock.cancel_timeouts(raw_receiver);
  CHECK(clock.wakeups() == before + 1);
  REQUIRE(settles(clock));
  // Stopping drops what is still scheduled (the two messages an hour
  // away) and releases the references they held to the receiver.
  auto refs = receiver->strong_refs.load();
  CHECK(clock.schedule().size() == 2);
  running.stop();
  CHECK(clock.schedule().empty());
  CHECK(receiver->strong_refs.load() == refs - 2);
  // After the stop, operations are dropped (their references too).
  clock.schedule_message(clock.now(), receiver, tick(4));
  CHECK(clock.queued() == 0);
  CHECK(receiver->strong_refs.load() == refs - 2);
}

TEST_CASE("use_quiet_clock: keel's systems time requests and delayed "
          "messages on a quiet_clock, the test scheduler keeps its own") {
  system_config config;
  caf::actor_system_config cfg;
  configure_actor_system(cfg, config);
  caf::actor_system sys{cfg};
  REQUIRE(dynamic_cast<quiet_clock*>(&sys.clock()) != nullptr);
  // Answers strings at once and never answers ints (it keeps their
  // promises pending).
  auto kept = std::make_shared<std::vector<caf::response_promise>>();
  auto silent = sys.spawn(
    [kept](caf::event_based_actor* s, int) -> caf::behavior {
      return {[=](int) { kept->push_back(s->make_response_promise()); },
              [](std::string& x) { return x; }};
    },
    0);
  caf::scoped_actor self{sys};
  // A request nobody answers times out, not before its deadline.
  auto t0 = std::chrono::steady_clock::now();
  caf::error err;
  self->request(silent, 50ms, 1)
    .receive([](int) {}, [&](caf::error& e) { err = e; });
  CHECK(err == caf::sec::request_timeout);
  CHECK(std::chrono::steady_clock::now() - t0 >= 50ms);
  // An answered one gets its answer.
  std::string answer;
  self->request(silent, 5s, std::string{"x"})
    .receive([&](std::string& s) { answer = s; }, [](caf::error&) {});
  CHECK(answer == "x");
  // A delayed message arrives after its delay.
  t0 = std::chrono::steady_clock::now();
  self->delayed_send(self, 30ms, 7);
  int got = 0;
  self->receive([&](int n) { got = n; }, caf::after(5s) >> [] {});
  CHECK(got == 7);
  CHECK(std::chrono::steady_clock::now() - t0 >= 30ms);
  // The system shuts down with a message an hour away still scheduled.
  self->delayed_send(silent, 1h, std::string{"late"});
  self->send_exit(silent, caf::exit_reason::user_shutdown);

  caf::actor_system_config test_cfg;
  configure_actor_system(test_cfg, config);
  test_cfg.set("scheduler.policy", caf::atom("testing"));
  caf::actor_system test_sys{test_cfg};
  CHECK(dynamic_cast<caf::scheduler::test_coordinator*>(
          &test_sys.scheduler())
        != nullptr);
  CHECK(dynamic_cast<quiet_clock*>(&test_sys.clock()) == nullptr);
}

// request_window: at most `width` requests in flight; a node whose request
// timed out gets the rest of its requests at once.
#include "actors/system_controller/request_window.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <deque>

using namespace keel;

namespace {

using index_list = std::vector<size_t>;

/// Answers requests in the order they went out (timing out those whose
/// node is `dead`) until the window is done; returns the order in which
/// they went out and the most ever in flight.
std::pair<index_list, size_t> drive(request_window& w,
                                    const std::vector<node_id>& nodes,
                                    const std::string& dead = "") {
  index_list order;
  std::deque<size_t> flying;
  size_t most = 0;
  auto send = [&](const index_list& xs) {
    for (auto x : xs) {
      order.push_back(x);
      flying.push_back(x);
    }
    most = std::max(most, w.in_flight());
  };
  send(w.start());
  while (!flying.empty()) {
    auto i = flying.front();
    flying.pop_front();
    REQUIRE_FALSE(w.done());
    send(w.answered(i, nodes[i] == dead));
  }
  return {order, most};
}

} // namespace

TEST_CASE("request_window: keeps at most its width in flight and sends "
          "every request once, in order") {
  std::vector<node_id> nodes{"a", "a", "b", "b", "a", "c", "b"};
  request_window w{nodes, 2};
  CHECK(w.start() == index_list{0, 1});
  CHECK(w.in_flight() == 2);
  CHECK(w.answered(1, false) == index_list{2});
  CHECK(w.answered(0, false) == index_list{3});
  request_window all{nodes, 2};
  auto [order, most] = drive(all, nodes);
  CHECK(order == index_list{0, 1, 2, 3, 4, 5, 6});
  CHECK(most == 2);
  CHECK(all.done());
}

TEST_CASE("request_window: a timeout sends the rest of its node's requests "
          "at once, outside the window, and each still only once") {
  std::vector<node_id> nodes{"a", "b", "a", "b", "a", "b", "a", "c"};
  request_window w{nodes, 2};
  CHECK(w.start() == index_list{0, 1});
  // Node a did not answer: its 2, 4 and 6 go out now, and the window's
  // free place goes to 3 (2 is already out).
  CHECK(w.answered(0, true) == index_list{2, 4, 6, 3});
  CHECK(w.in_flight() == 2);  // 1 and 3; 2, 4 and 6 hold no place
  // Answers of the bypassed requests do not free places they never held.
  CHECK(w.answered(2, true).empty());
  CHECK(w.answered(4, true).empty());
  CHECK(w.answered(1, false) == index_list{5});
  CHECK(w.answered(6, true).empty());
  CHECK(w.answered(3, false) == index_list{7});
  CHECK_FALSE(w.done());
  CHECK(w.answered(5, false).empty());
  CHECK_FALSE(w.done());
  CHECK(w.answered(7, false).empty());
  CHECK(w.done());
  // Driven to the end with node a dead: every request once.
  request_window again{nodes, 2};
  auto [order, most] = drive(again, nodes, "a");
  auto sorted = order;
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted == index_list{0, 1, 2, 3, 4, 5, 6, 7});
  CHECK(most <= 2);
  CHECK(again.done());
}

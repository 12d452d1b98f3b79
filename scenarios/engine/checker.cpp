#include "scenarios/engine/checker.hpp"
#include "scenarios/engine/invariants.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include "runtime/hash.hpp"
#include "runtime/sha256.hpp"

namespace keel::scenarios {

namespace {

double percentile(std::vector<double> xs, double p) {
  if (xs.empty())
    return 0;
  std::sort(xs.begin(), xs.end());
  auto rank = static_cast<size_t>(std::ceil(p * xs.size()));
  return xs[std::min(xs.size() - 1, rank == 0 ? 0 : rank - 1)];
}

std::string str(const json& fields, const char* key) {
  auto i = fields.find(key);
  return i != fields.end() && i->is_string() ? i->get<std::string>() : "";
}

uint64_t num(const json& fields, const char* key) {
  auto i = fields.find(key);
  return i != fields.end() && i->is_number() ? i->get<uint64_t>() : 0;
}

double ms_between(int64_t from_us, int64_t to_us) {
  return static_cast<double>(to_us - from_us) / 1000.0;
}

} // namespace

std::vector<failover_timeline>
failover_timelines(const std::vector<trace_event>& trace) {
  std::vector<failover_timeline> result;
  // Faults in order, with the copies each one took down.
  for (size_t i = 0; i < trace.size(); ++i) {
    auto& ev = trace[i];
    if (ev.name != "fault_injected")
      continue;
    auto fault = static_cast<uint32_t>(num(ev.fields, "fault"));
    auto t0 = ev.t_us;
    auto copies = ev.fields.value("copies", json::array());
    auto nodes = ev.fields.value("nodes", json::array());
    for (size_t ci = 0; ci < copies.size(); ++ci) {
      auto copy = copies[ci].get<std::string>();
      auto node = ci < nodes.size() ? nodes[ci].get<std::string>() : "";
      // Detected: the first sign of the fault the fault manager saw, the
      // copy's own down_msg or its node agent's.
      int64_t detected = -1;
      std::vector<failover_timeline> parts;
      for (size_t j = i + 1; j < trace.size(); ++j) {
        auto& later = trace[j];
        if (later.name == "fault_injected"
            && (later.fields.value("copies", json::array()).dump().find(
                  "\"" + copy + "\"")
                  != std::string::npos
                || (later.fields.value("copies", json::array()).empty()
                    && str(later.fields, "kind").rfind("end_", 0) != 0)))
          break;  // the same copy fails again, or a network fault (its
                  // copies are not listed) starts: what follows is theirs
        if (detected < 0
            && (((later.name == "copy_down" || later.name == "copy_hung")
                 && str(later.fields, "copy") == copy)
                || (later.name == "node_down" && !node.empty()
                    && str(later.fields, "node") == node)))
          detected = later.t_us;
        if (later.name == "partition_promoted"
            && str(later.fields, "cause") == copy) {
          failover_timeline f;
          f.fault = fault;
          f.copy = copy;
          f.app = str(later.fields, "app");
          f.partition = static_cast<partition_id>(num(later.fields,
                                                      "partition"));
          f.epoch = num(later.fields, "epoch");
          f.promoted_ms = ms_between(t0, later.t_us);
          auto same_partition = [&](const trace_event& x) {
            return str(x.fields, "app") == f.app
                   && num(x.fields, "partition") == f.partition;
          };
          // The successor may have taken the role before the controller's
          // promotion confirmed it (decisions.md 33): that is the
          // promotion, and it may have served before the confirmation.
          size_t served_at = trace.size();
          for (size_t k = i + 1; k < trace.size(); ++k) {
            auto& x = trace[k];
            if (!same_partition(x))
              continue;
            if (x.name == "successor_promoted" && k < j
                && num(x.fields, "epoch") == f.epoch
                && str(x.fields, "copy") == str(later.fields, "copy"))
              f.promoted_ms = ms_between(t0, x.t_us);
            // Served again: the partition's first event in this epoch or
            // a later one (a second fault or a failback may move it on
            // before it served anything; service is what the client sees).
            if (x.name == "first_event_served"
                && num(x.fields, "epoch") >= f.epoch) {
              f.first_event_ms = ms_between(t0, x.t_us);
              served_at = k;
              break;
            }
          }
          for (size_t k = j + 1; k < served_at; ++k) {
            auto& next = trace[k];
            if (same_partition(next)
                && (next.name == "partition_promoted"
                    || next.name == "partition_reassigned"
                    || next.name == "switchover_done")
                && num(next.fields, "epoch") > f.epoch)
              f.superseded = true;
          }
          parts.push_back(f);
        }
      }
      for (auto& f : parts) {
        f.detected_ms = detected >= 0 ? ms_between(t0, detected) : -1;
        result.push_back(f);
      }
    }
  }
  return result;
}

std::vector<fault_detection>
fault_detections(const std::vector<trace_event>& trace) {
  std::vector<fault_detection> result;
  for (size_t i = 0; i < trace.size(); ++i) {
    auto& ev = trace[i];
    if (ev.name != "fault_injected")
      continue;
    fault_detection d{static_cast<uint32_t>(num(ev.fields, "fault")),
                      str(ev.fields, "kind"), -1};
    auto copies = ev.fields.value("copies", json::array());
    d.any_target = !copies.empty() || d.kind == "crash_node";
    auto nodes = ev.fields.value("nodes", json::array());
    auto matches = [&](const trace_event& later) {
      if (later.name == "copy_down" || later.name == "copy_hung")
        for (auto& c : copies)
          if (str(later.fields, "copy") == c.get<std::string>())
            return true;
      if (later.name == "node_down" && d.kind == "crash_node")
        for (auto& n : nodes)
          if (str(later.fields, "node") == n.get<std::string>())
            return true;
      return false;
    };
    for (size_t j = i + 1; j < trace.size(); ++j)
      if (matches(trace[j])) {
        d.detected_ms = ms_between(ev.t_us, trace[j].t_us);
        break;
      }
    result.push_back(d);
  }
  return result;
}

std::vector<std::string>
unexpected_failures(const std::vector<trace_event>& trace) {
  std::set<std::string> targeted;
  std::set<std::string> crashed_nodes;
  std::vector<std::string> result;
  for (auto& ev : trace) {
    if (ev.name == "fault_injected") {
      auto kind = str(ev.fields, "kind");
      // A slowed copy is expected to stay up: it is not a target here.
      if (kind != "slow_copy")
        for (auto& c : ev.fields.value("copies", json::array()))
          targeted.insert(c.get<std::string>());
      if (kind == "crash_node")
        crashed_nodes.insert(str(ev.fields, "target"));
    } else if (ev.name == "copy_down" || ev.name == "copy_hung") {
      auto copy = str(ev.fields, "copy");
      if (targeted.count(copy) == 0
          && crashed_nodes.count(str(ev.fields, "node")) == 0)
        result.push_back(ev.name + " " + copy + " at "
                         + std::to_string(ev.t_us / 1000) + " ms");
    }
  }
  return result;
}

std::vector<std::string>
single_active_violations(const std::vector<trace_event>& trace,
                         const std::vector<copy_status>& statuses) {
  using key = std::tuple<std::string, uint64_t, uint64_t>;
  std::map<key, std::set<std::string>> actives;
  for (auto& ev : trace)
    if (ev.name == "role_changed" && str(ev.fields, "role") == "active")
      actives[key{str(ev.fields, "app"), num(ev.fields, "partition"),
                  num(ev.fields, "epoch")}]
        .insert(incarnation_name(ev.fields));
  for (auto& st : statuses)
    for (auto& p : st.partitions)
      if (p.current_role == role::active) {
        // Seen in the trace already (as some incarnation of the copy)?
        auto& set = actives[key{st.copy.app, p.partition, p.epoch}];
        auto name = to_string(st.copy);
        auto i = set.lower_bound(name);
        if (i == set.end() || i->compare(0, name.size(), name) != 0)
          set.insert(name);
      }
  std::vector<std::string> result;
  for (auto& [k, copies] : actives)
    if (copies.size() > 1) {
      std::string list;
      for (auto& c : copies)
        list += (list.empty() ? "" : ", ") + c;
      result.push_back(std::get<0>(k) + " partition "
                       + std::to_string(std::get<1>(k)) + " epoch "
                       + std::to_string(std::get<2>(k)) + ": " + list);
    }
  return result;
}

report check_run(const scenario& sc, const run_data& data,
                 const std::vector<trace_event>& trace, size_t trace_dropped) {
  report rep;
  rep.title = sc.title;
  rep.seed = sc.seed;
  rep.errors = data.errors;
  rep.trace_events = trace.size();
  rep.trace_dropped = trace_dropped;
  sha256 hash;
  for (auto& ev : trace) {
    hash.update(ev.to_json().dump());
    hash.update("\n");
  }
  rep.trace_sha256 = hash.hex();
  auto& ev = rep.events;
  // -- client outcomes ------------------------------------------------------------
  std::map<std::pair<std::string, uint64_t>, const request_record*> sent;
  std::vector<double> latencies;
  for (auto& log : data.clients)
    for (auto& r : log->requests) {
      ++ev.sent;
      sent.emplace(std::make_pair(log->client_id, r.request_id), &r);
      switch (r.result) {
        case request_record::outcome::acknowledged:
          ++ev.acknowledged;
          latencies.push_back(ms_between(r.sent_us, r.done_us));
          break;
        case request_record::outcome::refused: ++ev.refused; break;
        case request_record::outcome::failed: ++ev.failed; break;
        case request_record::outcome::open: ++ev.open; break;
      }
    }
  rep.latency_p50_ms = percentile(latencies, 0.50);
  rep.latency_p99_ms = percentile(latencies, 0.99);
  rep.latency_max_ms = latencies.empty()
                         ? 0
                         : *std::max_element(latencies.begin(),
                                             latencies.end());
  // -- the journal ----------------------------------------------------------------
  std::map<std::pair<std::string, uint64_t>, uint64_t> seen;
  for (auto& [key, entries] : data.journal) {
    std::map<std::string, uint64_t> last_by_client;
    for (auto& [client, rid] : entries) {
      auto id = std::make_pair(client, rid);
      if (++seen[id] > 1)
        ++ev.duplicated;
      auto s = sent.find(id);
      if (s == sent.end() || s->second->key != key)
        ++ev.unexpected;
      auto& last = last_by_client[client];
      if (rid < last)
        ++ev.reordered;
      else
        last = rid;
    }
  }
  for (auto& [id, r] : sent)
    if (r->result == request_record::outcome::acknowledged
        && seen.count(id) == 0)
      ++ev.lost;
  // -- forwarded events (app-to-app) ---------------------------------------------
  std::vector<std::string> chain;  // scenario text: never interned
  if (auto fwd = sc.workload.payload.find("forward");
      fwd != sc.workload.payload.end()) {
    if (fwd->is_string())
      chain.push_back(fwd->get<std::string>());
    else if (fwd->is_array())
      for (auto& x : *fwd)
        if (x.is_string())
          chain.push_back(x.get<std::string>());
  }
  bool forwards_read = true;
  if (!chain.empty()) {
    // Every forward of every hop: (client, request id) -> occurrences.
    std::vector<std::map<std::pair<std::string, uint64_t>, uint64_t>> hops;
    for (auto& app : chain) {
      hops.emplace_back();
      auto name = symbol::find(app);
      auto j = name ? data.other_journals.find(*name)
                    : data.other_journals.end();
      if (j == data.other_journals.end()
          || data.other_journals_unread.count(*name) > 0) {
        forwards_read = false;
        continue;
      }
      for (auto& [key, entries] : j->second)
        for (auto& e : entries)
          if (++hops.back()[e] == 2)
            ++ev.forward_duplicated;
    }
    for (auto& [id, r] : sent) {
      if (r->result != request_record::outcome::acknowledged)
        continue;
      auto client = id.first;
      auto rid = id.second;
      std::string sender = sc.workload.app;
      for (size_t h = 0; h < chain.size(); ++h) {
        client = sender + "/" + client;
        rid *= 64;
        ++ev.forwarded;
        if (hops[h].count({client, rid}) == 0)
          ++ev.forward_lost;
        sender = chain[h];
      }
    }
  }
  rep.failovers = failover_timelines(trace);
  rep.detections = fault_detections(trace);
  // Controller takeovers: a crash of the control node, then takeover_done.
  for (size_t i = 0; i < trace.size(); ++i) {
    auto& ev = trace[i];
    if (ev.name != "fault_injected" || str(ev.fields, "kind") != "crash_node"
        || sc.system.nodes.empty()
        || str(ev.fields, "target") != sc.system.nodes.front())
      continue;
    auto fault = static_cast<uint32_t>(num(ev.fields, "fault"));
    rep.takeovers[fault] = -1;
    for (size_t j = i + 1; j < trace.size(); ++j)
      if (trace[j].name == "takeover_done") {
        rep.takeovers[fault] = ms_between(ev.t_us, trace[j].t_us);
        break;
      }
  }
  // Switchovers, and the latency of the events that ran into them.
  for (auto& ev : trace) {
    if (ev.name != "switchover_started")
      continue;
    switchover_report so{str(ev.fields, "app"),
                         static_cast<partition_id>(num(ev.fields, "partition")),
                         str(ev.fields, "from"), str(ev.fields, "to")};
    int64_t end_us = -1;
    for (auto& later : trace)
      if (later.t_us >= ev.t_us
          && (later.name == "switchover_done"
              || later.name == "switchover_failed")
          && str(later.fields, "app") == so.app
          && num(later.fields, "partition") == so.partition) {
        if (later.name == "switchover_done") {
          end_us = later.t_us;
          so.duration_ms = ms_between(ev.t_us, later.t_us);
        }
        break;
      }
    auto app = sc.system.find_app_named(so.app);
    std::vector<double> during;
    if (app && end_us >= 0)
      for (auto& log : data.clients)
        for (auto& r : log->requests)
          if (r.sent_us <= end_us && r.done_us >= ev.t_us
              && r.result == request_record::outcome::acknowledged
              && sc.workload.app == so.app
              && partition_of(r.key, app->partitions) == so.partition)
            during.push_back(ms_between(r.sent_us, r.done_us));
    so.events = during.size();
    so.latency_p50_ms = percentile(during, 0.5);
    so.latency_max_ms = during.empty()
                          ? 0
                          : *std::max_element(during.begin(), during.end());
    rep.switchovers.push_back(std::move(so));
  }
  // -- checks ---------------------------------------------------------------------
  auto journal_ok = data.journal_read;
  for (auto& c : sc.checks) {
    check_result res{c.name, false, {}};
    if (c.name == "no_lost_acknowledged") {
      res.passed = journal_ok && ev.lost == 0 && ev.unexpected == 0;
      res.detail = journal_ok ? std::to_string(ev.lost) + " lost, "
                                  + std::to_string(ev.unexpected)
                                  + " unexpected"
                              : "journal could not be read";
    } else if (c.name == "no_duplicates") {
      res.passed = journal_ok && ev.duplicated == 0;
      res.detail = std::to_string(ev.duplicated) + " duplicated";
    } else if (c.name == "per_key_order") {
      res.passed = journal_ok && ev.reordered == 0;
      res.detail = std::to_string(ev.reordered) + " reordered";
    } else if (c.name == "single_active") {
      auto violations = single_active_violations(trace, data.statuses);
      res.passed = violations.empty() && trace_dropped == 0;
      res.detail = violations.empty() ? "one active per partition and epoch"
                                      : violations.front();
      if (trace_dropped > 0)
        res.detail = "trace incomplete (" + std::to_string(trace_dropped)
                     + " events dropped)";
    } else if (c.name == "recovered_within_ms") {
      res.passed = true;
      double worst = 0;
      for (auto& f : rep.failovers) {
        if (f.first_event_ms < 0 || f.first_event_ms > c.bound_ms) {
          res.passed = false;
          res.detail = "fault " + std::to_string(f.fault) + " " + f.app
                       + " partition " + std::to_string(f.partition)
                       + (f.first_event_ms < 0
                            ? ": no event served after promotion"
                            : ": first event after "
                                + std::to_string(f.first_event_ms) + " ms");
          break;
        }
        worst = std::max(worst, f.first_event_ms);
      }
      if (res.passed)
        res.detail = "slowest " + std::to_string(worst) + " ms <= "
                     + std::to_string(c.bound_ms) + " ms over "
                     + std::to_string(rep.failovers.size()) + " failovers";
    } else if (c.name == "redundancy_restored_within_ms") {
      // Liveness: after the last fault ended, every partition had an active
      // and its configured standbys again (the driver polls for it).
      auto since = static_cast<double>(data.restored_us - data.faults_end_us)
                   / 1000.0;
      if (data.restored_us < 0) {
        res.passed = false;
        res.detail = "never restored: some partition lacked an active or "
                     "its configured standbys until the run ended";
      } else {
        res.passed = since <= c.bound_ms;
        std::ostringstream detail;
        detail << "every partition had an active and its standbys " << since
               << " ms after the last fault ended (bound " << c.bound_ms
               << " ms)";
        res.detail = detail.str();
      }
    } else if (c.name == "detected_within_ms") {
      res.passed = true;
      double worst = 0;
      for (auto& d : rep.detections) {
        if (d.kind == "slow_copy" || !d.any_target)
          continue;  // nothing to detect
        if (d.detected_ms < 0 || d.detected_ms > c.bound_ms) {
          res.passed = false;
          res.detail = "fault " + std::to_string(d.fault) + " (" + d.kind
                       + ") "
                       + (d.detected_ms < 0
                            ? std::string{"never detected"}
                            : "detected after "
                                + std::to_string(d.detected_ms) + " ms");
          break;
        }
        worst = std::max(worst, d.detected_ms);
      }
      if (res.passed)
        res.detail = "slowest detection " + std::to_string(worst)
                     + " ms <= " + std::to_string(c.bound_ms) + " ms";
    } else if (c.name == "no_unexpected_failures") {
      auto extra = unexpected_failures(trace);
      res.passed = extra.empty();
      res.detail = extra.empty() ? "only injected faults took copies down"
                                 : extra.front();
    } else if (c.name == "forwards_exactly_once") {
      res.passed = !chain.empty() && forwards_read && ev.forward_lost == 0
                   && ev.forward_duplicated == 0;
      res.detail = chain.empty()
                     ? std::string{"the workload payload has no forward"}
                     : std::to_string(ev.forwarded) + " forwards checked, "
                         + std::to_string(ev.forward_lost) + " missing, "
                         + std::to_string(ev.forward_duplicated)
                         + " duplicated"
                         + (forwards_read ? "" : " (a target was unread)");
    } else if (c.name == "switchovers_completed") {
      auto unfinished = std::count_if(
        rep.switchovers.begin(), rep.switchovers.end(),
        [](auto& so) { return so.duration_ms < 0; });
      res.passed = !rep.switchovers.empty() && unfinished == 0;
      res.detail = std::to_string(rep.switchovers.size() - unfinished) + " of "
                   + std::to_string(rep.switchovers.size())
                   + " switchovers finished";
    } else if (c.name == "escalation_ladder") {
      // restart, then failover, then node out of service, in that order.
      const char* rungs[] = {"restart", "failover", "node_out_of_service"};
      size_t next = 0;
      for (auto& ev : trace)
        if (next < 3 && ev.name == "escalation"
            && str(ev.fields, "level") == rungs[next])
          ++next;
      res.passed = next == 3;
      res.detail = next == 3 ? "restart, failover, node out of service"
                             : std::string{"stopped before "} + rungs[next];
    } else if (c.name == "takeover_within_ms") {
      res.passed = !rep.takeovers.empty();
      res.detail = rep.takeovers.empty() ? "the control node never crashed" : "";
      for (auto& [fault, ms] : rep.takeovers) {
        bool ok = ms >= 0 && ms <= c.bound_ms;
        res.passed = res.passed && ok;
        std::ostringstream d;
        d << "fault " << fault << ": "
          << (ms < 0 ? std::string{"no takeover"}
                     : "takeover after " + std::to_string(ms) + " ms");
        res.detail += (res.detail.empty() ? "" : "; ") + d.str();
      }
    } else if (c.name == "minority_self_fenced") {
      // Some node lost the majority and fenced itself, and every node that
      // did was taken back afterwards (reinstated or reset on rejoin).
      std::map<std::string, bool> fenced;  // node -> taken back since
      for (auto& e : trace) {
        if (e.name == "node_self_fenced")
          fenced[str(e.fields, "node")] = false;
        else if ((e.name == "node_reinstated" || e.name == "node_rejoined")
                 && fenced.count(str(e.fields, "node")) > 0)
          fenced[str(e.fields, "node")] = true;
      }
      res.passed = !fenced.empty();
      res.detail = fenced.empty() ? "no node fenced itself" : "";
      for (auto& [node, back] : fenced) {
        res.passed = res.passed && back;
        res.detail += (res.detail.empty() ? "" : "; ") + node
                      + (back ? " fenced itself and was taken back"
                              : " fenced itself and was never taken back");
      }
    } else if (c.name == "restarted_nodes_used") {
      // Every node a restart_node step brought back rejoined and hosts a
      // live copy at the end.
      std::set<std::string> restarted;
      std::set<std::string> rejoined;
      for (auto& e : trace) {
        if (e.name == "fault_injected" && str(e.fields, "kind") == "restart_node")
          restarted.insert(str(e.fields, "target"));
        else if (e.name == "node_rejoined"
                 && restarted.count(str(e.fields, "node")) > 0)
          rejoined.insert(str(e.fields, "node"));
      }
      res.passed = !restarted.empty();
      res.detail = restarted.empty() ? "no node was restarted" : "";
      for (auto& node : restarted) {
        std::string hosts;
        for (auto& copy : data.final_assignment.copies)
          if (copy.alive && copy.node == node)
            hosts += (hosts.empty() ? "" : ", ") + to_string(copy.copy);
        bool ok = rejoined.count(node) > 0 && !hosts.empty();
        res.passed = res.passed && ok;
        res.detail += (res.detail.empty() ? "" : "; ") + node
                      + (rejoined.count(node) > 0 ? " rejoined"
                                                  : " never rejoined")
                      + (hosts.empty() ? ", hosts no copy"
                                       : ", hosts " + hosts);
      }
    } else if (c.name == "all_answered") {
      res.passed = ev.failed == 0 && ev.open == 0;
      res.detail = std::to_string(ev.failed) + " failed (timeout), "
                   + std::to_string(ev.open) + " unanswered";
    } else if (c.name == "all_partitions_active") {
      res.passed = data.settled;
      res.detail = data.settled ? "every partition has an active"
                                : "not settled within settle_timeout_ms";
    }
    rep.checks.push_back(std::move(res));
  }
  rep.passed = rep.errors.empty()
               && std::all_of(rep.checks.begin(), rep.checks.end(),
                              [](auto& c) { return c.passed; });
  return rep;
}

json report::to_json(const run_data& data) const {
  json faults = json::array();
  for (auto& f : data.faults) {
    json copies = json::array();
    for (auto& c : f.copies)
      copies.push_back(to_string(c));
    faults.push_back(json{{"index", f.index},
                          {"step", f.step},
                          {"kind", f.kind},
                          {"target", f.target},
                          {"at_ms", static_cast<double>(f.at_us) / 1000.0},
                          {"copies", copies},
                          {"error", f.error}});
  }
  for (auto& f : faults)
    for (auto& d : detections)
      if (d.fault == f["index"].get<uint32_t>())
        f["detected_ms"] = d.detected_ms;
  json fo = json::array();
  for (auto& f : failovers)
    fo.push_back(json{{"fault", f.fault},
                      {"copy", f.copy},
                      {"app", f.app},
                      {"partition", f.partition},
                      {"epoch", f.epoch},
                      {"detected_ms", f.detected_ms},
                      {"promoted_ms", f.promoted_ms},
                      {"first_event_ms", f.first_event_ms},
                      {"superseded", f.superseded}});
  json sw = json::array();
  for (auto& so : switchovers)
    sw.push_back(json{{"app", so.app},
                      {"partition", so.partition},
                      {"from", so.from},
                      {"to", so.to},
                      {"duration_ms", so.duration_ms},
                      {"events", so.events},
                      {"latency_p50_ms", so.latency_p50_ms},
                      {"latency_max_ms", so.latency_max_ms}});
  json cs = json::array();
  for (auto& c : checks)
    cs.push_back(json{{"name", c.name},
                      {"passed", c.passed},
                      {"detail", c.detail}});
  return json{
    {"title", title},
    {"seed", seed},
    {"mode", mode},
    {"trace_sha256", trace_sha256},
    {"passed", passed},
    {"events",
     {{"sent", events.sent},
      {"acknowledged", events.acknowledged},
      {"refused", events.refused},
      {"failed", events.failed},
      {"open", events.open},
      {"lost", events.lost},
      {"duplicated", events.duplicated},
      {"reordered", events.reordered},
      {"unexpected", events.unexpected},
      {"forwarded", events.forwarded},
      {"forward_lost", events.forward_lost},
      {"forward_duplicated", events.forward_duplicated}}},
    {"latency_ms",
     {{"p50", latency_p50_ms}, {"p99", latency_p99_ms}, {"max", latency_max_ms}}},
    {"faults", faults},
    {"failovers", fo},
    {"takeovers", [&] {
       json t = json::array();
       for (auto& [fault, ms] : takeovers)
         t.push_back(json{{"fault", fault}, {"takeover_ms", ms}});
       return t;
     }()},
    {"switchovers", sw},
    {"checks", cs},
    {"errors", errors},
    {"settled", data.settled},
    {"trace", {{"events", trace_events}, {"dropped", trace_dropped}}},
    {"wall_ms", wall_ms},
    {"sim_ms", sim_ms},
    {"steps", steps},
    {"speedup", speedup},
  };
}

std::string summarize(const report& rep, const run_data& data) {
  std::ostringstream out;
  auto& e = rep.events;
  out << "scenario: " << rep.title << " (seed " << rep.seed << ")\n";
  out << "events:   sent " << e.sent << ", acknowledged " << e.acknowledged
      << ", refused " << e.refused << ", failed " << e.failed << ", lost "
      << e.lost << ", duplicated " << e.duplicated << ", reordered "
      << e.reordered << "\n";
  out << "latency:  p50 " << rep.latency_p50_ms << " ms, p99 "
      << rep.latency_p99_ms << " ms, max " << rep.latency_max_ms << " ms\n";
  for (auto& f : data.faults) {
    out << "fault " << f.index << ": " << f.kind << " " << f.target << " at "
        << static_cast<double>(f.at_us) / 1000.0 << " ms";
    if (!f.error.empty())
      out << " FAILED: " << f.error;
    if (auto t = rep.takeovers.find(f.index); t != rep.takeovers.end())
      out << (t->second >= 0 ? ", controller taken over after "
                                 + std::to_string(t->second) + " ms"
                             : std::string{", controller never taken over"});
    for (auto& d : rep.detections)
      if (d.fault == f.index && d.kind != "slow_copy" && !f.copies.empty())
        out << (d.detected_ms >= 0
                  ? ", detected after " + std::to_string(d.detected_ms) + " ms"
                  : std::string{", never detected"});
    std::vector<double> det, pro, first;
    for (auto& fo : rep.failovers)
      if (fo.fault == f.index) {
        det.push_back(fo.detected_ms);
        pro.push_back(fo.promoted_ms);
        first.push_back(fo.first_event_ms);
      }
    if (!pro.empty()) {
      auto mm = [](std::vector<double>& xs) {
        auto [lo, hi] = std::minmax_element(xs.begin(), xs.end());
        std::ostringstream s;
        s << *lo << "-" << *hi << " ms";
        return s.str();
      };
      out << ": " << pro.size() << " partitions failed over, detected "
          << mm(det) << ", promoted " << mm(pro) << ", first event "
          << mm(first);
    }
    out << "\n";
  }
  for (auto& so : rep.switchovers)
    out << "switchover " << so.app << "/" << so.partition << " " << so.from
        << " -> " << so.to << ": "
        << (so.duration_ms < 0 ? std::string{"did not finish"}
                               : std::to_string(so.duration_ms) + " ms")
        << ", " << so.events << " events during it, latency p50 "
        << so.latency_p50_ms << " ms, max " << so.latency_max_ms
        << " ms (whole run p50 " << rep.latency_p50_ms << " ms)\n";
  for (auto& c : rep.checks)
    out << "check " << (c.passed ? "PASS " : "FAIL ") << c.name << ": "
        << c.detail << "\n";
  for (auto& err : rep.errors)
    out << "error: " << err << "\n";
  if (rep.mode == "sim")
    out << "simulation: " << rep.sim_ms << " ms virtual in " << rep.wall_ms
        << " ms wall (" << rep.speedup << "x), " << rep.steps
        << " steps, trace " << rep.trace_sha256 << "\n";
  out << "result: " << (rep.passed ? "PASS" : "FAIL") << "\n";
  return out.str();
}

} // namespace keel::scenarios

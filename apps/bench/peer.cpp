#include "apps/bench/peer.hpp"

#include <cstdio>
#include <fstream>
#include <iomanip>
#include <regex>
#include <sstream>

namespace keel::bench {

namespace {

double scaled(const std::string& number, const std::string& suffix) {
  auto x = std::stod(number);
  if (suffix == "M")
    return x * 1e6;
  if (suffix == "k" || suffix == "K")
    return x * 1e3;
  return x;
}

const result* find(const std::vector<result>& rows, const std::string& id) {
  for (auto& r : rows)
    if (r.id == id)
      return &r;
  return nullptr;
}

struct pairing {
  std::string figure;
  std::string keel_id;
  double peer_value;
  bool higher_better;
};

std::vector<pairing> pairings(const peer_figures& p) {
  return {
    {"T1 events/s", "T1", p.t1, true},
    {"T3 events/s", "T3", p.t3, true},
    {"L1 p50 us (idle, closed loop)", "L1 idle p50", p.l1_p50, false},
    {"L1 p99 us (idle, closed loop)", "L1 idle p99", p.l1_p99, false},
    {"L1 p99.9 us (idle, closed loop)", "L1 idle p99.9", p.l1_p999, false},
    // OTP: kill -> the promoted copy handles its first event.
    {"F1 idle served p50 us", "F1 idle served p50", p.f1_idle_p50, false},
    {"F1 idle served p99 us", "F1 idle served p99", p.f1_idle_p99, false},
    {"F1 loaded served p50 us", "F1 loaded served p50", p.f1_loaded_p50,
     false},
    {"F1 loaded served p99 us", "F1 loaded served p99", p.f1_loaded_p99,
     false},
  };
}

} // namespace

bool parse_peer(const std::string& text, peer_figures& out,
                std::string& why) {
  static const std::regex rate{
    R"(^(B_raw|T1|T3)\s+([0-9.]+)([Mk]?)\s+\()"};
  static const std::regex l1{
    R"(^L1 \(solo, via distributor\)\s+p50 ([0-9.]+) .*p99 ([0-9.]+) .*p99\.9 ([0-9.]+))"};
  static const std::regex f1_head{R"(^F1 (idle|loaded)\b)"};
  static const std::regex f1_row{
    R"(^\s+(promoted copy handles 1st event|its 1st ack back at distributor)\s+([0-9.]+)\s+([0-9.]+))"};
  std::istringstream in{text};
  std::string line, section;
  std::smatch m;
  while (std::getline(in, line)) {
    // Its first line; in a saved keel bench --peer log it comes later.
    if (out.header.empty() && line.rfind("Erlang/OTP", 0) == 0)
      out.header = line;
    if (std::regex_search(line, m, rate)) {
      auto v = scaled(m[2], m[3]);
      if (m[1] == "B_raw")
        out.b_raw = v;
      else if (m[1] == "T1")
        out.t1 = v;
      else
        out.t3 = v;
    } else if (std::regex_search(line, m, l1)) {
      out.l1_p50 = std::stod(m[1]);
      out.l1_p99 = std::stod(m[2]);
      out.l1_p999 = std::stod(m[3]);
    } else if (std::regex_search(line, m, f1_head)) {
      section = m[1];
    } else if (line.rfind("F2", 0) == 0 || line.rfind("==", 0) == 0) {
      section.clear();
    } else if (!section.empty() && std::regex_search(line, m, f1_row)) {
      auto p50 = std::stod(m[2]);
      auto p99 = std::stod(m[3]);
      bool served = m[1] == "promoted copy handles 1st event";
      if (section == "idle") {
        if (served) {
          out.f1_idle_p50 = p50;
          out.f1_idle_p99 = p99;
        } else {
          out.f1_idle_ack_p99 = p99;
        }
      } else {
        if (served) {
          out.f1_loaded_p50 = p50;
          out.f1_loaded_p99 = p99;
        } else {
          out.f1_loaded_ack_p99 = p99;
        }
      }
    }
  }
  if (out.t1 <= 0) {
    why = "no T1 line in the peer's output";
    return false;
  }
  out.present = true;
  return true;
}

bool read_peer(const std::string& file, peer_figures& out, std::string& why) {
  std::ifstream in{file};
  if (!in) {
    why = "cannot read " + file;
    return false;
  }
  std::stringstream text;
  text << in.rdbuf();
  if (!parse_peer(text.str(), out, why)) {
    why = file + ": " + why;
    return false;
  }
  return true;
}

bool run_peer(const std::string& dir, bool smoke, peer_figures& out,
              std::ostream& log, std::string& why) {
  auto cmd = "'" + dir + "/run.sh' " + (smoke ? "quick " : "")
             + "tput lat f1 2>&1";
  log << "running the OTP peer: " << cmd << "\n" << std::flush;
  auto pipe = popen(cmd.c_str(), "r");
  if (!pipe) {
    why = "cannot run " + cmd;
    return false;
  }
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0)
    text.append(buf, n);
  auto status = pclose(pipe);
  if (status != 0) {
    why = cmd + " failed (status " + std::to_string(status) + "); its output "
          "ends: " + text.substr(text.size() > 400 ? text.size() - 400 : 0);
    return false;
  }
  if (!parse_peer(text, out, why))
    return false;
  // Its whole output, so that a saved log can be compared again later
  // (--peer-results reads it back).
  log << "---- OTP peer output ----\n" << text << "---- end of OTP peer output ----\n";
  return true;
}

void print_peer_comparison(const std::vector<result>& rows,
                           const peer_figures& peer, std::ostream& out) {
  out << "\nkeel vs the Erlang/OTP peer (same machine, same session; "
      << peer.header << ")\n";
  out << std::left << std::setw(34) << "figure" << std::right << std::setw(12)
      << "keel" << std::setw(12) << "OTP" << std::setw(10) << "keel/OTP"
      << "  verdict\n";
  for (auto& p : pairings(peer)) {
    auto r = find(rows, p.keel_id);
    if (!r || p.peer_value <= 0)
      continue;
    auto ratio = r->value / p.peer_value;
    bool beats = p.higher_better ? ratio >= 1 : ratio <= 1;
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f", ratio);
    out << std::left << std::setw(34) << p.figure << std::right
        << std::setw(12) << fmt(r->value) << std::setw(12)
        << fmt(p.peer_value)
        << std::setw(10) << buf << "  " << (beats ? "keel ahead" : "OTP ahead")
        << "\n";
  }
  if (peer.b_raw > 0)
    out << "(raw one-way for reference: BEAM " << fmt(peer.b_raw)
        << " msgs/s)\n";
}

nlohmann::json peer_json(const std::vector<result>& rows,
                         const peer_figures& peer) {
  auto figures = nlohmann::json::array();
  for (auto& p : pairings(peer)) {
    auto r = find(rows, p.keel_id);
    if (!r || p.peer_value <= 0)
      continue;
    figures.push_back({{"figure", p.figure},
                       {"keel", r->value},
                       {"otp", p.peer_value},
                       {"keel_over_otp", r->value / p.peer_value},
                       {"higher_is_better", p.higher_better}});
  }
  return {{"header", peer.header}, {"b_raw", peer.b_raw},
          {"figures", figures}};
}

} // namespace keel::bench

#include "scenarios/engine/fuzz_runner.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "actors/bootstrap.hpp"
#include "runtime/error.hpp"
#include "scenarios/engine/fuzz.hpp"
#include "scenarios/engine/runner.hpp"
#include "scenarios/engine/sim_runner.hpp"

namespace keel::scenarios {

caf::expected<seed_range> parse_seed_range(const std::string& text) {
  auto bad = [&] {
    return make_error(error_code::invalid_config,
                      "--seeds: expected A..B with A <= B (e.g. 1..100) or "
                      "one seed N, got \""
                        + text + "\"");
  };
  auto number = [](const std::string& s, uint64_t& x) {
    if (s.empty() || s.size() > 19
        || !std::all_of(s.begin(), s.end(),
                        [](char c) { return c >= '0' && c <= '9'; }))
      return false;
    x = std::stoull(s);
    return true;
  };
  seed_range result;
  auto dots = text.find("..");
  if (dots == std::string::npos) {
    if (!number(text, result.first))
      return bad();
    result.last = result.first;
    return result;
  }
  if (!number(text.substr(0, dots), result.first)
      || !number(text.substr(dots + 2), result.last)
      || result.first > result.last)
    return bad();
  return result;
}

std::vector<json>
shrink_faults(std::vector<json> faults,
              const std::function<bool(const std::vector<json>&)>& still_fails) {
  // Latest first: a failure usually needs the faults before it, rarely the
  // ones after. Repeat until a whole pass drops nothing (1-minimal).
  for (bool dropped = true; dropped;) {
    dropped = false;
    for (size_t i = faults.size(); i-- > 0;) {
      auto without = faults;
      without.erase(without.begin() + static_cast<long>(i));
      if (still_fails(without)) {
        faults = std::move(without);
        dropped = true;
      }
    }
  }
  return faults;
}

namespace {

using clock_type = std::chrono::steady_clock;

/// `seeds 37/200  failures 0  rate 412 seeds/min  sim/wall 38x`, in place
/// on a terminal, else every 10 seeds and at the end.
class progress_line {
public:
  progress_line(std::ostream& out, const fuzz_options& opts, uint64_t total)
    : out_(out), opts_(opts), total_(total), start_(clock_type::now()) {
  }

  void seed_done(bool passed, double sim_ms, double wall_ms) {
    ++done_;
    failures_ += passed ? 0 : 1;
    sim_ms_ += sim_ms;
    wall_ms_ += wall_ms;
    if (opts_.quiet)
      return;
    if (opts_.interactive) {
      out_ << "\r\033[K" << text() << std::flush;
      shown_ = true;
    } else if (done_ % 10 == 0) {
      out_ << text() << "\n" << std::flush;
      printed_ = done_;
    }
  }

  /// Clears an in-place line before other output.
  void interrupt() {
    if (shown_)
      out_ << "\r\033[K";
    shown_ = false;
  }

  void finish() {
    interrupt();
    if (printed_ != done_ || opts_.quiet)
      out_ << text() << "\n";
    out_ << std::flush;
  }

  std::string text() const {
    auto elapsed_ms = std::max(
      1.0, std::chrono::duration<double, std::milli>(clock_type::now() - start_)
             .count());
    std::ostringstream line;
    line << "seeds " << done_ << "/" << total_ << "  failures " << failures_
         << "  rate " << std::llround(done_ * 60'000.0 / elapsed_ms)
         << " seeds/min  sim/wall "
         << std::llround(wall_ms_ > 0 ? sim_ms_ / wall_ms_ : 0) << "x";
    return line.str();
  }

private:
  std::ostream& out_;
  const fuzz_options& opts_;
  uint64_t total_;
  clock_type::time_point start_;
  uint64_t done_ = 0;
  uint64_t failures_ = 0;
  uint64_t printed_ = 0;
  double sim_ms_ = 0;
  double wall_ms_ = 0;
  bool shown_ = false;
};

/// One fuzz command: the file, its fuzz section, and how to run a seed.
class fuzz_session {
public:
  fuzz_session(const fuzzable_scenario& base, const fuzz_options& opts,
               const app_registry& registry)
    : base_(base), opts_(opts), registry_(registry) {
  }

  /// Runs the file's own steps plus `faults` with `seed`.
  caf::expected<report> run(uint64_t seed, const std::vector<json>& faults) {
    auto sc = parse_scenario(fuzz_document(base_.doc, faults, seed),
                             base_.sc.origin);
    if (!sc)
      return sc.error();
    if (auto err = apply_test_break(*sc, opts_.test_break))
      return err;
    auto result = run_sim(*sc, registry_, nullptr);
    if (!result)
      return result.error();
    return std::move(result->rep);
  }

  static bool passed(const caf::expected<report>& rep) {
    return rep && rep->passed;
  }

  /// The failed checks and errors of a run, one per line.
  static std::vector<std::string>
  failures_of(const caf::expected<report>& rep) {
    std::vector<std::string> lines;
    if (!rep) {
      lines.push_back("error: " + render(rep.error()));
      return lines;
    }
    for (auto& c : rep->checks)
      if (!c.passed)
        lines.push_back("check FAIL " + c.name + ": " + c.detail);
    for (auto& e : rep->errors)
      lines.push_back("error: " + e);
    return lines;
  }

  /// Prints a failing seed, shrinks it, writes its file and prints the
  /// replay command.
  void report_failure(uint64_t seed, const std::vector<json>& faults,
                      const caf::expected<report>& rep, std::ostream& out,
                      std::ostream& err) {
    out << "seed " << seed << ": FAIL\n";
    for (auto& line : failures_of(rep))
      out << "  " << line << "\n";
    out << "  shrinking " << faults.size() << " generated faults..."
        << std::flush;
    size_t runs = 0;
    auto kept = shrink_faults(faults, [&](const std::vector<json>& xs) {
      ++runs;
      return !passed(run(seed, xs));
    });
    out << " " << kept.size() << " still fail (" << runs << " runs)\n";
    if (kept.empty())
      out << "    (the file's own steps fail with this seed)\n";
    for (auto& f : kept)
      out << "    " << f.dump() << "\n";
    auto name = "fuzz-fail-seed-" + std::to_string(seed) + ".json";
    auto path = opts_.out_dir.empty()
                  ? name
                  : (std::filesystem::path{opts_.out_dir} / name).string();
    std::ofstream file{path};
    file << fuzz_document(base_.doc, kept, seed).dump(2) << "\n";
    if (!file) {
      err << "keel: " << path << ": cannot write\n";
      return;
    }
    out << "  wrote " << path << "\n  replay: keel scenario run " << path
        << " --mode sim"
        << (opts_.test_break.empty() ? "" : " --test-break " + opts_.test_break)
        << "\n"
        << std::flush;
  }

private:
  const fuzzable_scenario& base_;
  const fuzz_options& opts_;
  const app_registry& registry_;
};

} // namespace

int fuzz_scenario_file(const std::string& file, const fuzz_options& opts,
                       const app_registry& registry, std::ostream& out,
                       std::ostream& err) {
  auto fail_input = [&](const caf::error& e) {
    err << "keel: " << context_of(e) << "\n";
    return 2;
  };
  auto seeds = parse_seed_range(opts.seeds);
  if (!seeds)
    return fail_input(seeds.error());
  auto base = load_fuzzable_scenario(file);
  if (!base)
    return fail_input(base.error());
  if (!base->fuzz) {
    err << "keel: " << file << ": $.fuzz: missing: the fuzz section that "
        << "says which faults to draw, e.g. \"fuzz\": {\"faults\": 4, "
        << "\"kinds\": {\"kill_copy\": 2, \"crash_node\": 1}}\n";
    return 2;
  }
  if (auto e = apply_test_break(base->sc, opts.test_break))
    return fail_input(e);
  if (auto e = check_app_types(base->sc.system, registry)) {
    err << "keel: " << file << ": " << context_of(e) << "\n";
    return 2;
  }
  if (!opts.out_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(opts.out_dir, ec);
    if (!std::filesystem::is_directory(opts.out_dir)) {
      err << "keel: --out " << opts.out_dir << ": not a directory"
          << (ec ? " (" + ec.message() + ")" : "") << "\n";
      return 2;
    }
  }
  fuzz_session session{*base, opts, registry};
  auto total = seeds->last - seeds->first + 1;
  progress_line progress{out, opts, total};
  std::vector<uint64_t> failed;
  for (auto seed = seeds->first;; ++seed) {
    auto faults = generate_faults(base->sc, *base->fuzz, seed);
    auto rep = session.run(seed, faults);
    bool passed = fuzz_session::passed(rep);
    if (!passed) {
      failed.push_back(seed);
      progress.interrupt();
      session.report_failure(seed, faults, rep, out, err);
    }
    progress.seed_done(passed, rep ? rep->sim_ms : 0, rep ? rep->wall_ms : 0);
    if (seed == seeds->last)
      break;
  }
  progress.finish();
  if (!failed.empty()) {
    out << "failing seeds:";
    for (auto s : failed)
      out << " " << s;
    out << "\n";
  }
  return failed.empty() ? 0 : 1;
}

} // namespace keel::scenarios

// Small helpers shared by the benchmarks: interleaved repetitions, medians
// and percentiles, a uniform report line, and ending the run on an error
// (a benchmark that half-built its set-up would measure something else).
//
// These machines are noisy (10-30 % run to run), so every benchmark runs the
// baseline and the candidate alternately, several times, and reports the
// median of each and the ratio of medians.
#ifndef TRUSTFABRIC_BENCH_BENCH_UTIL_H_
#define TRUSTFABRIC_BENCH_BENCH_UTIL_H_

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace trustfabric::bench {

// Prints "benchmark: <what>" and exits with status 1.
[[noreturn]] inline void Die(const std::string& what) {
  std::fprintf(stderr, "benchmark: %s\n", what.c_str());
  std::exit(1);
}

// The value, or Die naming `what` and the error.
template <typename T>
T Check(absl::StatusOr<T> v, const std::string& what) {
  if (!v.ok()) Die(what + ": " + v.status().ToString());
  return *std::move(v);
}

inline void Check(const absl::Status& s, const std::string& what) {
  if (!s.ok()) Die(what + ": " + s.ToString());
}

inline double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// p in [0, 100].
inline double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t idx = static_cast<size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(idx, v.size() - 1)];
}

struct Comparison {
  std::string name;
  std::string unit;
  std::vector<double> baseline;
  std::vector<double> candidate;
};

// Runs `baseline` and `candidate` alternately `reps` times; each returns a
// rate (higher is better).
inline Comparison Interleave(const std::string& name, const std::string& unit, int reps,
                             const std::function<double()>& baseline,
                             const std::function<double()>& candidate) {
  Comparison c{name, unit, {}, {}};
  for (int i = 0; i < reps; ++i) {
    c.baseline.push_back(baseline());
    c.candidate.push_back(candidate());
  }
  return c;
}

inline void Report(const Comparison& c, double goal) {
  double b = Median(c.baseline);
  double x = Median(c.candidate);
  double ratio = b > 0 ? x / b : 0;
  std::printf("%-44s baseline %10.1f %s  candidate %10.1f %s  ratio %.2f (goal >= %.2f) %s\n",
              c.name.c_str(), b, c.unit.c_str(), x, c.unit.c_str(), ratio, goal,
              ratio >= goal ? "MET" : "NOT MET");
  std::fflush(stdout);
}

}  // namespace trustfabric::bench

#endif  // TRUSTFABRIC_BENCH_BENCH_UTIL_H_

// Registrar benchmark: lookups during a stream of sign-ins.
//
// A registrar's table (node::Registry, docs/design.md §1) with its SQLite
// database on disk, pre-filled with --users registrations (imported from an
// old registrations.json, as an upgraded registrar does). In one run:
//  - baseline: one thread looks up random registered users for --seconds,
//    nothing else running;
//  - candidate: the same lookups while another thread registers --signins
//    new users one by one (each a durable write: WAL, synchronous=FULL).
// The lookups' latency percentiles of both phases are printed, with the
// ratio baseline / candidate (goal: a lookup during sign-ins is as fast as
// one without: p99 ratio >= 0.5, i.e. at most twice as slow, where a lookup
// that waited for a sign-in's fsync would be thousands of times slower).
// Percentiles are bucketed (10 ns below 100 us). The phases alternate --reps
// times; medians of the percentiles are compared.
//
//   registrar_bench [--users 10000] [--signins 100000] [--seconds 2] [--reps 1]
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "bench/bench_util.h"
#include "server/node/registry.h"
#include "tests/testing/test_pki.h"

namespace trustfabric::bench {
namespace {

std::string User(const std::string& prefix, int i) { return absl::StrCat(prefix, i, "@contoso.test"); }

// Latencies in 10 ns buckets below 100 us, then in powers of two, so that a
// run of hundreds of millions of lookups keeps a fixed amount of memory.
class Histogram {
 public:
  void Add(int64_t ns) {
    ++count_;
    max_ = std::max(max_, ns);
    if (ns < kFine * 10) {
      ++fine_[static_cast<size_t>(ns / 10)];
    } else {
      size_t b = 0;
      while ((kFine * 10 << (b + 1)) <= ns && b + 1 < coarse_.size()) ++b;
      ++coarse_[b];
    }
  }
  // The upper edge of the bucket holding the p-th percentile, p in [0, 100].
  double Percentile(double p) const {
    const uint64_t rank = static_cast<uint64_t>(p / 100.0 * static_cast<double>(count_ - 1)) + 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < fine_.size(); ++i) {
      seen += fine_[i];
      if (seen >= rank) return static_cast<double>((i + 1) * 10);
    }
    for (size_t b = 0; b < coarse_.size(); ++b) {
      seen += coarse_[b];
      if (seen >= rank) return static_cast<double>(std::min<int64_t>(kFine * 10 << (b + 1), max_));
    }
    return static_cast<double>(max_);
  }
  uint64_t count() const { return count_; }
  int64_t max() const { return max_; }

 private:
  static constexpr int64_t kFine = 10000;
  std::vector<uint64_t> fine_ = std::vector<uint64_t>(kFine);
  std::vector<uint64_t> coarse_ = std::vector<uint64_t>(24);
  uint64_t count_ = 0;
  int64_t max_ = 0;
};

// Lookup latencies of random users among `users` pre-filled ones, until
// `stop` is set.
Histogram LookUpUntil(const node::Registry& registry, int users, const std::atomic<bool>& stop) {
  Histogram h;
  std::mt19937 random(42);
  std::uniform_int_distribution<int> pick(0, users - 1);
  while (!stop.load(std::memory_order_relaxed)) {
    const std::string user = User("u", pick(random));
    const auto start = std::chrono::steady_clock::now();
    absl::StatusOr<node::Registration> r = registry.Lookup(user);
    const auto end = std::chrono::steady_clock::now();
    if (!r.ok()) Die("lookup: " + r.status().ToString());
    h.Add(std::chrono::duration_cast<std::chrono::nanoseconds>(end - start).count());
  }
  return h;
}

struct Phase {
  double p50 = 0, p99 = 0, p999 = 0, max = 0;
  uint64_t lookups = 0;
  double seconds = 0;
  double signins_per_second = 0;
};

Phase Summarize(const Histogram& h, double seconds) {
  Phase p;
  p.p50 = h.Percentile(50);
  p.p99 = h.Percentile(99);
  p.p999 = h.Percentile(99.9);
  p.max = static_cast<double>(h.max());
  p.lookups = h.count();
  p.seconds = seconds;
  return p;
}

void Print(const char* name, const Phase& p) {
  std::printf("  %-22s lookups %10llu in %6.1f s  p50 %7.0f ns  p99 %7.0f ns  p99.9 %8.0f ns  "
              "max %9.0f ns",
              name, static_cast<unsigned long long>(p.lookups), p.seconds, p.p50, p.p99, p.p999, p.max);
  if (p.signins_per_second > 0) std::printf("  sign-ins %6.0f/s", p.signins_per_second);
  std::printf("\n");
  std::fflush(stdout);
}

int Run(int users, int signins, double seconds, int reps) {
  testing::TempDir dir;
  std::string old = "{\"users\": [";
  for (int i = 0; i < users; ++i) {
    absl::StrAppend(&old, i ? "," : "", "{\"user\": \"", User("u", i),
                    "\", \"frontend\": \"fe1.contoso.test\", \"frontend_address\": "
                    "\"127.0.0.1:1\", \"registered_at\": 1700000000}");
  }
  old += "]}";
  dir.Write("registrations.json", old);
  node::RegistryLimits limits;
  limits.max_users = static_cast<size_t>(users) + static_cast<size_t>(signins) * reps;
  limits.max_users_per_frontend = limits.max_users;
  node::Registry registry("contoso.test", dir.path(), limits);
  Check(registry.Load(), "load");

  std::vector<double> alone_p50, during_p50, alone_p99, during_p99;
  for (int rep = 0; rep < reps; ++rep) {
    std::atomic<bool> stop{false};
    auto start = std::chrono::steady_clock::now();
    std::thread timer([&] {
      std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
      stop = true;
    });
    Histogram alone = LookUpUntil(registry, users, stop);
    timer.join();
    Phase a = Summarize(alone,
                        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
                            .count());

    stop = false;
    start = std::chrono::steady_clock::now();
    std::thread writer([&] {
      for (int i = 0; i < signins; ++i) {
        Check(registry.Register(User(absl::StrCat("r", rep, "-"), i),
                                absl::StrCat("fe", i % 10, ".contoso.test"), "127.0.0.1:2"),
              "register");
      }
      stop = true;
    });
    Histogram during = LookUpUntil(registry, users, stop);
    writer.join();
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    Phase d = Summarize(during, elapsed);
    d.signins_per_second = signins / elapsed;
    std::printf("rep %d\n", rep + 1);
    Print("alone", a);
    Print("during sign-ins", d);
    alone_p50.push_back(a.p50);
    during_p50.push_back(d.p50);
    alone_p99.push_back(a.p99);
    during_p99.push_back(d.p99);
  }
  // Latencies: the ratio is alone / during (1.0: sign-ins cost lookups
  // nothing; lower: lookups got slower).
  auto report = [](const char* name, const std::vector<double>& alone,
                   const std::vector<double>& during) {
    const double ratio = Median(alone) / Median(during);
    std::printf("%-40s alone %7.0f ns  during sign-ins %7.0f ns  ratio %.2f (goal >= 0.50) %s\n",
                name, Median(alone), Median(during), ratio, ratio >= 0.5 ? "MET" : "NOT MET");
  };
  report("registrar lookup p50", alone_p50, during_p50);
  report("registrar lookup p99", alone_p99, during_p99);
  return 0;
}

}  // namespace
}  // namespace trustfabric::bench

int main(int argc, char** argv) {
  CLI::App app{"registrar lookups during sign-ins"};
  int users = 10000;
  int signins = 100000;
  double seconds = 2;
  int reps = 1;
  app.add_option("--users", users, "registrations before the run");
  app.add_option("--signins", signins, "sign-ins (new registrations) per repetition");
  app.add_option("--seconds", seconds, "length of each lookups-alone phase");
  app.add_option("--reps", reps, "repetitions");
  CLI11_PARSE(app, argc, argv);
  if (users < 1 || signins < 1 || reps < 1) trustfabric::bench::Die("counts must be positive");
  return trustfabric::bench::Run(users, signins, seconds, reps);
}

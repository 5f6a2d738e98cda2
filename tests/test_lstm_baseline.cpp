// SPDX-License-Identifier: GPL-3.0-or-later
// The LSTM baseline of `sidewinder bench --lstm` (bench/lstm_baseline.h): the
// fast runner against the double reference and against torch.nn.LSTM, its
// tanh's accuracy, partition invariance, no allocation in process(), and the
// loader's refusals.
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <random>

#include "alloc_counter.h"
#include "sidewinder/bench/lstm_baseline.h"
#include "sidewinder/ssm/safetensors.h"
#include "test_util.h"

using namespace sw;
namespace fs = std::filesystem;

namespace {

std::vector<bench::LstmIsa> lstm_isas() {
  std::vector<bench::LstmIsa> v = {bench::LstmIsa::baseline};
  if (bench::lstm_avx2_available())
    v.push_back(bench::LstmIsa::avx2);
  return v;
}

// Quiet sine, noise, a loud (±4) square burst, silence, a rising chirp to ±4.
std::vector<float> varied_input(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0.0f, 0.3f);
  std::vector<float> x(n);
  for (std::size_t t = 0; t < n; ++t) {
    const double ph = double(t);
    const std::size_t seg = t * 5 / n;
    if (seg == 0)
      x[t] = float(0.1 * std::sin(0.01 * ph));
    else if (seg == 1)
      x[t] = noise(rng);
    else if (seg == 2)
      x[t] = std::sin(0.03 * ph) > 0 ? 4.0f : -4.0f;
    else if (seg == 3)
      x[t] = t % 400 < 200 ? 0.0f : noise(rng);
    else
      x[t] = float(4.0 * double(t % (n / 5)) / double(n / 5) * std::sin(0.002 * ph * ph / double(n)));
  }
  return x;
}

// The LSTM's weights and biases scaled by s (s > 1 drives the gates into saturation).
bench::LstmWeights scaled(bench::LstmWeights w, float s) {
  for (auto* v : {&w.w_ih, &w.w_hh, &w.b_ih, &w.b_hh})
    for (float& x : *v)
      x *= s;
  return w;
}

std::vector<float> run(bench::LstmRunner& r, const std::vector<float>& in, const std::vector<std::size_t>& parts) {
  std::vector<float> out(in.size());
  std::size_t pos = 0;
  for (std::size_t b : parts) {
    r.process(in.data() + pos, out.data() + pos, static_cast<int>(b));
    pos += b;
  }
  return out;
}

// max |y − ref| / max |ref − skip·x|: the error relative to the range of the
// LSTM's own contribution (the skip term alone would hide it: |x| reaches 4).
double rel_err(const std::vector<float>& y, const std::vector<double>& ref, const std::vector<float>& x, float skip) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    num = std::max(num, std::abs(double(y[i]) - ref[i]));
    den = std::max(den, std::abs(ref[i] - double(skip) * double(x[i])));
  }
  return num / den;
}

std::vector<float> read_f32(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  REQUIRE(f);
  f.seekg(0, std::ios::end);
  std::vector<float> v(static_cast<std::size_t>(f.tellg()) / sizeof(float));
  f.seekg(0);
  f.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(float)));
  return v;
}

// The tensors of a PyTorch export of `w`, as lstm_loader.cpp expects them.
std::map<std::string, ssm::TensorToWrite> export_tensors(const bench::LstmWeights& w) {
  const std::int64_t H = w.hidden;
  return {{"lstm.weight_ih_l0", {{4 * H, 1}, w.w_ih}}, {"lstm.weight_hh_l0", {{4 * H, H}, w.w_hh}},
          {"lstm.bias_ih_l0", {{4 * H}, w.b_ih}},      {"lstm.bias_hh_l0", {{4 * H}, w.b_hh}},
          {"head.weight", {{1, H}, w.head_w}},         {"head.bias", {{1}, {w.head_b}}},
          {"skip.weight", {{1, 1}, {w.skip}}}};
}

const std::map<std::string, std::string> kMeta = {
    {"format", "sidewinder-lstm"}, {"format_version", "1"}, {"sample_rate", "48000"}};

}  // namespace

// The rational tanh (Eigen's coefficients) against tanh in double, over
// [-12, 12] in steps of 1e-4 plus tiny and huge arguments. Measured: 3.2e-7
// (baseline, no FMA) and 2.6e-7 (avx2) absolute, i.e. 2–3 ulp of 1, and
// 1.7e-7 relative for |x| < 1e-3; bounds 5e-7 and 1e-6.
TEST_CASE("lstm: the runner's tanh is within 5e-7 of tanh", "[lstm]") {
  std::vector<float> x;
  for (int i = -120000; i <= 120000; ++i)
    x.push_back(float(i) * 1e-4f);
  for (float v : {1e-30f, -1e-30f, 1e-8f, 3e-4f, -5e-4f, 20.0f, -20.0f, 1e6f, -1e6f, 3e38f, -3e38f})
    x.push_back(v);
  for (bench::LstmIsa isa : lstm_isas()) {
    std::vector<float> y(x.size());
    bench::lstm_fast_tanh(isa, x.data(), y.data(), static_cast<int>(x.size()));
    double worst = 0, rel_small = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      const double ref = std::tanh(double(x[i]));
      worst = std::max(worst, std::abs(double(y[i]) - ref));
      if (std::abs(x[i]) < 1e-3f && x[i] != 0.0f)
        rel_small = std::max(rel_small, std::abs(double(y[i]) - ref) / std::abs(ref));
      REQUIRE(std::abs(y[i]) <= 1.0f);
    }
    INFO("isa " << (isa == bench::LstmIsa::avx2 ? "avx2" : "baseline") << " max abs err " << worst
                << ", max rel err for |x| < 1e-3 " << rel_small);
    CHECK(worst < 5e-7);
    CHECK(rel_small < 1e-6);
  }
}

// The float runner against the double reference, 10 000 samples of varied
// input (quiet, noise, ±4 bursts, silence), PyTorch-initialised weights and
// the same ×3 (saturating gates), in random block sizes. Error sources: float
// rounding in the 4H·H multiply-adds (~H·2⁻²⁴ relative to the gate sums) and
// the tanh's ≤ 3.2e-7, fed back through the recurrence, which is contractive
// (|f| < 1) so errors do not grow with time; and the float32 output itself
// (half an ulp of |y| ≤ 4.5 is 2.4e-7). Measured max error relative to the
// range of the LSTM's contribution (max |y − skip·x|): 0.5e-6 … 2.2e-6 over
// these cases and both ISAs; bound 1e-5.
TEST_CASE("lstm: fast runner matches the double reference (H = 5, 13, 16, 40)", "[lstm]") {
  const auto in = varied_input(10000, 3);
  for (int H : {5, 13, 16, 40}) {
    for (float s : {1.0f, 3.0f}) {
      const auto w = scaled(bench::make_random_lstm(H, 100 + H), s);
      const auto ref = bench::lstm_reference(w, in.data(), in.size());
      for (bench::LstmIsa isa : lstm_isas()) {
        bench::LstmRunner r;
        r.prepare(w, isa);
        const auto y = run(r, in, test::partition(in.size(), 300, 9));
        const double e = rel_err(y, ref, in, w.skip);
        INFO("H " << H << " scale " << s << " isa " << r.isa() << " max err / max |y - skip x| = " << e);
        CHECK(e < 1e-5);
        // reset() gives the same output again.
        r.reset();
        const auto y2 = run(r, in, test::partition(in.size(), 64));
        CHECK(y2 == y);
      }
    }
  }
}

TEST_CASE("lstm: runner output does not depend on the block partition", "[lstm]") {
  const auto in = varied_input(3000, 5);
  const auto w = bench::make_random_lstm(40, 7);
  for (bench::LstmIsa isa : lstm_isas()) {
    bench::LstmRunner a, b;
    a.prepare(w, isa);
    b.prepare(w, isa);
    CHECK(run(a, in, test::partition(in.size(), 1)) == run(b, in, test::partition(in.size(), 512, 77)));
  }
}

TEST_CASE("lstm: process() and reset() allocate nothing", "[lstm][realtime]") {
  const auto in = varied_input(48000, 11);
  std::vector<float> out(in.size());
  for (int H : {16, 40}) {
    for (bench::LstmIsa isa : lstm_isas()) {
      bench::LstmRunner r;
      r.prepare(bench::make_random_lstm(H, 1), isa);
      const auto parts = test::partition(in.size(), 512, 42u);
      std::size_t allocations;
      {
        test::AllocationScope scope;
        std::size_t pos = 0;
        for (std::size_t b : parts) {
          r.process(in.data() + pos, out.data() + pos, static_cast<int>(b));
          pos += b;
        }
        r.reset();
        r.process(in.data(), out.data(), 4096);
        allocations = scope.count();
      }
      INFO("H " << H << " isa " << r.isa());
      REQUIRE(allocations == 0);
      REQUIRE(std::any_of(out.begin(), out.end(), [](float v) { return v != 0.0f; }));
    }
  }
}

// tests/reference/make_lstm_fixture.py: torch.nn.LSTM(1, 16) + Linear + skip,
// weights ×2, run in float64 by PyTorch on 2000 samples with a ±3 burst.
// Measured max error / max |y − skip·x|: 7.7e-7 (both ISAs); bound 1e-5 (as
// above). The double reference itself agrees with PyTorch to < 1e-6 (the
// fixture's float32 rounding).
TEST_CASE("lstm: runner and reference match torch.nn.LSTM (fixture)", "[lstm]") {
  const auto w = bench::load_lstm(test::data_path("lstm/lstm16.safetensors"));
  REQUIRE(w.hidden == 16);
  REQUIRE(w.skip == 1.0f);
  REQUIRE(w.sample_rate == 48000);
  const auto in = read_f32(test::data_path("lstm/lstm16.in.f32"));
  const auto expected = read_f32(test::data_path("lstm/lstm16.out.f32"));
  REQUIRE(in.size() == 2000);
  REQUIRE(expected.size() == in.size());
  const std::vector<double> torch_y(expected.begin(), expected.end());
  // The double reference agrees with PyTorch to float32 rounding of the fixture.
  const auto ref = bench::lstm_reference(w, in.data(), in.size());
  std::vector<float> ref_f(ref.begin(), ref.end());
  CHECK(rel_err(ref_f, torch_y, in, w.skip) < 1e-6);
  for (bench::LstmIsa isa : lstm_isas()) {
    bench::LstmRunner r;
    r.prepare(w, isa);
    const auto y = run(r, in, test::partition(in.size(), 64));
    const double e = rel_err(y, torch_y, in, w.skip);
    INFO("isa " << r.isa() << " max err / max |y - skip x| = " << e);
    CHECK(e < 1e-5);
  }
}

TEST_CASE("lstm: loader reads an export and refuses wrong files clearly", "[lstm][loader]") {
  const std::string path = (fs::temp_directory_path() / "sw_lstm_test.safetensors").string();
  const auto w = bench::make_random_lstm(16, 4);
  auto write = [&](std::map<std::string, ssm::TensorToWrite> t, std::map<std::string, std::string> meta = kMeta) {
    ssm::write_safetensors(path, t, meta);
  };

  SECTION("a good file round-trips exactly; skip is optional") {
    write(export_tensors(w));
    const auto r = bench::load_lstm(path);
    CHECK(r.hidden == 16);
    CHECK(r.w_ih == w.w_ih);
    CHECK(r.w_hh == w.w_hh);
    CHECK(r.b_ih == w.b_ih);
    CHECK(r.b_hh == w.b_hh);
    CHECK(r.head_w == w.head_w);
    CHECK(r.head_b == w.head_b);
    CHECK(r.skip == w.skip);
    auto t = export_tensors(w);
    t.erase("skip.weight");
    write(t);
    CHECK(bench::load_lstm(path).skip == 0.0f);
  }
  SECTION("wrong shapes") {
    auto t = export_tensors(w);
    t["lstm.weight_hh_l0"].shape = {64, 15};
    t["lstm.weight_hh_l0"].values.resize(64 * 15);
    write(t);
    CHECK_THROWS_WITH(bench::load_lstm(path),
                      Catch::Contains("lstm.weight_hh_l0 has shape [64, 15]") && Catch::Contains("expected [4H, H]"));
    t = export_tensors(w);
    t["head.weight"].shape = {16};
    write(t);
    CHECK_THROWS_WITH(bench::load_lstm(path),
                      Catch::Contains("head.weight has shape [16], expected [1, 16]") && Catch::Contains(path));
    t = export_tensors(w);
    t["lstm.bias_ih_l0"].shape = {60};
    t["lstm.bias_ih_l0"].values.resize(60);
    write(t);
    CHECK_THROWS_WITH(bench::load_lstm(path), Catch::Contains("lstm.bias_ih_l0 has shape [60], expected [64]"));
    t = export_tensors(w);
    t["lstm.weight_ih_l0"].shape = {64, 2};
    t["lstm.weight_ih_l0"].values.resize(128);
    write(t);
    CHECK_THROWS_WITH(bench::load_lstm(path), Catch::Contains("lstm.weight_ih_l0 has shape [64, 2], expected [64, 1]"));
  }
  SECTION("missing or unknown tensors, wrong metadata") {
    auto t = export_tensors(w);
    t.erase("head.bias");
    write(t);
    CHECK_THROWS_WITH(bench::load_lstm(path), Catch::Contains("missing tensor head.bias"));
    t = export_tensors(w);
    t["lstm.weight_ih_l1"] = {{64, 16}, std::vector<float>(64 * 16)};
    write(t);
    CHECK_THROWS_WITH(bench::load_lstm(path), Catch::Contains("one-layer"));
    write(export_tensors(w), {{"format", "sidewinder"}, {"format_version", "1"}, {"sample_rate", "48000"}});
    CHECK_THROWS_WITH(bench::load_lstm(path), Catch::Contains("expected \"sidewinder-lstm\""));
    write(export_tensors(w), {{"format", "sidewinder-lstm"}, {"format_version", "2"}, {"sample_rate", "48000"}});
    CHECK_THROWS_WITH(bench::load_lstm(path), Catch::Contains("format_version"));
    write(export_tensors(w), {{"format", "sidewinder-lstm"}, {"format_version", "1"}});
    CHECK_THROWS_WITH(bench::load_lstm(path), Catch::Contains("sample_rate"));
  }
  SECTION("non-finite values") {
    auto t = export_tensors(w);
    t["lstm.weight_hh_l0"].values[5] = std::nanf("");
    write(t);
    CHECK_THROWS_AS(bench::load_lstm(path), ssm::ModelLoadError);
  }
  std::remove(path.c_str());
}

TEST_CASE("lstm: the runner refuses inconsistent weights", "[lstm]") {
  auto w = bench::make_random_lstm(16, 1);
  w.w_hh.pop_back();
  bench::LstmRunner r;
  CHECK_THROWS_AS(r.prepare(w), std::invalid_argument);
  CHECK_THROWS_AS(bench::lstm_reference(w, nullptr, 0), std::invalid_argument);
}

TEST_CASE("lstm: sidewinder bench --lstm and --lstm-model", "[lstm][cli]") {
  const std::string out = (fs::temp_directory_path() / "sw_lstm_bench.json").string();
  auto sh = [](const std::string& cmd) {
    const int st = std::system(cmd.c_str());
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  };
  const std::string cli = SW_CLI_PATH;
  const std::string fixture = test::data_path("lstm/lstm16.safetensors");
  REQUIRE(sh(cli + " bench --lstm 8,12 --lstm-model " + fixture + " --seconds 0.05 --repeats 1 --json > " + out) == 0);
  std::ifstream f(out);
  const auto j = nlohmann::json::parse(std::string(std::istreambuf_iterator<char>(f), {}));
  const auto& models = j.at("models");
  REQUIRE(models.size() == 3);  // only the LSTMs: no -m / -c
  CHECK(models.at(0).at("name") == "lstm-8");
  CHECK(models.at(1).at("hidden") == 12);
  CHECK(models.at(2).at("name") == fixture);
  for (const auto& m : models) {
    CHECK(m.at("kind") == "lstm");
    CHECK(m.at("results").size() == 7);  // 6 streaming block sizes + offline
    for (const auto& r : m.at("results"))
      CHECK(r.at("ms_per_audio_second").get<double>() > 0);
  }
  // A bad file: exit 3 (bad input), as for engine models.
  REQUIRE(sh(cli + " bench --lstm-model " + test::data_path("golden/m1_basic.safetensors") + " 2>/dev/null") == 3);
  std::remove(out.c_str());
}

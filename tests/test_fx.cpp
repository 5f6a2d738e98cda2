// SPDX-License-Identifier: GPL-3.0-or-later
// fx/: the effect chain the plugin and `sidewinder render` run.
#include <catch2/catch.hpp>

#include <atomic>
#include <cmath>
#include <fstream>
#include <iterator>
#include <random>
#include <thread>

#include "alloc_counter.h"
#include "sidewinder/fx/effect.h"
#include "sidewinder/fx/model_host.h"
#include "sidewinder/fx/model_instance.h"
#include "sidewinder/ssm/model_loader.h"
#include "test_util.h"

using namespace sw;

namespace {

std::string preset(const char* name) {
  return std::string(SW_PRESETS_DIR) + "/" + name + ".safetensors";
}

// A model whose output is its input: random Mamba layers, a zero output
// projection and a unit skip. Runs the whole engine, so the chain around it
// can be checked against the plain signal.
std::shared_ptr<const ssm::Model> identity_model(double rate = 48000.0) {
  ssm::ModelConfig c = ssm::builtin_config("fx-s");
  c.has_skip = true;
  c.sample_rate = rate;
  ssm::ModelWeights w = ssm::make_random_weights(c, 3);
  std::fill(w.audio_out_w.begin(), w.audio_out_w.end(), 0.0f);
  std::fill(w.audio_out_b.begin(), w.audio_out_b.end(), 0.0f);
  w.audio_skip_w.assign(1, 1.0f);
  return ssm::Model::create(w);
}

// Band-limited test signal (sines up to 12 kHz, so the resamplers' passband
// carries it unchanged up to their ripple).
std::vector<float> tones(std::size_t frames, double rate, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> ph(0.0, 6.283);
  const double f[] = {110.0, 440.0, 1234.5, 3000.0, 7000.0, 12000.0};
  double p[6];
  for (double& x : p)
    x = ph(rng);
  std::vector<float> v(frames);
  for (std::size_t t = 0; t < frames; ++t) {
    double s = 0.0;
    for (int i = 0; i < 6; ++i)
      s += 0.1 * std::sin(2.0 * M_PI * f[i] * double(t) / rate + p[i]);
    v[t] = static_cast<float>(s);
  }
  return v;
}

// Runs planar channels through `inst` in the given block sizes.
std::vector<std::vector<float>> run(fx::ModelInstance& inst, std::vector<std::vector<float>> x,
                                    const std::vector<std::size_t>& parts) {
  std::size_t pos = 0;
  for (std::size_t b : parts) {
    float* io[16];
    for (std::size_t c = 0; c < x.size(); ++c)
      io[c] = x[c].data() + pos;
    inst.process(io, io, b);
    pos += b;
  }
  return x;
}

double rel_err(const std::vector<float>& y, const std::vector<float>& ref, std::size_t y0, std::size_t r0,
               std::size_t n) {
  double e = 0.0, m = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    e = std::max(e, std::fabs(double(y[y0 + i]) - ref[r0 + i]));
    m = std::max(m, std::fabs(double(ref[r0 + i])));
  }
  return e / m;
}

}  // namespace

TEST_CASE("fx: at the model's rate the instance is the model, latency 0", "[fx]") {
  auto model = ssm::load_model(preset("ts-overdrive"));
  fx::ModelInstance inst(model, fx::HostSpec{48000, 64, 2});
  REQUIRE(inst.latency_samples() == 0);
  REQUIRE_FALSE(inst.resampling());
  const std::size_t n = 9600;
  std::vector<std::vector<float>> x = {tones(n, 48000, 1), tones(n, 48000, 2)};
  const auto y = run(inst, x, test::partition(n, 64, 5));
  for (int c = 0; c < 2; ++c)
    REQUIRE(y[c] == test::run_stream(model, nullptr, x[c], {n}));  // dual mono, each its own state
}

TEST_CASE("fx: resampled chain has a whole-frame latency, reported exactly", "[fx]") {
  // Identity model: out[t + L] must equal in[t] up to the two resamplers'
  // passband error (libsoxr HQ: 20-bit, passband ripple well under 0.01 dB);
  // measured ~1e-4 relative; tolerance 2e-3. A latency off by one frame
  // gives an error of ~0.5 at 12 kHz, so the check pins L to the frame.
  for (double rate : {44100.0, 96000.0, 32000.0, 88200.0}) {
    fx::ModelInstance inst(identity_model(), fx::HostSpec{rate, 512, 1});
    const std::size_t L = static_cast<std::size_t>(inst.latency_samples());
    INFO("host rate " << rate << " latency " << L);
    REQUIRE(inst.resampling());
    REQUIRE(L > 0);
    const std::size_t n = static_cast<std::size_t>(rate) + L;
    auto x = tones(n, rate, 3);
    std::fill(x.end() - static_cast<std::ptrdiff_t>(L), x.end(), 0.0f);
    const auto y = run(inst, {x}, test::partition(n, 512, 9))[0];
    const std::size_t skip = static_cast<std::size_t>(rate * 0.05);  // the tones' start-up edge
    const std::size_t len = n - L - 2 * skip;
    CHECK(rel_err(y, x, L + skip, skip, len) < 2e-3);
    CHECK(rel_err(y, x, L + skip + 1, skip, len) > 0.1);
    CHECK(rel_err(y, x, L + skip - 1, skip, len) > 0.1);
    CHECK(inst.underruns() == 0);
  }
}

TEST_CASE("fx: the chain does not depend on block sizes, never underruns, allocates nothing", "[fx][realtime]") {
  auto model = ssm::load_model(preset("ts-overdrive"));
  for (double rate : {44100.0, 96000.0, 22050.0}) {
    const std::size_t n = static_cast<std::size_t>(rate * 2);
    std::vector<std::vector<float>> x = {tones(n, rate, 4), tones(n, rate, 5)};
    fx::ModelInstance whole(model, fx::HostSpec{rate, 4096, 2});
    const auto ref = run(whole, x, test::partition(n, 4096, 0));
    for (std::size_t max_block : {1u, 31u, 512u}) {
      fx::ModelInstance inst(model, fx::HostSpec{rate, max_block, 2});
      REQUIRE(inst.latency_samples() == whole.latency_samples());
      const auto parts = test::partition(n, max_block, 11u);
      std::size_t allocs = 0;
      std::vector<std::vector<float>> y;
      {
        auto xx = x;  // copied before counting
        test::AllocationScope scope;
        std::size_t pos = 0;
        for (std::size_t b : parts) {
          float* io[2] = {xx[0].data() + pos, xx[1].data() + pos};
          inst.process(io, io, b);
          pos += b;
        }
        allocs = scope.count();
        y = std::move(xx);
      }
      INFO("rate " << rate << " max block " << max_block);
      REQUIRE(allocs == 0);
      REQUIRE(inst.underruns() == 0);
      std::size_t first = n;
      for (std::size_t i = 0; i < n && first == n; ++i)
        if (y[0][i] != ref[0][i])
          first = i;
      INFO("first difference at frame " << first << " latency " << inst.latency_samples());
      REQUIRE(first == n);
    }
  }
}

TEST_CASE("fx: non-finite model output is muted, counted and the state reset", "[fx]") {
  ssm::ModelConfig c = ssm::builtin_config("fx-s");
  c.sample_rate = 48000;
  ssm::ModelWeights w = ssm::make_random_weights(c, 3);
  w.audio_out_b.assign(w.audio_out_b.size(), std::nanf(""));
  fx::Effect fx_;
  fx_.prepare(fx::HostSpec{48000, 256, 2},
              std::make_unique<fx::ModelInstance>(ssm::Model::create(w), fx::HostSpec{48000, 256, 2}));
  std::vector<float> l = tones(256, 48000, 1), r = tones(256, 48000, 2);
  float* io[2] = {l.data(), r.data()};
  fx_.process(io, 256);
  REQUIRE(fx_.nonfinite_events() >= 1);
  for (std::size_t i = 0; i < 256; ++i) {
    REQUIRE(std::isfinite(l[i]));
    REQUIRE(l[i] == 0.0f);
  }
}

TEST_CASE("fx: Effect at default settings is the model instance, bit for bit", "[fx]") {
  auto model = ssm::load_model(preset("triode-preamp"));
  const fx::HostSpec spec{44100, 128, 2};
  fx::Effect e;
  e.prepare(spec, std::make_unique<fx::ModelInstance>(model, spec));
  fx::ModelInstance ref(model, spec);
  const std::size_t n = 44100;
  std::vector<std::vector<float>> x = {tones(n, 44100, 7), tones(n, 44100, 8)};
  const auto want = run(ref, x, test::partition(n, 128, 0));
  std::size_t pos = 0;
  for (std::size_t b : test::partition(n, 128, 3)) {
    float* io[2] = {x[0].data() + pos, x[1].data() + pos};
    e.process(io, b);
    pos += b;
  }
  REQUIRE(x == want);
  REQUIRE(e.current_latency() == ref.latency_samples());
}

namespace {
std::vector<float> sine200(std::size_t n) {
  std::vector<float> v(n);
  for (std::size_t t = 0; t < n; ++t)
    v[t] = 0.25f * static_cast<float>(std::sin(2.0 * M_PI * 200.0 * double(t) / 48000.0));
  return v;
}
float max_step(const std::vector<float>& v, std::size_t from = 0) {
  float m = 0.0f;
  for (std::size_t t = from + 1; t < v.size(); ++t)
    m = std::max(m, std::fabs(v[t] - v[t - 1]));
  return m;
}
}  // namespace

TEST_CASE("fx: automation, bypass and a model swap allocate nothing and do not click", "[fx][realtime]") {
  // 10 s of a 200 Hz sine (amplitude 0.25, largest step 0.0065) through
  // identity models while input gain jumps ±6 dB, output gain 0/+6 dB, mix
  // 1/0.3, bypass and normalisation toggle, and the model is swapped in the
  // middle (published from another thread). With every gain ≤ 2 the
  // smooth result's largest step is ≤ 4 × 0.0065 = 0.026; bound 0.031. An
  // unsmoothed output-gain jump here steps by ~0.25, a bypass toggle with
  // one-sided latency by far more.
  const fx::HostSpec spec{48000, 64, 2};
  fx::Effect e;
  e.prepare(spec, std::make_unique<fx::ModelInstance>(identity_model(), spec));
  const std::size_t n = 48000 * 10;
  auto l = sine200(n), r = sine200(n);
  auto next = std::make_unique<fx::ModelInstance>(identity_model(), spec);  // built before counting
  std::atomic<bool> publish{false}, published{false};
  std::thread loader([&] {
    while (!publish.load())
      std::this_thread::yield();
    e.publish(std::move(next));
    published = true;
  });
  std::size_t allocs = 0;
  {
    test::AllocationScope scope;
    std::size_t block = 0;
    for (std::size_t pos = 0; pos < n; pos += 64, ++block) {
      auto& p = e.parameters();
      p.input_gain_db = (block / 50) % 2 ? 6.0f : -6.0f;
      p.output_gain_db = (block / 70) % 2 ? 6.0f : 0.0f;
      p.mix = (block / 90) % 2 ? 0.3f : 1.0f;
      p.bypass = (block / 130) % 2 == 1;
      p.normalise = (block / 170) % 2 == 1;
      if (pos == n / 2)
        publish = true;
      float* io[2] = {l.data() + pos, r.data() + pos};
      e.process(io, 64);
    }
    allocs = scope.count();
  }
  loader.join();
  REQUIRE(published);
  REQUIRE(allocs == 0);
  REQUIRE(e.collect_garbage() == 1);  // the old instance came back to be freed here
  INFO("largest step " << max_step(l));
  REQUIRE(max_step(l) <= 0.031f);
  REQUIRE(max_step(l) >= 0.0065f);  // it did play
}

TEST_CASE("fx: a model swap crossfades (no step beyond the two models' own)", "[fx]") {
  const fx::HostSpec spec{48000, 64, 1};
  auto a = ssm::load_model(preset("ts-overdrive"));
  auto b = ssm::load_model(preset("fuzz-face"));
  const std::size_t n = 48000;
  float steady = 0.0f;
  for (auto m : {a, b}) {
    fx::Effect e;
    e.prepare(spec, std::make_unique<fx::ModelInstance>(m, spec));
    auto x = sine200(n);
    for (std::size_t pos = 0; pos < n; pos += 64) {
      float* io[1] = {x.data() + pos};
      e.process(io, 64);
    }
    steady = std::max(steady, max_step(x, 4800));
  }
  fx::Effect e;
  e.prepare(spec, std::make_unique<fx::ModelInstance>(a, spec));
  auto x = sine200(n);
  for (std::size_t pos = 0; pos < n; pos += 64) {
    if (pos == n / 2)
      e.publish(std::make_unique<fx::ModelInstance>(b, spec));
    float* io[1] = {x.data() + pos};
    e.process(io, 64);
  }
  // A 50 ms fade between two signals ≤ 1 apart adds ≤ 1/2400 per sample.
  INFO("swap " << max_step(x, 4800) << " steady " << steady);
  REQUIRE(max_step(x, 4800) <= steady + 0.002f);
}

TEST_CASE("fx: ModelHost keeps the old model on a failed load and reports the error", "[fx]") {
  fx::Effect e;
  fx::ModelHost host(e);
  host.prepare(fx::HostSpec{48000, 64, 2});
  fx::ModelSource good;
  good.kind = fx::ModelSource::Kind::file;
  good.name = preset("ts-overdrive");
  REQUIRE(host.load_now(good));
  auto s = host.status();
  REQUIRE(s.loaded);
  REQUIRE(s.name == "ts-overdrive");
  REQUIRE(s.error.empty());
  REQUIRE(s.source.bytes.size() > 1000);  // kept for embedding in a saved state

  fx::ModelSource bad;
  bad.kind = fx::ModelSource::Kind::file;
  bad.name = "broken.safetensors";
  bad.bytes = {1, 2, 3};
  REQUIRE_FALSE(host.load_now(bad));
  s = host.status();
  REQUIRE(s.name == "ts-overdrive");  // the old one keeps playing
  REQUIRE(s.error.rfind("broken.safetensors: truncated", 0) == 0);

  fx::ModelSource missing;
  missing.kind = fx::ModelSource::Kind::file;
  missing.name = "/nonexistent/model.safetensors";
  host.load_async(missing);
  host.wait_idle();
  REQUIRE(host.status().error.find("/nonexistent/model.safetensors: cannot open") == 0);

  good.name = preset("fuzz-face");
  good.bytes.clear();
  host.load_async(good);
  host.wait_idle();
  s = host.status();
  REQUIRE(s.name == "fuzz-face");
  REQUIRE(s.error.empty());
}

TEST_CASE("fx: a swap between models of different latency crossfades the dry path too", "[fx]") {
  // At a 44.1 kHz host a 48 kHz model has latency L > 0 and a 44.1 kHz one
  // latency 0. Mix 50 %: without the dry crossfade the dry half jumps from
  // x[t - L] to x[t] (a step of up to 0.25 here). Bound: the sine's own
  // steepest step (0.0071) + 0.002.
  const fx::HostSpec spec{44100, 64, 1};
  fx::Effect e;
  e.parameters().mix = 0.5f;
  e.prepare(spec, std::make_unique<fx::ModelInstance>(identity_model(48000), spec));
  REQUIRE(e.current_latency() > 0);
  const std::size_t n = 44100;
  std::vector<float> x(n);
  for (std::size_t t = 0; t < n; ++t)
    x[t] = 0.25f * static_cast<float>(std::sin(2.0 * M_PI * 200.0 * double(t) / 44100.0));
  for (std::size_t pos = 0; pos < n; pos += 64) {
    if (pos == 64 * 300)
      e.publish(std::make_unique<fx::ModelInstance>(identity_model(44100), spec));
    float* io[1] = {x.data() + pos};
    e.process(io, std::min<std::size_t>(64, n - pos));
  }
  REQUIRE(e.current_latency() == 0);
  INFO("largest step " << max_step(x, 4410));
  REQUIRE(max_step(x, 4410) <= 0.0071f + 0.002f);
}

TEST_CASE("fx: non-finite host input never reaches the output", "[fx]") {
  const fx::HostSpec spec{48000, 64, 2};
  fx::Effect e;
  e.parameters().bypass = true;  // the dry path too
  e.prepare(spec, std::make_unique<fx::ModelInstance>(ssm::load_model(preset("ts-overdrive")), spec));
  std::vector<float> l(64, 0.1f), r(64, 0.1f);
  l[10] = std::nanf("");
  r[20] = INFINITY;
  float* io[2] = {l.data(), r.data()};
  e.process(io, 64);
  for (std::size_t t = 0; t < 64; ++t) {
    REQUIRE(std::isfinite(l[t]));
    REQUIRE(std::isfinite(r[t]));
  }
  REQUIRE(l[10] == 0.0f);  // bypassed, latency 0: the dry sample, replaced by silence
}

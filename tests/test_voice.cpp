// SPDX-License-Identifier: GPL-3.0-or-later
// The voice runtime (speech/): synthesiser against its double reference,
// the whole voice against the independent float64 reference
// (tests/reference/voice_ref.py), streaming against non-streaming,
// allocation-free streaming, and refusals of broken voice files.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>

#include "alloc_counter.h"
#include "sidewinder/speech/frame_recorder.h"
#include "sidewinder/speech/hns_synth.h"
#include "sidewinder/speech/speaker.h"
#include "sidewinder/speech/voice_loader.h"
#include "sidewinder/speech/voice_stream.h"
#include "sidewinder/ssm/safetensors.h"
#include "test_util.h"

using namespace sw;
namespace fs = std::filesystem;

namespace {

std::string tiny_voice() {
  return test::data_path("voice/tiny_voice.safetensors");
}

// Voices with golden vectors from tests/reference/voice_ref.py (the tiny test voice; the shipped ones).
const std::vector<std::pair<std::string, std::string>> kGoldenVoices = {
    {tiny_voice(), test::data_path("voice/tiny_voice.golden.safetensors")},
    {std::string(SW_PRESETS_DIR) + "/voices/allison.safetensors", test::data_path("voice/allison.golden.safetensors")},
    {std::string(SW_PRESETS_DIR) + "/voices/allison-slt.safetensors",
     test::data_path("voice/allison-slt.golden.safetensors")},
};

using Capture = speech::FrameRecorder;

std::vector<float> speak_all(speech::VoiceStream& vs, std::size_t pull_size) {
  std::vector<float> out, buf(pull_size);
  for (;;) {
    const std::size_t n = vs.pull(buf.data(), buf.size());
    if (n == 0)
      break;
    out.insert(out.end(), buf.begin(), buf.begin() + long(n));
  }
  return out;
}

double rel_err(const std::vector<float>& y, const std::vector<double>& ref) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    num = std::max(num, std::abs(double(y[i]) - ref[i]));
    den = std::max(den, std::abs(ref[i]));
  }
  return den > 0 ? num / den : num;
}

}  // namespace

TEST_CASE("voice: streaming synthesiser equals the whole-utterance double reference", "[voice]") {
  // Tolerance 1e-5 of the peak: the streaming path sums the noise FIRs in
  // float (129 taps, relative rounding ~1e-6) and builds sin(k theta) by a
  // double recurrence; any wrong tap, interpolation or phase step is >= 1e-2.
  auto voice = speech::load_voice(tiny_voice());
  const speech::SynthSpec& s = voice->synth->spec;
  const std::size_t T = 37, K = std::size_t(s.max_harmonics), Bn = std::size_t(s.noise_bands);
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  std::vector<float> f0(T), amps(T * K), gains(T * Bn);
  for (std::size_t t = 0; t < T; ++t) {
    f0[t] = 90.0f + 200.0f * u(rng);
    for (std::size_t k = 0; k < K; ++k)
      amps[t * K + k] = (f0[t] * float(k + 1) < 5000.0f) ? 0.1f * u(rng) / float(k + 1) : 0.0f;
    for (std::size_t b = 0; b < Bn; ++b)
      gains[t * Bn + b] = (t % 9 < 3) ? 0.0f : 0.05f * u(rng);
  }
  speech::HnsSynth synth;
  synth.prepare(*voice->synth);
  synth.reset(42);
  std::vector<float> y, hop(std::size_t(s.hop));
  for (std::size_t t = 0; t < T; ++t) {
    const std::size_t n = synth.push(f0[t], &amps[t * K], &gains[t * Bn], hop.data());
    CHECK(n == (t == 0 ? 0 : std::size_t(s.hop)));
    y.insert(y.end(), hop.begin(), hop.begin() + long(n));
  }
  const std::size_t n = synth.finish(hop.data());
  y.insert(y.end(), hop.begin(), hop.begin() + long(n));
  REQUIRE(y.size() == T * std::size_t(s.hop));
  speech::NoiseSource ns{42};
  std::vector<float> noise(y.size());
  for (auto& v : noise)
    v = ns.next();
  const auto ref = speech::hns_reference(s, f0, amps, gains, noise);
  const double err = rel_err(y, ref);
  std::printf("synthesiser: streaming vs reference %.1e of the peak (tolerance 1e-5)\n", err);
  CHECK(err < 1e-5);
}

TEST_CASE("voice: noise source is unit-variance white noise", "[voice]") {
  speech::NoiseSource ns{1};
  double sum = 0, sq = 0, lag = 0, prev = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    const double v = ns.next();
    REQUIRE(std::abs(v) <= 1.7320509);
    sum += v, sq += v * v, lag += v * prev, prev = v;
  }
  CHECK(std::abs(sum / n) < 0.01);
  CHECK(std::abs(sq / n - 1.0) < 0.01);
  CHECK(std::abs(lag / n) < 0.01);
}

TEST_CASE("voice: C++ voice matches the independent float64 reference (golden vectors)", "[voice][golden]") {
  // Tolerances (max |C++ - ref| / max |ref|): frames (log-mel, f0, voicing)
  // 1e-4 — the engine's fp32 SSMs with its exp/log polynomials measure
  // ~1e-6 on the audio models (test_golden), trained or random weights here
  // pass through 2 + 2 models; audio 1e-3 — f0 rounded to float and fp32
  // frames move the harmonic phase, which integrates f0 (about 1e-6 of a
  // cycle per cycle, times up to ~25 harmonics over ~100 cycles). Durations
  // are integers and must be equal.
  for (const auto& [voice_path, golden_path] : kGoldenVoices) {
    INFO(voice_path);
    auto voice = speech::load_voice(voice_path);
    const ssm::SafetensorsFile g = ssm::read_safetensors(golden_path);
    for (int k = 0; k < 2; ++k) {
      const std::string n = std::to_string(k);
      const auto case_meta = nlohmann::json::parse(g.metadata.at("case_" + n));
      const auto idsf = g.read_f32(g.tensors.at("ids_" + n));
      const auto durf = g.read_f32(g.tensors.at("durations_" + n));
      const std::vector<int> ids(idsf.begin(), idsf.end());
      speech::VoiceStream vs(voice);
      vs.prepare(64);
      Capture cap;
      vs.set_observer(&cap);
      speech::UtteranceControls c;
      c.length_scale = case_meta["length_scale"].get<double>();
      c.pitch_semitones = case_meta["pitch_semitones"].get<double>();
      c.seed = case_meta["seed"].get<std::uint64_t>();
      REQUIRE(vs.start(ids.data(), ids.size(), c));
      for (std::size_t i = 0; i < ids.size(); ++i)
        REQUIRE(vs.durations()[i] == int(durf[i]));
      const auto audio = speak_all(vs, 1000);
      auto ref = [&](const char* name) {
        const auto v = g.read_f32(g.tensors.at(std::string(name) + "_" + n));
        return std::vector<double>(v.begin(), v.end());
      };
      const double e_mel = rel_err(cap.mel, ref("mel")), e_f0 = rel_err(cap.f0, ref("f0")),
                   e_v = rel_err(cap.voiced, ref("voiced")), e_a = rel_err(audio, ref("audio"));
      std::printf("golden %s case %d: mel %.1e, f0 %.1e, voicing %.1e, audio %.1e\n", voice->name.c_str(), k, e_mel,
                  e_f0, e_v, e_a);
      REQUIRE(audio.size() == ref("audio").size());
      CHECK(e_mel < 1e-4);
      CHECK(e_f0 < 1e-4);
      CHECK(e_v < 1e-4);
      // Audio: the synthesiser alone matches its double reference to 2e-7 (first test case); here
      // its inputs carry the float32 decoder's error (f0 ~4e-6 relative), which the phase
      // integration turns into a phase error growing with time and harmonic number (harmonic k
      // after t seconds: 2 pi k f0 t * 4e-6, ~0.01 rad for k = 10, 2 s). Measured: 2e-4 (tiny
      // voice, 0.5 s), 1.2e-3 (shipped voice, 2.1 s); a wrong formula shows at 1e-1.
      CHECK(e_a < 5e-3);
    }
  }
}

TEST_CASE("voice: streaming output does not depend on the pull size; audio starts early", "[voice]") {
  auto voice = speech::load_voice(tiny_voice());
  const std::vector<int> ids = {voice->bos, 10, 11, 12, voice->space, 13, 14, 15, 16, 17, 5, voice->eos};
  speech::UtteranceControls c;
  std::vector<float> first;
  for (std::size_t pull : {std::size_t(1), std::size_t(7), std::size_t(160), std::size_t(4096), std::size_t(1) << 20}) {
    speech::VoiceStream vs(voice);
    vs.prepare(64);
    REQUIRE(vs.start(ids.data(), ids.size(), c));
    const auto y = speak_all(vs, pull);
    REQUIRE(y.size() == vs.total_samples());
    if (first.empty())
      first = y;
    else
      CHECK(y == first);  // bit-identical
  }
  // The first hop comes after two frames are decoded, long before the end.
  speech::VoiceStream vs(voice);
  vs.prepare(64);
  REQUIRE(vs.start(ids.data(), ids.size(), c));
  Capture cap;
  vs.set_observer(&cap);
  std::vector<float> buf(std::size_t(voice->hop()));
  REQUIRE(vs.pull(buf.data(), buf.size()) == buf.size());
  CHECK(cap.f0.size() == 2);
  CHECK(vs.total_frames() > 20);
}

TEST_CASE("voice: start() and pull() allocate nothing", "[voice][realtime]") {
  auto voice = speech::load_voice(tiny_voice());
  speech::VoiceStream vs(voice);
  vs.prepare(64);
  const std::vector<int> ids = {voice->bos, 10, 11, 12, voice->space, 13, 14, 15, voice->eos};
  std::vector<float> buf(333);
  speech::UtteranceControls c;
  c.length_scale = 1.5;
  std::size_t total = 0;
  {
    test::AllocationScope scope;
    for (int rep = 0; rep < 3; ++rep) {
      REQUIRE(vs.start(ids.data(), ids.size(), c));
      vs.set_f0_hz(rep == 1 ? 220.0f : 0.0f);
      while (std::size_t n = vs.pull(buf.data(), buf.size()))
        total += n;
    }
    CHECK(scope.count() == 0);
  }
  CHECK(total > 3000);
}

TEST_CASE("voice: start() refuses what it cannot speak", "[voice]") {
  auto voice = speech::load_voice(tiny_voice());
  speech::VoiceStream vs(voice);
  vs.prepare(8);
  speech::UtteranceControls c;
  const std::vector<int> too_long(9, voice->space), bad = {voice->bos, 9999, voice->eos};
  CHECK_FALSE(vs.start(too_long.data(), too_long.size(), c));
  CHECK_FALSE(vs.start(bad.data(), bad.size(), c));
  CHECK_FALSE(vs.start(bad.data(), 0, c));
  float x[16];
  CHECK(vs.pull(x, 16) == 0);
}

TEST_CASE("voice: f0 override and pitch shift reach the synthesiser", "[voice]") {
  auto voice = speech::load_voice(tiny_voice());
  const std::vector<int> ids = {voice->bos, 10, 11, 12, 13, voice->eos};
  auto f0s = [&](const speech::UtteranceControls& c, float live) {
    speech::VoiceStream vs(voice);
    vs.prepare(16);
    Capture cap;
    vs.set_observer(&cap);
    vs.set_f0_hz(live);
    REQUIRE(vs.start(ids.data(), ids.size(), c));
    speak_all(vs, 512);
    return cap.f0;
  };
  speech::UtteranceControls plain, up, over;
  up.pitch_semitones = 12.0;
  const auto a = f0s(plain, 0.0f), b = f0s(up, 0.0f);
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i)
    CHECK(b[i] == Approx(2.0f * a[i]).epsilon(1e-5));
  std::vector<float> path(a.size(), 0.0f);
  path[1] = 333.0f;
  over.f0_override = path.data();
  over.f0_override_frames = path.size();
  const auto c = f0s(over, 0.0f);
  CHECK(c[0] == a[0]);
  CHECK(c[1] == 333.0f);
  const auto d = f0s(plain, 150.0f);
  for (float v : d)
    CHECK(v == 150.0f);
}

namespace {
// Writes a modified copy of the tiny voice.
std::string broken_voice(
    const std::string& name,
    const std::function<void(std::map<std::string, ssm::TensorToWrite>&, std::map<std::string, std::string>&)>& edit) {
  const ssm::SafetensorsFile f = ssm::read_safetensors(tiny_voice());
  std::map<std::string, ssm::TensorToWrite> t;
  for (const auto& [n, info] : f.tensors)
    t[n] = {info.shape, f.read_f32(info)};
  auto meta = f.metadata;
  edit(t, meta);
  const auto dir = std::filesystem::temp_directory_path() / "sw_broken_voices";
  std::filesystem::create_directories(dir);
  const std::string path = (dir / (name + ".safetensors")).string();
  ssm::write_safetensors(path, t, meta);
  return path;
}

void expect_refused(const std::string& path, const std::string& substring) {
  try {
    speech::load_voice(path);
    FAIL("loaded a broken voice: " << path);
  } catch (const ssm::ModelLoadError& e) {
    INFO(e.what());
    CHECK(std::string(e.what()).find(substring) != std::string::npos);
    CHECK(std::string(e.what()).find(path) == 0);
  }
}
}  // namespace

TEST_CASE("voice: broken voice files are refused with one message naming the fault", "[voice][loader]") {
  using T = std::map<std::string, ssm::TensorToWrite>;
  using M = std::map<std::string, std::string>;
  expect_refused(broken_voice("format", [](T&, M& m) { m["format"] = "sidewinder"; }), "expected 'sidewinder-voice'");
  expect_refused(broken_voice("version", [](T&, M& m) { m["format_version"] = "2"; }),
                 "format_version 2 is not supported");
  expect_refused(broken_voice("synth", [](T&, M& m) { m["synthesiser"] = "wavenet"; }), "synthesiser = 'wavenet'");
  expect_refused(broken_voice("map_json", [](T&, M& m) { m["phoneme_map"] = "{not json"; }), "phoneme_map is not JSON");
  expect_refused(broken_voice("map_ids",
                              [](T&, M& m) {
                                auto j = nlohmann::json::parse(m["phoneme_map"]);
                                j["<eos>"] = 0;
                                m["phoneme_map"] = j.dump();
                              }),
                 "each once");
  expect_refused(broken_voice("no_prior", [](T& t, M&) { t.erase("prior.bias"); }), "missing tensor prior.bias");
  expect_refused(broken_voice("decoder_layer", [](T& t, M&) { t.erase("decoder.backbone.layers.1.mixer.D"); }),
                 "decoder.");
  expect_refused(broken_voice("extra",
                              [](T& t, M&) {
                                t["stray.weight"] = {{1}, {0.0f}};
                              }),
                 "unexpected tensor stray.weight");
  expect_refused(broken_voice("filters",
                              [](T& t, M&) {
                                t["synth.noise_filters"] = {{2, 2}, {0, 0, 0, 0}};
                              }),
                 "synth.noise_filters");
  expect_refused(broken_voice("hop", [](T&, M& m) { m["hop"] = "-3"; }), "metadata hop");
  expect_refused(broken_voice("emb",
                              [](T& t, M&) {
                                auto& e = t["embedding.weight"];
                                e.shape[0] -= 1;
                                e.values.resize(std::size_t(e.shape[0] * e.shape[1]));
                              }),
                 "embedding.weight");
  expect_refused(test::data_path("voice/does_not_exist.safetensors"), "cannot open");
}

TEST_CASE("voice: the tiny voice loads with its metadata", "[voice][loader]") {
  auto v = speech::load_voice(tiny_voice());
  CHECK(v->name == "tiny-test-voice");
  CHECK(v->sample_rate() == 16000);
  CHECK(v->hop() == 160);
  CHECK(v->n_mels == 80);
  CHECK(v->id_of("ə") >= 0);
  CHECK(v->id_of("Q") == -1);
  CHECK(v->parameter_count() > 1000);
}

std::vector<fs::path> shipped_voices() {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(std::string(SW_PRESETS_DIR) + "/voices"))
    if (e.path().extension() == ".safetensors")
      out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

TEST_CASE("voice: every shipped voice loads, credits its data and speaks a sentence", "[voice][presets]") {
  const auto voices = shipped_voices();
  REQUIRE(!voices.empty());
  for (const auto& p : voices) {
    INFO(p.string());
    auto v = speech::load_voice(p.string());
    CHECK(v->name == p.stem().string());
    CHECK(v->sample_rate() == 16000);
    CHECK(!v->license.empty());
    CHECK(!v->credits.empty());
    CHECK(!v->language.empty());
    for (const char* s : {"ə", "ɪ", "t", "s", "n", "ˈ"})
      CHECK(v->id_of(s) >= 0);
    speech::Speaker speaker(v);
    std::vector<float> y;
    std::vector<speech::Timestamp> ts;
    speaker.speak_text(
        "Please enter your number, then press the pound key.", speech::SpeakOptions{},
        [&](const float* x, std::size_t n) { return y.insert(y.end(), x, x + n), true; }, &ts);
    // 9 words: between 1.5 and 8 seconds of speech, not silent, not clipped.
    CHECK(y.size() > 16000 * 3 / 2);
    CHECK(y.size() < 16000 * 8);
    double e = 0, peak = 0;
    for (float x : y)
      e += double(x) * x, peak = std::max(peak, double(std::fabs(x)));
    const double rms = std::sqrt(e / double(y.size()));
    CHECK(rms > 0.01);
    CHECK(peak <= 1.0);
    std::size_t words = 0;
    for (const auto& t : ts)
      words += t.kind == speech::Timestamp::Kind::word;
    CHECK(words == 9);
  }
}

TEST_CASE("voice: speak_text streams piece by piece with the same audio as the whole plan", "[voice][speech]") {
  auto voice = speech::load_voice(tiny_voice());
  speech::Speaker speaker(voice);
  std::string text;
  for (int i = 0; i < 25; ++i)
    text += "Hello world, the cat sat on the mat. Then it left! Did it come back? ";
  REQUIRE(text.size() > 2 * speech::Speaker::kPieceBytes);
  speech::SpeakOptions o;
  for (bool ssml : {false, true}) {
    o.ssml = ssml;
    const std::string in =
        ssml ? "<speak>" + text + "<break time=\"300ms\"/>and <prosody rate=\"fast\">" + text + "</prosody></speak>"
             : text;
    std::vector<float> a, b;
    std::vector<speech::Timestamp> ta, tb;
    const auto plan = speaker.plan(in, o);
    speaker.speak(
        plan, o, [&](const float* x, std::size_t n) { return a.insert(a.end(), x, x + n), true; }, &ta);
    std::size_t calls = 0, first_call_at = 0;
    speaker.speak_text(
        in, o,
        [&](const float* x, std::size_t n) {
          if (calls++ == 0)
            first_call_at = b.size() + n;
          return b.insert(b.end(), x, x + n), true;
        },
        &tb);
    REQUIRE(a.size() > 16000 * 10);
    CHECK(a == b);
    REQUIRE(ta.size() == tb.size());
    for (std::size_t i = 0; i < ta.size(); ++i)
      CHECK(ta[i].start_s == tb[i].start_s);
    CHECK(first_call_at <= 1024);  // audio comes out in small pieces from the start
  }
  // A sink that says stop stops.
  std::size_t got = 0;
  speaker.speak_text(text, speech::SpeakOptions{}, [&](const float*, std::size_t n) { return (got += n) < 5000; });
  CHECK(got < 5000 + 2048);  // within a piece (1024 samples) or two of the stop
}

TEST_CASE("voice: pauses — breaks anywhere are silence of their length; sentence gaps only between sentences",
          "[voice][speech]") {
  auto voice = speech::load_voice(tiny_voice());
  speech::Speaker speaker(voice);
  speech::SpeakOptions o;
  o.ssml = true;
  auto render = [&](const std::string& ssml) {
    std::vector<float> y;
    speaker.speak_text(ssml, o, [&](const float* x, std::size_t n) { return y.insert(y.end(), x, x + n), true; });
    return y;
  };
  CHECK(render("<speak><break time=\"2s\"/></speak>").size() == 32000);
  const auto hi = render("<speak>Hi.</speak>");
  const auto framed = render("<speak><break time=\"1s\"/>Hi.<break time=\"500ms\"/></speak>");
  REQUIRE(framed.size() == hi.size() + 16000 + 8000);
  for (std::size_t i = 0; i < 16000; ++i)
    REQUIRE(framed[i] == 0.0f);
  CHECK(std::vector<float>(framed.begin() + 16000, framed.end() - 8000) == hi);
  // Two sentences: one gap of sentence_pause_s between them, none at the end.
  const auto bye = render("<speak>Bye.</speak>");
  const auto both = render("<speak>Hi. Bye.</speak>");
  CHECK(both.size() == hi.size() + std::size_t(o.sentence_pause_s * 16000) + bye.size());
}

// SPDX-License-Identifier: GPL-3.0-or-later
// End to end: the built `sidewinder` command on real files and pipes.
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "sidewinder/dsp/audio_file.h"
#include "sidewinder/fx/model_instance.h"
#include "sidewinder/gpu/batch_engine.h"
#include "sidewinder/ssm/model_loader.h"
#include "test_util.h"

using namespace sw;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("sw_cli_test_" + std::to_string(::getpid()) + "_" + std::to_string(rand()));
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string operator/(const std::string& f) const { return (path / f).string(); }
};

// Runs a shell command; returns the exit status.
int sh(const std::string& cmd) {
  const int r = std::system(cmd.c_str());
  return WIFEXITED(r) ? WEXITSTATUS(r) : -1;
}

std::string cli() {
  return SW_CLI_PATH;
}
std::string model_path() {
  return test::data_path("golden/demo_fx.safetensors");
}
std::string clip_path() {
  return test::data_path("demo_clip.wav");
}

std::vector<float> read_f32(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  std::vector<char> b((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::vector<float> v(b.size() / 4);
  std::memcpy(v.data(), b.data(), v.size() * 4);
  return v;
}

std::vector<float> read_audio(const std::string& p, dsp::AudioFormatInfo* info = nullptr) {
  auto r = dsp::AudioFileReader::open(p);
  if (info)
    *info = r.info();
  std::vector<float> all, buf(4096 * r.info().channels);
  while (std::size_t n = r.read(buf.data(), 4096))
    all.insert(all.end(), buf.begin(), buf.begin() + n * r.info().channels);
  return all;
}

std::string slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

}  // namespace

TEST_CASE("cli: render a WAV equals the engine run directly", "[cli]") {
  TempDir t;
  REQUIRE(sh(cli() + " render " + clip_path() + " " + (t / "out.f32") + " -m " + model_path() + " --block 64") == 0);
  REQUIRE(sh(cli() + " render " + clip_path() + " " + (t / "out.wav") + " -m " + model_path()) == 0);
  const auto in = read_audio(clip_path());
  auto model = ssm::load_model(model_path());
  const auto expect = test::run_stream(model, nullptr, in, test::partition(in.size(), 256));
  const auto got = read_f32(t / "out.f32");
  REQUIRE(got.size() == in.size());
  REQUIRE(got == expect);  // same kernels, partition-invariant: bit-identical
  dsp::AudioFormatInfo info;
  const auto wav = read_audio(t / "out.wav", &info);
  REQUIRE(info.sample_rate == 48000);
  REQUIRE(wav.size() == in.size());
  REQUIRE(test::norm_err(wav, expect) < 1e-5);  // 24-bit PCM quantisation
}

TEST_CASE("cli: --offline and every --block give the same output", "[cli]") {
  TempDir t;
  REQUIRE(sh(cli() + " render " + clip_path() + " " + (t / "a.f32") + " -m " + model_path() + " --offline") == 0);
  REQUIRE(sh(cli() + " render " + clip_path() + " " + (t / "b.f32") + " -m " + model_path() + " --block 1") == 0);
  REQUIRE(sh(cli() + " render " + clip_path() + " " + (t / "c.f32") + " -m " + model_path() + " --block 4096") == 0);
  const auto a = read_f32(t / "a.f32");
  REQUIRE(a.size() == 144000);
  REQUIRE(a == read_f32(t / "b.f32"));
  REQUIRE(a == read_f32(t / "c.f32"));
}

TEST_CASE("cli: stdin to stdout pipe", "[cli]") {
  TempDir t;
  REQUIRE(sh(cli() + " render " + clip_path() + " " + (t / "in.f32") + " -m " + model_path()) == 0);  // any f32 input
  REQUIRE(sh(cli() + " render " + (t / "in.f32") + " " + (t / "ref.f32") + " -m " + model_path()) == 0);
  REQUIRE(sh("cat " + (t / "in.f32") + " | " + cli() + " render - - -m " + model_path() + " > " + (t / "pipe.f32")) ==
          0);
  const auto ref = read_f32(t / "ref.f32");
  REQUIRE(ref.size() == 144000);
  REQUIRE(read_f32(t / "pipe.f32") == ref);
}

TEST_CASE("cli: a file at another rate is resampled and written back at its own rate", "[cli]") {
  TempDir t;
  const std::string in44 = t / "in44.wav";
  const std::size_t frames = 44100;
  {
    auto w = dsp::AudioFileWriter::create(in44, 44100, 2);
    std::vector<float> buf(frames * 2);
    for (std::size_t i = 0; i < frames; ++i) {
      buf[2 * i] = 0.4f * std::sin(2 * M_PI * 440.0 * double(i) / 44100.0);
      buf[2 * i + 1] = 0.2f * std::sin(2 * M_PI * 1000.0 * double(i) / 44100.0);
    }
    w.write(buf.data(), frames);
    w.commit();
  }
  REQUIRE(sh(cli() + " render " + in44 + " " + (t / "out.wav") + " -m " + model_path()) == 0);
  dsp::AudioFormatInfo info;
  const auto out = read_audio(t / "out.wav", &info);
  REQUIRE(info.sample_rate == 44100);
  REQUIRE(info.channels == 2);
  REQUIRE(out.size() == frames * 2);
  // The demo model passes the dry signal (skip 1.0) plus a small colouration:
  // the output tracks the input closely and is not delayed by the resamplers.
  const auto in = read_audio(in44);
  double num = 0, den = 0;
  for (std::size_t i = 4410 * 2; i < (frames - 4410) * 2; ++i) {
    num += (out[i] - in[i]) * (out[i] - in[i]);
    den += in[i] * in[i];
  }
  REQUIRE(std::sqrt(num / den) < 0.5);
  for (float x : out)
    REQUIRE(std::isfinite(x));
}

TEST_CASE("cli: failures leave no OUT, never touch IN, and use the documented exit codes", "[cli]") {
  TempDir t;
  const std::string out = t / "out.wav";
  // bad model → 3, nothing written
  REQUIRE(sh(cli() + " render " + clip_path() + " " + out + " -m " +
             test::data_path("broken/truncated_5_bytes.safetensors") + " 2>/dev/null") == 3);
  REQUIRE_FALSE(fs::exists(out));
  // unreadable WAV → 3
  { std::ofstream(t / "garbage.wav") << "RIFF this is not audio at all"; }
  REQUIRE(sh(cli() + " render " + (t / "garbage.wav") + " " + out + " -m " + model_path() + " 2>/dev/null") == 3);
  REQUIRE_FALSE(fs::exists(out));
  // missing input → 3
  REQUIRE(sh(cli() + " render " + (t / "missing.wav") + " " + out + " -m " + model_path() + " 2>/dev/null") == 3);
  // an existing OUT survives a failed render unchanged
  { std::ofstream(out) << "precious"; }
  REQUIRE(sh(cli() + " render " + (t / "garbage.wav") + " " + out + " -m " + model_path() + " 2>/dev/null") == 3);
  REQUIRE(slurp(out) == "precious");
  // OUT == IN is refused, IN untouched
  fs::copy_file(clip_path(), t / "clip.wav");
  const std::string before = slurp(t / "clip.wav");
  REQUIRE(sh(cli() + " render " + (t / "clip.wav") + " " + (t / "clip.wav") + " -m " + model_path() + " 2>/dev/null") ==
          3);
  REQUIRE(slurp(t / "clip.wav") == before);
  // unknown output extension → 3, nothing left behind
  REQUIRE(sh(cli() + " render " + clip_path() + " " + (t / "out.xyz") + " -m " + model_path() + " 2>/dev/null") == 3);
  REQUIRE_FALSE(fs::exists(t / "out.xyz"));
  // usage errors → 2
  REQUIRE(sh(cli() + " render 2>/dev/null") == 2);
  REQUIRE(sh(cli() + " frobnicate 2>/dev/null") == 2);
  REQUIRE(sh(cli() + " render a b -m m --block 0 2>/dev/null") == 2);
  // no temporary files left in the directory
  for (const auto& e : fs::directory_iterator(t.path)) {
    const std::string name = e.path().filename().string();
    INFO(name);
    REQUIRE(name.find(".tmp") == std::string::npos);
  }
}

TEST_CASE("cli: info prints the model and its cost", "[cli]") {
  TempDir t;
  REQUIRE(sh(cli() + " info --json " + model_path() + " > " + (t / "info.json")) == 0);
  const auto j = nlohmann::json::parse(slurp(t / "info.json"));
  REQUIRE(j.at("arch") == "mamba1");
  REQUIRE(j.at("layers") == 2);
  REQUIRE(j.at("d_state") == 8);
  REQUIRE(j.at("parameters").get<long long>() > 1000);
  REQUIRE(j.at("metadata").at("name") == "demo-random");
  REQUIRE(sh(cli() + " info " + test::data_path("broken/missing_D.safetensors") + " 2>/dev/null") == 3);
}

TEST_CASE("cli: bench runs and reports every block size", "[cli]") {
  TempDir t;
  REQUIRE(sh(cli() + " bench --config fx-s --seconds 0.05 --repeats 1 --json > " + (t / "b.json")) == 0);
  const auto j = nlohmann::json::parse(slurp(t / "b.json"));
  const auto& res = j.at("models").at(0).at("results");
  REQUIRE(res.size() == 7);  // 6 streaming block sizes + offline
  for (const auto& r : res)
    REQUIRE(r.at("ms_per_audio_second").get<double>() > 0);
  REQUIRE(j.at("machine").at("peak_gflops").get<double>() > 0);
}

TEST_CASE("cli: resampled render equals the in-process resample → model → resample chain", "[cli]") {
  TempDir t;
  const std::string in44 = t / "in44.wav";
  const std::size_t frames = 30000;
  std::vector<float> x(frames * 2);
  for (std::size_t i = 0; i < frames; ++i) {
    x[2 * i] = 0.4f * std::sin(2 * M_PI * 440.0 * double(i) / 44100.0);
    x[2 * i + 1] = 0.3f * std::sin(2 * M_PI * 3000.0 * double(i) / 44100.0 + 1.0);
  }
  {
    auto w = dsp::AudioFileWriter::create(in44, 44100, 2, "", true);
    w.write(x.data(), frames);
    w.commit();
  }
  REQUIRE(sh(cli() + " render " + in44 + " " + (t / "out.f32") + " -m " + model_path() + " --block 100") == 0);
  const auto got = read_f32(t / "out.f32");
  REQUIRE(got.size() == frames * 2);
  // Other read chunking and block sizes through the resamplers: bit-identical too.
  REQUIRE(sh(cli() + " render " + in44 + " " + (t / "off.f32") + " -m " + model_path() + " --offline") == 0);
  REQUIRE(read_f32(t / "off.f32") == got);

  // The plugin's chain in process (fx::ModelInstance at the file's rate),
  // its latency trimmed: bit-identical. (The chain itself is tested in
  // test_fx.cpp: whole-frame latency, partition invariance.)
  auto model = ssm::load_model(model_path());
  fx::ModelInstance inst(model, fx::HostSpec{44100, 4096, 2});
  const std::size_t L = static_cast<std::size_t>(inst.latency_samples());
  REQUIRE(L > 0);
  std::vector<float> l(frames + L, 0.0f), r(frames + L, 0.0f);
  for (std::size_t i = 0; i < frames; ++i) {
    l[i] = x[2 * i];
    r[i] = x[2 * i + 1];
  }
  for (std::size_t pos = 0; pos < frames + L; pos += 4096) {
    const std::size_t b = std::min<std::size_t>(4096, frames + L - pos);
    float* io[2] = {l.data() + pos, r.data() + pos};
    inst.process(io, io, b);
  }
  std::vector<float> expect(frames * 2);
  for (std::size_t i = 0; i < frames; ++i) {
    expect[2 * i] = l[i + L];
    expect[2 * i + 1] = r[i + L];
  }
  REQUIRE(got == expect);
}

TEST_CASE("cli: non-finite input samples are refused (exit 3, no OUT)", "[cli]") {
  TempDir t;
  std::vector<float> x(1000, 0.1f);
  x[500] = std::nanf("");
  {
    std::ofstream f(t / "nan.f32", std::ios::binary);
    f.write(reinterpret_cast<const char*>(x.data()), static_cast<std::streamsize>(x.size() * 4));
  }
  REQUIRE(sh(cli() + " render " + (t / "nan.f32") + " " + (t / "out.wav") + " -m " + model_path() + " 2>" +
             (t / "err.txt")) == 3);
  REQUIRE_FALSE(fs::exists(t / "out.wav"));
  REQUIRE_THAT(slurp(t / "err.txt"), Catch::Contains("sample 500"));
}

TEST_CASE("cli: a failure writing the output exits 1, not 3", "[cli]") {
  REQUIRE(fs::exists("/dev/full"));  // Linux: every write fails with ENOSPC
  REQUIRE(sh(cli() + " render " + clip_path() + " - -m " + model_path() + " > /dev/full 2>/dev/null") == 1);
}

TEST_CASE("cli: phonemize prints clauses; JSON for the trainer; bad SSML is bad input", "[cli][speech]") {
  TempDir t;
  const std::string out = t / "p.json";
  REQUIRE(sh(cli() + " phonemize 'Hello there, Dr. Smith. Bye!' --json > " + out) == 0);
  std::ifstream f(out);
  const nlohmann::json j = nlohmann::json::parse(f);
  REQUIRE(j["voice"] == "en-us");
  REQUIRE(j["clauses"].size() == 3);
  REQUIRE(j["clauses"][0]["terminator"] == ",");
  REQUIRE(j["clauses"][1]["terminator"] == ".");
  REQUIRE(j["clauses"][1]["phonemes"] == "dˈɑːktɚ smˈɪθ");
  REQUIRE(j["clauses"][2]["terminator"] == "!");
  // stdin, SSML
  REQUIRE(sh("echo '<speak>a<break time=\"250ms\"/>b</speak>' | " + cli() + " phonemize --ssml --json > " + out) == 0);
  std::ifstream g(out);
  const nlohmann::json k = nlohmann::json::parse(g);
  REQUIRE(k["clauses"][0]["pause_after_s"] == Approx(0.25));
  // bad markup: exit 3, the message names the place
  const std::string err = t / "err.txt";
  REQUIRE(sh(cli() + " phonemize --ssml '<speak><prosody rate=\"9\">x</prosody></speak>' 2> " + err) == 3);
  std::ifstream e(err);
  const std::string msg((std::istreambuf_iterator<char>(e)), std::istreambuf_iterator<char>());
  REQUIRE(msg.find("line 1, column 23 (byte 22)") != std::string::npos);  // the value of rate
  REQUIRE(msg.find("outside 0.25 .. 4") != std::string::npos);
}

TEST_CASE("cli: speak writes a file, streams the same audio to stdout, reads stdin, writes timestamps",
          "[cli][speech]") {
  TempDir t;
  const std::string voice = " --voice " + test::data_path("voice/tiny_voice.safetensors");
  const std::string text = "'Hello world. The cat sat, and then it left!'";
  REQUIRE(sh(cli() + " speak " + text + " -o " + (t / "a.f32") + voice + " --timestamps " + (t / "ts.json") +
             " --json > " + (t / "summary.json")) == 0);
  REQUIRE(sh(cli() + " speak " + text + " -o - --format f32" + voice + " > " + (t / "b.f32")) == 0);
  REQUIRE(sh("echo " + text + " | " + cli() + " speak -o - --format s16" + voice + " > " + (t / "c.s16")) == 0);
  REQUIRE(sh(cli() + " speak " + text + " -o " + (t / "d.wav") + voice) == 0);
  REQUIRE(sh(cli() + " speak " + text + " -o " + (t / "e.f32") + voice + " --f0 220") == 0);
  const auto a = read_f32(t / "a.f32"), b = read_f32(t / "b.f32");
  REQUIRE(a.size() > 16000);
  CHECK(a == b);  // file and stream: the same samples
  const auto e = read_f32(t / "e.f32");
  CHECK(e.size() == a.size());  // a monotone: same timing, other audio
  CHECK(e != a);
  const std::string s16 = slurp(t / "c.s16");
  REQUIRE(s16.size() == 2 * a.size());
  for (std::size_t i = 0; i < a.size(); i += 97) {
    std::int16_t v;
    std::memcpy(&v, s16.data() + 2 * i, 2);
    CHECK(std::abs(v - std::lrint(std::clamp(a[i], -1.0f, 1.0f) * 32767.0f)) <= 1);
  }
  dsp::AudioFormatInfo info;
  const auto d = read_audio(t / "d.wav", &info);
  CHECK(info.sample_rate == 16000);
  CHECK(d.size() == a.size());
  const auto ts = nlohmann::json::parse(slurp(t / "ts.json"));
  REQUIRE(ts["words"].size() == 9);
  CHECK(ts["words"][0]["text"] == "Hello");
  CHECK(ts["words"][8]["text"] == "left");
  double last = 0;
  for (const auto& w : ts["words"]) {
    CHECK(w["start"].get<double>() >= last);
    CHECK(w["end"].get<double>() > w["start"].get<double>());
    last = w["end"].get<double>();
  }
  CHECK(last <= a.size() / 16000.0 + 1e-9);
  CHECK(ts["phonemes"].size() > 20);
  const auto sum = nlohmann::json::parse(slurp(t / "summary.json"));
  CHECK(sum["samples"].get<std::size_t>() == a.size());
  CHECK(sum["first_audio_ms"].get<double>() < 1000 * sum["wall_seconds"].get<double>());
}

TEST_CASE("cli: speak refuses bad markup, a broken voice and bad options, leaving no output", "[cli][speech]") {
  TempDir t;
  const std::string voice = " --voice " + test::data_path("voice/tiny_voice.safetensors");
  const std::string err = t / "err.txt";
  CHECK(sh(cli() + " speak --ssml '<speak>Hi <break time=\"3x\"/></speak>' -o " + (t / "x.wav") + voice + " 2> " +
           err) == 3);
  CHECK(slurp(err).find("line 1, column") != std::string::npos);
  CHECK_FALSE(fs::exists(t / "x.wav"));
  CHECK(sh(cli() + " speak hi -o " + (t / "x.wav") + " --voice " + model_path() + " 2> " + err) == 3);
  CHECK(slurp(err).find("sidewinder-voice") != std::string::npos);
  CHECK(sh(cli() + " speak hi -o " + (t / "x.wav") + " --voice " + (t / "nope.safetensors") + " 2> " + err) == 3);
  CHECK(sh(cli() + " speak hi -o " + (t / "x.xyz") + voice + " 2> " + err) == 3);
  CHECK(sh(cli() + " speak hi --rate 9 -o " + (t / "x.wav") + voice + " 2> " + err) == 2);
  CHECK_FALSE(fs::exists(t / "x.wav"));
  CHECK_FALSE(fs::exists(t / "x.xyz"));
}

TEST_CASE("cli: info describes a voice file", "[cli][speech]") {
  TempDir t;
  REQUIRE(sh(cli() + " info " + test::data_path("voice/tiny_voice.safetensors") + " --json > " + (t / "i.json")) == 0);
  const auto j = nlohmann::json::parse(slurp(t / "i.json"));
  CHECK(j["kind"] == "voice");
  CHECK(j["name"] == "tiny-test-voice");
  CHECK(j["sample_rate"] == 16000);
  CHECK(j["models"].size() == 3);
  CHECK(j["metadata"].count("phoneme_map") == 0);
}

TEST_CASE("cli: --out-dir renders many files, each as alone; --device picks the backend", "[cli]") {
  TempDir t;
  fs::create_directories(t / "out");
  fs::create_directories(t / "in");
  fs::copy_file(clip_path(), t / "in/a.wav");
  fs::copy_file(clip_path(), t / "in/b.wav");
  REQUIRE(sh(cli() + " render " + clip_path() + " " + (t / "alone.wav") + " -m " + model_path()) == 0);
  REQUIRE(sh(cli() + " render --out-dir " + (t / "out") + " " + (t / "in/a.wav") + " " + (t / "in/b.wav") + " -m " +
             model_path()) == 0);
  const auto alone = read_audio(t / "alone.wav");
  REQUIRE(read_audio(t / "out/a.wav") == alone);
  REQUIRE(read_audio(t / "out/b.wav") == alone);
  // IN OUT without --out-dir takes exactly two files.
  REQUIRE(sh(cli() + " render a b c -m " + model_path() + " 2>/dev/null") == 2);
  REQUIRE(sh(cli() + " render a -m " + model_path() + " --device gpu 2>/dev/null") == 2);

  std::string why;
  if (gpu::cuda_available(&why)) {
    // A GPU here: cuda renders the same within the GPU parity tests' tolerance (gpu/tests).
    REQUIRE(sh(cli() + " render " + clip_path() + " " + (t / "cuda.f32") + " -m " + model_path() + " --device cuda") ==
            0);
    REQUIRE(sh(cli() + " render " + clip_path() + " " + (t / "cpu.f32") + " -m " + model_path()) == 0);
    const auto a = read_f32(t / "cuda.f32"), b = read_f32(t / "cpu.f32");
    REQUIRE(a.size() == b.size());
    REQUIRE(test::norm_err(a, b) < 2e-4);
  } else {
    // No GPU (CI): cuda says why, writes nothing; auto falls back to the CPU, bit for bit.
    const std::string err = t / "err.txt";
    REQUIRE(sh(cli() + " render " + clip_path() + " " + (t / "cuda.wav") + " -m " + model_path() + " --device cuda 2>" +
               err) == 1);
    CHECK_THAT(slurp(err), Catch::Contains("--device cuda:") && Catch::Contains("CUDA"));
    CHECK_FALSE(fs::exists(t / "cuda.wav"));
    REQUIRE(sh(cli() + " render " + clip_path() + " " + (t / "auto.wav") + " -m " + model_path() + " --device auto 2>" +
               err) == 0);
    CHECK_THAT(slurp(err), Catch::Contains("rendering on the CPU"));
    REQUIRE(read_audio(t / "auto.wav") == alone);
    REQUIRE(sh(cli() + " bench --device cuda -c fx-s --seconds 0.05 --repeats 1 >/dev/null 2>" + err) == 1);
    CHECK_THAT(slurp(err), Catch::Contains("CUDA"));
  }
}

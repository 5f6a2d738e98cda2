// SPDX-License-Identifier: GPL-3.0-or-later
// sidewinderd's OpenAI-compatible HTTP API (daemon/http_server) with a real
// client: curl, from Debian. Every response format is decoded back (libsndfile;
// pcm by hand) and checked for its length and its sound against the speaker's
// own samples; streaming is checked by reading the first bytes while the
// engine is still speaking; refusals, the token, /health, /v1/models and
// /metrics; a client that vanishes mid-stream.
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "sidewinder/daemon/http_server.h"
#include "sidewinder/daemon/stream_encoder.h"
#include "sidewinder/dsp/audio_file.h"
#include "sidewinder/speech/voice_loader.h"
#include "test_util.h"

using namespace sw;
using nlohmann::json;

namespace {

struct Web {
  wyoming::VoiceSet voices;
  daemon::SynthEngine engine;
  daemon::Metrics metrics;
  std::unique_ptr<daemon::HttpServer> server;
  std::thread thread;
  std::string dir;

  explicit Web(daemon::HttpConfig cfg = {}) {
    voices.voices.push_back(speech::load_voice(test::data_path("voice/tiny_voice.safetensors")));
    cfg.port = 0;
    server = std::make_unique<daemon::HttpServer>(voices, engine, cfg, wyoming::LogSink{}, &metrics);
    thread = std::thread([this] { server->run(); });
    char tmpl[] = "/tmp/sw_http_XXXXXX";
    dir = ::mkdtemp(tmpl);
  }
  ~Web() {
    server->stop();
    thread.join();
    std::system(("rm -rf " + dir).c_str());
  }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(server->port()) + path; }
};

std::string shell(const std::string& cmd, int* status = nullptr) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p);
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p))
    out.append(buf, n);
  const int st = ::pclose(p);
  if (status)
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return out;
}

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s)
    q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// POSTs `body` to /v1/audio/speech with curl; the body goes to `out`; returns the HTTP status.
int post_speech(const Web& w, const json& body, const std::string& out, const std::string& extra = "") {
  const std::string cmd = "curl -sS -o " + quote(out) + " -w '%{http_code}' -H 'Content-Type: application/json' " +
                          extra + " --data-binary " + quote(body.dump()) + " " + quote(w.url("/v1/audio/speech"));
  return std::atoi(shell(cmd).c_str());
}

std::vector<float> decode(const std::string& path, daemon::AudioFormat f, double& rate) {
  std::vector<float> x;
  if (f == daemon::AudioFormat::pcm) {
    std::ifstream in(path, std::ios::binary);
    std::string b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (std::size_t i = 0; i + 1 < b.size(); i += 2)
      x.push_back(float(std::int16_t(std::uint8_t(b[i]) | (std::uint8_t(b[i + 1]) << 8))) / 32767.0f);
    rate = daemon::kPcmRate;
    return x;
  }
  auto r = dsp::AudioFileReader::open(path);
  rate = r.info().sample_rate;
  REQUIRE(r.info().channels == 1);
  std::vector<float> buf(4096);
  while (std::size_t n = r.read(buf.data(), buf.size()))
    x.insert(x.end(), buf.begin(), buf.begin() + n);
  return x;
}

double rms(const std::vector<float>& x) {
  double s = 0;
  for (float v : x)
    s += double(v) * v;
  return x.empty() ? 0 : std::sqrt(s / x.size());
}

std::vector<float> direct(const Web& w, const std::string& text) {
  speech::Speaker s(w.voices.voices[0]);
  std::vector<float> out;
  s.speak_text(text, speech::SpeakOptions{}, [&](const float* x, std::size_t n) {
    out.insert(out.end(), x, x + n);
    return true;
  });
  return out;
}

const std::string kText = "Hello world. The cat sat on the mat, and it was warm.";

}  // namespace

TEST_CASE("http: every response format decodes back to the speech, at its length", "[http][daemon]") {
  Web w;
  const auto ref = direct(w, kText);
  const double ref_rms = rms(ref);
  REQUIRE(ref_rms > 1e-3);  // the tiny test voice is quiet; the shipped ones are tested end to end
  for (const char* name : {"wav", "pcm", "flac", "opus", "mp3"}) {
    INFO("format " << name);
    const auto f = *daemon::parse_audio_format(name);
    const std::string out = w.dir + "/out." + (f == daemon::AudioFormat::opus ? std::string("ogg") : name);
    REQUIRE(post_speech(w,
                        {{"model", "tts-1"}, {"input", kText}, {"voice", "tiny-test-voice"}, {"response_format", name}},
                        out) == 200);
    double rate = 0;
    const auto x = decode(out, f, rate);
    const double n = double(ref.size()), secs = n / 16000.0;
    switch (f) {
      case daemon::AudioFormat::wav:
      case daemon::AudioFormat::flac: {  // lossless: the speaker's samples to 16-bit rounding
        CHECK(rate == 16000);
        REQUIRE(x.size() == ref.size());
        double worst = 0;
        for (std::size_t i = 0; i < x.size(); ++i)
          worst = std::max(worst, std::abs(double(x[i]) - std::clamp(double(ref[i]), -1.0, 1.0)));
        CHECK(worst <= 1.0 / 32767 + 1e-6);  // one 16-bit step: rounding, and 32767 vs 32768 scaling
        break;
      }
      case daemon::AudioFormat::pcm:  // 24 kHz: the length scaled, within a sample; the level kept
        CHECK(std::abs(double(x.size()) - n * 1.5) <= 2.0);
        CHECK(rms(x) == Approx(ref_rms).epsilon(0.05));
        break;
      default:  // lossy: the codec's delay and padding (an Opus or MP3 frame or two); the level kept
        CHECK(rate == 16000);
        CHECK(double(x.size()) >= n - 0.02 * 16000);
        CHECK(double(x.size()) <= n + 0.15 * 16000);
        CHECK(rms(x) == Approx(ref_rms).epsilon(0.25));
        CHECK(secs > 1.0);
    }
  }
  CHECK(w.metrics.requests("http") == 5);
}

TEST_CASE("http: the response streams: the first bytes arrive while the engine is still speaking", "[http][daemon]") {
  Web w;
  std::string text;
  while (text.size() < 3900)
    text += "The quick brown fox jumps over the lazy dog. ";
  const json body = {{"input", text}, {"response_format", "pcm"}};
  const std::string cmd = "curl -sS -N -H 'Content-Type: application/json' --data-binary " + quote(body.dump()) + " " +
                          quote(w.url("/v1/audio/speech"));
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p);
  char buf[65536];
  const int fd = ::fileno(p);
  const auto t0 = std::chrono::steady_clock::now();
  const ssize_t first = ::read(fd, buf, 256);
  const auto t_first = std::chrono::steady_clock::now();
  REQUIRE(first > 0);
  // Audio has arrived, and the stream is still being synthesised.
  CHECK(w.engine.active() == 1);
  std::size_t total = std::size_t(first);
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0)
      break;
    total += std::size_t(n);
  }
  const auto t_end = std::chrono::steady_clock::now();
  ::pclose(p);
  const double samples_24k = double(total) / 2;
  CHECK(samples_24k > 60 * 24000);  // a minute of speech and more
  CHECK(std::abs(samples_24k - double(direct(w, text).size()) * 1.5) <= 2.0);
  const std::chrono::duration<double> a = t_first - t0, b = t_end - t0;
  INFO("first bytes after " << a.count() << " s, all after " << b.count() << " s");
  CHECK(a.count() < b.count());
}

TEST_CASE("http: refusals are one clear OpenAI-shaped error; the token; health, models, voices, metrics",
          "[http][daemon]") {
  daemon::HttpConfig cfg;
  cfg.max_input_chars = 100;
  cfg.token = "s3cret";
  Web w(cfg);
  const std::string auth = "-H 'Authorization: Bearer s3cret'";
  const std::string out = w.dir + "/err.json";
  auto error_of = [&]() {
    std::ifstream in(out);
    std::stringstream ss;
    ss << in.rdbuf();
    return json::parse(ss.str()).at("error");
  };
  struct Case {
    json body;
    int status;
    const char* param;
    const char* words;
  };
  const Case cases[] = {
      {{{"input", std::string(101, 'a')}}, 400, "input", "101 characters"},
      {{{"input", ""}}, 400, "input", "empty"},
      {{{"voice", "x"}}, 400, "input", "required"},
      {{{"input", "hi"}, {"voice", "nobody"}}, 400, "voice", "unknown voice 'nobody'"},
      {{{"input", "hi"}, {"model", "gpt-9"}}, 400, "model", "unknown model"},
      {{{"input", "hi"}, {"response_format", "aac"}}, 400, "response_format", "aac"},
      {{{"input", "hi"}, {"speed", 5}}, 400, "speed", "0.25 to 4.0"},
      {{{"input", "hi"}, {"speed", "fast"}}, 400, "speed", "number"},
  };
  for (const auto& c : cases) {
    INFO(c.body.dump());
    CHECK(post_speech(w, c.body, out, auth) == c.status);
    const auto e = error_of();
    CHECK(e.at("param") == c.param);
    CHECK_THAT(e.at("message").get<std::string>(), Catch::Contains(c.words));
  }
  // not JSON
  CHECK(std::atoi(shell("curl -sS -o " + quote(out) + " -w '%{http_code}' " + auth + " --data-binary 'nope' " +
                        quote(w.url("/v1/audio/speech")))
                      .c_str()) == 400);
  CHECK_THAT(error_of().at("message").get<std::string>(), Catch::Contains("not JSON"));
  // the token
  CHECK(post_speech(w, {{"input", "hi"}}, out) == 401);
  CHECK(error_of().at("type") == "authentication_error");
  CHECK(post_speech(w, {{"input", "hi"}}, out, "-H 'Authorization: Bearer wrong'") == 401);
  CHECK(post_speech(w, {{"input", "Hi there."}, {"response_format", "wav"}}, out, auth) == 200);
  // health needs no token; the rest do
  const auto health = json::parse(shell("curl -sS " + quote(w.url("/health"))));
  CHECK(health.at("status") == "ok");
  CHECK(health.at("voices") == 1);
  CHECK(shell("curl -sS -o /dev/null -w '%{http_code}' " + quote(w.url("/v1/models"))) == "401");
  const auto models = json::parse(shell("curl -sS " + auth + " " + quote(w.url("/v1/models"))));
  CHECK(models.at("object") == "list");
  CHECK(models.at("data").size() >= 2);
  const auto voices = json::parse(shell("curl -sS " + auth + " " + quote(w.url("/v1/audio/voices"))));
  CHECK(voices.at("voices").at(0).at("id") == "tiny-test-voice");
  CHECK(shell("curl -sS -o /dev/null -w '%{http_code}' " + auth + " " + quote(w.url("/nowhere"))) == "404");
  const std::string m = shell("curl -sS " + auth + " " + quote(w.url("/metrics")));
  CHECK_THAT(m, Catch::Contains("sidewinder_requests_total{protocol=\"http\"} 10"));
  CHECK_THAT(m, Catch::Contains("sidewinder_errors_total{protocol=\"http\",code=\"text-too-long\"} 1"));
  CHECK_THAT(m, Catch::Contains("sidewinder_errors_total{protocol=\"http\",code=\"unauthorized\"} 3"));
  CHECK_THAT(m, Catch::Contains("sidewinder_time_to_first_audio_seconds_count{protocol=\"http\"} 1"));
  CHECK_THAT(m, Catch::Contains("sidewinder_real_time_factor_bucket{protocol=\"http\",le=\"+Inf\"} 1"));
  CHECK_THAT(m, Catch::Contains("sidewinder_active_streams 0"));
}

TEST_CASE("http: a client that vanishes mid-stream is let go; the next is served", "[http][daemon]") {
  Web w;
  std::string text;
  while (text.size() < 4000)
    text += "A client that goes away must not keep the engine busy. ";
  int status = 0;
  // curl gives up after 50 ms, long before the minutes of speech are sent
  shell("curl -sS -o /dev/null --max-time 0.05 --data-binary " + quote(json{{"input", text}}.dump()) + " " +
            quote(w.url("/v1/audio/speech")) + " 2>/dev/null",
        &status);
  CHECK(status != 0);
  for (int i = 0; i < 400 && w.engine.active() != 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(w.engine.active() == 0);
  const std::string out = w.dir + "/after.wav";
  CHECK(post_speech(w, {{"input", kText}, {"response_format", "wav"}}, out) == 200);
  double rate = 0;
  CHECK(decode(out, daemon::AudioFormat::wav, rate).size() == direct(w, kText).size());
}

// SPDX-License-Identifier: GPL-3.0-or-later
#include "sidewinder/daemon/http_server.h"

#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <system_error>
#include <thread>

#include "sidewinder/daemon/stream_encoder.h"
#include "sidewinder/speech/markup.h"

namespace sw::daemon {

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// The OpenAI voices: apps name one of these; they all get the default voice.
constexpr const char* kOpenAiVoices[] = {"alloy", "ash",  "ballad", "coral",   "echo", "fable",
                                         "nova",  "onyx", "sage",   "shimmer", "verse"};
// Model names accepted: ours, and OpenAI's (apps send one of them).
constexpr const char* kModels[] = {"sidewinder", "tts-1", "tts-1-hd", "gpt-4o-mini-tts"};

std::size_t utf8_chars(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s)
    n += (c & 0xC0) != 0x80;
  return n;
}

bool same(const std::string& a, const std::string& b) {  // constant time in the token's length
  if (a.size() != b.size())
    return false;
  unsigned char d = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    d |= static_cast<unsigned char>(a[i] ^ b[i]);
  return d == 0;
}

void fail(httplib::Response& res, int status, const std::string& message, const std::string& param = "",
          const std::string& type = "invalid_request_error", const std::string& code = "") {
  res.status = status;
  json e = {{"message", message}, {"type", type}, {"param", nullptr}, {"code", nullptr}};
  if (!param.empty())
    e["param"] = param;
  if (!code.empty())
    e["code"] = code;
  res.set_content(json{{"error", e}}.dump() + "\n", "application/json");
}

// One streamed response: the engine's on_ready wakes the HTTP thread waiting here.
struct Job {
  std::mutex mu;
  std::condition_variable cv;
  bool ready = false;
  std::shared_ptr<SynthStream> stream;
  std::unique_ptr<StreamEncoder> encoder;
  std::vector<float> buf = std::vector<float>(4096);
  Clock::time_point start = Clock::now();
  bool first = true, finished = false;
  std::size_t samples = 0;
  httplib::DataSink* sink = nullptr;  // during a provider call: where the encoder's bytes go
  void wake() {
    std::lock_guard<std::mutex> l(mu);
    ready = true;
    cv.notify_one();
  }
};

}  // namespace

struct HttpServer::Impl {
  Impl(const wyoming::VoiceSet& v, SynthEngine& e, HttpConfig c, wyoming::LogSink l, Metrics* m,
       std::shared_ptr<SpeakerPool> sp)
      : voices(v),
        engine(e),
        cfg(std::move(c)),
        log(std::move(l)),
        metrics(m),
        speakers(sp ? std::move(sp) : SpeakerPool::create()) {}

  void say(const char* level, const std::string& m) const {
    if (log)
      log(level, m);
  }
  bool authorised(const httplib::Request& req, httplib::Response& res);
  void speech(const httplib::Request& req, httplib::Response& res);
  void count_error(const std::string& code) {
    if (metrics)
      metrics->error("http", code);
  }

  const wyoming::VoiceSet& voices;
  SynthEngine& engine;
  HttpConfig cfg;
  wyoming::LogSink log;
  Metrics* metrics;
  std::shared_ptr<SpeakerPool> speakers;
  httplib::Server svr;
  int port = 0;
  std::atomic<bool> stopping{false};
  std::atomic<int> in_flight{0};  // responses being streamed
};

bool HttpServer::Impl::authorised(const httplib::Request& req, httplib::Response& res) {
  if (cfg.token.empty())
    return true;
  const std::string h = req.get_header_value("Authorization");
  const std::string prefix = "Bearer ";
  if (h.size() > prefix.size() && h.compare(0, prefix.size(), prefix) == 0 && same(h.substr(prefix.size()), cfg.token))
    return true;
  count_error("unauthorized");
  say("warn", "event=http-unauthorized peer=" + req.remote_addr + " path=" + req.path);
  res.set_header("WWW-Authenticate", "Bearer");
  fail(res, 401, h.empty() ? "missing bearer token (Authorization: Bearer ...)" : "wrong bearer token", "",
       "authentication_error");
  return false;
}

void HttpServer::Impl::speech(const httplib::Request& req, httplib::Response& res) {
  if (metrics)
    metrics->request("http");
  auto bad = [&](int status, const std::string& msg, const std::string& param, const std::string& code) {
    count_error(code);
    say("info", "event=http-refused status=" + std::to_string(status) + " code=" + code + " peer=" + req.remote_addr);
    fail(res, status, msg, param, status == 503 ? "server_error" : "invalid_request_error", code);
  };
  if (stopping.load())
    return bad(503, "shutting down", "", "shutting-down");
  json body;
  try {
    body = json::parse(req.body);
  } catch (const json::exception& e) {
    return bad(400, std::string("body is not JSON: ") + e.what(), "", "bad-request");
  }
  if (!body.is_object())
    return bad(400, "body must be a JSON object", "", "bad-request");
  const auto str = [&](const char* k, std::string& out, bool required) {
    const auto it = body.find(k);
    if (it == body.end() || it->is_null())
      return !required;
    if (!it->is_string())
      return false;
    out = it->get<std::string>();
    return true;
  };
  std::string model = "sidewinder", input, voice_name, format_name_s = "mp3";
  if (!str("model", model, false) ||
      std::none_of(std::begin(kModels), std::end(kModels), [&](const char* m) { return model == m; }))
    return bad(400, "unknown model '" + model + "' (GET /v1/models lists them)", "model", "unknown-model");
  if (!str("input", input, true))
    return bad(400, "\"input\" (a string) is required", "input", "bad-request");
  if (input.find_first_not_of(" \t\r\n") == std::string::npos)
    return bad(400, "\"input\" is empty", "input", "bad-request");
  if (const std::size_t n = utf8_chars(input); n > cfg.max_input_chars)
    return bad(400,
               "\"input\" is " + std::to_string(n) + " characters; the limit is " + std::to_string(cfg.max_input_chars),
               "input", "text-too-long");
  if (!str("response_format", format_name_s, false))
    return bad(400, "\"response_format\" must be a string", "response_format", "bad-request");
  const auto format = parse_audio_format(format_name_s);
  if (!format)
    return bad(400, "unknown response_format '" + format_name_s + "' (wav, pcm, flac, opus, mp3)", "response_format",
               "bad-request");
  double speed = 1.0;
  if (const auto it = body.find("speed"); it != body.end() && !it->is_null()) {
    if (!it->is_number())
      return bad(400, "\"speed\" must be a number", "speed", "bad-request");
    speed = it->get<double>();
  }
  if (!(speed >= 0.25 && speed <= 4.0))
    return bad(400, "\"speed\" must be 0.25 to 4.0", "speed", "bad-request");
  if (!str("voice", voice_name, false))
    return bad(400, "\"voice\" must be a string", "voice", "bad-request");
  std::shared_ptr<const speech::VoiceModel> voice = voices.default_voice();
  if (!voice_name.empty()) {
    if (const auto* v = voices.find(voice_name))
      voice = voices.shared(v);
    else if (std::none_of(std::begin(kOpenAiVoices), std::end(kOpenAiVoices),
                          [&](const char* o) { return voice_name == o; }))
      return bad(400, "unknown voice '" + voice_name + "' (GET /v1/audio/voices lists them)", "voice", "unknown-voice");
  }
  if (!voice)
    return bad(503, "no voices loaded", "voice", "unknown-voice");

  auto job = std::make_shared<Job>();
  try {
    speech::SpeakOptions o;
    o.rate = std::clamp(speed * voices.rate(), 0.25, 4.0);
    auto lease = speakers->acquire(voice);
    auto sp = lease->begin(input, o);
    if (voices.also_play)
      voices.also_play(input, voice, o);
    job->encoder = std::make_unique<StreamEncoder>(
        *format, voice->sample_rate(),
        [j = job.get()](const char* p, std::size_t n) { return j->sink && j->sink->write(p, n); });
    job->stream = engine.submit(std::move(lease), std::move(sp), [w = std::weak_ptr<Job>(job)] {
      if (auto j = w.lock())
        j->wake();
    });
  } catch (const EngineBusy& e) {
    res.set_header("Retry-After", "1");
    return bad(503, e.what(), "", "busy");
  } catch (const speech::MarkupError& e) {
    return bad(400, std::string("input: ") + e.what(), "input", "bad-request");
  } catch (const std::exception& e) {
    count_error("synthesis-failed");
    return fail(res, 500, std::string("synthesis failed: ") + e.what(), "", "server_error");
  }
  const int out_rate = job->encoder->output_rate();
  res.set_header("X-Sample-Rate", std::to_string(out_rate));
  res.set_header("Cache-Control", "no-store");
  say("debug", "event=http-speech peer=" + req.remote_addr + " format=" + format_name(*format) +
                   " chars=" + std::to_string(utf8_chars(input)) + " voice=" + voice->name);
  ++in_flight;
  const std::string fmt = format_name(*format);
  res.set_chunked_content_provider(
      content_type(*format),
      [this, job, voice_rate = voice->sample_rate()](std::size_t, httplib::DataSink& sink) {
        auto& j = *job;
        if (j.finished)
          return false;
        j.sink = &sink;  // the encoder's bytes go straight to the socket
        struct Unset {
          Job& j;
          ~Unset() { j.sink = nullptr; }
        } unset{j};
        for (;;) {
          if (Clock::now() - j.start > std::chrono::duration<double>(cfg.max_request_s)) {
            count_error("timeout");
            if (metrics)
              metrics->dropped("http", "timeout");
            say("warn", "event=http-timeout max_request_s=" + std::to_string(cfg.max_request_s));
            return false;  // the body ends without its last chunk: the client sees it cut
          }
          const std::size_t n = j.stream->read(j.buf.data(), j.buf.size());
          if (n) {
            if (j.first && metrics)
              metrics->first_audio("http", std::chrono::duration<double>(Clock::now() - j.start).count());
            j.first = false;
            j.samples += n;
            return j.encoder->write(j.buf.data(), n);
          }
          if (j.stream->done()) {
            const bool ok = j.encoder->finish();
            j.finished = true;
            if (ok && metrics && j.samples)
              metrics->finished("http", j.stream->compute_seconds() / (double(j.samples) / voice_rate),
                                double(j.samples) / voice_rate);
            if (ok)
              sink.done();
            return ok;
          }
          std::unique_lock<std::mutex> l(j.mu);
          j.cv.wait_for(l, std::chrono::milliseconds(200), [&] { return j.ready; });
          j.ready = false;
        }
      },
      [this, job](bool success) {
        job->stream->cancel();  // gone or done: the engine lets go
        if (!success) {
          if (metrics)
            metrics->dropped("http", "gone");
          say("info", "event=http-client-gone");
        }
        --in_flight;
      });
}

HttpServer::HttpServer(const wyoming::VoiceSet& voices, SynthEngine& engine, HttpConfig config, wyoming::LogSink log,
                       Metrics* metrics, std::shared_ptr<SpeakerPool> speakers)
    : impl_(std::make_unique<Impl>(voices, engine, std::move(config), std::move(log), metrics, std::move(speakers))) {
  auto& m = *impl_;
  auto& s = m.svr;
  const std::size_t threads = std::max<std::size_t>(1, m.cfg.threads);
  s.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  s.set_payload_max_length(1 << 20);
  s.set_tcp_nodelay(true);
  s.set_keep_alive_timeout(static_cast<time_t>(std::max(1.0, m.cfg.idle_timeout_s)));
  s.set_read_timeout(std::chrono::duration<double>(m.cfg.idle_timeout_s));
  s.set_write_timeout(std::chrono::duration<double>(m.cfg.write_timeout_s));
  s.set_exception_handler([this](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "internal error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    impl_->count_error("internal");
    fail(res, 500, what, "", "server_error");
  });
  s.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty())
      return;
    if (res.status == 404)
      fail(res, 404, "no route " + req.method + " " + req.path);
    else if (res.status == 413)
      fail(res, 413, "request body over 1 MiB");
    else
      fail(res, res.status, "HTTP " + std::to_string(res.status));
  });

  s.Post("/v1/audio/speech", [this](const httplib::Request& req, httplib::Response& res) {
    if (impl_->authorised(req, res))
      impl_->speech(req, res);
  });
  s.Get("/v1/models", [this](const httplib::Request& req, httplib::Response& res) {
    if (!impl_->authorised(req, res))
      return;
    json data = json::array();
    for (const char* id : kModels)
      data.push_back({{"id", id}, {"object", "model"}, {"created", 0}, {"owned_by", "sidewinder"}});
    res.set_content(json{{"object", "list"}, {"data", data}}.dump() + "\n", "application/json");
  });
  s.Get("/v1/audio/voices", [this](const httplib::Request& req, httplib::Response& res) {
    if (!impl_->authorised(req, res))
      return;
    json vs = json::array();
    for (const auto& v : impl_->voices.voices)
      vs.push_back({{"id", v->name},
                    {"name", v->name},
                    {"language", v->language},
                    {"sample_rate", v->sample_rate()},
                    {"license", v->license},
                    {"credits", v->credits}});
    res.set_content(json{{"voices", vs},
                         {"default", impl_->voices.voices.empty() ? "" : impl_->voices.default_voice()->name},
                         {"aliases", kOpenAiVoices}}
                            .dump() +
                        "\n",
                    "application/json");
  });
  s.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    const bool ok = !impl_->voices.voices.empty() && !impl_->stopping.load();
    res.status = ok ? 200 : 503;
    res.set_content(json{{"status", ok ? "ok" : (impl_->stopping ? "stopping" : "no-voices")},
                         {"voices", impl_->voices.voices.size()},
                         {"active_streams", impl_->engine.active()},
                         {"version", impl_->cfg.version}}
                            .dump() +
                        "\n",
                    "application/json");
  });
  s.Get("/metrics", [this](const httplib::Request& req, httplib::Response& res) {
    if (!impl_->authorised(req, res))
      return;
    std::vector<std::pair<std::string, double>> g = {
        {"sidewinder_active_streams", double(impl_->engine.active())},
        {"sidewinder_engine_rounds_total", double(impl_->engine.rounds())},
        {"sidewinder_http_responses_in_flight", double(impl_->in_flight.load())},
        {"sidewinder_speakers", double(impl_->speakers->created())}};
    if (impl_->cfg.extra_gauges)
      for (auto& g2 : impl_->cfg.extra_gauges())
        g.push_back(std::move(g2));
    const std::string text = impl_->metrics ? impl_->metrics->prometheus(g) : Metrics().prometheus(g);
    res.set_content(text, "text/plain; version=0.0.4");
  });

  if (m.cfg.port == 0) {
    m.port = s.bind_to_any_port(m.cfg.host);
    if (m.port <= 0)
      throw std::system_error(std::make_error_code(std::errc::address_not_available),
                              "http: cannot bind http://" + m.cfg.host + ":0");
  } else {
    if (!s.bind_to_port(m.cfg.host, m.cfg.port))
      throw std::system_error(std::make_error_code(std::errc::address_in_use),
                              "http: cannot bind http://" + m.cfg.host + ":" + std::to_string(m.cfg.port));
    m.port = m.cfg.port;
  }
}

HttpServer::~HttpServer() = default;

std::uint16_t HttpServer::port() const {
  return static_cast<std::uint16_t>(impl_->port);
}

void HttpServer::run() {
  impl_->say("info", "event=listen uri=http://" + impl_->cfg.host + ":" + std::to_string(port()) +
                         (impl_->cfg.token.empty() ? "" : " auth=bearer"));
  impl_->svr.listen_after_bind();
  impl_->say("info", "event=stopped server=http");
}

void HttpServer::stop() {
  // New requests get 503; the ones being streamed are finished (cpp-httplib
  // would cut a chunked body at stop), then the server stops.
  if (impl_->stopping.exchange(true))
    return;
  const auto until = Clock::now() + std::chrono::duration<double>(impl_->cfg.max_request_s);
  while (impl_->in_flight.load() > 0 && Clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  impl_->svr.stop();
}

}  // namespace sw::daemon

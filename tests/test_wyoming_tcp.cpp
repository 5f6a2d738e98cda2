// SPDX-License-Identifier: GPL-3.0-or-later
// The Wyoming server over real TCP sockets (daemon/wyoming_server): a client
// speaking the protocol — full flow, streaming text, both framings,
// malformed input, a client that vanishes mid-stream, a client too slow to
// read, too many clients, and a drain on stop — while other clients keep
// being served.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "sidewinder/daemon/wyoming_server.h"
#include "sidewinder/speech/voice_loader.h"
#include "test_util.h"

using namespace sw;
using nlohmann::json;

namespace {

struct Daemon {
  wyoming::VoiceSet voices;
  daemon::SynthEngine engine;
  daemon::Metrics metrics;
  std::unique_ptr<wyoming::Server> server;
  std::thread thread;

  explicit Daemon(wyoming::ServerConfig cfg = {}, daemon::EngineConfig ecfg = {}) : engine(ecfg) {
    voices.voices.push_back(speech::load_voice(test::data_path("voice/tiny_voice.safetensors")));
    cfg.port = 0;
    server = std::make_unique<wyoming::Server>(voices, engine, cfg, wyoming::LogSink{}, &metrics);
    thread = std::thread([this] { server->run(); });
  }
  ~Daemon() {
    server->stop();
    thread.join();
  }
};

class Client {
 public:
  explicit Client(std::uint16_t port, int receive_buffer = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (receive_buffer)
      ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    timeval tv{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~Client() { close(); }
  void close() {
    if (fd_ >= 0)
      ::close(fd_);
    fd_ = -1;
  }
  void send_raw(const std::string& s) {
    std::size_t off = 0;
    while (off < s.size()) {
      const auto n = ::send(fd_, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      REQUIRE(n > 0);
      off += static_cast<std::size_t>(n);
    }
  }
  void send(const std::string& type, json data = json::object(), bool data_block = true) {
    wyoming::Event e;
    e.type = type;
    e.data = std::move(data);
    send_raw(wyoming::encode(e, data_block));
  }
  // The next event; nullopt when the server closed the connection.
  std::optional<wyoming::Event> next() {
    while (true) {
      if (auto e = dec_.next())
        return e;
      char buf[8192];
      const auto n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0)
        return std::nullopt;
      dec_.feed(buf, static_cast<std::size_t>(n));
    }
  }
  // Events up to and including one of this type.
  std::vector<wyoming::Event> until(const std::string& type) {
    std::vector<wyoming::Event> out;
    while (auto e = next()) {
      out.push_back(std::move(*e));
      if (out.back().type == type)
        return out;
    }
    FAIL("connection closed before " << type);
    return out;
  }

 private:
  int fd_ = -1;
  wyoming::Decoder dec_;
};

std::size_t audio_samples(const std::vector<wyoming::Event>& ev) {
  std::size_t n = 0;
  for (const auto& e : ev)
    if (e.type == "audio-chunk")
      n += e.payload.size() / 2;
  return n;
}

std::size_t reference_samples(const std::string& text) {
  auto voice = speech::load_voice(test::data_path("voice/tiny_voice.safetensors"));
  speech::Speaker s(voice);
  return s.speak_text(text, speech::SpeakOptions{}, [](const float*, std::size_t) { return true; });
}

const std::string kText = "Hello world. The cat sat on the mat.";

}  // namespace

TEST_CASE("wyoming tcp: describe, synthesize and streaming text, in both framings", "[wyoming][daemon]") {
  Daemon d;
  for (bool block : {true, false}) {
    INFO("data block " << block);
    Client c(d.server->port());
    c.send("describe", {}, block);
    const auto info = c.until("info");
    CHECK(info.back().data.at("tts").at(0).at("voices").at(0).at("name") == "tiny-test-voice");
    c.send("synthesize", {{"text", kText}}, block);
    const auto ev = c.until("audio-stop");
    CHECK(ev.front().type == "audio-start");
    CHECK(audio_samples(ev) == reference_samples(kText));
    c.send("synthesize-start", {}, block);
    c.send("synthesize-chunk", {{"text", "Hello wor"}}, block);
    c.send("synthesize-chunk", {{"text", "ld. The cat"}}, block);
    c.send("synthesize-chunk", {{"text", " sat on the mat."}}, block);
    c.send("synthesize", {{"text", kText}}, block);
    c.send("synthesize-stop", {}, block);
    const auto st = c.until("synthesize-stopped");
    std::size_t starts = 0;
    for (const auto& e : st)
      starts += e.type == "audio-start";
    CHECK(starts == 2);
    CHECK(audio_samples(st) == reference_samples("Hello world.") + reference_samples(" The cat sat on the mat."));
  }
}

TEST_CASE("wyoming tcp: malformed input gets an error and a close; a vanished client is cleaned up; others go on",
          "[wyoming][daemon]") {
  Daemon d;
  Client good(d.server->port());
  {
    Client bad(d.server->port());
    bad.send_raw("this is not json\n");
    const auto e = bad.next();
    REQUIRE(e);
    CHECK(e->type == "error");
    CHECK_THAT(e->data.at("text").get<std::string>(), Catch::Contains("not JSON"));
    CHECK(!bad.next());  // closed
  }
  {
    Client huge(d.server->port());
    huge.send_raw("{\"type\": \"audio-chunk\", \"payload_length\": 999999999999}\n");
    const auto e = huge.next();
    REQUIRE(e);
    CHECK(e->type == "error");
    CHECK(!huge.next());
  }
  {
    Client gone(d.server->port());  // asks for a lot, then disappears
    gone.send("synthesize", {{"text", std::string(9000, 'a').replace(0, 12, "Hello world ")}});
    gone.close();
  }
  good.send("synthesize", {{"text", kText}});
  CHECK(audio_samples(good.until("audio-stop")) == reference_samples(kText));
  good.close();
  for (int i = 0; i < 200 && d.server->stats().active.load() != 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(d.server->stats().active.load() == 0);
  CHECK(d.server->stats().errors.load() >= 2);
}

TEST_CASE("wyoming tcp: a client too slow to read is dropped, and only it", "[wyoming][daemon]") {
  wyoming::ServerConfig cfg;
  cfg.max_queued_output_bytes = 64 * 1024;
  cfg.socket_send_buffer_bytes = 16 * 1024;  // so that the kernel's buffers do not hide the slow reader
  Daemon d(cfg);
  Client slow(d.server->port(), 4096);
  std::string text;
  for (int i = 0; i < 60; ++i)
    text += "The cat sat on the mat. ";
  slow.send("synthesize", {{"text", text}});  // never reads: ~28 s of audio, 900 kB
  Client other(d.server->port());
  other.send("synthesize", {{"text", kText}});
  CHECK(audio_samples(other.until("audio-stop")) == reference_samples(kText));
  for (int i = 0; i < 250 && d.server->stats().dropped_slow.load() == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(d.server->stats().dropped_slow.load() == 1);
}

TEST_CASE("wyoming tcp: over the connection limit a client is told the server is busy", "[wyoming][daemon]") {
  wyoming::ServerConfig cfg;
  cfg.max_connections = 1;
  Daemon d(cfg);
  Client first(d.server->port());
  first.send("describe");
  first.until("info");
  Client second(d.server->port());
  const auto e = second.next();
  REQUIRE(e);
  CHECK(e->type == "error");
  CHECK(e->data.at("code") == "busy");
  CHECK(d.server->stats().refused_busy.load() == 1);
}

TEST_CASE("wyoming tcp: stop drains — what was asked for is sent, then the server exits", "[wyoming][daemon]") {
  auto d = std::make_unique<Daemon>();
  Client c(d->server->port());
  c.send("synthesize", {{"text", kText}});
  for (int i = 0; i < 250 && d->server->stats().events.load() == 0; ++i)  // received: in flight
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  d->server->stop();
  const auto ev = c.until("audio-stop");
  CHECK(audio_samples(ev) == reference_samples(kText));
  CHECK(!c.next());  // then closed
  d.reset();         // run() has returned: joins
}

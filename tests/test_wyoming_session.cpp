// SPDX-License-Identifier: GPL-3.0-or-later
// One Wyoming connection's TTS logic (daemon/wyoming_session), driven as a
// client would: describe, synthesize, the streaming-text mode, refusals, a
// peer that goes away. Every reply also goes through the wire encoder and
// decoder.
#include <catch2/catch.hpp>
#include <string>

#include "sidewinder/daemon/wyoming_session.h"
#include "sidewinder/speech/voice_loader.h"
#include "test_util.h"

using namespace sw;
using nlohmann::json;

namespace {

struct Client {
  wyoming::VoiceSet voices;
  std::unique_ptr<wyoming::Session> session;
  std::vector<wyoming::Event> got;
  std::size_t stop_after = SIZE_MAX;  // the peer goes away after this many events

  Client() {
    voices.voices.push_back(speech::load_voice(test::data_path("voice/tiny_voice.safetensors")));
    session = std::make_unique<wyoming::Session>(voices, nullptr, wyoming::SessionLimits{}, "9.9");
  }
  bool send(const std::string& type, json data = json::object()) {
    wyoming::Event e;
    e.type = type;
    e.data = std::move(data);
    // through the wire: the event as a peer would send it, the replies as it would read them
    wyoming::Decoder in;
    in.feed(wyoming::encode(e));
    return session->handle(*in.next(), [&](const wyoming::Event& r) {
      wyoming::Decoder back;
      back.feed(wyoming::encode(r));
      got.push_back(*back.next());
      return got.size() < stop_after;
    });
  }
  std::vector<std::string> types() const {
    std::vector<std::string> t;
    for (const auto& e : got)
      t.push_back(e.type);
    return t;
  }
};

// Audio groups (start .. stop) in the replies: samples in each.
std::vector<std::size_t> groups(const std::vector<wyoming::Event>& ev) {
  std::vector<std::size_t> out;
  bool open = false;
  for (const auto& e : ev) {
    if (e.type == "audio-start") {
      REQUIRE(!open);
      open = true;
      out.push_back(0);
      CHECK(e.data.at("rate") == 16000);
      CHECK(e.data.at("width") == 2);
      CHECK(e.data.at("channels") == 1);
    } else if (e.type == "audio-chunk") {
      REQUIRE(open);
      CHECK(e.data.at("rate") == 16000);
      CHECK(e.data.at("width") == 2);
      CHECK(e.data.at("channels") == 1);
      REQUIRE(e.payload.size() % 2 == 0);
      CHECK(e.payload.size() <= 2 * 1024);
      CHECK(e.data.at("timestamp").get<long long>() == std::llround(1000.0 * double(out.back()) / 16000));
      out.back() += e.payload.size() / 2;
    } else if (e.type == "audio-stop") {
      REQUIRE(open);
      open = false;
    }
  }
  CHECK(!open);
  return out;
}

std::size_t samples_of(const std::string& text) {
  auto voice = speech::load_voice(test::data_path("voice/tiny_voice.safetensors"));
  speech::Speaker s(voice);
  return s.speak_text(text, speech::SpeakOptions{}, [](const float*, std::size_t) { return true; });
}

}  // namespace

TEST_CASE("wyoming session: describe answers info with the voices and streaming support", "[wyoming]") {
  Client c;
  REQUIRE(c.send("describe"));
  REQUIRE(c.got.size() == 1);
  const auto& info = c.got[0];
  CHECK(info.type == "info");
  const auto& tts = info.data.at("tts").at(0);
  CHECK(tts.at("name") == "sidewinder");
  CHECK(tts.at("installed") == true);
  CHECK(tts.at("version") == "9.9");
  CHECK(tts.at("supports_synthesize_streaming") == true);
  const auto& v = tts.at("voices").at(0);
  CHECK(v.at("name") == "tiny-test-voice");
  CHECK(v.at("installed") == true);
  CHECK(v.at("languages") == json({"en-US", "en_US"}));
  CHECK(v.at("attribution").contains("name"));
}

TEST_CASE("wyoming session: synthesize gives one start, the chunks, one stop, with all the audio", "[wyoming]") {
  Client c;
  const std::string text = "Hello world. The cat sat on the mat.";
  REQUIRE(c.send("synthesize", {{"text", text}, {"voice", {{"name", "tiny-test-voice"}}}}));
  CHECK(c.got.front().type == "audio-start");
  CHECK(c.got.back().type == "audio-stop");
  const auto g = groups(c.got);
  REQUIRE(g.size() == 1);
  CHECK(g[0] == samples_of(text));
  CHECK(c.got.size() > 3);  // several chunks
  double e = 0;
  for (const auto& ev : c.got)
    for (std::size_t i = 0; i + 1 < ev.payload.size(); i += 2) {
      const auto s = static_cast<std::int16_t>(ev.payload[i] | (ev.payload[i + 1] << 8));
      e += double(s) * s;
    }
  CHECK(e > 0);  // not silence
  // By language, and with no voice at all: the default voice.
  c.got.clear();
  REQUIRE(c.send("synthesize", {{"text", "Hello."}, {"voice", {{"language", "en_US"}}}}));
  CHECK(groups(c.got).size() == 1);
  c.got.clear();
  REQUIRE(c.send("synthesize", {{"text", "Hello."}}));
  CHECK(groups(c.got).size() == 1);
  // SSML
  c.got.clear();
  REQUIRE(
      c.send("synthesize", {{"text", "<speak>Hello <break time=\"500ms\"/> world.</speak>"}, {"text_format", "ssml"}}));
  REQUIRE(groups(c.got).size() == 1);
  CHECK(groups(c.got)[0] > 8000);
}

TEST_CASE("wyoming session: streaming text is spoken sentence by sentence as it arrives", "[wyoming]") {
  Client c;
  REQUIRE(c.send("synthesize-start", {{"voice", {{"name", "tiny-test-voice"}}}}));
  CHECK(c.got.empty());
  REQUIRE(c.send("synthesize-chunk", {{"text", "Hello wor"}}));
  CHECK(c.got.empty());  // no sentence end yet
  REQUIRE(c.send("synthesize-chunk", {{"text", "ld. How are"}}));
  CHECK(groups(c.got).size() == 1);  // "Hello world." spoken now
  REQUIRE(c.send("synthesize-chunk", {{"text", " you? Fine"}}));
  CHECK(groups(c.got).size() == 2);
  const std::size_t before = c.got.size();
  REQUIRE(c.send("synthesize", {{"text", "Hello world. How are you? Fine"}}));  // compatibility copy: ignored
  CHECK(c.got.size() == before);
  REQUIRE(c.send("synthesize-stop"));
  CHECK(c.got.back().type == "synthesize-stopped");
  const auto g = groups(c.got);
  REQUIRE(g.size() == 3);
  CHECK(g[0] == samples_of("Hello world."));
  CHECK(g[1] == samples_of(" How are you?"));
  CHECK(g[2] == samples_of(" Fine"));
  CHECK(!c.session->streaming());
  // An empty stream: just synthesize-stopped.
  c.got.clear();
  REQUIRE(c.send("synthesize-start"));
  REQUIRE(c.send("synthesize-stop"));
  CHECK(c.types() == std::vector<std::string>{"synthesize-stopped"});
}

TEST_CASE("wyoming session: bad requests get an error event and the session goes on", "[wyoming]") {
  Client c;
  auto expect_error = [&](const std::string& type, json data, const std::string& code, const std::string& words) {
    c.got.clear();
    REQUIRE(c.send(type, std::move(data)));
    REQUIRE(c.got.size() == 1);
    CHECK(c.got[0].type == "error");
    CHECK(c.got[0].data.at("code") == code);
    CHECK_THAT(c.got[0].data.at("text").get<std::string>(), Catch::Contains(words));
  };
  expect_error("synthesize", {{"text", "Hi."}, {"voice", {{"name", "nobody"}}}}, "unknown-voice",
               "unknown voice 'nobody'");
  expect_error("synthesize", {{"text", "Hi."}, {"voice", {{"language", "fr-FR"}}}}, "unknown-voice", "fr-FR");
  expect_error("synthesize", {{"text", 5}}, "bad-request", "no \"text\"");
  expect_error("synthesize", {{"text", std::string(20000, 'a')}}, "text-too-long", "20000 bytes");
  expect_error("synthesize", {{"text", "<speak>Hello <break time=\"x\"/></speak>"}, {"text_format", "ssml"}},
               "bad-request", "markup");
  expect_error("synthesize", {{"text", "Hi."}, {"text_format", "html"}}, "bad-request", "text_format");
  expect_error("synthesize-chunk", {{"text", "Hi."}}, "bad-request", "outside");
  expect_error("synthesize-stop", {}, "bad-request", "outside");
  expect_error("transcribe", {}, "unknown-event", "'transcribe'");
  // and it still serves
  c.got.clear();
  REQUIRE(c.send("ping", {{"text", "x"}}));
  CHECK(c.got.at(0).type == "pong");
  REQUIRE(c.send("synthesize", {{"text", "Hello."}}));
  CHECK(groups(c.got).size() == 1);
}

TEST_CASE("wyoming session: a peer that goes away stops the synthesis", "[wyoming]") {
  Client c;
  c.stop_after = 3;
  CHECK(!c.send("synthesize", {{"text", "Hello world. The cat sat on the mat. It was a very long sentence."}}));
  CHECK(c.got.size() == 3);
}

TEST_CASE("wyoming session: sentence cuts", "[wyoming]") {
  CHECK(wyoming::sentence_cut("Hello") == 0);
  CHECK(wyoming::sentence_cut("Hello.") == 0);  // could still be "Hello.5" or "Hello..."
  CHECK(wyoming::sentence_cut("Hello. Wor") == 6);
  CHECK(wyoming::sentence_cut("A? B! C") == 5);
}

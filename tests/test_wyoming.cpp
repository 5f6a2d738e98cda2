// SPDX-License-Identifier: GPL-3.0-or-later
// The Wyoming framing (daemon/wyoming): both data framings, any split of the
// byte stream, merging, and malformed input refused with a message.
#include <catch2/catch.hpp>
#include <string>

#include "sidewinder/daemon/wyoming.h"

using namespace sw;
using nlohmann::json;

namespace {

std::vector<wyoming::Event> decode_all(const std::string& wire, std::size_t piece) {
  wyoming::Decoder d;
  std::vector<wyoming::Event> out;
  for (std::size_t i = 0; i < wire.size(); i += piece) {
    d.feed(wire.data() + i, std::min(piece, wire.size() - i));
    while (auto e = d.next())
      out.push_back(std::move(*e));
  }
  REQUIRE(d.idle());
  return out;
}

wyoming::Event chunk_event(std::size_t bytes) {
  wyoming::Event e;
  e.type = "audio-chunk";
  e.data = {{"rate", 16000}, {"width", 2}, {"channels", 1}, {"timestamp", nullptr}};
  for (std::size_t i = 0; i < bytes; ++i)
    e.payload.push_back(static_cast<std::uint8_t>(i * 7 + 3));
  return e;
}

std::string refusal(const std::string& wire, wyoming::Limits limits = {}) {
  wyoming::Decoder d(limits);
  try {
    d.feed(wire);
  } catch (const wyoming::ProtocolError& e) {
    // refuses everything after
    CHECK_THROWS_AS(d.feed("{\"type\": \"describe\"}\n"), wyoming::ProtocolError);
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("wyoming: events round-trip in both framings, split anywhere", "[wyoming]") {
  wyoming::Event describe;
  describe.type = "describe";
  wyoming::Event synth;
  synth.type = "synthesize";
  synth.data = {{"text", "Hello, wörld. ✓"}, {"voice", {{"name", "allison-slt"}}}};
  const auto chunk = chunk_event(1001);
  for (bool block : {true, false}) {
    const std::string wire = encode(describe, block) + encode(synth, block) + encode(chunk, block);
    for (std::size_t piece : {std::size_t(1), std::size_t(7), std::size_t(4096)}) {
      INFO("data block " << block << ", pieces of " << piece);
      const auto ev = decode_all(wire, piece);
      REQUIRE(ev.size() == 3);
      CHECK(ev[0].type == "describe");
      CHECK(ev[0].data == json::object());
      CHECK(ev[1].type == "synthesize");
      CHECK(ev[1].data == synth.data);
      CHECK(ev[2].data == chunk.data);
      CHECK(ev[2].payload == chunk.payload);
    }
  }
  // The Python writer's form: data moved out of the header, version present.
  const json header = json::parse(encode(synth).substr(0, encode(synth).find('\n')));
  CHECK(header.at("version") == wyoming::kProtocolVersion);
  CHECK(header.at("data_length").get<std::size_t>() == synth.data.dump().size());
  CHECK(header.count("data") == 0);
  CHECK(header.count("payload_length") == 0);
}

TEST_CASE("wyoming: the data block is merged over inline data; nulls, CRLF and blank lines are tolerated",
          "[wyoming]") {
  const std::string block = R"({"text": "from the block", "extra": 1})";
  const std::string wire =
      "\n  \r\n" + std::string(R"({"type": "synthesize", "data": {"text": "inline", "keep": true}, )") +
      "\"data_length\": " + std::to_string(block.size()) + R"(, "payload_length": null, "version": "9.9.9"})" + "\r\n" +
      block + R"({"type": "ping", "data": null, "data_length": 0})" + "\n";
  const auto ev = decode_all(wire, 3);
  REQUIRE(ev.size() == 2);
  CHECK(ev[0].data == json({{"text", "from the block"}, {"keep", true}, {"extra", 1}}));
  CHECK(ev[1].type == "ping");
  CHECK(ev[1].data == json::object());
  CHECK(ev[1].payload.empty());
}

TEST_CASE("wyoming: malformed input is refused with a message naming the fault", "[wyoming]") {
  CHECK_THAT(refusal("not json\n"), Catch::Contains("event 1") && Catch::Contains("not JSON"));
  CHECK_THAT(refusal("[1, 2]\n"), Catch::Contains("not a JSON object"));
  CHECK_THAT(refusal("{\"data\": {}}\n"), Catch::Contains("no \"type\""));
  CHECK_THAT(refusal("{\"type\": 5}\n"), Catch::Contains("no \"type\""));
  CHECK_THAT(refusal("{\"type\": \"x\", \"data\": [1]}\n"), Catch::Contains("\"data\" is not an object"));
  CHECK_THAT(refusal("{\"type\": \"x\", \"payload_length\": -1}\n"), Catch::Contains("payload_length is negative"));
  CHECK_THAT(refusal("{\"type\": \"x\", \"payload_length\": \"4\"}\n"), Catch::Contains("not an integer"));
  CHECK_THAT(refusal("{\"type\": \"x\", \"data_length\": 2.5}\n"), Catch::Contains("data_length is not an integer"));
  CHECK_THAT(refusal("{\"type\": \"x\", \"data_length\": 3}\n[1]"), Catch::Contains("data block is not a JSON object"));
  // The second event is the bad one: the message says so.
  CHECK_THAT(refusal("{\"type\": \"describe\"}\n{\"type\": 1}\n"), Catch::Contains("event 2"));
  // Oversized: refused from the header, before the bytes (nothing of that size is allocated).
  CHECK_THAT(refusal("{\"type\": \"audio-chunk\", \"payload_length\": 99999999999}\n"),
             Catch::Contains("over the limit"));
  wyoming::Limits small;
  small.max_header_bytes = 100;
  CHECK_THAT(refusal(std::string(200, ' '), small), Catch::Contains("header line longer than 100"));
  small.max_data_bytes = 10;
  CHECK_THAT(refusal("{\"type\": \"x\", \"data_length\": 11}\n", small), Catch::Contains("data_length 11 is over"));
}

TEST_CASE("wyoming: a partial event is held until its bytes arrive", "[wyoming]") {
  wyoming::Decoder d;
  const std::string wire = encode(chunk_event(10));
  d.feed(wire.substr(0, wire.size() - 1));
  CHECK(!d.next());
  CHECK(!d.idle());
  d.feed(wire.substr(wire.size() - 1));
  const auto e = d.next();
  REQUIRE(e);
  CHECK(e->payload.size() == 10);
  CHECK(d.idle());
  CHECK(d.events_decoded() == 1);
}

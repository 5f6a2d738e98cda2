// SPDX-License-Identifier: GPL-3.0-or-later
// The Wyoming protocol's framing (what Home Assistant's voice pipeline
// speaks): one UTF-8 JSON header line, then an optional JSON data block of
// data_length bytes (merged over the header's inline "data"), then an
// optional binary payload of payload_length bytes.
//   {"type": "audio-chunk", "data": {...}, "data_length": N, "payload_length": M, "version": "1.9.0"}\n
//   <N bytes: JSON object>  <M bytes: payload>
// ref: OHF-Voice/wyoming wyoming/event.py (read_event / write_event); notes:
// shared/notes/speech-protocols.md section 3.1.
//
// Network code, not real-time code: decoding allocates, encoding allocates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace sw::wyoming {

constexpr const char* kProtocolVersion = "1.9.0";

struct Event {
  std::string type;
  nlohmann::json data = nlohmann::json::object();  // always an object
  std::vector<std::uint8_t> payload;
};

// Bounds on what one event may carry; a peer that exceeds them is refused
// before anything of that size is allocated.
struct Limits {
  std::size_t max_header_bytes = 64 * 1024;
  std::size_t max_data_bytes = 1024 * 1024;
  std::size_t max_payload_bytes = 8 * 1024 * 1024;
};

// Malformed input: the message names what is wrong and where (the event's
// ordinal on this connection). After one, the decoder refuses everything: the
// caller sends an `error` event and closes the connection.
class ProtocolError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Incremental decoder for one connection: feed() bytes as they arrive, split
// anywhere; next() returns complete events in order.
class Decoder {
 public:
  explicit Decoder(Limits limits = {}) : limits_(limits) {}

  // Allocates (buffers the partial event). Throws ProtocolError.
  void feed(const void* bytes, std::size_t n);
  void feed(std::string_view s) { feed(s.data(), s.size()); }

  // The next complete event, if one is buffered. Does not throw.
  std::optional<Event> next();

  // True when no partial event is buffered (a clean place to close).
  bool idle() const { return state_ == State::header && line_.empty(); }
  std::size_t events_decoded() const { return decoded_; }

 private:
  enum class State { header, data, payload, failed };
  [[noreturn]] void fail(const std::string& what);
  void begin_event(std::string_view line);
  void finish_event();

  Limits limits_;
  State state_ = State::header;
  std::string line_;   // the header line so far
  std::string block_;  // the data block so far
  std::size_t data_left_ = 0, payload_left_ = 0;
  Event current_;
  std::vector<Event> ready_;  // complete, not yet taken
  std::size_t ready_head_ = 0;
  std::size_t decoded_ = 0;
};

// One event on the wire. data_block: as the Python writer does it (data in a
// data_length block after the header); false: inline in the header (older
// senders). Allocates.
std::string encode(const Event& e, bool data_block = true);

}  // namespace sw::wyoming

// SPDX-License-Identifier: GPL-3.0-or-later
#include "sidewinder/daemon/wyoming.h"

#include <cstring>
#include <limits>

namespace sw::wyoming {

namespace {

// A length field: absent, null or a non-negative integer within `max`.
std::size_t length_field(const nlohmann::json& header, const char* key, std::size_t max, std::size_t event_no) {
  const auto it = header.find(key);
  if (it == header.end() || it->is_null())
    return 0;
  if (!it->is_number_integer() && !it->is_number_unsigned())
    throw ProtocolError("wyoming: event " + std::to_string(event_no) + ": " + key + " is not an integer");
  if (it->is_number_integer() && it->get<std::int64_t>() < 0)
    throw ProtocolError("wyoming: event " + std::to_string(event_no) + ": " + key + " is negative");
  const auto v = it->get<std::uint64_t>();
  if (v > max)
    throw ProtocolError("wyoming: event " + std::to_string(event_no) + ": " + key + " " + std::to_string(v) +
                        " is over the limit of " + std::to_string(max) + " bytes");
  return static_cast<std::size_t>(v);
}

}  // namespace

void Decoder::fail(const std::string& what) {
  state_ = State::failed;
  line_.clear();
  block_.clear();
  throw ProtocolError(what);
}

void Decoder::begin_event(std::string_view line) {
  const std::size_t no = decoded_ + 1;
  const std::string where = "wyoming: event " + std::to_string(no) + ": ";
  nlohmann::json header = nlohmann::json::parse(line.begin(), line.end(), nullptr, false);
  if (header.is_discarded())
    fail(where + "the header line is not JSON");
  if (!header.is_object())
    fail(where + "the header is not a JSON object");
  const auto type = header.find("type");
  if (type == header.end() || !type->is_string() || type->get_ref<const std::string&>().empty())
    fail(where + "no \"type\" string in the header");
  current_ = Event{};
  current_.type = type->get<std::string>();
  if (const auto d = header.find("data"); d != header.end() && !d->is_null()) {
    if (!d->is_object())
      fail(where + "\"data\" is not an object");
    current_.data = *d;
  }
  try {
    data_left_ = length_field(header, "data_length", limits_.max_data_bytes, no);
    payload_left_ = length_field(header, "payload_length", limits_.max_payload_bytes, no);
  } catch (const ProtocolError& e) {
    fail(e.what());
  }
  block_.clear();
  current_.payload.reserve(payload_left_);
  state_ = data_left_ ? State::data : payload_left_ ? State::payload : State::header;
  if (state_ == State::header)
    finish_event();
}

void Decoder::finish_event() {
  ++decoded_;
  ready_.push_back(std::move(current_));
  current_ = Event{};
  state_ = State::header;
}

void Decoder::feed(const void* bytes, std::size_t n) {
  if (state_ == State::failed)
    throw ProtocolError("wyoming: the connection already sent malformed input");
  const char* p = static_cast<const char*>(bytes);
  const char* end = p + n;
  while (p < end) {
    switch (state_) {
      case State::header: {
        const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
        const std::size_t take = static_cast<std::size_t>((nl ? nl : end) - p);
        if (line_.size() + take > limits_.max_header_bytes)
          fail("wyoming: event " + std::to_string(decoded_ + 1) + ": header line longer than " +
               std::to_string(limits_.max_header_bytes) + " bytes");
        line_.append(p, take);
        p += take;
        if (!nl)
          break;
        ++p;  // the newline
        if (!line_.empty() && line_.back() == '\r')
          line_.pop_back();
        if (line_.find_first_not_of(" \t") == std::string::npos) {
          line_.clear();  // blank line between events: tolerated
          break;
        }
        std::string line = std::move(line_);
        line_.clear();
        begin_event(line);
        break;
      }
      case State::data: {
        const std::size_t take = std::min(data_left_, static_cast<std::size_t>(end - p));
        block_.append(p, take);
        p += take;
        data_left_ -= take;
        if (data_left_)
          break;
        nlohmann::json extra = nlohmann::json::parse(block_, nullptr, false);
        if (extra.is_discarded() || !extra.is_object())
          fail("wyoming: event " + std::to_string(decoded_ + 1) + " (" + current_.type +
               "): the data block is not a JSON object");
        for (auto it = extra.begin(); it != extra.end(); ++it)  // merged over the inline data
          current_.data[it.key()] = it.value();
        block_.clear();
        if (payload_left_)
          state_ = State::payload;
        else
          finish_event();
        break;
      }
      case State::payload: {
        const std::size_t take = std::min(payload_left_, static_cast<std::size_t>(end - p));
        current_.payload.insert(current_.payload.end(), p, p + take);
        p += take;
        payload_left_ -= take;
        if (!payload_left_)
          finish_event();
        break;
      }
      case State::failed:
        return;
    }
  }
}

std::optional<Event> Decoder::next() {
  if (ready_head_ == ready_.size()) {
    ready_.clear();
    ready_head_ = 0;
    return std::nullopt;
  }
  return std::move(ready_[ready_head_++]);
}

std::string encode(const Event& e, bool data_block) {
  nlohmann::json header = {{"type", e.type}, {"version", kProtocolVersion}};
  std::string block;
  const bool has_data = e.data.is_object() && !e.data.empty();
  if (has_data && data_block) {
    block = e.data.dump();
    header["data_length"] = block.size();
  } else if (has_data) {
    header["data"] = e.data;
  }
  if (!e.payload.empty())
    header["payload_length"] = e.payload.size();
  std::string out = header.dump();
  out += '\n';
  out += block;
  out.append(reinterpret_cast<const char*>(e.payload.data()), e.payload.size());
  return out;
}

}  // namespace sw::wyoming

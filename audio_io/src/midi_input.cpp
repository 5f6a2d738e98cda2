// SPDX-License-Identifier: GPL-3.0-or-later
#include "sidewinder/audio_io/midi_input.h"

#include <rtmidi/RtMidi.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace sw::audio_io {

namespace {

RtMidi::Api api_of(const std::string& api) {
  if (api.empty())
    return RtMidi::UNSPECIFIED;
  if (api == "alsa")
    return RtMidi::LINUX_ALSA;
  if (api == "jack")
    return RtMidi::UNIX_JACK;
  throw MidiError("midi: unknown API '" + api + "' (alsa or jack)");
}

std::string lower(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

MidiInput::MidiInput(const std::string& api, const std::string& port) {
  try {
    in_ = std::make_unique<RtMidiIn>(api_of(api), "sidewinder-midi");
    // RtMidi reports some failures (no JACK server) through this, not by throwing: kept, thrown below.
    in_->setErrorCallback(
        [](RtMidiError::Type type, const std::string& text, void* self) {
          if (type != RtMidiError::WARNING && type != RtMidiError::DEBUG_WARNING)
            static_cast<MidiInput*>(self)->error_ = text;
        },
        this);
  } catch (const RtMidiError& e) {
    throw MidiError("midi: cannot start " + (api.empty() ? std::string("MIDI") : api) + ": " + e.getMessage());
  }
  try {
    if (port == "virtual") {
      in_->openVirtualPort("midi_in");
      name_ = "sidewinder-midi:midi_in";
    } else {
      const unsigned n = in_->getPortCount();
      char* end = nullptr;
      const long idx = std::strtol(port.c_str(), &end, 10);
      long found = -1;
      if (!port.empty() && end && *end == '\0')
        found = idx >= 0 && idx < long(n) ? idx : -1;
      else
        for (unsigned i = 0; i < n && found < 0; ++i)
          if (lower(in_->getPortName(i)).find(lower(port)) != std::string::npos)
            found = i;
      if (found < 0)
        throw MidiError("midi: no input port '" + port + "' (--list-midi lists them)");
      name_ = in_->getPortName(unsigned(found));
      in_->openPort(unsigned(found), "midi_in");
    }
  } catch (const RtMidiError& e) {
    throw MidiError("midi: cannot open port '" + port + "': " + e.getMessage());
  }
  if (!error_.empty())
    throw MidiError("midi: cannot open port '" + port + "': " + error_);
  in_->ignoreTypes(true, true, true);  // sysex, timing, active sensing
  in_->setCallback(&MidiInput::on_message, this);
}

MidiInput::~MidiInput() {
  if (in_) {
    in_->cancelCallback();
    in_->closePort();
  }
}

void MidiInput::on_message(double, std::vector<unsigned char>* bytes, void* self) {
  auto& m = *static_cast<MidiInput*>(self);
  if (!bytes || bytes->empty())
    return;
  MidiMessage msg;
  msg.status = (*bytes)[0];
  msg.data1 = bytes->size() > 1 ? (*bytes)[1] : 0;
  msg.data2 = bytes->size() > 2 ? (*bytes)[2] : 0;
  if (!m.queue_.push(msg))
    ++m.dropped_;
}

bool MidiInput::poll(MidiMessage& m) noexcept {
  return queue_.pop(m);
}

std::vector<std::string> MidiInput::ports(const std::string& api) {
  std::vector<std::string> out;
  try {
    RtMidiIn in(api_of(api), "sidewinder-list");
    for (unsigned i = 0; i < in.getPortCount(); ++i)
      out.push_back(in.getPortName(i));
  } catch (const RtMidiError& e) {
    throw MidiError("midi: " + e.getMessage());
  }
  return out;
}

}  // namespace sw::audio_io

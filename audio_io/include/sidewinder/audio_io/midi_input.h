// SPDX-License-Identifier: GPL-3.0-or-later
// MIDI input through RtMidi (Debian's librtmidi: ALSA sequencer and JACK).
// RtMidi's callback thread only pushes each short message into a
// fixed-size SPSC queue; the owner polls it on its own thread (never an
// audio thread: what a message does, loading a preset, is not real-time).
//
// Threads: constructor, poll() and ports() on the owner's thread (they may
// allocate; the constructor throws MidiError naming the port).
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "sidewinder/dsp/spsc_ring.h"

class RtMidiIn;

namespace sw::audio_io {

class MidiError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct MidiMessage {
  std::uint8_t status = 0, data1 = 0, data2 = 0;
  int type() const { return status & 0xF0; }  // 0x80 note off, 0x90 note on, 0xB0 CC, 0xC0 program change
  int channel() const { return status & 0x0F; }
};

class MidiInput {
 public:
  // api: "" (RtMidi's choice), "alsa", "jack". port: an index or a part of
  // a port's name (connects to it), or "virtual" (a port of our own,
  // "sidewinder-midi:midi_in" on JACK, for others to connect to).
  MidiInput(const std::string& api, const std::string& port);
  ~MidiInput();
  MidiInput(const MidiInput&) = delete;
  MidiInput& operator=(const MidiInput&) = delete;

  // The next message received, if any. Owner's thread; lock-free.
  bool poll(MidiMessage& m) noexcept;
  std::uint64_t dropped() const noexcept { return dropped_; }  // the queue was full
  const std::string& port_name() const noexcept { return name_; }

  static std::vector<std::string> ports(const std::string& api);

 private:
  static void on_message(double, std::vector<unsigned char>* bytes, void* self);
  std::unique_ptr<RtMidiIn> in_;
  dsp::SpscRing<MidiMessage> queue_{256};
  std::uint64_t dropped_ = 0;  // written by RtMidi's thread only
  std::string name_;
  std::string error_;  // set by RtMidi's error callback during set-up
};

}  // namespace sw::audio_io

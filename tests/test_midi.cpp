// SPDX-License-Identifier: GPL-3.0-or-later
// MIDI: the effect's implementation chart (fx/midi_controls.h), and
// MidiInput (audio_io/, RtMidi) on JACK: messages sent by another client to
// our virtual port come out of poll() whole and in order ([.jack]: run by
// tests/audio_jack_e2e.py with a private JACK server).
#include <rtmidi/RtMidi.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "sidewinder/audio_io/midi_input.h"
#include "sidewinder/fx/midi_controls.h"

using namespace sw;

namespace {
// Connects a JACK sender to our virtual port, sidewinder-midi:midi_in.
void connect_to_ours(RtMidiOut& out) {
  int port = -1;
  for (unsigned i = 0; i < out.getPortCount(); ++i)
    if (out.getPortName(i).find("sidewinder-midi:midi_in") != std::string::npos)
      port = int(i);
  REQUIRE(port >= 0);
  out.openPort(unsigned(port));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
}
}  // namespace

TEST_CASE("midi chart: CC 7/20/21 set output gain, input gain, mix; program change asks for a preset", "[midi]") {
  fx::EffectParameters p;
  CHECK(fx::apply_midi(0xB0, 21, 127, p) == -1);
  CHECK(p.mix.load() == Approx(1.0));
  fx::apply_midi(0xB3, 21, 0, p);  // any channel
  CHECK(p.mix.load() == Approx(0.0));
  fx::apply_midi(0xB0, 20, 64, p);
  CHECK(p.input_gain_db.load() == Approx(0.0));
  fx::apply_midi(0xB0, 20, 0, p);
  CHECK(p.input_gain_db.load() == Approx(-24.0));
  fx::apply_midi(0xB0, 20, 127, p);
  CHECK(p.input_gain_db.load() == Approx(24.0));
  fx::apply_midi(0xB0, 7, 127, p);
  CHECK(p.output_gain_db.load() == Approx(0.0));
  fx::apply_midi(0xB0, 7, 0, p);
  CHECK(p.output_gain_db.load() == Approx(-60.0));
  fx::apply_midi(0xB0, 7, 64, p);
  CHECK(p.output_gain_db.load() == Approx(40.0 * std::log10(64.0 / 127.0)));
  CHECK(fx::apply_midi(0xC0, 3, 0, p) == 3);
  CHECK(fx::apply_midi(0x90, 60, 100, p) == -1);  // a note: not the effect's
  CHECK(fx::apply_midi(0xB0, 74, 100, p) == -1);  // an unmapped CC changes nothing
  CHECK(p.mix.load() == Approx(0.0));
}

TEST_CASE("midi on jack: what another client sends to our port comes out of poll, in order", "[.jack][midi]") {
  audio_io::MidiInput in("jack", "virtual");
  RtMidiOut out(RtMidi::UNIX_JACK, "sidewinder-test-sender");
  connect_to_ours(out);
  const std::vector<std::vector<unsigned char>> sent = {{0xB0, 21, 100}, {0xC0, 2}, {0x90, 60, 90}, {0x80, 60, 0}};
  for (auto m : sent)
    out.sendMessage(&m);
  std::vector<audio_io::MidiMessage> got;
  for (int i = 0; i < 200 && got.size() < sent.size(); ++i) {
    for (audio_io::MidiMessage m; in.poll(m);)
      got.push_back(m);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(got.size() == sent.size());
  for (std::size_t i = 0; i < sent.size(); ++i) {
    CHECK(got[i].status == sent[i][0]);
    CHECK(got[i].data1 == sent[i][1]);
    CHECK(got[i].data2 == (sent[i].size() > 2 ? sent[i][2] : 0));
  }
  CHECK(in.dropped() == 0);
}

TEST_CASE("midi: a port that does not exist is one clear error", "[.jack][midi]") {
  CHECK_THROWS_WITH(audio_io::MidiInput("jack", "no-such-port"), Catch::Contains("no input port 'no-such-port'"));
}

// Not a check by itself: the sender half of audio_jack_e2e.py's test of a
// running `sidewinder live --midi virtual` (which must report them).
TEST_CASE("midi on jack: send a program change and a CC to sidewinder-midi:midi_in", "[.midi-send]") {
  RtMidiOut out(RtMidi::UNIX_JACK, "sidewinder-test-sender");
  connect_to_ours(out);
  std::vector<unsigned char> pc = {0xC0, 1}, cc = {0xB0, 21, 64};
  out.sendMessage(&pc);
  out.sendMessage(&cc);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
}

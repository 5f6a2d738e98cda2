// SPDX-License-Identifier: GPL-3.0-or-later
// sidewinderd --play: everything the daemon is asked to say is also spoken
// aloud on this machine's sound device, one request after another, in the
// order they came. Each is spoken by the same engine (its own stream; the
// client still gets its audio) and handed to an audio_io::Player, whose
// PortAudio callback only pulls from a ring.
//
// Threads: say() from any thread (a short lock; a full queue drops the text,
// counted); the playback thread does the rest.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "sidewinder/audio_io/portaudio_device.h"
#include "sidewinder/daemon/synth_engine.h"

namespace sw::daemon {

class LocalPlayback {
 public:
  // Opens the device now (throws audio_io::AudioDeviceError naming it).
  LocalPlayback(SynthEngine& engine, std::shared_ptr<SpeakerPool> speakers, const audio_io::DeviceChoice& where);
  ~LocalPlayback();  // finishes what it is playing, drops the rest

  void say(const std::string& text, std::shared_ptr<const speech::VoiceModel> voice, const speech::SpeakOptions& o);

  const audio_io::StreamCounters& counters() const noexcept { return player_->counters(); }
  std::uint64_t dropped() const noexcept { return dropped_; }
  std::uint64_t spoken() const noexcept { return spoken_; }
  const std::string& device_name() const noexcept { return player_->device_name(); }

 private:
  struct Item {
    std::string text;
    std::shared_ptr<const speech::VoiceModel> voice;
    speech::SpeakOptions options;
  };
  void run();

  SynthEngine& engine_;
  std::shared_ptr<SpeakerPool> speakers_;
  audio_io::PortAudio pa_;
  double rate_ = 48000;
  std::unique_ptr<audio_io::Player> player_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  bool stop_ = false;
  std::atomic<std::uint64_t> dropped_{0}, spoken_{0};
  std::thread thread_;
  static constexpr std::size_t kMaxQueued = 32;
};

}  // namespace sw::daemon

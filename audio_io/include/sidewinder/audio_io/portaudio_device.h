// SPDX-License-Identifier: GPL-3.0-or-later
// Local audio through PortAudio (Debian's portaudio19-dev; ALSA and JACK
// host APIs). Two shapes, one design: the PortAudio callback only moves
// samples between the device and lock-free rings (dsp::SpscRing), counts
// what was missing and fills it with silence; it never blocks, locks or
// allocates. The work happens on an ordinary thread on the other side of
// the rings.
//
//   Player  (sidewinder speak --play, sidewinderd --play): a producer writes
//           samples; the callback pulls them.
//   Duplex  (sidewinder live): the callback pushes the input into one ring
//           and pulls the output from another; a processing thread, woken by
//           a semaphore the callback posts, runs the effect block by block.
//
// Threads: constructors, start(), stop(), drain() on a control thread (they
// allocate, may block, throw AudioDeviceError naming the device); the
// counters from any thread; the callbacks are PortAudio's.
#pragma once

#include <semaphore.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "sidewinder/dsp/spsc_ring.h"
#include "sidewinder/realtime.h"

typedef void PaStream;  // portaudio.h's
struct PaStreamCallbackTimeInfo;

namespace sw::audio_io {

class AudioDeviceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Which device: host_api "" (PortAudio's default), "alsa", "jack", ...;
// device "" (the host API's default), an index (as --list-devices prints)
// or a part of the name.
struct DeviceChoice {
  std::string host_api;
  std::string device;
};

struct DeviceInfo {
  int index = -1;
  std::string name, host_api;
  int max_inputs = 0, max_outputs = 0;
  double default_rate = 0;
  bool default_input = false, default_output = false;
};

// PortAudio's set-up for as long as it lives (nested uses are counted). On
// JACK the client is called "sidewinder" (ports sidewinder:in_1, out_1).
class PortAudio {
 public:
  PortAudio();  // throws AudioDeviceError
  ~PortAudio();
  PortAudio(const PortAudio&) = delete;
  PortAudio& operator=(const PortAudio&) = delete;
  static std::vector<DeviceInfo> devices();
  // The rate the chosen device runs at by default (JACK: the server's, the only one it takes).
  static double default_rate(const DeviceChoice& where, bool input, bool output);
  static std::string version();
};

struct StreamCounters {
  std::atomic<std::uint64_t> callbacks{0};
  std::atomic<std::uint64_t> underruns{0};       // callbacks that found too little output in the ring
  std::atomic<std::uint64_t> silence_frames{0};  // frames filled with silence for them
  std::atomic<std::uint64_t> overruns{0};        // (duplex) callbacks whose input did not fit its ring
  std::atomic<std::uint64_t> frames{0};          // frames the device took
  std::atomic<std::uint64_t> lost_clicks{0};     // (duplex, measuring) clicks that did not come back in time
};

class Player {
 public:
  // Mono float output at `rate`, `period` frames per callback (0: the host's
  // choice), `ring_frames` of room for the producer to run ahead.
  Player(const DeviceChoice& where, double rate, unsigned period = 256, std::size_t ring_frames = 1 << 15);
  ~Player();  // stops
  Player(const Player&) = delete;
  Player& operator=(const Player&) = delete;

  void start();
  void stop();
  // Producer thread: as much as fits; lock-free. Wait-free, real-time safe.
  SW_REALTIME std::size_t write(const float* x, std::size_t n) noexcept;
  // Producer thread: all of it, sleeping while the ring is full (not real-time).
  void write_all(const float* x, std::size_t n);
  // The producer has nothing more for now (an utterance ended): a short ring
  // is not an underrun until resume(). Any thread; real-time safe.
  SW_REALTIME void pause_accounting() noexcept { ended_.store(true, std::memory_order_release); }
  SW_REALTIME void resume_accounting() noexcept { ended_.store(false, std::memory_order_release); }
  // pause_accounting(), then waits until the ring has been played (or `timeout_s`).
  void drain(double timeout_s = 30.0);

  const StreamCounters& counters() const noexcept { return counters_; }
  double output_latency_s() const noexcept { return latency_s_; }
  const std::string& device_name() const noexcept { return device_; }

  // What the PortAudio callback does (public for the allocation test): the
  // ring into `out`, silence for what is missing (counted). noexcept, no
  // allocation, no lock.
  SW_REALTIME void render(float* out, std::size_t frames) noexcept;

 private:
  static int callback(const void* in, void* out, unsigned long frames, const PaStreamCallbackTimeInfo*,
                      unsigned long flags, void* self) noexcept;
  PortAudio pa_;
  PaStream* stream_ = nullptr;
  dsp::SpscRing<float> ring_;
  StreamCounters counters_;
  std::atomic<bool> fed_{false}, ended_{false};
  double latency_s_ = 0;
  std::string device_;
};

class Duplex {
 public:
  // Processing thread: n = block frames of mono input -> n of output.
  using Process = std::function<void(const float* in, float* out, std::size_t n)>;

  // Mono in and out at `rate`, `period` frames per callback, the effect run
  // in blocks of `block` frames; the output ring starts with `block` frames of
  // silence (the pipeline's own latency is block + up to a period).
  Duplex(const DeviceChoice& where, double rate, unsigned period, std::size_t block, Process process);
  ~Duplex();
  Duplex(const Duplex&) = delete;
  Duplex& operator=(const Duplex&) = delete;

  void start();
  void stop();

  // Round-trip measurement (the output must reach the input: a cable, or
  // JACK's ports connected): the callback feeds the effect a click instead
  // of the input, every `interval` frames, and watches the real input for
  // its return. Any thread; takes effect at the next callback.
  void measure_latency(bool on, std::size_t interval_frames = 24000) noexcept;
  // Frames from a click entering the effect to its return at the input
  // (input -> effect -> output -> outside -> input), the last `n` measured.
  std::vector<std::int64_t> latencies() const;

  const StreamCounters& counters() const noexcept { return counters_; }
  double input_latency_s() const noexcept { return in_latency_s_; }
  double output_latency_s() const noexcept { return out_latency_s_; }
  const std::string& device_name() const noexcept { return device_; }

  // What the PortAudio callback does (public for the allocation test):
  // input into its ring, output from its ring (silence for what is missing,
  // counted), the processing thread woken. noexcept, no allocation, no lock.
  SW_REALTIME void exchange(const float* in, float* out, std::size_t frames) noexcept;

 private:
  static int callback(const void* in, void* out, unsigned long frames, const PaStreamCallbackTimeInfo*,
                      unsigned long flags, void* self) noexcept;
  void work();
  PortAudio pa_;
  PaStream* stream_ = nullptr;
  std::size_t block_;
  Process process_;
  dsp::SpscRing<float> in_ring_, out_ring_;
  StreamCounters counters_;
  sem_t sem_;
  std::atomic<bool> running_{false};
  std::thread worker_;
  std::vector<float> scratch_;  // [period max]: the input the effect gets, in measuring mode
  // measuring (callback thread, except the flag and the results)
  std::atomic<bool> measure_{false};
  std::size_t interval_ = 24000;
  std::int64_t clock_ = 0, click_at_ = -1;
  static constexpr std::size_t kMaxResults = 64;
  static constexpr std::int64_t kClickFrames = 48;
  std::atomic<std::int64_t> results_[kMaxResults];
  std::atomic<std::size_t> n_results_{0};
  double in_latency_s_ = 0, out_latency_s_ = 0;
  std::string device_;
};

}  // namespace sw::audio_io

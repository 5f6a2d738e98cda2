// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace sw::cli {

// Exit statuses (documented in README): 0 ok, 1 other failure, 2 usage, 3 bad input or model file.
constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
constexpr int kExitBadInput = 3;

// A problem with what the user gave us (file, model, combination): exit 3.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct RenderOptions {
  std::string in, out, model;
  std::vector<std::string> inputs, outputs;  // every (IN, OUT) pair: one, or many with --out-dir
  std::string device = "cpu";                // cpu | cuda | auto
  std::size_t block = 512;
  bool offline = false;
  bool json = false;
  int raw_channels = 1;
};
int run_render(const RenderOptions& o);  // CPU, the single pair in/out
// cmd_render_gpu.cpp: every pair in one batch on the GPU; whether that can run
// here (a device, files at the model's rate; `why` says what is missing).
int run_render_gpu(const RenderOptions& o);
bool gpu_render_possible(const RenderOptions& o, std::string* why);
// What `render` runs: o.device picks the CPU (each pair in turn) or the GPU.
int run_render_any(const RenderOptions& o);

struct InfoOptions {
  std::string model;
  bool json = false;
};
int run_info(const InfoOptions& o);

struct BenchCliOptions {
  std::string model;
  std::string config;  // built-in config name; empty with no --model: all three
  bool json = false;
  double seconds = 2.0;
  int repeats = 7;
  bool offline_scaling = false;
  double max_scaling_seconds = 3600;
  std::vector<int> lstm;       // LSTM baselines (random weights) of these hidden sizes
  std::string lstm_model;      // an LSTM baseline from a file (bench/lstm_loader.cpp)
  std::string voice;           // a voice file: the speech benchmark instead (cmd_bench_voice.cpp)
  std::string device = "cpu";  // cpu | cuda | auto (cuda: cmd_bench_gpu.cpp)
};
int run_bench(const BenchCliOptions& o);
int run_bench_gpu(const BenchCliOptions& o);

// Text accepted by the speech commands at most (a huge request is refused).
constexpr std::size_t kMaxSpeechInputBytes = 1u << 20;
// TEXT if given, else stdin (read up to the limit); InputError beyond kMaxSpeechInputBytes.
std::string speech_input(const std::string& text, bool has_text);

struct PhonemizeOptions {
  std::string text;
  bool has_text = false;  // else stdin
  bool ssml = false;
  bool json = false;
  std::string voice = "en-us";  // espeak-ng voice
};
int run_phonemize(const PhonemizeOptions& o);

// The bundled voice: presets/voices/<this>, installed to share/sidewinder/voices/.
constexpr const char* kDefaultVoiceFile = "allison-slt.safetensors";

struct SpeakCliOptions {
  std::string text;
  bool has_text = false;       // else stdin
  std::string out;             // file or "-" (raw PCM on stdout)
  std::string voice;           // empty: default_voice_path()
  std::string format = "s16";  // for "-": s16 (little-endian int16) or f32
  std::string timestamps;      // JSON file of word and phoneme times
  bool ssml = false;
  bool json = false;
  double rate = 1.0, pitch = 0.0, volume = 1.0;
  double f0 = 0.0;  // > 0: speak on this fundamental (Hz) instead of the voice's own intonation
  std::uint64_t seed = 0x5eed;
  bool play = false;  // to the sound device (PortAudio), instead of or as well as -o
  std::string audio_api, audio_device;
};
int run_speak(const SpeakCliOptions& o);

struct LiveOptions {
  std::string model;
  std::string audio_api, audio_device;  // PortAudio host API ("jack", "alsa") and device (index or name)
  double rate = 0;                      // 0: the device's
  unsigned period = 256;                // frames per callback
  std::size_t block = 256;              // frames per effect call
  double duration = 0;                  // seconds; 0: until Ctrl-C
  int measure_latency = 0;              // clicks to measure the round trip with
  double input_gain_db = 0, output_gain_db = 0, mix = 1;
  bool list_devices = false;
  std::string midi;      // MIDI input port (index, part of the name, or "virtual")
  std::string midi_api;  // "", "alsa", "jack"
  bool list_midi = false;
};
int run_live(const LiveOptions& o);
int list_audio_devices();
int run_voice_bench(const std::string& path, int repeats, bool json);
// $SIDEWINDER_VOICE, else the installed share/sidewinder/voices/, else the source tree's presets/voices/.
std::string default_voice_path();

}  // namespace sw::cli

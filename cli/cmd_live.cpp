// SPDX-License-Identifier: GPL-3.0-or-later
// `sidewinder live --model FILE`: the effect in real time through PortAudio
// duplex (input -> SSM -> output): the pedal / embedded use case. The
// PortAudio callback only moves samples through lock-free rings; the effect
// (fx::Effect, the plugin's chain) runs block by block on a processing
// thread. At the end (--duration, or Ctrl-C) it prints what happened: the
// callbacks, underruns, the latency PortAudio reports and, with
// --measure-latency, the round trip measured with a click (output routed
// back to the input: a cable, or JACK's ports connected).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include <filesystem>
#include "commands.h"

#include "sidewinder/audio_io/midi_input.h"
#include "sidewinder/audio_io/portaudio_device.h"
#include "sidewinder/fx/effect.h"
#include "sidewinder/fx/midi_controls.h"
#include "sidewinder/ssm/model_loader.h"

namespace sw::cli {

namespace {
std::atomic<bool> g_stop{false};
void on_signal(int) {
  g_stop.store(true);
}
}  // namespace

int list_audio_devices() {
  audio_io::PortAudio pa;
  std::printf("%s\n", audio_io::PortAudio::version().c_str());
  for (const auto& d : audio_io::PortAudio::devices())
    std::printf("%3d  %-40s %-12s in %d  out %d  %6.0f Hz%s%s\n", d.index, d.name.c_str(), d.host_api.c_str(),
                d.max_inputs, d.max_outputs, d.default_rate, d.default_input ? "  [default in]" : "",
                d.default_output ? "  [default out]" : "");
  return kExitOk;
}

int run_live(const LiveOptions& o) {
  if (o.list_devices)
    return list_audio_devices();
  if (o.list_midi) {
    const auto ports = audio_io::MidiInput::ports(o.midi_api);
    for (std::size_t i = 0; i < ports.size(); ++i)
      std::printf("%3zu  %s\n", i, ports[i].c_str());
    if (ports.empty())
      std::printf("(no MIDI input ports; --midi virtual makes one: sidewinder-midi:midi_in)\n");
    return kExitOk;
  }
  if (o.model.empty())
    throw InputError("live: --model FILE is needed");
  const auto model = ssm::load_model(o.model);
  audio_io::PortAudio pa;
  audio_io::DeviceChoice where{o.audio_api, o.audio_device};
  const double rate = o.rate > 0 ? o.rate : audio_io::PortAudio::default_rate(where, true, true);
  const fx::HostSpec spec{rate, o.block, 1};
  fx::Effect effect;
  effect.prepare(spec, std::make_unique<fx::ModelInstance>(model, spec));
  effect.parameters().input_gain_db.store(float(o.input_gain_db));
  effect.parameters().output_gain_db.store(float(o.output_gain_db));
  effect.parameters().mix.store(float(o.mix));
  audio_io::Duplex duplex(where, rate, o.period, o.block, [&](const float* in, float* out, std::size_t n) {
    std::copy(in, in + n, out);
    float* io[1] = {out};
    effect.process(io, n);
  });
  if (o.measure_latency > 0)
    duplex.measure_latency(true, std::size_t(rate / 4));  // a click every 250 ms
  // MIDI: CC -> gains and mix, program change -> the p-th preset beside the model (sorted by name).
  std::unique_ptr<audio_io::MidiInput> midi;
  std::vector<std::string> presets;
  if (!o.midi.empty()) {
    midi = std::make_unique<audio_io::MidiInput>(o.midi_api, o.midi);
    namespace fs = std::filesystem;
    for (const auto& e : fs::directory_iterator(
             fs::path(o.model).parent_path().empty() ? fs::path(".") : fs::path(o.model).parent_path()))
      if (e.path().extension() == ".safetensors")
        presets.push_back(e.path().string());
    std::sort(presets.begin(), presets.end());
    std::fprintf(stderr, "live: MIDI from %s; programs 0-%zu are the presets beside the model\n",
                 midi->port_name().c_str(), presets.empty() ? 0 : presets.size() - 1);
  }
  std::uint64_t midi_messages = 0, programs = 0;
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  duplex.start();
  std::fprintf(stderr, "live: %s at %.0f Hz, period %u, block %zu: running%s\n", duplex.device_name().c_str(), rate,
               o.period, o.block, o.duration > 0 ? "" : " (Ctrl-C stops)");
  const auto t0 = std::chrono::steady_clock::now();
  while (!g_stop.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    for (audio_io::MidiMessage m; midi && midi->poll(m);) {
      ++midi_messages;
      const int p = fx::apply_midi(m.status, m.data1, m.data2, effect.parameters());
      if (p >= 0 && std::size_t(p) < presets.size()) {
        try {  // loaded here, handed to the audio side by pointer swap, the old one freed here
          effect.publish(std::make_unique<fx::ModelInstance>(ssm::load_model(presets[p]), spec));
          ++programs;
          std::fprintf(stderr, "live: program %d: %s\n", p, presets[p].c_str());
        } catch (const std::exception& e) {
          std::fprintf(stderr, "live: program %d: %s\n", p, e.what());
        }
      }
    }
    effect.collect_garbage();
    const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (o.duration > 0 && t >= o.duration)
      break;
    if (o.measure_latency > 0 && duplex.latencies().size() >= std::size_t(o.measure_latency) && o.duration <= 0)
      break;
  }
  duplex.stop();
  const auto& c = duplex.counters();
  auto lat = duplex.latencies();
  nlohmann::json j = {{"device", duplex.device_name()},
                      {"sample_rate", rate},
                      {"period", o.period},
                      {"block", o.block},
                      {"callbacks", c.callbacks.load()},
                      {"frames", c.frames.load()},
                      {"underruns", c.underruns.load()},
                      {"silence_frames", c.silence_frames.load()},
                      {"overruns", c.overruns.load()},
                      {"lost_clicks", c.lost_clicks.load()},
                      {"reported_input_latency_ms", 1000 * duplex.input_latency_s()},
                      {"reported_output_latency_ms", 1000 * duplex.output_latency_s()},
                      {"pipeline_latency_frames", o.block},
                      {"midi_messages", midi_messages},
                      {"program_changes", programs}};
  if (o.measure_latency > 0) {
    j["round_trip_frames"] = lat;
    if (!lat.empty()) {
      std::sort(lat.begin(), lat.end());
      j["round_trip_ms_median"] = 1000.0 * double(lat[lat.size() / 2]) / rate;
    }
  }
  std::printf("%s\n", j.dump().c_str());
  if (o.measure_latency > 0 && lat.empty()) {
    std::fprintf(stderr, "live: no click came back: is the output routed to the input?\n");
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace sw::cli

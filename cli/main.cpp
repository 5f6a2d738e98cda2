// SPDX-License-Identifier: GPL-3.0-or-later
// sidewinder — render audio through Sidewinder models, inspect and benchmark them.
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <filesystem>

#include "commands.h"
#include "sidewinder/audio_io/midi_input.h"
#include "sidewinder/audio_io/portaudio_device.h"
#include "sidewinder/dsp/audio_file.h"
#include "sidewinder/speech/phonemizer.h"
#include "sidewinder/ssm/safetensors.h"

int main(int argc, char** argv) {
  using namespace sw::cli;
  std::signal(SIGPIPE, SIG_IGN);  // a closed pipe becomes a write error, not a kill

  CLI::App app{"sidewinder " SIDEWINDER_VERSION " — a real-time audio engine on selective state space models"};
  app.require_subcommand(1);
  app.set_version_flag("--version", SIDEWINDER_VERSION);

  RenderOptions ro;
  auto* render = app.add_subcommand("render", "Render an audio file through a model");
  std::vector<std::string> render_files;
  std::string out_dir;
  render
      ->add_option("IN OUT", render_files,
                   "IN: WAV/FLAC/AIFF/OGG, .f32 (raw float32 at the model's rate) or - (raw float32 on stdin); "
                   "OUT: same kinds, - for raw float32 on stdout. With --out-dir: any number of INs")
      ->required();
  render->add_option("--out-dir", out_dir, "Render every IN to DIR/<IN's file name> (several files in one call)");
  render->add_option("--device", ro.device, "cpu, cuda (the GPU backend) or auto (cuda when it can run here)")
      ->check(CLI::IsMember({"cpu", "cuda", "auto"}));
  render->add_option("-m,--model", ro.model, "Model file (.safetensors)")->required();
  render->add_option("-b,--block", ro.block, "Frames per process() call, as a host would (streaming mode)")
      ->check(CLI::Range(std::size_t(1), std::size_t(1) << 20));
  render->add_flag("--offline", ro.offline, "Whole-file chunked scan (same output, fewer calls)");
  render->add_flag("--json", ro.json, "Print a JSON summary (stdout; stderr when OUT is -)");
  render->add_option("--channels", ro.raw_channels, "Channels of raw (.f32 / -) input")->check(CLI::Range(1, 64));

  InfoOptions io;
  auto* info = app.add_subcommand("info", "Describe a model file");
  info->add_option("FILE", io.model, "Model file")->required();
  info->add_flag("--json", io.json, "JSON output");

  BenchCliOptions bo;
  auto* bench = app.add_subcommand("bench", "Single-thread CPU benchmark (ms per second of 48 kHz audio)");
  auto* mopt = bench->add_option("-m,--model", bo.model, "Model file");
  bench->add_option("-c,--config", bo.config, "Built-in config: fx-s, fx-m, fx-m2 (default: all)")
      ->check(CLI::IsMember({"fx-s", "fx-m", "fx-m2"}))
      ->excludes(mopt);
  bench->add_flag("--json", bo.json, "JSON output");
  bench->add_option("--device", bo.device, "cpu, cuda (streams in real time, offline speed on the GPU) or auto")
      ->check(CLI::IsMember({"cpu", "cuda", "auto"}));
  bench->add_option("--seconds", bo.seconds, "Audio per timed run")->check(CLI::Range(0.05, 600.0));
  bench->add_option("--repeats", bo.repeats, "Timed runs per figure (median reported)")->check(CLI::Range(1, 1000));
  bench->add_flag("--offline-scaling", bo.offline_scaling, "Offline time per sample for 10 s .. 1 h of audio");
  bench->add_option("--max-seconds", bo.max_scaling_seconds, "Longest length for --offline-scaling")
      ->check(CLI::Range(10.0, 36000.0));
  bench
      ->add_option("--lstm", bo.lstm,
                   "Time LSTM baselines (random weights) of these hidden sizes, e.g. 16,40 (alone unless -m/-c)")
      ->delimiter(',')
      ->check(CLI::Range(1, 4096));
  bench->add_option("--voice", bo.voice, "Speech benchmark of a voice file: time to first audio, real-time factor")
      ->excludes(mopt);
  bench->add_option("--lstm-model", bo.lstm_model,
                    "Time an LSTM baseline from a file (sidewinder-lstm; alone unless -m/-c)");

  PhonemizeOptions po;
  auto* phon =
      app.add_subcommand("phonemize", "Text (or SSML) to IPA phonemes, clause by clause (the speech front end)");
  auto* topt = phon->add_option("TEXT", po.text, "Text; read from stdin when absent");
  phon->add_flag("--ssml", po.ssml, "TEXT is SSML (<speak>, <break>, <prosody>, <s>, <p>, <phoneme>)");
  phon->add_flag("--json", po.json, "JSON output: clauses with phonemes, terminator, text, offset, prosody, pauses");
  phon->add_option("--espeak-voice", po.voice, "espeak-ng voice for the phonemes (default en-us)");

  SpeakCliOptions so;
  auto* speak = app.add_subcommand("speak", "Text (or SSML) to speech with a Sidewinder voice");
  auto* stopt = speak->add_option("TEXT", so.text, "Text; read from stdin when absent");
  auto* sout = speak->add_option("-o,--output", so.out,
                                 "Output: .wav .flac .ogg .aif .f32, or - for raw PCM on stdout while synthesising");
  speak->add_flag("--play", so.play, "Play on the sound device (PortAudio) as it is synthesised");
  speak->add_option("--audio-api", so.audio_api, "PortAudio host API for --play: alsa, jack, ...");
  speak->add_option("--audio-device", so.audio_device, "Device for --play: index or part of the name");
  speak->add_option("--voice", so.voice, "Voice file (default: $SIDEWINDER_VOICE or the bundled voice)");
  speak->add_option("--rate", so.rate, "Speaking rate, 0.25..4 (1 = the voice's)")->check(CLI::Range(0.25, 4.0));
  speak->add_option("--pitch", so.pitch, "Pitch shift in semitones, -24..24")->check(CLI::Range(-24.0, 24.0));
  speak->add_option("--volume", so.volume, "Output gain, 0..4")->check(CLI::Range(0.0, 4.0));
  speak->add_option("--f0", so.f0, "Speak on this fundamental frequency in Hz (a monotone), 40..1000")
      ->check(CLI::Range(40.0, 1000.0));
  speak->add_flag("--ssml", so.ssml, "TEXT is SSML (<speak>, <break>, <prosody>, <s>, <p>, <phoneme>)");
  speak->add_option("--timestamps", so.timestamps, "Write the start and end of every word and phoneme (JSON)");
  speak->add_option("--format", so.format, "Raw PCM format for -o -: s16 (default) or f32")
      ->check(CLI::IsMember({"s16", "f32"}));
  speak->add_option("--seed", so.seed, "Seed of the synthesiser's noise");
  speak->add_flag("--json", so.json, "Print a JSON summary (time to first audio, real-time factor)");

  LiveOptions lo;
  auto* live = app.add_subcommand("live", "Run a model in real time on the sound device (PortAudio duplex)");
  live->add_option("--model", lo.model, "Model file (.safetensors)");
  live->add_option("--audio-api", lo.audio_api, "PortAudio host API: alsa, jack, ... (default: PortAudio's)");
  live->add_option("--audio-device", lo.audio_device, "Device: index (--list-devices) or part of the name");
  live->add_option("--rate", lo.rate, "Sample rate (default: the device's)")->check(CLI::Range(8000.0, 384000.0));
  live->add_option("--period", lo.period, "Frames per device callback (default 256)")->check(CLI::Range(16u, 8192u));
  live->add_option("--block", lo.block, "Frames per effect call (default 256)")
      ->check(CLI::Range(std::size_t(16), std::size_t(8192)));
  live->add_option("--duration", lo.duration, "Seconds to run (default: until Ctrl-C)")->check(CLI::Range(0.0, 1e7));
  live->add_option("--measure-latency", lo.measure_latency,
                   "Measure the round trip with N clicks (route the output back to the input)")
      ->check(CLI::Range(0, 64));
  live->add_option("--input-gain", lo.input_gain_db, "Input gain in dB")->check(CLI::Range(-60.0, 24.0));
  live->add_option("--output-gain", lo.output_gain_db, "Output gain in dB")->check(CLI::Range(-60.0, 24.0));
  live->add_option("--mix", lo.mix, "Dry/wet mix, 0..1")->check(CLI::Range(0.0, 1.0));
  live->add_flag("--list-devices", lo.list_devices, "List the sound devices and exit");
  live->add_option("--midi", lo.midi,
                   "MIDI input: port index, part of its name, or 'virtual' (CC7 out gain, CC20 in gain, CC21 mix, "
                   "program change: preset)");
  live->add_option("--midi-api", lo.midi_api, "MIDI API: alsa or jack (default: RtMidi's choice)")
      ->check(CLI::IsMember({"", "alsa", "jack"}));
  live->add_flag("--list-midi", lo.list_midi, "List the MIDI input ports and exit");

  try {
    app.parse(argc, argv);
    if (*render) {
      if (out_dir.empty()) {
        if (render_files.size() != 2)
          throw CLI::ValidationError("render", "takes IN OUT (or --out-dir DIR IN...)");
        ro.inputs = {render_files[0]};
        ro.outputs = {render_files[1]};
      } else {
        ro.inputs = render_files;
        for (const std::string& f : render_files) {
          if (f == "-")
            throw CLI::ValidationError("render", "--out-dir takes files, not -");
          ro.outputs.push_back((std::filesystem::path(out_dir) / std::filesystem::path(f).filename()).string());
        }
      }
    }
    if (*speak && !so.play && sout->count() == 0)
      throw CLI::RequiredError("speak: -o,--output (or --play)");
    po.has_text = topt->count() > 0;
    so.has_text = stopt->count() > 0;
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  try {
    if (*render)
      return run_render_any(ro);
    if (*info)
      return run_info(io);
    if (*bench)
      return run_bench(bo);
    if (*phon)
      return run_phonemize(po);
    if (*speak)
      return run_speak(so);
    if (*live)
      return run_live(lo);
  } catch (const sw::ssm::ModelLoadError& e) {
    std::fprintf(stderr, "sidewinder: %s\n", e.what());
    return kExitBadInput;
  } catch (const sw::dsp::AudioFileError& e) {
    std::fprintf(stderr, "sidewinder: %s\n", e.what());
    return kExitBadInput;
  } catch (const sw::speech::PhonemizerError& e) {
    std::fprintf(stderr, "sidewinder: %s\n", e.what());
    return kExitBadInput;
  } catch (const sw::audio_io::MidiError& e) {
    std::fprintf(stderr, "sidewinder: %s\n", e.what());
    return kExitFailure;
  } catch (const sw::audio_io::AudioDeviceError& e) {
    std::fprintf(stderr, "sidewinder: %s\n", e.what());
    return kExitFailure;
  } catch (const InputError& e) {
    std::fprintf(stderr, "sidewinder: %s\n", e.what());
    return kExitBadInput;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sidewinder: error: %s\n", e.what());
    return kExitFailure;
  }
  return kExitUsage;
}

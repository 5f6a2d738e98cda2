// SPDX-License-Identifier: GPL-3.0-or-later
// `sidewinder bench --voice FILE`: the speech figures of issue 5 on one
// thread — time to first audio (warm) for a 20-word sentence, real-time
// factor, where the time goes (front end, encoder, decoder, synthesiser),
// and the voice's size. Medians of --repeats runs.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "commands.h"
#include "sidewinder/speech/frame_recorder.h"
#include "sidewinder/speech/speaker.h"
#include "sidewinder/speech/voice_loader.h"

namespace sw::cli {

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

}  // namespace

// 20 words.
constexpr const char* kBenchSentence =
    "Please call me back tomorrow morning after nine so we can talk about the new project and its budget plan.";
constexpr const char* kBenchParagraph =
    "The quick brown fox jumps over the lazy dog. A selective state space model keeps a fixed-size state and "
    "decides, for every input, what to keep; so its cost grows linearly with the length of the text, and the "
    "first sound comes out after a few milliseconds. Press one for sales, two for support, or stay on the line "
    "and an operator will be with you shortly. Thank you for calling, and have a wonderful day!";

int run_voice_bench(const std::string& path, int repeats, bool json) {
  const auto t_load = Clock::now();
  auto voice = speech::load_voice(path);
  const double load_ms = ms_since(t_load);
  speech::Speaker speaker(voice);
  speech::SpeakOptions so;
  const double rate = voice->sample_rate();
  // Warm-up: espeak-ng's dictionaries, page faults, caches.
  speaker.speak(speaker.plan(kBenchSentence, so), so, [](const float*, std::size_t) { return true; });

  std::vector<double> ttfa, front, rtf_sentence, rtf_paragraph;
  double sentence_s = 0, paragraph_s = 0;
  for (int r = 0; r < repeats; ++r) {
    // Time to first audio: text in -> first samples out (front end, encoder, two decoder frames, one hop).
    const auto t0 = Clock::now();
    const auto plan = speaker.plan(kBenchSentence, so);
    front.push_back(ms_since(t0));
    double first = -1;
    std::size_t n = speaker.speak(plan, so, [&](const float*, std::size_t) {
      if (first < 0)
        first = ms_since(t0);
      return true;
    });
    const double total = ms_since(t0);
    ttfa.push_back(first);
    sentence_s = n / rate;
    rtf_sentence.push_back(total * 1e-3 / sentence_s);
    const auto t1 = Clock::now();
    const auto p2 = speaker.plan(kBenchParagraph, so);
    n = speaker.speak(p2, so, [](const float*, std::size_t) { return true; });
    paragraph_s = n / rate;
    rtf_paragraph.push_back(ms_since(t1) * 1e-3 / paragraph_s);
  }
  // Where the time goes: encoder (start) vs decoder + synthesiser (pull), one paragraph utterance at a time.
  speech::VoiceStream vs(voice);
  vs.prepare(speech::Speaker::kMaxTokens);
  const auto plan = speaker.plan(kBenchParagraph, so);
  std::vector<float> buf(4096);
  double enc_ms = 0, pull_ms = 0, audio_s = 0;
  for (int r = 0; r < repeats; ++r) {
    for (const auto& u : plan) {
      speech::UtteranceControls c;
      c.length_scale = u.length_scale;
      const auto t = Clock::now();
      vs.start(u.ids.data(), u.ids.size(), c);
      enc_ms += ms_since(t);
      const auto t2 = Clock::now();
      while (std::size_t n = vs.pull(buf.data(), buf.size()))
        audio_s += n / rate;
      pull_ms += ms_since(t2);
    }
  }
  // The synthesiser alone, on the frames of one paragraph pass (frame parameters + rendering).
  speech::FrameRecorder frames(static_cast<std::size_t>(voice->n_mels));
  vs.set_observer(&frames);
  for (const auto& u : plan) {
    vs.start(u.ids.data(), u.ids.size(), speech::UtteranceControls{});
    while (vs.pull(buf.data(), buf.size())) {
    }
  }
  vs.set_observer(nullptr);
  const auto& spec = voice->synth->spec;
  speech::HnsSynth synth;
  synth.prepare(*voice->synth);
  std::vector<float> amps(std::size_t(spec.max_harmonics)), gains(std::size_t(spec.noise_bands)),
      hop(std::size_t(spec.hop));
  std::vector<double> scratch(std::size_t(spec.bins()) + 1);
  std::vector<double> synth_ms;
  for (int r = 0; r < repeats; ++r) {
    synth.reset(1);
    const auto t = Clock::now();
    for (std::size_t i = 0; i < frames.f0.size(); ++i) {
      speech::hns_frame(*voice->synth, &frames.mel[i * 80], frames.f0[i], frames.voiced[i], amps.data(), gains.data(),
                        scratch.data());
      synth.push(frames.f0[i], amps.data(), gains.data(), hop.data());
    }
    synth_ms.push_back(ms_since(t));
  }
  const double synth_ms_per_s = median(synth_ms) / (frames.f0.size() * spec.hop / rate);
  const nlohmann::json out = {{"voice", voice->name},
                              {"file", path},
                              {"parameters", voice->parameter_count()},
                              {"load_ms", load_ms},
                              {"hardware_threads", std::thread::hardware_concurrency()},
                              {"threads", 1},
                              {"repeats", repeats},
                              {"sentence_words", 20},
                              {"sentence_audio_s", sentence_s},
                              {"time_to_first_audio_ms", median(ttfa)},
                              {"front_end_ms", median(front)},
                              {"rtf_sentence", median(rtf_sentence)},
                              {"paragraph_audio_s", paragraph_s},
                              {"rtf_paragraph", median(rtf_paragraph)},
                              {"encoder_ms_per_audio_s", enc_ms / audio_s},
                              {"decoder_and_synth_ms_per_audio_s", pull_ms / audio_s},
                              {"synth_ms_per_audio_s", synth_ms_per_s}};
  if (json) {
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    std::printf("voice %s (%s), %zu parameters, loaded in %.1f ms\n", voice->name.c_str(), path.c_str(),
                voice->parameter_count(), load_ms);
    std::printf("time to first audio, 20-word sentence (warm, median of %d): %.2f ms (front end %.2f ms)\n", repeats,
                median(ttfa), median(front));
    std::printf("real-time factor: sentence %.4f (%.2f s of audio), paragraph %.4f (%.2f s)\n", median(rtf_sentence),
                sentence_s, median(rtf_paragraph), paragraph_s);
    std::printf("per second of audio: encoder %.2f ms, decoder + synthesiser %.2f ms (synthesiser alone %.2f ms)\n",
                enc_ms / audio_s, pull_ms / audio_s, synth_ms_per_s);
  }
  return kExitOk;
}

}  // namespace sw::cli

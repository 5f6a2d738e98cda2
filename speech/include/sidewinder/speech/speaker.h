// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "sidewinder/speech/phonemizer.h"
#include "sidewinder/speech/voice_stream.h"

namespace sw::speech {

struct SpeakOptions {
  bool ssml = false;
  double rate = 1.0;               // speaking rate (x SSML prosody rate), 0.25..4
  double pitch_semitones = 0.0;    // (+ SSML prosody pitch), -24..24
  double volume = 1.0;             // 0..4
  double sentence_pause_s = 0.15;  // silence after a clause ending in . ? ! (not after the last)
  std::uint64_t seed = 0x5eed;
};

// One utterance for the voice: a sentence (or a run of clauses with the same
// prosody) as phoneme ids, with what each id stands for.
struct Utterance {
  struct Token {
    int word = -1;       // index into words, -1 for <bos>, <eos>, spaces, punctuation
    std::string symbol;  // the phoneme (UTF-8) or "" for specials
  };
  std::vector<int> ids;
  std::vector<Token> tokens;  // [ids.size()]
  std::vector<std::string> words;
  double length_scale = 1.0, pitch_semitones = 0.0;
  // Silence before it: pauses asked for (breaks, paragraphs) plus the gap after
  // the previous sentence. At the very start only the asked-for part is kept.
  // An utterance without ids is silence alone (a pause at the end of the input).
  double pause_before_s = 0.0, requested_pause_before_s = 0.0;
};

struct Timestamp {
  enum class Kind { word, phoneme };
  Kind kind = Kind::word;
  std::string text;
  double start_s = 0, end_s = 0;
};

class SpeakError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Speaker;

// Silence owed to the next utterance: asked for (breaks, paragraphs) and the automatic gap after a sentence.
struct PauseOwed {
  double requested = 0.0, gap = 0.0;
};

// A text being spoken, pull-style (Speaker::begin). pull() writes up to `max`
// samples and returns how many (0: finished); it phonemises the next piece of
// text when it needs it, so it allocates and takes espeak-ng's lock at piece
// boundaries: not for an audio thread (the daemon pulls on its engine
// thread and hands audio on through a ring). It uses its Speaker's voice
// stream: one Speech at a time per Speaker. Throws SpeakError only for an
// internal inconsistency.
class Speech {
 public:
  std::size_t pull(float* out, std::size_t max);
  std::size_t samples() const noexcept { return made_; }
  // Word and phoneme times of every utterance begun so far (if asked for), in time order.
  const std::vector<Timestamp>& timestamps() const noexcept { return timestamps_; }

 private:
  friend class Speaker;
  Speech(Speaker& speaker, const SpeakOptions& o, bool timestamps);
  bool refill();
  void open_utterance();
  void add_timestamps(const Utterance& u, double t0);

  Speaker* speaker_;
  SpeakOptions o_;
  bool record_;
  std::vector<Segment> pieces_;  // the input, cut into pieces of about kPieceBytes
  std::size_t next_piece_ = 0;
  PauseOwed owed_;
  std::vector<Utterance> queue_;  // utterances of the current piece
  std::size_t qi_ = 0;
  bool open_ = false, voicing_ = false;
  std::size_t silence_left_ = 0, made_ = 0;
  std::vector<Timestamp> timestamps_;
};

// Text (or SSML) to audio with a voice: markup -> espeak-ng clauses ->
// utterances -> VoiceStream. Not for an audio thread (the front end
// allocates and locks espeak-ng); the audio comes out through a sink as it
// is made, so the first samples leave after the first sentence's encoder
// and two decoder frames.
class Speaker {
 public:
  // Throws PhonemizerError if espeak-ng cannot start with the voice's
  // espeak_voice (metadata; default en-us).
  explicit Speaker(std::shared_ptr<const VoiceModel> voice);

  // The whole input as utterances. Throws MarkupError (bad markup: names the
  // place) or SpeakError (options out of range).
  std::vector<Utterance> plan(std::string_view input, const SpeakOptions& options) const;

  // Called with each piece of audio as it is made; return false to stop.
  using Sink = std::function<bool(const float* samples, std::size_t n)>;
  // Speaks the utterances; timestamps (words and phonemes, seconds from the
  // first sample) appended to *timestamps if given. Returns samples made.
  std::size_t speak(const std::vector<Utterance>& utterances, const SpeakOptions& options, const Sink& sink,
                    std::vector<Timestamp>* timestamps = nullptr);

  // Text to audio, streaming: the markup is checked whole first (an error
  // before any audio), then the text is phonemised and spoken a piece (about
  // kPieceBytes, cut at sentence ends) at a time, so the first audio and the
  // memory do not depend on the length of the text. Same audio as
  // speak(plan(input)).
  std::size_t speak_text(std::string_view input, const SpeakOptions& options, const Sink& sink,
                         std::vector<Timestamp>* timestamps = nullptr);

  // The same, pull-style: throws MarkupError / SpeakError here, before any audio.
  Speech begin(std::string_view input, const SpeakOptions& options, bool timestamps = false);
  Speech begin(std::vector<Utterance> utterances, const SpeakOptions& options, bool timestamps = false);

  const VoiceModel& voice() const noexcept { return *voice_; }
  // The voice stream, for its live controls (set_f0_hz, set_pitch_semitones).
  VoiceStream& stream() noexcept { return stream_; }
  // Symbols of the input the voice has no id for (skipped), since the last plan().
  std::size_t unknown_symbols() const noexcept { return unknown_; }

  static constexpr std::size_t kMaxTokens = 400;   // longer clauses are cut at words
  static constexpr std::size_t kPieceBytes = 600;  // text phonemised at a time by speak_text

 private:
  void check(const SpeakOptions& o) const;
  friend class Speech;
  using Owed = PauseOwed;
  // Clauses -> utterances.
  void add_utterances(const std::vector<Clause>& clauses, const SpeakOptions& o, Owed& pause,
                      std::vector<Utterance>& out) const;
  // A trailing requested pause as a silence-only utterance.
  static void add_trailing_pause(Owed& pause, std::vector<Utterance>& out);
  std::size_t drain(Speech& sp, const Sink& sink, std::vector<Timestamp>* timestamps);

  std::shared_ptr<const VoiceModel> voice_;
  Phonemizer phonemizer_;
  VoiceStream stream_;
  mutable std::size_t unknown_ = 0;
};

// Splits UTF-8 into codepoints (each as a string); invalid bytes become
// U+FFFD.
std::vector<std::string> utf8_codepoints(std::string_view s);

}  // namespace sw::speech

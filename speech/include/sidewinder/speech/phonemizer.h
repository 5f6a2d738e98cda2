// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "sidewinder/speech/markup.h"

namespace sw::speech {

// One clause ready for the voice: IPA phonemes with stress marks (words
// separated by single spaces), the punctuation that ended it, its prosody and
// any pause after it.
struct Clause {
  std::string phonemes;
  char terminator = 0;  // one of , . ? ! : ; — or 0 (cut without punctuation, or inline phonemes)
  double rate = 1.0, pitch_semitones = 0.0;
  double pause_after_seconds = 0.0;
  std::string text;               // the source text of the clause ("" for inline phonemes)
  std::size_t source_offset = 0;  // byte offset of that text in the input
};

class PhonemizerError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Text to phonemes with libespeak-ng (Debian's 1.51): espeak-ng splits the
// text into clauses and normalises numbers, dates and abbreviations itself.
// 1.51 has no espeak_TextToPhonemesWithTerminator, so the punctuation that
// ended each clause is read back from the source text where espeak-ng
// stopped; a period after a title such as "Dr." or "Mrs." (where espeak-ng
// cuts before a capitalised name) does not end a clause.
//
// libespeak-ng is one global state: every call takes a process-wide mutex.
// Not for the audio thread (allocates, locks).
class Phonemizer {
 public:
  // Initialises espeak-ng once per process; throws PhonemizerError if it
  // cannot, or if `voice` (an espeak-ng voice name) is unknown.
  explicit Phonemizer(std::string voice = "en-us");

  // The clauses of the segments, in order: text segments phonemised,
  // phoneme segments passed through (whitespace collapsed), pauses attached
  // to the clause before them (or to an empty clause at the start).
  std::vector<Clause> phonemize(const std::vector<Segment>& segments) const;
  std::vector<Clause> phonemize(std::string_view plain_text) const;  // = phonemize(parse_plain(text))

  const std::string& voice() const noexcept { return voice_; }

 private:
  void phonemize_text(const Segment& s, std::vector<Clause>& out) const;
  std::string voice_;
};

}  // namespace sw::speech

// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace sw::speech {

// One piece of input after markup: text to phonemise, phonemes given inline,
// or a pause; with the prosody in force where it appears.
struct Segment {
  enum class Kind { text, phonemes, pause };
  Kind kind = Kind::text;
  std::string content;       // text (entities decoded) or IPA phonemes; empty for a pause
  double pause_seconds = 0;  // Kind::pause
  double rate = 1.0;         // speaking-rate factor (2 = twice as fast)
  double pitch_semitones = 0.0;
  std::size_t source_offset = 0;  // byte offset of the segment in the input
};

// Bad markup: one message naming what is wrong and where ("line 2, column 7
// (byte 31): ..."). offset() is the byte offset into the input.
class MarkupError : public std::runtime_error {
 public:
  MarkupError(const std::string& what, std::size_t offset) : std::runtime_error(what), offset_(offset) {}
  std::size_t offset() const noexcept { return offset_; }

 private:
  std::size_t offset_;
};

// Limits on what markup may ask for (a huge request is refused, not obeyed).
constexpr double kMaxPauseSeconds = 10.0;
constexpr double kMinRate = 0.25, kMaxRate = 4.0;
constexpr double kMaxPitchSemitones = 24.0;

// Plain text with inline phonemes: "say [[h ə l ˈoʊ]] now". Throws
// MarkupError for an unclosed "[[" or an empty "[[ ]]".
std::vector<Segment> parse_plain(std::string_view text);

// The SSML subset: <speak> (optional root), <break time="500ms|1.5s"
// strength="none|x-weak|weak|medium|strong|x-strong"/>, <prosody rate="slow|
// x-slow|medium|fast|x-fast|default|120%|1.2" pitch="+3st|-2st|+10%|low|high|
// ...">, <s>, <p> (sentence and paragraph: pauses after them), <phoneme
// alphabet="ipa" ph="...">text</phoneme>, inline [[phonemes]] in text, XML
// comments and the five predefined entities plus &#N; / &#xN;. Anything else
// (an unknown element or attribute, a mismatched or unclosed tag, a bad
// value) throws MarkupError naming the position.
std::vector<Segment> parse_ssml(std::string_view ssml);

// "line L, column C (byte B)" for an offset into text (1-based line and
// column, column in characters).
std::string describe_position(std::string_view text, std::size_t offset);

}  // namespace sw::speech

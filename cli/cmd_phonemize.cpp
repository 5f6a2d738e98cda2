// SPDX-License-Identifier: GPL-3.0-or-later
// `sidewinder phonemize [TEXT] [--ssml] [--json]`: the speech front end on its
// own — clauses with IPA phonemes, the punctuation that ended them, prosody
// and pauses. The voice trainer uses it (--json) so that training and
// synthesis phonemise text with the very same code.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>

#include "commands.h"
#include "sidewinder/speech/markup.h"
#include "sidewinder/speech/phonemizer.h"

namespace sw::cli {

std::string speech_input(const std::string& text, bool has_text) {
  if (has_text) {
    if (text.size() > kMaxSpeechInputBytes)
      throw InputError("TEXT is longer than " + std::to_string(kMaxSpeechInputBytes) + " bytes");
    return text;
  }
  // stdin, read no further than the limit (a huge input is refused, not held)
  std::string in;
  char buf[65536];
  while (std::cin.read(buf, sizeof buf) || std::cin.gcount() > 0) {
    in.append(buf, std::size_t(std::cin.gcount()));
    if (in.size() > kMaxSpeechInputBytes)
      throw InputError("stdin: text longer than " + std::to_string(kMaxSpeechInputBytes) + " bytes");
  }
  return in;
}

int run_phonemize(const PhonemizeOptions& o) {
  const std::string text = speech_input(o.text, o.has_text);
  std::vector<speech::Segment> segments;
  try {
    segments = o.ssml ? speech::parse_ssml(text) : speech::parse_plain(text);
  } catch (const speech::MarkupError& e) {
    throw InputError(std::string(o.ssml ? "SSML " : "text ") + e.what());
  }
  const speech::Phonemizer ph(o.voice);
  const auto clauses = ph.phonemize(segments);
  if (o.json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& c : clauses) {
      arr.push_back({{"phonemes", c.phonemes},
                     {"terminator", c.terminator ? std::string(1, c.terminator) : std::string()},
                     {"text", c.text},
                     {"offset", c.source_offset},
                     {"rate", c.rate},
                     {"pitch_semitones", c.pitch_semitones},
                     {"pause_after_s", c.pause_after_seconds}});
    }
    std::printf("%s\n", nlohmann::json{{"voice", ph.voice()}, {"clauses", arr}}.dump(2).c_str());
  } else {
    for (const auto& c : clauses) {
      std::printf("%s%s", c.phonemes.c_str(), c.terminator ? std::string(1, c.terminator).c_str() : "");
      if (c.pause_after_seconds > 0)
        std::printf(" <%gs>", c.pause_after_seconds);
      std::printf("\n");
    }
  }
  return kExitOk;
}

}  // namespace sw::cli

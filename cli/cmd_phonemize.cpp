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

int run_phonemize(const PhonemizeOptions& o) {
  std::string text = o.text;
  if (!o.has_text) {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    if (text.size() > kMaxSpeechInputBytes)
      throw InputError("stdin: text longer than " + std::to_string(kMaxSpeechInputBytes) + " bytes");
  }
  if (text.size() > kMaxSpeechInputBytes)
    throw InputError("TEXT is longer than " + std::to_string(kMaxSpeechInputBytes) + " bytes");
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

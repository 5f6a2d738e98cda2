// SPDX-License-Identifier: GPL-3.0-or-later
#include "sidewinder/speech/phonemizer.h"

#include <espeak-ng/speak_lib.h>

#include <cstring>
#include <mutex>

namespace sw::speech {
namespace {

std::mutex& espeak_mutex() {
  static std::mutex m;
  return m;
}

// Called with the mutex held.
void init_espeak_locked() {
  static bool done = false;
  if (done)
    return;
  if (espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, nullptr, 0) < 0)
    throw PhonemizerError("espeak-ng: cannot initialise (is espeak-ng-data installed?)");
  done = true;
}

// English titles after which espeak-ng ends a clause when a capitalised word
// follows ("Dr. Smith"), though the sentence goes on.
bool is_title_abbreviation(std::string_view word) {
  static const char* const titles[] = {"Mr",   "Mrs", "Ms",  "Dr",  "St",  "Prof", "Jr", "Sr",  "Mt",  "Gen", "Col",
                                       "Capt", "Lt",  "Sgt", "Rev", "Hon", "vs",   "Fr", "Gov", "Sen", "Rep"};
  for (const char* t : titles)
    if (word == t)
      return true;
  return false;
}

bool space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// The punctuation that ends `clause` (trailing whitespace ignored): for a run
// such as "?!" or "...", '?' wins over '!' over the last of . , : ;.
char terminator_of(std::string_view clause) {
  std::size_t e = clause.size();
  while (e > 0 && space(clause[e - 1]))
    --e;
  std::size_t b = e;
  while (b > 0 && std::strchr(",.?!:;", clause[b - 1]) != nullptr && clause[b - 1] != '\0')
    --b;
  const std::string_view run = clause.substr(b, e - b);
  if (run.empty())
    return 0;
  if (run.find('?') != std::string_view::npos)
    return '?';
  if (run.find('!') != std::string_view::npos)
    return '!';
  return run.back();
}

// The word before a final '.', if any.
std::string_view word_before_period(std::string_view clause) {
  std::size_t e = clause.size();
  while (e > 0 && space(clause[e - 1]))
    --e;
  if (e == 0 || clause[e - 1] != '.')
    return {};
  --e;
  std::size_t b = e;
  while (b > 0 && !space(clause[b - 1]) && clause[b - 1] != '.')
    --b;
  return clause.substr(b, e - b);
}

std::string collapse_spaces(std::string_view s) {
  std::string out;
  bool pending = false;
  for (char c : s) {
    if (space(c)) {
      pending = !out.empty();
      continue;
    }
    if (pending)
      out += ' ';
    pending = false;
    out += c;
  }
  return out;
}

}  // namespace

namespace {

// espeak-ng's voice now (under espeak_mutex()). espeak_SetVoiceByName
// allocates each time it is called (and keeps ~1.3 KB: found by
// LeakSanitizer under the daemon's load test), so it is called only when the
// voice changes.
std::string& current_voice_locked() {
  static std::string v;
  return v;
}

void use_voice_locked(const std::string& voice) {
  if (current_voice_locked() == voice)
    return;
  if (espeak_SetVoiceByName(voice.c_str()) != EE_OK) {
    current_voice_locked().clear();
    throw PhonemizerError("espeak-ng: unknown voice \"" + voice + "\"");
  }
  current_voice_locked() = voice;
}

}  // namespace

Phonemizer::Phonemizer(std::string voice) : voice_(std::move(voice)) {
  std::lock_guard<std::mutex> lock(espeak_mutex());
  init_espeak_locked();
  use_voice_locked(voice_);
}

void Phonemizer::phonemize_text(const Segment& s, std::vector<Clause>& out) const {
  const std::string text = s.content;  // NUL-terminated copy for espeak-ng
  std::lock_guard<std::mutex> lock(espeak_mutex());
  use_voice_locked(voice_);
  const void* p = text.c_str();
  const char* const base = text.c_str();
  const char* before = base;  // where this clause's text starts (espeak-ng's pointer runs one character ahead)
  bool merge_next = false;
  while (p != nullptr) {
    const char* ph = espeak_TextToPhonemes(&p, espeakCHARS_UTF8, espeakPHONEMES_IPA);
    // espeak-ng has read one character of the next clause: back up over it
    // (a whole UTF-8 character) to find where this clause's text ends.
    const char* end = base + text.size();
    if (p != nullptr) {
      end = static_cast<const char*>(p);
      if (end > before) {
        --end;
        while (end > before && (static_cast<unsigned char>(*end) & 0xC0) == 0x80)
          --end;
      }
    }
    const std::string_view clause_text(before, static_cast<std::size_t>(end - before));
    const char* const clause_begin = before;
    before = end;
    const std::string phonemes = collapse_spaces(ph != nullptr ? ph : "");
    char term = terminator_of(clause_text);
    const bool title = term == '.' && is_title_abbreviation(word_before_period(clause_text));
    if (phonemes.empty()) {
      if (!out.empty() && term != 0 && out.back().terminator == 0)
        out.back().terminator = term;
      continue;
    }
    if (merge_next && !out.empty()) {
      Clause& c = out.back();
      c.phonemes += " " + phonemes;
      c.text += std::string(clause_text);
      c.terminator = title ? 0 : term;
    } else {
      Clause c;
      c.phonemes = phonemes;
      c.terminator = title ? 0 : term;
      c.rate = s.rate;
      c.pitch_semitones = s.pitch_semitones;
      c.text = std::string(clause_text);
      c.source_offset = s.source_offset + static_cast<std::size_t>(clause_begin - base);
      out.push_back(std::move(c));
    }
    merge_next = title;
  }
}

std::vector<Clause> Phonemizer::phonemize(const std::vector<Segment>& segments) const {
  std::vector<Clause> out;
  for (const Segment& s : segments) {
    switch (s.kind) {
      case Segment::Kind::text:
        phonemize_text(s, out);
        break;
      case Segment::Kind::phonemes: {
        Clause c;
        c.phonemes = collapse_spaces(s.content);
        c.rate = s.rate;
        c.pitch_semitones = s.pitch_semitones;
        c.source_offset = s.source_offset;
        out.push_back(std::move(c));
        break;
      }
      case Segment::Kind::pause:
        if (out.empty()) {
          Clause c;
          c.rate = s.rate;
          c.pitch_semitones = s.pitch_semitones;
          c.source_offset = s.source_offset;
          out.push_back(std::move(c));
        }
        out.back().pause_after_seconds += s.pause_seconds;
        break;
    }
  }
  return out;
}

std::vector<Clause> Phonemizer::phonemize(std::string_view plain_text) const {
  return phonemize(parse_plain(plain_text));
}

}  // namespace sw::speech

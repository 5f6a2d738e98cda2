// SPDX-License-Identifier: GPL-3.0-or-later
// speech/: the text front end — markup (SSML subset, inline phonemes) and the
// espeak-ng phonemizer with punctuation restored.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "sidewinder/speech/markup.h"
#include "sidewinder/speech/phonemizer.h"

using namespace sw::speech;

namespace {

std::string all_phonemes(const std::vector<Clause>& cs) {
  std::string s;
  for (const Clause& c : cs)
    s += c.phonemes + (c.terminator ? std::string(1, c.terminator) : std::string()) + "|";
  return s;
}

bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

// The error message of parse_ssml(s), or "" if it parsed.
std::string ssml_error(const std::string& s) {
  try {
    parse_ssml(s);
  } catch (const MarkupError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("speech: clause punctuation is restored from the text", "[speech]") {
  const Phonemizer p;
  const auto cs = p.phonemize("Hello world. How are you, today? Fine! Wait... what?! Go: now; then stop");
  std::vector<char> terms;
  for (const Clause& c : cs)
    terms.push_back(c.terminator);
  INFO(all_phonemes(cs));
  REQUIRE(terms == std::vector<char>{'.', ',', '?', '!', '.', '?', ':', ';', 0});
  REQUIRE(cs[0].phonemes == "həlˈoʊ wˈɜːld");
  REQUIRE(cs[0].text == "Hello world. ");
  REQUIRE(cs[1].text == "How are you, ");
  REQUIRE(cs[1].source_offset == 13);
}

TEST_CASE("speech: numbers, dates and abbreviations go through espeak-ng's normalisation", "[speech]") {
  const Phonemizer p;
  const std::string s = all_phonemes(p.phonemize("I have 42 apples and 3 pears."));
  INFO(s);
  REQUIRE(contains(s, "fˈoːɹɾi tˈuː"));  // forty two
  REQUIRE(contains(s, "θɹˈiː"));         // three
  const std::string y = all_phonemes(p.phonemize("It was 1999."));
  INFO(y);
  REQUIRE(contains(y, "nˈaɪnti nˈaɪn"));  // (nineteen hundred) ninety nine: espeak-ng 1.51 reads years so
  // A title's period does not end the sentence: "Dr. Smith" is one clause.
  const auto cs = p.phonemize("Dr. Smith is here. Mrs. Jones too.");
  INFO(all_phonemes(cs));
  REQUIRE(cs.size() == 2);
  REQUIRE(contains(cs[0].phonemes, "dˈɑːktɚ smˈɪθ"));
  REQUIRE(cs[0].terminator == '.');
  REQUIRE(contains(cs[1].phonemes, "mˈɪsɪz dʒˈoʊnz"));
}

TEST_CASE("speech: non-ASCII text and the character espeak-ng reads ahead", "[speech]") {
  const Phonemizer p;
  const auto cs = p.phonemize("Hello. Ça va? Oui.");
  REQUIRE(cs.size() == 3);
  REQUIRE(cs[0].text == "Hello. ");
  REQUIRE(cs[1].text == "Ça va? ");  // the lookahead 'Ç' (two bytes) went to the next clause whole
  REQUIRE(cs[1].terminator == '?');
}

TEST_CASE("speech: inline phonemes pass through; text around them is phonemised", "[speech]") {
  const auto segs = parse_plain("say [[ h ə l ˈoʊ ]] now");
  REQUIRE(segs.size() == 3);
  REQUIRE(segs[1].kind == Segment::Kind::phonemes);
  REQUIRE(segs[1].content == "h ə l ˈoʊ");
  REQUIRE(segs[1].source_offset == 4);
  const Phonemizer p;
  const auto cs = p.phonemize(segs);
  REQUIRE(cs.size() == 3);
  REQUIRE(cs[1].phonemes == "h ə l ˈoʊ");
  REQUIRE(cs[1].text.empty());
  REQUIRE_THROWS_WITH(parse_plain("ok [[ab"),
                      Catch::Contains("line 1, column 4 (byte 3)") && Catch::Contains("never closed"));
  REQUIRE_THROWS_WITH(parse_plain("x [[  ]] y"), Catch::Contains("empty inline phonemes"));
}

TEST_CASE("speech: SSML breaks, prosody and phonemes", "[speech]") {
  const auto segs = parse_ssml(
      "<?xml version=\"1.0\"?><speak version=\"1.1\">Hi <break time=\"300ms\"/>there"
      "<prosody rate=\"slow\" pitch=\"+2st\">slow <prosody rate=\"200%\">and fast</prosody></prosody>"
      "<break strength=\"strong\"></break><!-- note --> &amp; <phoneme alphabet=\"ipa\" ph=\"təmˈeɪɾoʊ\">tomato"
      "</phoneme> [[ b ˈaɪ ]]</speak>");
  // Hi | pause .3 | there | slow | and fast | pause .75 | " & " | phonemes | " " | [[ ]]
  REQUIRE(segs.size() >= 8);
  REQUIRE(segs[0].content == "Hi ");
  REQUIRE(segs[1].kind == Segment::Kind::pause);
  REQUIRE(segs[1].pause_seconds == Approx(0.3));
  REQUIRE(segs[3].content == "slow ");
  REQUIRE(segs[3].rate == Approx(0.75));
  REQUIRE(segs[3].pitch_semitones == Approx(2.0));
  REQUIRE(segs[4].content == "and fast");
  REQUIRE(segs[4].rate == Approx(1.5));
  REQUIRE(segs[5].pause_seconds == Approx(0.75));
  REQUIRE(segs[6].content == " & ");
  REQUIRE(segs[6].rate == Approx(1.0));  // prosody ended
  REQUIRE(segs[7].kind == Segment::Kind::phonemes);
  REQUIRE(segs[7].content == "təmˈeɪɾoʊ");
  REQUIRE(segs.back().kind == Segment::Kind::phonemes);
  REQUIRE(segs.back().content == "b ˈaɪ");
  const Phonemizer p;
  const auto cs = p.phonemize(segs);
  REQUIRE(cs[0].pause_after_seconds == Approx(0.3));
  for (const Clause& c : cs)
    REQUIRE(!contains(c.phonemes, "tomato"));
}

TEST_CASE("speech: bad SSML gets one error naming the position", "[speech]") {
  REQUIRE(contains(ssml_error("hello"), "text outside <speak>"));
  REQUIRE(contains(ssml_error("<p>hi</p>"), "must start with <speak>"));
  REQUIRE(contains(ssml_error("<speak>hi"), "<speak> is never closed"));
  REQUIRE(contains(ssml_error("<speak>\n  <prosody rate=\"fast\">x</speak>"), "line 2, column 25"));
  REQUIRE(contains(ssml_error("<speak>\n  <prosody rate=\"fast\">x</speak>"), "</speak> does not match <prosody>"));
  REQUIRE(contains(ssml_error("<speak><audio src=\"x.wav\"/></speak>"), "unsupported element <audio>"));
  REQUIRE(contains(ssml_error("<speak><break time=\"fast\"/></speak>"), "not a duration"));
  REQUIRE(contains(ssml_error("<speak><break time=\"99s\"/></speak>"), "outside 0 .. 10 s"));
  REQUIRE(contains(ssml_error("<speak><break tme=\"1s\"/></speak>"), "does not take the attribute tme"));
  REQUIRE(contains(ssml_error("<speak><prosody rate=\"20\">x</prosody></speak>"), "outside 0.25 .. 4"));
  REQUIRE(contains(ssml_error("<speak><prosody pitch=\"200Hz\">x</prosody></speak>"), "prosody pitch"));
  REQUIRE(contains(ssml_error("<speak>a & b</speak>"), "line 1, column 10"));
  REQUIRE(contains(ssml_error("<speak>&bogus;</speak>"), "unknown entity &bogus;"));
  REQUIRE(contains(ssml_error("<speak><break time=1s/></speak>"), "must be quoted"));
  REQUIRE(contains(ssml_error("<speak><phoneme>x</phoneme></speak>"), "non-empty ph"));
  REQUIRE(contains(ssml_error("<speak>x</speak> y"), "line 1, column 17 (byte 16): text outside <speak>"));
  REQUIRE(contains(ssml_error("<speak>x</speak><speak>y</speak>"), "content after </speak>"));
  REQUIRE(contains(ssml_error("<speak>[[ab</speak>"), "never closed by \"]]\""));
  REQUIRE(contains(ssml_error("<speak><!-- x </speak>"), "comment"));
  REQUIRE(ssml_error("<speak>fine</speak>").empty());
}

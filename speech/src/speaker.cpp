// SPDX-License-Identifier: GPL-3.0-or-later
// Text to speech: clauses from the front end grouped into utterances,
// tokenised as the trainer does (training/speech/voice.py tokens():
// <bos> clause ' ' clause ... <eos>, each clause's phonemes codepoint by
// codepoint and its terminator), then spoken through one VoiceStream.
#include <algorithm>
#include <cmath>
#include <sstream>

#include "sidewinder/speech/markup.h"
#include "sidewinder/speech/speaker.h"

namespace sw::speech {

std::vector<std::string> utf8_codepoints(std::string_view s) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    bool ok = n > 0 && i + n <= s.size();
    for (std::size_t k = 1; ok && k < n; ++k)
      ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    if (!ok) {
      out.emplace_back("\xEF\xBF\xBD");
      ++i;
      continue;
    }
    out.emplace_back(s.substr(i, n));
    i += n;
  }
  return out;
}

namespace {

bool ends_sentence(char t) {
  return t == '.' || t == '?' || t == '!';
}

// Words of a clause's source text, for timestamps (punctuation stripped).
std::vector<std::string> text_words(const std::string& text) {
  std::vector<std::string> w;
  std::istringstream in(text);
  std::string s;
  while (in >> s) {
    while (!s.empty() && std::string(",.?!:;\"()").find(s.back()) != std::string::npos)
      s.pop_back();
    while (!s.empty() && std::string("\"(").find(s.front()) != std::string::npos)
      s.erase(s.begin());
    if (!s.empty())
      w.push_back(s);
  }
  return w;
}

// A symbol the voice never heard (espeak-ng uses some only for foreign words)
// is read as the nearest one it knows, if it knows that.
int id_or_nearest(const VoiceModel& v, const std::string& s) {
  const int id = v.id_of(s);
  if (id >= 0)
    return id;
  static const std::pair<const char*, const char*> kNearest[] = {
      {"x", "k"},      {"\u00E7", "h"},      {"\u0263", "\u0261"}, {"r", "\u0279"},      {"\u027E", "t"},
      {"\u026C", "l"}, {"\u0252", "\u0251"}, {"\u028F", "\u026A"}, {"\u0250", "\u028C"}, {"\u1D7B", "\u026A"},
      {"g", "\u0261"}, {"\u0294", "t"},      {"\u025B", "e"},      {"\u00F8", "\u025C"}, {"y", "i"}};
  for (const auto& [from, to] : kNearest)
    if (s == from)
      return v.id_of(to);
  return -1;
}

void sort_timestamps(std::vector<Timestamp>* ts) {
  if (!ts)
    return;
  std::stable_sort(ts->begin(), ts->end(), [](const Timestamp& a, const Timestamp& b) {
    return a.start_s < b.start_s ||
           (a.start_s == b.start_s && a.kind == Timestamp::Kind::word && b.kind == Timestamp::Kind::phoneme);
  });
}

bool is_stress_mark(const std::string& s) {
  return s == "\u02C8" || s == "\u02CC";  // ˈ ˌ
}

bool is_suffix_mark(const std::string& s) {
  if (s == "\u02D0" || s == "\u02D1")  // ː ˑ
    return true;
  // combining diacritics U+0300..U+036F: two bytes 0xCC 0x80 .. 0xCD 0xAF
  return s.size() == 2 && (static_cast<unsigned char>(s[0]) == 0xCC ||
                           (static_cast<unsigned char>(s[0]) == 0xCD && static_cast<unsigned char>(s[1]) <= 0xAF));
}

}  // namespace

Speaker::Speaker(std::shared_ptr<const VoiceModel> voice)
    : voice_(voice), phonemizer_(voice->espeak_voice.empty() ? "en-us" : voice->espeak_voice), stream_(voice) {
  stream_.prepare(kMaxTokens);
}

void Speaker::check(const SpeakOptions& o) const {
  if (!(o.rate >= kMinRate && o.rate <= kMaxRate))
    throw SpeakError("rate " + std::to_string(o.rate) + " is outside 0.25..4");
  if (!(std::abs(o.pitch_semitones) <= kMaxPitchSemitones))
    throw SpeakError("pitch " + std::to_string(o.pitch_semitones) + " semitones is outside -24..24");
  if (!(o.volume >= 0.0 && o.volume <= 4.0))
    throw SpeakError("volume " + std::to_string(o.volume) + " is outside 0..4");
}

std::vector<Utterance> Speaker::plan(std::string_view input, const SpeakOptions& o) const {
  check(o);
  const std::vector<Segment> segments = o.ssml ? parse_ssml(input) : parse_plain(input);
  unknown_ = 0;
  std::vector<Utterance> out;
  Owed pause;
  add_utterances(phonemizer_.phonemize(segments), o, pause, out);
  add_trailing_pause(pause, out);
  return out;
}

void Speaker::add_trailing_pause(Owed& pause, std::vector<Utterance>& out) {
  if (pause.requested > 0) {
    Utterance u;
    u.pause_before_s = u.requested_pause_before_s = pause.requested;
    out.push_back(std::move(u));
  }
  pause = Owed{};
}

void Speaker::add_utterances(const std::vector<Clause>& clauses, const SpeakOptions& o, Owed& pause,
                             std::vector<Utterance>& out) const {
  const VoiceModel& v = *voice_;
  Utterance cur;
  auto flush = [&]() {
    if (cur.ids.empty())
      return;
    cur.ids.push_back(v.eos);
    cur.tokens.push_back({});
    out.push_back(std::move(cur));
    cur = Utterance{};
  };
  auto open = [&](const Clause& c) {
    cur.ids = {v.bos};
    cur.tokens = {Utterance::Token{}};
    cur.length_scale = 1.0 / std::clamp(o.rate * c.rate, kMinRate, kMaxRate);
    cur.pitch_semitones = std::clamp(o.pitch_semitones + c.pitch_semitones, -kMaxPitchSemitones, kMaxPitchSemitones);
    cur.pause_before_s = pause.requested + pause.gap;
    cur.requested_pause_before_s = pause.requested;
    pause = Owed{};
  };
  for (const Clause& c : clauses) {
    const bool has_speech = c.phonemes.find_first_not_of(' ') != std::string::npos;
    if (has_speech) {
      const double ls = 1.0 / std::clamp(o.rate * c.rate, kMinRate, kMaxRate);
      const double st = std::clamp(o.pitch_semitones + c.pitch_semitones, -kMaxPitchSemitones, kMaxPitchSemitones);
      if (!cur.ids.empty() && (ls != cur.length_scale || st != cur.pitch_semitones))
        flush();
      const auto symbols = utf8_codepoints(c.phonemes);
      // words of this clause: the phoneme words; labelled with the text's words when they match one to one
      std::vector<std::string> ph_words(1);
      for (const auto& s : symbols) {
        if (s == " ") {
          if (!ph_words.back().empty())
            ph_words.emplace_back();
        } else {
          ph_words.back() += s;
        }
      }
      if (ph_words.back().empty())
        ph_words.pop_back();
      const auto tw = text_words(c.text);
      const std::vector<std::string>& labels = tw.size() == ph_words.size() ? tw : ph_words;
      if (cur.ids.empty())
        open(c);
      else if (cur.ids.size() + 1 < kMaxTokens) {
        cur.ids.push_back(v.space);
        cur.tokens.push_back({});
      }
      int word = -1;
      bool in_word = false;
      for (const auto& s : symbols) {
        if (cur.ids.size() + 2 >= kMaxTokens) {  // a clause too long for one utterance: cut at this point
          flush();
          open(c);
          in_word = false;
        }
        if (s == " ") {
          in_word = false;
          if (cur.ids.size() > 1) {
            cur.ids.push_back(v.space);
            cur.tokens.push_back({});
          }
          continue;
        }
        const int id = id_or_nearest(v, s);
        if (id < 0) {
          ++unknown_;
          continue;
        }
        if (!in_word) {
          ++word;
          in_word = true;
          cur.words.push_back(word < int(labels.size()) ? labels[std::size_t(word)] : s);
        }
        cur.ids.push_back(id);
        cur.tokens.push_back({int(cur.words.size()) - 1, s});
      }
      if (c.terminator) {
        const int id = v.id_of(std::string(1, c.terminator));
        if (id >= 0) {
          cur.ids.push_back(id);
          cur.tokens.push_back({});
        }
      }
    }
    const bool sentence_end = has_speech && ends_sentence(c.terminator);
    if (c.pause_after_seconds > 0 || sentence_end || !has_speech) {
      flush();
      pause.requested += c.pause_after_seconds;
      pause.gap += sentence_end ? o.sentence_pause_s : 0.0;
    }
  }
  flush();
}

namespace {
// Cuts a long text segment into pieces of about `target` bytes at sentence
// ends (". ", "? ", "! ", new lines), else at a space, else anywhere (UTF-8
// safe), keeping each piece's source offset.
std::vector<Segment> split_segment(const Segment& s, std::size_t target) {
  std::vector<Segment> out;
  if (s.kind != Segment::Kind::text || s.content.size() <= target) {
    out.push_back(s);
    return out;
  }
  const std::string& t = s.content;
  std::size_t begin = 0;
  while (begin < t.size()) {
    std::size_t end = t.size();
    if (t.size() - begin > target) {
      auto is_cut = [&](std::size_t i) {  // cut after t[i]
        return t[i] == '\n' || ((t[i] == '.' || t[i] == '?' || t[i] == '!') && i + 1 < t.size() &&
                                (t[i + 1] == ' ' || t[i + 1] == '\n'));
      };
      std::size_t cut = std::string::npos;
      for (std::size_t i = begin + target / 2; i < t.size() && i < begin + 2 * target; ++i)
        if (is_cut(i)) {
          cut = i + 1;
          if (i >= begin + target)
            break;
        }
      if (cut == std::string::npos) {
        const std::size_t sp = t.rfind(' ', begin + target);
        cut = (sp != std::string::npos && sp > begin) ? sp + 1 : begin + target;
        while (cut < t.size() && (static_cast<unsigned char>(t[cut]) & 0xC0) == 0x80)
          ++cut;
      }
      end = cut;
    }
    Segment p = s;
    p.content = t.substr(begin, end - begin);
    p.source_offset = s.source_offset + begin;
    out.push_back(std::move(p));
    begin = end;
  }
  return out;
}
}  // namespace

Speech Speaker::begin(std::string_view input, const SpeakOptions& o, bool timestamps) {
  check(o);
  const std::vector<Segment> segments = o.ssml ? parse_ssml(input) : parse_plain(input);
  unknown_ = 0;
  Speech sp(*this, o, timestamps);
  for (const Segment& seg : segments)
    for (Segment& piece : split_segment(seg, kPieceBytes))
      sp.pieces_.push_back(std::move(piece));
  return sp;
}

Speech Speaker::begin(std::vector<Utterance> utterances, const SpeakOptions& o, bool timestamps) {
  check(o);
  Speech sp(*this, o, timestamps);
  sp.queue_ = std::move(utterances);
  return sp;
}

std::size_t Speaker::speak_text(std::string_view input, const SpeakOptions& o, const Sink& sink,
                                std::vector<Timestamp>* timestamps) {
  Speech sp = begin(input, o, timestamps != nullptr);
  return drain(sp, sink, timestamps);
}

std::size_t Speaker::speak(const std::vector<Utterance>& utterances, const SpeakOptions& o, const Sink& sink,
                           std::vector<Timestamp>* timestamps) {
  Speech sp = begin(utterances, o, timestamps != nullptr);
  return drain(sp, sink, timestamps);
}

std::size_t Speaker::drain(Speech& sp, const Sink& sink, std::vector<Timestamp>* timestamps) {
  std::vector<float> buf(1024);
  while (std::size_t n = sp.pull(buf.data(), buf.size()))
    if (!sink(buf.data(), n))
      break;
  if (timestamps)
    timestamps->insert(timestamps->end(), sp.timestamps().begin(), sp.timestamps().end());
  return sp.samples();
}

Speech::Speech(Speaker& speaker, const SpeakOptions& o, bool timestamps)
    : speaker_(&speaker), o_(o), record_(timestamps) {}

// The next utterances: from the queue, else the next group of pieces (a piece
// of text or phonemes and the pauses after it: the phonemizer attaches a
// pause to the clause before it).
bool Speech::refill() {
  if (qi_ < queue_.size())
    return true;
  queue_.clear();
  qi_ = 0;
  while (queue_.empty() && next_piece_ < pieces_.size()) {
    std::size_t j = next_piece_ + 1;
    while (j < pieces_.size() && pieces_[j].kind == Segment::Kind::pause)
      ++j;
    const std::vector<Segment> group(pieces_.begin() + long(next_piece_), pieces_.begin() + long(j));
    speaker_->add_utterances(speaker_->phonemizer_.phonemize(group), o_, owed_, queue_);
    if (j == pieces_.size())
      Speaker::add_trailing_pause(owed_, queue_);
    next_piece_ = j;
  }
  return !queue_.empty();
}

// Starts utterance queue_[qi_]: its silence first, then the voice.
void Speech::open_utterance() {
  const Utterance& u = queue_[qi_];
  const double rate = speaker_->voice_->sample_rate();
  // At the very start only the silence asked for: audio starts at once.
  silence_left_ = std::size_t(std::llround((made_ == 0 ? u.requested_pause_before_s : u.pause_before_s) * rate));
  voicing_ = false;
  if (u.ids.empty())
    return;  // silence alone
  UtteranceControls c;
  c.length_scale = u.length_scale;
  c.pitch_semitones = u.pitch_semitones;
  c.volume = o_.volume;
  c.seed = o_.seed;
  VoiceStream& vs = speaker_->stream_;
  if (!vs.start(u.ids.data(), u.ids.size(), c))
    throw SpeakError("cannot speak an utterance of " + std::to_string(u.ids.size()) + " tokens");
  voicing_ = true;
  if (record_)
    add_timestamps(u, (made_ + silence_left_) / rate);
}

void Speech::add_timestamps(const Utterance& u, double t0) {
  const VoiceStream& vs = speaker_->stream_;
  const double rate = speaker_->voice_->sample_rate(), hop = speaker_->voice_->hop();
  std::vector<Timestamp> ts;
  std::size_t frame = 0;
  std::vector<double> w_start(u.words.size(), -1.0), w_end(u.words.size(), 0.0);
  std::string prefix;
  double prefix_start = -1;
  int prev_phoneme = -2;
  for (std::size_t i = 0; i < u.ids.size(); ++i) {
    const double a = t0 + frame * hop / rate;
    frame += std::size_t(vs.durations()[i]);
    const double b = t0 + frame * hop / rate;
    const auto& tk = u.tokens[i];
    if (tk.word < 0)
      continue;
    // Stress marks join the phoneme after them, length marks and combining
    // diacritics the one before: "ˈoʊ" is two phonemes "ˈo", "ʊ"; "ɜː" one.
    if (is_suffix_mark(tk.symbol) && prev_phoneme == tk.word && !ts.empty()) {
      ts.back().text += tk.symbol;
      ts.back().end_s = b;
    } else if (is_stress_mark(tk.symbol)) {
      prefix += tk.symbol;
      if (prefix_start < 0)
        prefix_start = a;
    } else {
      ts.push_back({Timestamp::Kind::phoneme, prefix + tk.symbol, prefix_start >= 0 ? prefix_start : a, b});
      prefix.clear();
      prefix_start = -1;
      prev_phoneme = tk.word;
    }
    auto& ws = w_start[std::size_t(tk.word)];
    if (ws < 0)
      ws = a;
    w_end[std::size_t(tk.word)] = b;
  }
  for (std::size_t w = 0; w < u.words.size(); ++w)
    if (w_start[w] >= 0)
      ts.push_back({Timestamp::Kind::word, u.words[w], w_start[w], w_end[w]});
  sort_timestamps(&ts);
  timestamps_.insert(timestamps_.end(), ts.begin(), ts.end());
}

std::size_t Speech::pull(float* out, std::size_t max) {
  std::size_t written = 0;
  while (written < max) {
    if (!open_) {
      if (!refill())
        break;
      open_utterance();
      open_ = true;
    }
    if (silence_left_ > 0) {
      const std::size_t n = std::min(silence_left_, max - written);
      std::fill(out + written, out + written + n, 0.0f);
      silence_left_ -= n;
      written += n;
      made_ += n;
      continue;
    }
    if (voicing_) {
      const std::size_t n = speaker_->stream_.pull(out + written, max - written);
      written += n;
      made_ += n;
      if (n > 0)
        continue;
    }
    open_ = false;  // this utterance is done
    ++qi_;
  }
  return written;
}

}  // namespace sw::speech

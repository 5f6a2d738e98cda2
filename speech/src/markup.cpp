// SPDX-License-Identifier: GPL-3.0-or-later
// Inline phonemes and the SSML subset (markup.h). A small hand-written
// parser: the subset has six elements, and every error must name its place.
#include "sidewinder/speech/markup.h"

#include <charconv>
#include <cmath>
#include <map>

namespace sw::speech {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

std::string trim(std::string_view s) {
  std::size_t b = 0, e = s.size();
  while (b < e && is_space(s[b]))
    ++b;
  while (e > b && is_space(s[e - 1]))
    --e;
  return std::string(s.substr(b, e - b));
}

// A whole-string, locale-independent number.
bool parse_number(std::string_view s, double& v) {
  if (s.empty())
    return false;
  if (s.front() == '+')
    s.remove_prefix(1);
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  return r.ec == std::errc() && r.ptr == s.data() + s.size() && std::isfinite(v);
}

// Appends text / [[phoneme]] segments for `text`, which starts at byte
// `offset` of `source` (for messages).
void split_inline(std::string_view source, std::string_view text, std::size_t offset, double rate, double pitch,
                  std::vector<Segment>& out) {
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t open = text.find("[[", i);
    const std::size_t end_text = open == std::string_view::npos ? text.size() : open;
    if (end_text > i) {
      Segment s;
      s.kind = Segment::Kind::text;
      s.content = std::string(text.substr(i, end_text - i));
      s.rate = rate;
      s.pitch_semitones = pitch;
      s.source_offset = offset + i;
      out.push_back(std::move(s));
    }
    if (open == std::string_view::npos)
      break;
    const std::size_t close = text.find("]]", open + 2);
    if (close == std::string_view::npos)
      throw MarkupError(
          describe_position(source, offset + open) + ": \"[[\" (inline phonemes) is never closed by \"]]\"",
          offset + open);
    const std::string ph = trim(text.substr(open + 2, close - open - 2));
    if (ph.empty())
      throw MarkupError(describe_position(source, offset + open) + ": empty inline phonemes \"[[ ]]\"", offset + open);
    Segment s;
    s.kind = Segment::Kind::phonemes;
    s.content = ph;
    s.rate = rate;
    s.pitch_semitones = pitch;
    s.source_offset = offset + open;
    out.push_back(std::move(s));
    i = close + 2;
  }
}

class SsmlParser {
 public:
  explicit SsmlParser(std::string_view src) : src_(src) {}

  std::vector<Segment> parse() {
    bool seen_root = false, root_closed = false;
    while (pos_ < src_.size()) {
      if (starts("<!--")) {
        flush_text();
        const std::size_t end = src_.find("-->", pos_ + 4);
        if (end == std::string_view::npos)
          fail(pos_, "comment \"<!--\" is never closed");
        pos_ = end + 3;
      } else if (starts("<?")) {
        flush_text();
        const std::size_t end = src_.find("?>", pos_ + 2);
        if (end == std::string_view::npos)
          fail(pos_, "\"<?\" is never closed by \"?>\"");
        pos_ = end + 2;
      } else if (src_[pos_] == '<') {
        const std::size_t at = pos_;
        flush_text();
        Tag t = read_tag();
        if (!seen_root) {
          if (t.closing || t.name != "speak")
            fail(at,
                 "the document must start with <speak> (found <" + std::string(t.closing ? "/" : "") + t.name + ">)");
          seen_root = true;
        } else if (root_closed) {
          fail(at, "content after </speak>");
        }
        handle(t, at);
        if (t.closing && t.name == "speak")
          root_closed = true;
      } else {
        if (!text_started_) {
          text_started_ = true;
          text_offset_ = pos_;
        }
        if (src_[pos_] == '&') {
          read_entity();
        } else {
          text_ += src_[pos_++];
        }
      }
    }
    flush_text();
    if (!seen_root)
      fail(0, "no <speak> element");
    if (!stack_.empty())
      fail(stack_.back().offset, "<" + stack_.back().name + "> is never closed");
    return std::move(out_);
  }

 private:
  struct Tag {
    std::string name;
    bool closing = false, empty = false;
    std::map<std::string, std::pair<std::string, std::size_t>> attrs;  // name -> (value, offset)
  };
  struct Open {
    std::string name;
    std::size_t offset;
    double rate, pitch;
  };

  [[noreturn]] void fail(std::size_t at, const std::string& what) const {
    throw MarkupError(describe_position(src_, at) + ": " + what, at);
  }
  bool starts(std::string_view s) const { return src_.substr(pos_, s.size()) == s; }

  void flush_text() {
    if (!text_started_)
      return;
    text_started_ = false;
    std::string t;
    t.swap(text_);
    const bool only_space = trim(t).empty();
    if (stack_.empty()) {
      if (!only_space)
        fail(text_offset_, "text outside <speak>");
      return;
    }
    if (in_phoneme_)
      return;  // the written form; the ph attribute is what is spoken
    if (!only_space || !t.empty())
      split_inline(src_, t, text_offset_, rate_, pitch_, out_);
  }

  void read_entity() {
    const std::size_t at = pos_;
    const std::size_t semi = src_.find(';', pos_);
    if (semi == std::string_view::npos || semi - pos_ > 12)
      fail(at, "\"&\" must start an entity such as &amp; (write &amp; for a literal &)");
    const std::string_view name = src_.substr(pos_ + 1, semi - pos_ - 1);
    static const std::map<std::string_view, const char*> named = {
        {"amp", "&"}, {"lt", "<"}, {"gt", ">"}, {"quot", "\""}, {"apos", "'"}};
    auto it = named.find(name);
    if (it != named.end()) {
      text_ += it->second;
    } else if (name.size() > 1 && name[0] == '#') {
      unsigned long cp = 0;
      const bool hex = name[1] == 'x' || name[1] == 'X';
      const std::string_view digits = name.substr(hex ? 2 : 1);
      const auto r = std::from_chars(digits.data(), digits.data() + digits.size(), cp, hex ? 16 : 10);
      if (digits.empty() || r.ec != std::errc() || r.ptr != digits.data() + digits.size() || cp == 0 || cp > 0x10FFFF ||
          (cp >= 0xD800 && cp <= 0xDFFF))
        fail(at, "bad character reference &" + std::string(name) + ";");
      append_utf8(static_cast<char32_t>(cp));
    } else {
      fail(at, "unknown entity &" + std::string(name) + ";");
    }
    pos_ = semi + 1;
  }

  void append_utf8(char32_t c) {
    if (c < 0x80) {
      text_ += static_cast<char>(c);
    } else if (c < 0x800) {
      text_ += static_cast<char>(0xC0 | (c >> 6));
      text_ += static_cast<char>(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
      text_ += static_cast<char>(0xE0 | (c >> 12));
      text_ += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
      text_ += static_cast<char>(0x80 | (c & 0x3F));
    } else {
      text_ += static_cast<char>(0xF0 | (c >> 18));
      text_ += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
      text_ += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
      text_ += static_cast<char>(0x80 | (c & 0x3F));
    }
  }

  static bool name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == ':' || c == '.';
  }

  Tag read_tag() {
    const std::size_t at = pos_;
    Tag t;
    ++pos_;  // '<'
    if (pos_ < src_.size() && src_[pos_] == '/') {
      t.closing = true;
      ++pos_;
    }
    const std::size_t name_start = pos_;
    while (pos_ < src_.size() && name_char(src_[pos_]))
      ++pos_;
    t.name = std::string(src_.substr(name_start, pos_ - name_start));
    if (t.name.empty())
      fail(at, "\"<\" must start a tag (write &lt; for a literal <)");
    for (;;) {
      while (pos_ < src_.size() && is_space(src_[pos_]))
        ++pos_;
      if (pos_ >= src_.size())
        fail(at, "tag <" + t.name + " is never closed by \">\"");
      if (src_[pos_] == '>') {
        ++pos_;
        return t;
      }
      if (starts("/>")) {
        if (t.closing)
          fail(at, "\"</" + t.name + "/>\" is not a tag");
        t.empty = true;
        pos_ += 2;
        return t;
      }
      if (t.closing)
        fail(pos_, "a closing tag </" + t.name + "> has no attributes");
      const std::size_t an = pos_;
      while (pos_ < src_.size() && name_char(src_[pos_]))
        ++pos_;
      const std::string name(src_.substr(an, pos_ - an));
      if (name.empty())
        fail(pos_, "unexpected character in tag <" + t.name + ">");
      while (pos_ < src_.size() && is_space(src_[pos_]))
        ++pos_;
      if (pos_ >= src_.size() || src_[pos_] != '=')
        fail(an, "attribute " + name + " needs a value (name=\"value\")");
      ++pos_;
      while (pos_ < src_.size() && is_space(src_[pos_]))
        ++pos_;
      if (pos_ >= src_.size() || (src_[pos_] != '"' && src_[pos_] != '\''))
        fail(pos_, "the value of " + name + " must be quoted");
      const char q = src_[pos_++];
      const std::size_t vs = pos_;
      const std::size_t ve = src_.find(q, pos_);
      if (ve == std::string_view::npos)
        fail(vs - 1, "the value of " + name + " is never closed");
      if (t.attrs.count(name))
        fail(an, "attribute " + name + " appears twice");
      t.attrs[name] = {std::string(src_.substr(vs, ve - vs)), vs};
      pos_ = ve + 1;
    }
  }

  void check_attrs(const Tag& t, std::initializer_list<const char*> allowed) const {
    for (const auto& [name, value] : t.attrs) {
      bool ok = false;
      for (const char* a : allowed)
        ok = ok || name == a;
      if (!ok && name != "xmlns" && name.rfind("xmlns:", 0) != 0 && name != "version" && name != "xml:lang")
        fail(value.second, "<" + t.name + "> does not take the attribute " + name);
    }
  }

  double parse_time(const std::string& v, std::size_t at) const {
    double x = 0.0;
    if (v.size() > 2 && v.compare(v.size() - 2, 2, "ms") == 0 &&
        parse_number(std::string_view(v).substr(0, v.size() - 2), x)) {
      x /= 1000.0;
    } else if (v.size() > 1 && v.back() == 's' && parse_number(std::string_view(v).substr(0, v.size() - 1), x)) {
    } else {
      fail(at, "break time \"" + v + "\" is not a duration such as 500ms or 1.5s");
    }
    if (x < 0.0 || x > kMaxPauseSeconds)
      fail(at, "break time \"" + v + "\" is outside 0 .. " + std::to_string(int(kMaxPauseSeconds)) + " s");
    return x;
  }

  double parse_rate(const std::string& v, std::size_t at) const {
    static const std::map<std::string, double> words = {{"x-slow", 0.5}, {"slow", 0.75},   {"medium", 1.0},
                                                        {"fast", 1.25},  {"x-fast", 1.75}, {"default", 1.0}};
    double r = 0.0;
    auto it = words.find(v);
    if (it != words.end()) {
      r = it->second;
    } else if (!v.empty() && v.back() == '%' && parse_number(std::string_view(v).substr(0, v.size() - 1), r)) {
      r /= 100.0;
    } else if (!parse_number(v, r)) {
      fail(at, "prosody rate \"" + v + "\" is not x-slow..x-fast, a percentage or a factor");
    }
    if (!(r * rate_ >= kMinRate && r * rate_ <= kMaxRate))
      fail(at, "prosody rate \"" + v + "\" gives a speaking rate outside 0.25 .. 4 times normal");
    return r;
  }

  double parse_pitch(const std::string& v, std::size_t at) const {
    static const std::map<std::string, double> words = {{"x-low", -6.0}, {"low", -3.0},   {"medium", 0.0},
                                                        {"high", 3.0},   {"x-high", 6.0}, {"default", 0.0}};
    double p = 0.0;
    auto it = words.find(v);
    if (it != words.end()) {
      p = it->second;
    } else if (v.size() > 2 && v.compare(v.size() - 2, 2, "st") == 0 &&
               parse_number(std::string_view(v).substr(0, v.size() - 2), p)) {
    } else if (!v.empty() && v.back() == '%' && parse_number(std::string_view(v).substr(0, v.size() - 1), p) &&
               p > -100.0) {
      p = 12.0 * std::log2(1.0 + p / 100.0);
    } else {
      fail(at, "prosody pitch \"" + v + "\" is not x-low..x-high, semitones (+2st) or a percentage (+10%)");
    }
    if (std::fabs(p + pitch_) > kMaxPitchSemitones)
      fail(at, "prosody pitch \"" + v + "\" moves the voice more than 24 semitones");
    return p;
  }

  void pause(double seconds, std::size_t at) {
    Segment s;
    s.kind = Segment::Kind::pause;
    s.pause_seconds = seconds;
    s.rate = rate_;
    s.pitch_semitones = pitch_;
    s.source_offset = at;
    out_.push_back(std::move(s));
  }

  void handle(const Tag& t, std::size_t at) {
    if (t.closing) {
      if (stack_.empty() || stack_.back().name != t.name)
        fail(at, "</" + t.name + "> does not match " +
                     (stack_.empty() ? std::string("any open element") : "<" + stack_.back().name + ">"));
      const Open o = stack_.back();
      stack_.pop_back();
      rate_ = o.rate;
      pitch_ = o.pitch;
      close_element(o.name, at);
      return;
    }
    if (in_phoneme_)
      fail(at, "<phoneme> contains only text, not <" + t.name + ">");
    const std::string& n = t.name;
    if (n == "speak") {
      if (!stack_.empty())
        fail(at, "<speak> inside <speak>");
      check_attrs(t, {});
    } else if (n == "break") {
      check_attrs(t, {"time", "strength"});
      double seconds = 0.4;
      if (auto it = t.attrs.find("strength"); it != t.attrs.end()) {
        static const std::map<std::string, double> s = {{"none", 0.0},   {"x-weak", 0.1},  {"weak", 0.2},
                                                        {"medium", 0.4}, {"strong", 0.75}, {"x-strong", 1.2}};
        auto v = s.find(it->second.first);
        if (v == s.end())
          fail(it->second.second, "break strength \"" + it->second.first + "\" is not none..x-strong");
        seconds = v->second;
      }
      if (auto it = t.attrs.find("time"); it != t.attrs.end())
        seconds = parse_time(it->second.first, it->second.second);
      pause(seconds, at);
      if (!t.empty)
        stack_.push_back({n, at, rate_, pitch_});  // <break ...></break> is allowed, nothing inside
      return;
    } else if (n == "prosody") {
      check_attrs(t, {"rate", "pitch"});
      double rate = rate_, pitch = pitch_;
      if (auto it = t.attrs.find("rate"); it != t.attrs.end())
        rate = rate_ * parse_rate(it->second.first, it->second.second);
      if (auto it = t.attrs.find("pitch"); it != t.attrs.end())
        pitch = pitch_ + parse_pitch(it->second.first, it->second.second);
      if (t.empty)
        return;
      stack_.push_back({n, at, rate_, pitch_});
      rate_ = rate;
      pitch_ = pitch;
      return;
    } else if (n == "s" || n == "p") {
      check_attrs(t, {});
    } else if (n == "phoneme") {
      check_attrs(t, {"ph", "alphabet"});
      auto al = t.attrs.find("alphabet");
      if (al != t.attrs.end() && al->second.first != "ipa")
        fail(al->second.second, "phoneme alphabet \"" + al->second.first + "\" is not supported (only ipa)");
      auto ph = t.attrs.find("ph");
      if (ph == t.attrs.end() || trim(ph->second.first).empty())
        fail(at, "<phoneme> needs a non-empty ph attribute");
      Segment s;
      s.kind = Segment::Kind::phonemes;
      s.content = trim(ph->second.first);
      s.rate = rate_;
      s.pitch_semitones = pitch_;
      s.source_offset = at;
      out_.push_back(std::move(s));
      if (!t.empty)
        in_phoneme_ = true;
    } else {
      fail(at, "unsupported element <" + n + "> (supported: speak, break, prosody, s, p, phoneme)");
    }
    if (!t.empty)
      stack_.push_back({n, at, rate_, pitch_});
  }

  void close_element(const std::string& name, std::size_t) {
    if (name == "phoneme")
      in_phoneme_ = false;
    else if (name == "p")
      pause(0.5, pos_);
  }

  std::string_view src_;
  std::size_t pos_ = 0;
  std::vector<Segment> out_;
  std::vector<Open> stack_;
  double rate_ = 1.0, pitch_ = 0.0;
  std::string text_;
  bool text_started_ = false;
  std::size_t text_offset_ = 0;
  bool in_phoneme_ = false;
};

}  // namespace

std::string describe_position(std::string_view text, std::size_t offset) {
  if (offset > text.size())
    offset = text.size();
  std::size_t line = 1, col = 1;
  for (std::size_t i = 0; i < offset; ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      ++line;
      col = 1;
    } else if ((c & 0xC0) != 0x80) {
      ++col;  // count characters, not UTF-8 continuation bytes
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(col) + " (byte " + std::to_string(offset) + ")";
}

std::vector<Segment> parse_plain(std::string_view text) {
  std::vector<Segment> out;
  split_inline(text, text, 0, 1.0, 0.0, out);
  return out;
}

std::vector<Segment> parse_ssml(std::string_view ssml) {
  return SsmlParser(ssml).parse();
}

}  // namespace sw::speech

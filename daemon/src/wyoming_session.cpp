// SPDX-License-Identifier: GPL-3.0-or-later
#include "sidewinder/daemon/wyoming_session.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "sidewinder/speech/markup.h"

namespace sw::wyoming {

const speech::VoiceModel* VoiceSet::find(const std::string& name) const {
  for (const auto& v : voices)
    if (v->name == name)
      return v.get();
  return nullptr;
}

std::shared_ptr<const speech::VoiceModel> VoiceSet::default_voice() const {
  if (voices.empty())
    return nullptr;
  const int i = controls ? controls->voice.load() : -1;
  return i >= 0 && std::size_t(i) < voices.size() ? voices[std::size_t(i)] : voices.front();
}

std::shared_ptr<const speech::VoiceModel> VoiceSet::shared(const speech::VoiceModel* v) const {
  for (const auto& p : voices)
    if (p.get() == v)
      return p;
  return nullptr;
}

std::size_t sentence_cut(const std::string& text) {
  for (std::size_t i = text.size(); i-- > 1;)
    if (std::isspace(static_cast<unsigned char>(text[i])) &&
        (text[i - 1] == '.' || text[i - 1] == '?' || text[i - 1] == '!'))
      return i;
  return 0;
}

namespace {

bool blank(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isspace(c); });
}

// "en-US" and "en_US" (Piper's spelling, which Home Assistant's voices use).
nlohmann::json languages(const std::string& lang) {
  nlohmann::json out = nlohmann::json::array();
  if (lang.empty())
    return out;
  out.push_back(lang);
  std::string u = lang;
  std::replace(u.begin(), u.end(), '-', '_');
  if (u != lang)
    out.push_back(u);
  return out;
}

}  // namespace

Event audio_start(int rate) {
  Event e;
  e.type = "audio-start";
  e.data = {{"rate", rate}, {"width", 2}, {"channels", 1}, {"timestamp", 0}};
  return e;
}

Event audio_stop(int rate, std::size_t samples) {
  Event e;
  e.type = "audio-stop";
  e.data = {{"timestamp", static_cast<long long>(std::llround(1000.0 * double(samples) / rate))}};
  return e;
}

Event audio_chunk(int rate, const float* x, std::size_t n, std::size_t offset) {
  Event c;
  c.type = "audio-chunk";
  c.data = {{"rate", rate},
            {"width", 2},
            {"channels", 1},
            {"timestamp", static_cast<long long>(std::llround(1000.0 * double(offset) / rate))}};
  c.payload.resize(2 * n);
  for (std::size_t i = 0; i < n; ++i) {
    const float v = std::clamp(x[i], -1.0f, 1.0f);
    const auto s = static_cast<std::int16_t>(std::lrint(v * 32767.0f));
    c.payload[2 * i] = static_cast<std::uint8_t>(s & 0xff);
    c.payload[2 * i + 1] = static_cast<std::uint8_t>((s >> 8) & 0xff);
  }
  return c;
}

Session::Session(const VoiceSet& voices, std::shared_ptr<daemon::SpeakerPool> speakers, SessionLimits limits,
                 std::string program_version)
    : voices_(voices),
      speakers_(speakers ? std::move(speakers) : daemon::SpeakerPool::create()),
      limits_(limits),
      version_(std::move(program_version)) {}

nlohmann::json Session::info() const {
  nlohmann::json vs = nlohmann::json::array();
  for (const auto& v : voices_.voices) {
    const auto url = v->metadata.count("url") ? v->metadata.at("url") : std::string();
    vs.push_back({{"name", v->name},
                  {"description", v->metadata.count("description") ? v->metadata.at("description") : v->name},
                  {"attribution", {{"name", v->credits}, {"url", url}}},
                  {"installed", true},
                  {"version", nullptr},
                  {"languages", languages(v->language)}});
  }
  nlohmann::json tts = {{"name", "sidewinder"},
                        {"description", "Sidewinder: selective state space model speech synthesis"},
                        {"attribution", {{"name", "Sidewinder (GPL-3.0-or-later)"}, {"url", ""}}},
                        {"installed", true},
                        {"version", version_.empty() ? nlohmann::json(nullptr) : nlohmann::json(version_)},
                        {"voices", vs},
                        {"supports_synthesize_streaming", true}};
  return {{"tts", nlohmann::json::array({tts})}};
}

const speech::VoiceModel* Session::choose_voice(const nlohmann::json& data, std::string& why) const {
  if (voices_.voices.empty()) {
    why = "no voices loaded";
    return nullptr;
  }
  const auto it = data.find("voice");
  if (it == data.end() || it->is_null())
    return voices_.default_voice().get();
  if (!it->is_object()) {
    why = "\"voice\" is not an object";
    return nullptr;
  }
  if (const auto n = it->find("name"); n != it->end() && !n->is_null()) {
    if (!n->is_string()) {
      why = "\"voice.name\" is not a string";
      return nullptr;
    }
    if (const auto* v = voices_.find(n->get<std::string>()))
      return v;
    why = "unknown voice '" + n->get<std::string>() + "'";
    return nullptr;
  }
  if (const auto l = it->find("language"); l != it->end() && l->is_string()) {
    std::string want = l->get<std::string>();
    std::replace(want.begin(), want.end(), '_', '-');
    for (const auto& v : voices_.voices)  // exact, then the language part alone
      if (v->language == want)
        return v.get();
    for (const auto& v : voices_.voices)
      if (v->language.substr(0, v->language.find('-')) == want.substr(0, want.find('-')))
        return v.get();
    why = "no voice for language '" + l->get<std::string>() + "'";
    return nullptr;
  }
  return voices_.default_voice().get();
}

Step Session::error(const std::string& text, const std::string& code) {
  Step s;
  s.event.type = "error";
  s.event.data = {{"text", text}, {"code", code}};
  return s;
}

Step Session::speak(const std::string& text, const speech::VoiceModel& voice, bool ssml) {
  speech::SpeakOptions o;
  o.ssml = ssml;
  o.rate = std::clamp(voices_.rate(), 0.25, 4.0);
  Step s;
  s.rate = voice.sample_rate();
  s.speaker = speakers_->acquire(voices_.shared(&voice));
  s.speech.emplace(s.speaker->begin(text, o));  // MarkupError here, before any audio
  if (voices_.also_play)
    voices_.also_play(text, voices_.shared(&voice), o);
  return s;
}

bool Session::handle(const Event& e, const Emit& emit) {
  for (auto& st : plan(e)) {
    if (!st.speech) {
      if (!emit(st.event))
        return false;
      continue;
    }
    if (!emit(audio_start(st.rate)))
      return false;
    std::vector<float> buf(limits_.samples_per_chunk);
    std::size_t made = 0;
    while (std::size_t n = st.speech->pull(buf.data(), buf.size())) {
      if (!emit(audio_chunk(st.rate, buf.data(), n, made)))
        return false;
      made += n;
    }
    if (!emit(audio_stop(st.rate, made)))
      return false;
  }
  return true;
}

std::vector<Step> Session::plan(const Event& e) {
  std::vector<Step> out;
  auto one = [&](Step st) {
    out.push_back(std::move(st));
    return out;
  };
  const auto& d = e.data;
  auto text_of = [&](std::string& text) {
    const auto t = d.find("text");
    if (t == d.end() || !t->is_string())
      return false;
    text = t->get<std::string>();
    return true;
  };
  auto format_of = [&](bool& ssml, std::string& why) {
    const auto f = d.find("text_format");
    if (f == d.end() || f->is_null())
      return ssml = false, true;
    if (f->is_string() && (*f == "text" || *f == "ssml"))
      return ssml = (*f == "ssml"), true;
    why = "\"text_format\" must be \"text\" or \"ssml\"";
    return false;
  };
  try {
    if (e.type == "describe") {
      Event r;
      r.type = "info";
      r.data = info();
      return one(Step{r, std::nullopt, nullptr, 16000});
    }
    if (e.type == "ping") {
      Event r;
      r.type = "pong";
      if (d.contains("text"))
        r.data["text"] = d["text"];
      return one(Step{r, std::nullopt, nullptr, 16000});
    }
    if (e.type == "synthesize") {
      if (in_stream_)
        return out;  // the compatibility copy of the streamed text
      std::string text, why;
      if (!text_of(text))
        return one(error("synthesize: no \"text\" string", "bad-request"));
      if (text.size() > limits_.max_text_bytes)
        return one(error("synthesize: text of " + std::to_string(text.size()) + " bytes is over the limit of " +
                             std::to_string(limits_.max_text_bytes),
                         "text-too-long"));
      const auto* voice = choose_voice(d, why);
      if (!voice)
        return one(error("synthesize: " + why, "unknown-voice"));
      bool ssml = false;
      if (!format_of(ssml, why))
        return one(error("synthesize: " + why, "bad-request"));
      return one(speak(text, *voice, ssml));
    }
    if (e.type == "synthesize-start") {
      std::string why;
      const auto* v = choose_voice(d, why);
      if (!v)
        return one(error("synthesize-start: " + why, "unknown-voice"));
      bool ssml = false;
      if (!format_of(ssml, why))
        return one(error("synthesize-start: " + why, "bad-request"));
      in_stream_ = true;
      pending_.clear();
      stream_voice_ = v;
      stream_ssml_ = ssml;
      return out;
    }
    if (e.type == "synthesize-chunk") {
      if (!in_stream_)
        return one(error("synthesize-chunk outside synthesize-start ... synthesize-stop", "bad-request"));
      std::string text;
      if (!text_of(text))
        return one(error("synthesize-chunk: no \"text\" string", "bad-request"));
      if (pending_.size() + text.size() > limits_.max_text_bytes)
        return one(error("synthesize-chunk: over " + std::to_string(limits_.max_text_bytes) +
                             " bytes of text without a sentence end",
                         "text-too-long"));
      pending_ += text;
      if (stream_ssml_)
        return out;  // markup spans chunks: spoken whole at synthesize-stop
      if (const std::size_t cut = sentence_cut(pending_)) {
        const std::string sentence = pending_.substr(0, cut);
        pending_.erase(0, cut);
        if (!blank(sentence))
          return one(speak(sentence, *stream_voice_, false));
      }
      return out;
    }
    if (e.type == "synthesize-stop") {
      if (!in_stream_)
        return one(error("synthesize-stop outside synthesize-start ... synthesize-stop", "bad-request"));
      in_stream_ = false;
      const std::string rest = std::move(pending_);
      pending_.clear();
      if (!blank(rest))
        out.push_back(speak(rest, *stream_voice_, stream_ssml_));
      Event r;
      r.type = "synthesize-stopped";
      return one(Step{r, std::nullopt, nullptr, 16000});
    }
    return one(error("unknown event type '" + e.type + "'", "unknown-event"));
  } catch (const speech::MarkupError& ex) {
    return one(error(e.type + ": markup: " + ex.what(), "bad-request"));
  } catch (const std::exception& ex) {
    return one(error(e.type + ": " + ex.what(), "synthesis-failed"));
  }
}

}  // namespace sw::wyoming

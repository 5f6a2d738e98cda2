// SPDX-License-Identifier: GPL-3.0-or-later
// The C API (include/sidewinder.h) over speech::Speaker: handles own C++
// objects, every exception becomes a status and a thread-local message.
#include <exception>
#include <memory>
#include <new>
#include <optional>
#include <string>

#include "sidewinder.h"
#include "sidewinder/speech/markup.h"
#include "sidewinder/speech/speaker.h"
#include "sidewinder/speech/voice_loader.h"
#include "sidewinder/ssm/safetensors.h"

struct sw_voice {
  std::shared_ptr<const sw::speech::VoiceModel> model;
};

struct sw_speaker {
  std::unique_ptr<sw::speech::Speaker> speaker;
  std::optional<sw::speech::Speech> speech;
};

namespace {

thread_local std::string g_error;

sw_status fail(sw_status s, std::string message) {
  g_error = std::move(message);
  return s;
}

// Runs f, mapping exceptions to statuses.
template <class F>
sw_status guarded(F&& f) {
  try {
    g_error.clear();
    return f();
  } catch (const sw::ssm::ModelLoadError& e) {
    return fail(SW_ERROR_VOICE, e.what());
  } catch (const sw::speech::MarkupError& e) {
    return fail(SW_ERROR_MARKUP, e.what());
  } catch (const sw::speech::SpeakError& e) {
    return fail(SW_ERROR_ARGUMENT, e.what());
  } catch (const std::bad_alloc&) {
    return fail(SW_ERROR_INTERNAL, "out of memory");
  } catch (const std::exception& e) {
    return fail(SW_ERROR_INTERNAL, e.what());
  } catch (...) {
    return fail(SW_ERROR_INTERNAL, "unknown error");
  }
}

}  // namespace

extern "C" {

const char* sw_version(void) {
  return SIDEWINDER_VERSION;
}

const char* sw_last_error(void) {
  return g_error.c_str();
}

void sw_speak_options_init(sw_speak_options* o) {
  if (!o)
    return;
  const sw::speech::SpeakOptions d;
  o->rate = d.rate;
  o->pitch_semitones = d.pitch_semitones;
  o->volume = d.volume;
  o->ssml = 0;
  o->seed = d.seed;
}

sw_status sw_voice_load(const char* path, sw_voice** voice) {
  if (!path || !voice)
    return fail(SW_ERROR_ARGUMENT, "sw_voice_load: null argument");
  *voice = nullptr;
  return guarded([&] {
    auto v = std::make_unique<sw_voice>();
    v->model = sw::speech::load_voice(path);
    *voice = v.release();
    return SW_OK;
  });
}

void sw_voice_free(sw_voice* voice) {
  delete voice;
}

int sw_voice_sample_rate(const sw_voice* voice) {
  return voice ? voice->model->sample_rate() : 0;
}

const char* sw_voice_info(const sw_voice* voice, const char* key) {
  if (!voice || !key)
    return "";
  const std::string k = key;
  const auto& m = *voice->model;
  if (k == "name")
    return m.name.c_str();
  if (k == "language")
    return m.language.c_str();
  if (k == "license")
    return m.license.c_str();
  if (k == "credits")
    return m.credits.c_str();
  return "";
}

sw_status sw_speaker_new(const sw_voice* voice, sw_speaker** speaker) {
  if (!voice || !speaker)
    return fail(SW_ERROR_ARGUMENT, "sw_speaker_new: null argument");
  *speaker = nullptr;
  return guarded([&] {
    auto s = std::make_unique<sw_speaker>();
    s->speaker = std::make_unique<sw::speech::Speaker>(voice->model);
    *speaker = s.release();
    return SW_OK;
  });
}

void sw_speaker_free(sw_speaker* speaker) {
  delete speaker;
}

sw_status sw_speaker_start(sw_speaker* speaker, const char* text, ptrdiff_t len, const sw_speak_options* options) {
  if (!speaker || !text)
    return fail(SW_ERROR_ARGUMENT, "sw_speaker_start: null argument");
  const std::size_t n = len < 0 ? std::char_traits<char>::length(text) : std::size_t(len);
  if (n > SW_MAX_TEXT_BYTES)
    return fail(SW_ERROR_LIMIT,
                "text of " + std::to_string(n) + " bytes is longer than " + std::to_string(SW_MAX_TEXT_BYTES));
  return guarded([&] {
    speaker->speech.reset();
    sw::speech::SpeakOptions o;
    if (options) {
      o.rate = options->rate;
      o.pitch_semitones = options->pitch_semitones;
      o.volume = options->volume;
      o.ssml = options->ssml != 0;
      o.seed = options->seed;
    }
    speaker->speech.emplace(speaker->speaker->begin(std::string_view(text, n), o));
    return SW_OK;
  });
}

sw_status sw_speaker_pull(sw_speaker* speaker, float* out, size_t max, size_t* written) {
  if (written)
    *written = 0;
  if (!speaker || !out || !written)
    return fail(SW_ERROR_ARGUMENT, "sw_speaker_pull: null argument");
  if (!speaker->speech)
    return SW_END;
  return guarded([&] {
    *written = speaker->speech->pull(out, max);
    if (*written == 0 && max > 0) {
      speaker->speech.reset();
      return SW_END;
    }
    return SW_OK;
  });
}

void sw_speaker_set_f0(sw_speaker* speaker, float hz) {
  if (speaker)
    speaker->speaker->stream().set_f0_hz(hz);
}

}  // extern "C"

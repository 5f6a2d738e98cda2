// SPDX-License-Identifier: GPL-3.0-or-later
// One Wyoming connection's text-to-speech logic, without the socket: events
// in, events out (ref: OHF-Voice/wyoming tts.py, info.py; notes:
// shared/notes/speech-protocols.md sections 3.2-3.3, 3.6).
//   describe                      -> info (voices, languages, attribution,
//                                    supports_synthesize_streaming: true)
//   synthesize                    -> audio-start, audio-chunk x N, audio-stop
//   synthesize-start, -chunk x N  -> per finished sentence: audio-start,
//   synthesize-stop                  chunks, audio-stop; then synthesize-stopped
//   ping                          -> pong
// A `synthesize` inside a stream is the compatibility copy of the text and is
// ignored. Bad requests (unknown voice, bad SSML, text over the limit, an
// unknown event type) get an `error` event and the connection goes on.
//
// The logic is split from the audio: plan() turns an event into steps (events
// to send, and speech to speak with a Speaker lent by the pool), so the
// server can hand the speech to the engine and stream it as it comes;
// handle() runs the same steps synchronously (tests, simple embedders).
// Network-thread code: plan() phonemises the first check of the text
// (markup), allocates and may take espeak-ng's lock; never an audio thread.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sidewinder/daemon/speaker_pool.h"
#include "sidewinder/daemon/voice_controls.h"
#include "sidewinder/daemon/wyoming.h"
#include "sidewinder/speech/speaker.h"
#include "sidewinder/speech/voice_model.h"

namespace sw::wyoming {

// The voices a daemon serves; the first is the default (unless the live
// controls pick another).
struct VoiceSet {
  std::vector<std::shared_ptr<const speech::VoiceModel>> voices;
  const daemon::VoiceControls* controls = nullptr;  // live default voice and rate (MIDI)
  // sidewinderd --play: every text spoken is also said aloud here (any thread; must not block).
  std::function<void(const std::string&, std::shared_ptr<const speech::VoiceModel>, const speech::SpeakOptions&)>
      also_play;
  std::shared_ptr<const speech::VoiceModel> default_voice() const;
  double rate() const { return controls ? double(controls->rate.load()) : 1.0; }
  const speech::VoiceModel* find(const std::string& name) const;
  std::shared_ptr<const speech::VoiceModel> shared(const speech::VoiceModel* v) const;
};

struct SessionLimits {
  std::size_t max_text_bytes = 10000;    // one synthesize, or a stream's unspoken text
  std::size_t samples_per_chunk = 1024;  // audio-chunk size (64 ms at 16 kHz)
};

// What the connection does for an event, in order: send `event`, or (when
// `speech` is set) speak it: audio-start, audio-chunk x N, audio-stop.
struct Step {
  Event event;
  std::optional<speech::Speech> speech;
  daemon::SpeakerPool::Lease speaker;  // the Speaker `speech` speaks with
  int rate = 16000;
};

class Session {
 public:
  // Returns false when the peer is gone: synthesis stops.
  using Emit = std::function<bool(const Event&)>;

  Session(const VoiceSet& voices, std::shared_ptr<daemon::SpeakerPool> speakers, SessionLimits limits = {},
          std::string program_version = "");

  // The steps for one event; errors (bad request, unknown voice, ...) are an
  // `error` event among them. Does not throw for anything the client sent.
  std::vector<Step> plan(const Event& e);

  // plan(e), run now: speech pulled here, chunked and emitted. Returns false
  // if emit did.
  bool handle(const Event& e, const Emit& emit);

  bool streaming() const { return in_stream_; }
  const SessionLimits& limits() const { return limits_; }

 private:
  Step speak(const std::string& text, const speech::VoiceModel& voice, bool ssml);
  static Step error(const std::string& text, const std::string& code);
  nlohmann::json info() const;
  // Picks the voice of a synthesize/-start event's data ("voice": {name, language}).
  const speech::VoiceModel* choose_voice(const nlohmann::json& data, std::string& why) const;

  const VoiceSet& voices_;
  std::shared_ptr<daemon::SpeakerPool> speakers_;
  SessionLimits limits_;
  std::string version_;
  // synthesize-start ... synthesize-stop
  bool in_stream_ = false;
  std::string pending_;  // text received, not yet spoken
  const speech::VoiceModel* stream_voice_ = nullptr;
  bool stream_ssml_ = false;
};

// The events around a spoken text: audio-start / audio-stop (timestamp in ms
// of audio so far) and one audio-chunk of n samples (s16le), beginning
// `offset` samples into the text.
Event audio_start(int rate);
Event audio_stop(int rate, std::size_t samples);
Event audio_chunk(int rate, const float* samples, std::size_t n, std::size_t offset);

// Where a stream's text can be cut: after the last sentence end (. ? ! then
// white space) in text; 0 if there is none yet.
std::size_t sentence_cut(const std::string& text);

}  // namespace sw::wyoming

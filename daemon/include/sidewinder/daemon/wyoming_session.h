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
// Network-thread code: handle() synthesises as it emits, allocates and takes
// espeak-ng's lock; it never touches an audio thread.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sidewinder/daemon/wyoming.h"
#include "sidewinder/speech/speaker.h"
#include "sidewinder/speech/voice_model.h"

namespace sw::wyoming {

// The voices a daemon serves; the first is the default.
struct VoiceSet {
  std::vector<std::shared_ptr<const speech::VoiceModel>> voices;
  const speech::VoiceModel* find(const std::string& name) const;
};

struct SessionLimits {
  std::size_t max_text_bytes = 10000;    // one synthesize, or a stream's unspoken text
  std::size_t samples_per_chunk = 1024;  // audio-chunk size (64 ms at 16 kHz)
};

class Session {
 public:
  // Returns false when the peer is gone: synthesis stops.
  using Emit = std::function<bool(const Event&)>;

  Session(const VoiceSet& voices, SessionLimits limits = {}, std::string program_version = "");

  // Handles one event; emits the replies. Returns false if emit did.
  bool handle(const Event& e, const Emit& emit);

  bool streaming() const { return in_stream_; }

 private:
  bool speak(const std::string& text, const speech::VoiceModel& voice, bool ssml, const Emit& emit);
  bool error(const Emit& emit, const std::string& text, const std::string& code);
  nlohmann::json info() const;
  // Picks the voice of a synthesize/-start event's data ("voice": {name, language}).
  const speech::VoiceModel* choose_voice(const nlohmann::json& data, std::string& why) const;
  speech::Speaker& speaker_for(const speech::VoiceModel& v);

  const VoiceSet& voices_;
  SessionLimits limits_;
  std::string version_;
  std::map<const speech::VoiceModel*, std::unique_ptr<speech::Speaker>> speakers_;
  // synthesize-start ... synthesize-stop
  bool in_stream_ = false;
  std::string pending_;  // text received, not yet spoken
  const speech::VoiceModel* stream_voice_ = nullptr;
  bool stream_ssml_ = false;
};

// Where a stream's text can be cut: after the last sentence end (. ? ! then
// white space) in text; 0 if there is none yet.
std::size_t sentence_cut(const std::string& text);

}  // namespace sw::wyoming

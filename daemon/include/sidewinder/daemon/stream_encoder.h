// SPDX-License-Identifier: GPL-3.0-or-later
// Audio encoded as it is made, for a streamed HTTP response: the bytes of
// each block leave as soon as the codec gives them up, never the whole file
// at the end. The formats of the OpenAI speech API (ref:
// platform.openai.com/docs/api-reference/audio/createSpeech):
//   wav   RIFF/WAVE s16le; the sizes are 0xFFFFFFFF ("until the end"), as a
//         streamed WAV must be (written here: 44 bytes)
//   pcm   raw s16le, mono, 24 kHz (the API's contract; resampled by libsoxr)
//   flac  FLAC in its native container       } libsndfile, through a virtual
//   opus  Opus in Ogg                        } file that only appends: what
//   mp3   MPEG-1/2 layer III (LAME)          } was sent is not rewritten, so a
//                                              total-length field left by the
//                                              codec's header stays "unknown"
// Not for an audio thread: the codecs allocate. One thread at a time.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace sw::daemon {

enum class AudioFormat { wav, pcm, flac, opus, mp3 };

std::optional<AudioFormat> parse_audio_format(const std::string& name);
const char* format_name(AudioFormat f);
const char* content_type(AudioFormat f);
constexpr int kPcmRate = 24000;

class StreamEncoder {
 public:
  // Gets the encoded bytes as they come; returns false to stop (the client is gone).
  using Sink = std::function<bool(const char* bytes, std::size_t n)>;

  // Mono float input at `input_rate`. Throws std::runtime_error naming the
  // format if the codec refuses the configuration.
  StreamEncoder(AudioFormat format, int input_rate, Sink sink);
  ~StreamEncoder();
  StreamEncoder(const StreamEncoder&) = delete;
  StreamEncoder& operator=(const StreamEncoder&) = delete;

  // Encodes n samples (clipped to [-1, 1]) and passes on what the codec has
  // finished. False if the sink refused.
  bool write(const float* samples, std::size_t n);
  // Flushes the codec's tail. False if the sink refused. Call once.
  bool finish();

  int output_rate() const noexcept;  // the rate the response carries
  std::size_t bytes_sent() const noexcept;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace sw::daemon

// SPDX-License-Identifier: GPL-3.0-or-later
#include "sidewinder/daemon/stream_encoder.h"

#include <sndfile.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "sidewinder/dsp/resampler.h"

namespace sw::daemon {

std::optional<AudioFormat> parse_audio_format(const std::string& n) {
  if (n == "wav")
    return AudioFormat::wav;
  if (n == "pcm")
    return AudioFormat::pcm;
  if (n == "flac")
    return AudioFormat::flac;
  if (n == "opus")
    return AudioFormat::opus;
  if (n == "mp3")
    return AudioFormat::mp3;
  return std::nullopt;
}

const char* format_name(AudioFormat f) {
  switch (f) {
    case AudioFormat::wav:
      return "wav";
    case AudioFormat::pcm:
      return "pcm";
    case AudioFormat::flac:
      return "flac";
    case AudioFormat::opus:
      return "opus";
    case AudioFormat::mp3:
      return "mp3";
  }
  return "?";
}

const char* content_type(AudioFormat f) {
  switch (f) {
    case AudioFormat::wav:
      return "audio/wav";
    case AudioFormat::pcm:
      return "audio/pcm";
    case AudioFormat::flac:
      return "audio/flac";
    case AudioFormat::opus:
      return "audio/ogg";
    case AudioFormat::mp3:
      return "audio/mpeg";
  }
  return "application/octet-stream";
}

// The append-only file libsndfile writes into. Bytes before `sent` have left;
// a seek back there (a codec rewriting its header's length at close) writes
// nothing. Bytes from `sent` on are held until flush().
struct AppendOnlyFile {
  std::vector<char> held;  // [len - sent]
  sf_count_t sent = 0, pos = 0, len = 0;

  static sf_count_t get_len(void* u) { return static_cast<AppendOnlyFile*>(u)->len; }
  static sf_count_t seek(sf_count_t off, int whence, void* u) {
    auto& f = *static_cast<AppendOnlyFile*>(u);
    const sf_count_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? f.pos : f.len;
    if (base + off < 0)
      return -1;
    f.pos = base + off;
    return f.pos;
  }
  static sf_count_t read(void* ptr, sf_count_t count, void* u) {
    auto& f = *static_cast<AppendOnlyFile*>(u);
    if (f.pos < f.sent || f.pos >= f.len)
      return 0;
    const sf_count_t n = std::min(count, f.len - f.pos);
    std::memcpy(ptr, f.held.data() + (f.pos - f.sent), static_cast<std::size_t>(n));
    f.pos += n;
    return n;
  }
  static sf_count_t write(const void* ptr, sf_count_t count, void* u) {
    auto& f = *static_cast<AppendOnlyFile*>(u);
    const char* p = static_cast<const char*>(ptr);
    sf_count_t skip = 0;
    if (f.pos < f.sent)
      skip = std::min(count, f.sent - f.pos);  // already on the wire
    const sf_count_t at = f.pos + skip, n = count - skip;
    if (n > 0) {
      const auto end = static_cast<std::size_t>(at + n - f.sent);
      if (f.held.size() < end)
        f.held.resize(end);
      std::memcpy(f.held.data() + (at - f.sent), p + skip, static_cast<std::size_t>(n));
    }
    f.pos += count;
    f.len = std::max(f.len, f.pos);
    return count;
  }
  static sf_count_t tell(void* u) { return static_cast<AppendOnlyFile*>(u)->pos; }
};

struct StreamEncoder::Impl {
  AudioFormat format;
  int in_rate, out_rate;
  Sink sink;
  std::size_t bytes = 0;
  bool ok = true, finished = false;
  // libsndfile formats
  AppendOnlyFile file;
  SF_VIRTUAL_IO vio{&AppendOnlyFile::get_len, &AppendOnlyFile::seek, &AppendOnlyFile::read, &AppendOnlyFile::write,
                    &AppendOnlyFile::tell};
  SNDFILE* sf = nullptr;
  // pcm
  std::unique_ptr<dsp::Resampler> resampler;
  std::vector<float> scratch;
  std::string bytes_out;

  bool send(const char* p, std::size_t n) {
    if (!ok || n == 0)
      return ok;
    ok = sink(p, n);
    bytes += n;
    return ok;
  }
  bool flush_file() {
    if (file.held.empty())
      return ok;
    const bool r = send(file.held.data(), file.held.size());
    file.sent += static_cast<sf_count_t>(file.held.size());
    file.held.clear();
    return r;
  }
  bool send_s16(const float* x, std::size_t n) {
    bytes_out.resize(2 * n);
    for (std::size_t i = 0; i < n; ++i) {
      const auto s = static_cast<std::int16_t>(std::lrint(std::clamp(x[i], -1.0f, 1.0f) * 32767.0f));
      bytes_out[2 * i] = static_cast<char>(s & 0xff);
      bytes_out[2 * i + 1] = static_cast<char>((s >> 8) & 0xff);
    }
    return send(bytes_out.data(), bytes_out.size());
  }
};

namespace {

void put32(std::string& s, std::uint32_t v) {
  for (int i = 0; i < 4; ++i)
    s += static_cast<char>((v >> (8 * i)) & 0xff);
}
void put16(std::string& s, std::uint16_t v) {
  s += static_cast<char>(v & 0xff);
  s += static_cast<char>(v >> 8);
}

}  // namespace

StreamEncoder::StreamEncoder(AudioFormat format, int input_rate, Sink sink) : impl_(std::make_unique<Impl>()) {
  auto& m = *impl_;
  m.format = format;
  m.in_rate = m.out_rate = input_rate;
  m.sink = std::move(sink);
  switch (format) {
    case AudioFormat::wav: {
      std::string h = "RIFF";
      put32(h, 0xFFFFFFFFu);
      h += "WAVEfmt ";
      put32(h, 16);
      put16(h, 1);  // PCM
      put16(h, 1);  // mono
      put32(h, static_cast<std::uint32_t>(input_rate));
      put32(h, static_cast<std::uint32_t>(input_rate * 2));
      put16(h, 2);
      put16(h, 16);
      h += "data";
      put32(h, 0xFFFFFFFFu);
      m.bytes_out = h;  // sent with the first samples
      break;
    }
    case AudioFormat::pcm:
      m.out_rate = kPcmRate;
      if (input_rate != kPcmRate)
        m.resampler = std::make_unique<dsp::Resampler>(input_rate, kPcmRate, 1, dsp::Resampler::Quality::high);
      break;
    default: {
      SF_INFO info{};
      info.samplerate = input_rate;
      info.channels = 1;
      info.format = format == AudioFormat::flac   ? (SF_FORMAT_FLAC | SF_FORMAT_PCM_16)
                    : format == AudioFormat::opus ? (SF_FORMAT_OGG | SF_FORMAT_OPUS)
                                                  : (SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III);
      m.sf = sf_open_virtual(&m.vio, SFM_WRITE, &info, &m.file);
      if (!m.sf)
        throw std::runtime_error(std::string("encoder: ") + format_name(format) + " at " + std::to_string(input_rate) +
                                 " Hz: " + sf_strerror(nullptr));
      if (format == AudioFormat::mp3) {
        // Constant bit rate: a streamed MP3 has no Xing/LAME frame count (it
        // would be written at the end, into bytes already sent), and readers
        // estimate the length from the first frame's bit rate.
        int mode = SF_BITRATE_MODE_CONSTANT;
        sf_command(m.sf, SFC_SET_BITRATE_MODE, &mode, sizeof mode);
      }
    }
  }
}

StreamEncoder::~StreamEncoder() {
  if (impl_->sf)
    sf_close(impl_->sf);
}

bool StreamEncoder::write(const float* x, std::size_t n) {
  auto& m = *impl_;
  if (!m.ok || n == 0)
    return m.ok;
  switch (m.format) {
    case AudioFormat::wav: {
      if (!m.bytes_out.empty() && m.bytes == 0) {  // the header
        const std::string h = m.bytes_out;
        if (!m.send(h.data(), h.size()))
          return false;
      }
      return m.send_s16(x, n);
    }
    case AudioFormat::pcm: {
      if (!m.resampler)
        return m.send_s16(x, n);
      m.scratch.resize(dsp::Resampler::output_frames_for(n, m.in_rate, m.out_rate) + 64);
      std::size_t done = 0;
      while (done < n) {
        std::size_t used = 0;
        const std::size_t got = m.resampler->process(x + done, n - done, &used, m.scratch.data(), m.scratch.size());
        done += used;
        if (!m.send_s16(m.scratch.data(), got))
          return false;
        if (used == 0 && got == 0)
          break;
      }
      return m.ok;
    }
    default: {
      m.scratch.assign(x, x + n);
      for (auto& v : m.scratch)
        v = std::clamp(v, -1.0f, 1.0f);
      if (sf_writef_float(m.sf, m.scratch.data(), static_cast<sf_count_t>(n)) != static_cast<sf_count_t>(n))
        throw std::runtime_error(std::string("encoder: ") + format_name(m.format) + ": " + sf_strerror(m.sf));
      return m.flush_file();
    }
  }
}

bool StreamEncoder::finish() {
  auto& m = *impl_;
  if (m.finished)
    return m.ok;
  m.finished = true;
  switch (m.format) {
    case AudioFormat::wav:
      if (m.bytes == 0) {  // nothing spoken: the header alone
        const std::string h = m.bytes_out;
        return m.send(h.data(), h.size());
      }
      return m.ok;
    case AudioFormat::pcm:
      if (m.resampler) {
        m.scratch.resize(4096);
        while (std::size_t got = m.resampler->flush(m.scratch.data(), m.scratch.size()))
          if (!m.send_s16(m.scratch.data(), got))
            return false;
      }
      return m.ok;
    default:
      sf_close(m.sf);  // the codec's tail into the file
      m.sf = nullptr;
      return m.flush_file();
  }
}

int StreamEncoder::output_rate() const noexcept {
  return impl_->out_rate;
}

std::size_t StreamEncoder::bytes_sent() const noexcept {
  return impl_->bytes;
}

}  // namespace sw::daemon

// SPDX-License-Identifier: GPL-3.0-or-later
#include "sidewinder/audio_io/portaudio_device.h"

#include <pa_jack.h>
#include <portaudio.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace sw::audio_io {

namespace {

std::string lower(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string pa_error(PaError e) {
  return Pa_GetErrorText(e);
}

// The device for `w` with the channels wanted; throws naming what was asked for.
PaDeviceIndex pick(const DeviceChoice& w, bool input, bool output) {
  PaHostApiIndex api = Pa_GetDefaultHostApi();
  if (!w.host_api.empty()) {
    api = -1;
    for (PaHostApiIndex i = 0; i < Pa_GetHostApiCount(); ++i)
      if (lower(Pa_GetHostApiInfo(i)->name).find(lower(w.host_api)) != std::string::npos)
        api = i;
    if (api < 0)
      throw AudioDeviceError("audio: no host API '" + w.host_api +
                             "' (is its server running? sidewinder live --list-devices lists them)");
  }
  const auto fits = [&](PaDeviceIndex d) {
    const PaDeviceInfo* i = Pa_GetDeviceInfo(d);
    return i && (!input || i->maxInputChannels >= 1) && (!output || i->maxOutputChannels >= 1);
  };
  if (w.device.empty()) {
    const PaHostApiInfo* h = Pa_GetHostApiInfo(api);
    if (!h)
      throw AudioDeviceError("audio: no host API available");
    PaDeviceIndex d = output ? h->defaultOutputDevice : h->defaultInputDevice;
    if (d != paNoDevice && fits(d))
      return d;
    for (int k = 0; k < h->deviceCount; ++k) {
      const PaDeviceIndex dd = Pa_HostApiDeviceIndexToDeviceIndex(api, k);
      if (fits(dd))
        return dd;
    }
    throw AudioDeviceError(std::string("audio: no default ") +
                           (input && output ? "duplex"
                            : output        ? "output"
                                            : "input") +
                           " device on " + h->name);
  }
  char* end = nullptr;
  const long idx = std::strtol(w.device.c_str(), &end, 10);
  if (end && *end == '\0') {
    if (idx < 0 || idx >= Pa_GetDeviceCount() || !fits(static_cast<PaDeviceIndex>(idx)))
      throw AudioDeviceError("audio: device " + w.device + " does not exist or lacks the channels");
    return static_cast<PaDeviceIndex>(idx);
  }
  for (PaDeviceIndex d = 0; d < Pa_GetDeviceCount(); ++d) {
    const PaDeviceInfo* i = Pa_GetDeviceInfo(d);
    if ((w.host_api.empty() || i->hostApi == api) && fits(d) &&
        lower(i->name).find(lower(w.device)) != std::string::npos)
      return d;
  }
  throw AudioDeviceError("audio: no device named '" + w.device + "' (sidewinder live --list-devices lists them)");
}

}  // namespace

PortAudio::PortAudio() {
  // JACK's client name is read when PortAudio first starts, and kept as a pointer.
  static const char* const kClient = "sidewinder";
  PaJack_SetClientName(kClient);
  if (const PaError e = Pa_Initialize(); e != paNoError)
    throw AudioDeviceError("audio: PortAudio: " + pa_error(e));
}

PortAudio::~PortAudio() {
  Pa_Terminate();
}

std::vector<DeviceInfo> PortAudio::devices() {
  std::vector<DeviceInfo> out;
  for (PaDeviceIndex d = 0; d < Pa_GetDeviceCount(); ++d) {
    const PaDeviceInfo* i = Pa_GetDeviceInfo(d);
    const PaHostApiInfo* h = Pa_GetHostApiInfo(i->hostApi);
    DeviceInfo x;
    x.index = d;
    x.name = i->name;
    x.host_api = h ? h->name : "?";
    x.max_inputs = i->maxInputChannels;
    x.max_outputs = i->maxOutputChannels;
    x.default_rate = i->defaultSampleRate;
    x.default_input = h && h->defaultInputDevice == d;
    x.default_output = h && h->defaultOutputDevice == d;
    out.push_back(x);
  }
  return out;
}

double PortAudio::default_rate(const DeviceChoice& where, bool input, bool output) {
  return Pa_GetDeviceInfo(pick(where, input, output))->defaultSampleRate;
}

std::string PortAudio::version() {
  return Pa_GetVersionText();
}

// ---------------------------------------------------------------- Player

Player::Player(const DeviceChoice& where, double rate, unsigned period, std::size_t ring_frames) : ring_(ring_frames) {
  const PaDeviceIndex d = pick(where, false, true);
  const PaDeviceInfo* info = Pa_GetDeviceInfo(d);
  device_ = info->name;
  PaStreamParameters out{};
  out.device = d;
  out.channelCount = 1;
  out.sampleFormat = paFloat32;
  out.suggestedLatency = info->defaultLowOutputLatency;
  if (const PaError e = Pa_OpenStream(&stream_, nullptr, &out, rate, period ? period : paFramesPerBufferUnspecified,
                                      paClipOff, reinterpret_cast<PaStreamCallback*>(&Player::callback), this);
      e != paNoError)
    throw AudioDeviceError("audio: cannot open '" + device_ + "' for output at " + std::to_string(int(rate)) +
                           " Hz: " + pa_error(e));
  if (const PaStreamInfo* si = Pa_GetStreamInfo(stream_))
    latency_s_ = si->outputLatency;
}

Player::~Player() {
  stop();
  if (stream_)
    Pa_CloseStream(stream_);
}

void Player::start() {
  if (const PaError e = Pa_StartStream(stream_); e != paNoError)
    throw AudioDeviceError("audio: cannot start '" + device_ + "': " + pa_error(e));
}

void Player::stop() {
  if (stream_ && Pa_IsStreamActive(stream_) == 1)
    Pa_StopStream(stream_);
}

std::size_t Player::write(const float* x, std::size_t n) noexcept {
  const std::size_t k = ring_.write(x, n);
  if (k)
    fed_.store(true, std::memory_order_release);
  return k;
}

void Player::write_all(const float* x, std::size_t n) {
  while (n) {
    const std::size_t k = write(x, n);
    x += k;
    n -= k;
    if (n)
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

void Player::drain(double timeout_s) {
  ended_.store(true, std::memory_order_release);
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (ring_.size_approx() > 0 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  // and what the device still holds
  std::this_thread::sleep_for(std::chrono::duration<double>(std::min(latency_s_, 1.0)));
}

int Player::callback(const void*, void* output, unsigned long frames, const PaStreamCallbackTimeInfo*, unsigned long,
                     void* self) noexcept {
  static_cast<Player*>(self)->render(static_cast<float*>(output), frames);
  return paContinue;
}

void Player::render(float* out, std::size_t frames) noexcept {
  auto& p = *this;
  const std::size_t got = p.ring_.read(out, frames);
  if (got < frames) {
    std::fill(out + got, out + frames, 0.0f);
    // Short before anything came, or after the producer's end: not an underrun.
    if (p.fed_.load(std::memory_order_acquire) && !p.ended_.load(std::memory_order_acquire)) {
      p.counters_.underruns.fetch_add(1, std::memory_order_relaxed);
      p.counters_.silence_frames.fetch_add(frames - got, std::memory_order_relaxed);
    }
  }
  p.counters_.callbacks.fetch_add(1, std::memory_order_relaxed);
  p.counters_.frames.fetch_add(frames, std::memory_order_relaxed);
}

// ---------------------------------------------------------------- Duplex

Duplex::Duplex(const DeviceChoice& where, double rate, unsigned period, std::size_t block, Process process)
    : block_(block),
      process_(std::move(process)),
      in_ring_(std::max<std::size_t>(4 * block, 8192)),
      out_ring_(std::max<std::size_t>(4 * block, 8192)),
      scratch_(16384) {
  if (block == 0)
    throw AudioDeviceError("audio: block of 0 frames");
  for (auto& r : results_)
    r.store(0);
  sem_init(&sem_, 0, 0);
  const PaDeviceIndex d = pick(where, true, true);
  const PaDeviceInfo* info = Pa_GetDeviceInfo(d);
  device_ = info->name;
  PaStreamParameters in{}, out{};
  in.device = out.device = d;
  in.channelCount = out.channelCount = 1;
  in.sampleFormat = out.sampleFormat = paFloat32;
  in.suggestedLatency = info->defaultLowInputLatency;
  out.suggestedLatency = info->defaultLowOutputLatency;
  if (const PaError e = Pa_OpenStream(&stream_, &in, &out, rate, period ? period : paFramesPerBufferUnspecified,
                                      paClipOff, reinterpret_cast<PaStreamCallback*>(&Duplex::callback), this);
      e != paNoError) {
    sem_destroy(&sem_);
    throw AudioDeviceError("audio: cannot open '" + device_ + "' for input and output at " + std::to_string(int(rate)) +
                           " Hz: " + pa_error(e));
  }
  if (const PaStreamInfo* si = Pa_GetStreamInfo(stream_)) {
    in_latency_s_ = si->inputLatency;
    out_latency_s_ = si->outputLatency;
  }
  const std::vector<float> silence(block_, 0.0f);
  out_ring_.write(silence.data(), silence.size());  // the pipeline's one block of latency
}

Duplex::~Duplex() {
  stop();
  if (stream_)
    Pa_CloseStream(stream_);
  sem_destroy(&sem_);
}

void Duplex::start() {
  running_ = true;
  worker_ = std::thread([this] { work(); });
  if (const PaError e = Pa_StartStream(stream_); e != paNoError) {
    running_ = false;
    sem_post(&sem_);
    worker_.join();
    throw AudioDeviceError("audio: cannot start '" + device_ + "': " + pa_error(e));
  }
}

void Duplex::stop() {
  if (stream_ && Pa_IsStreamActive(stream_) == 1)
    Pa_StopStream(stream_);
  if (running_.exchange(false)) {
    sem_post(&sem_);
    worker_.join();
  }
}

void Duplex::measure_latency(bool on, std::size_t interval) noexcept {
  interval_ = std::max<std::size_t>(interval, 1024);
  measure_.store(on, std::memory_order_release);
}

std::vector<std::int64_t> Duplex::latencies() const {
  const std::size_t n = std::min(n_results_.load(std::memory_order_acquire), kMaxResults);
  std::vector<std::int64_t> out;
  for (std::size_t i = 0; i < n; ++i)
    out.push_back(results_[i].load(std::memory_order_relaxed));
  return out;
}

void Duplex::work() {
  std::vector<float> in(block_), out(block_);  // [block]
  while (running_.load()) {
    sem_wait(&sem_);
    while (in_ring_.size_approx() >= block_) {
      in_ring_.read(in.data(), block_);
      process_(in.data(), out.data(), block_);
      out_ring_.write(out.data(), block_);  // the ring has room for 4 blocks: the callback drains it
    }
  }
}

int Duplex::callback(const void* input, void* output, unsigned long frames, const PaStreamCallbackTimeInfo*,
                     unsigned long, void* self) noexcept {
  static_cast<Duplex*>(self)->exchange(static_cast<const float*>(input), static_cast<float*>(output), frames);
  return paContinue;
}

void Duplex::exchange(const float* in, float* out, std::size_t frames) noexcept {
  auto& d = *this;
  const float* feed = in;
  if (d.measure_.load(std::memory_order_acquire) && frames <= d.scratch_.size()) {
    // The effect gets silence and, every interval, a click; the real input is
    // only watched for the click's return.
    float* s = d.scratch_.data();
    std::fill(s, s + frames, 0.0f);
    for (std::size_t i = 0; i < frames; ++i) {
      const std::int64_t t = d.clock_ + static_cast<std::int64_t>(i);
      if (d.click_at_ >= 0 && t > d.click_at_ && in && std::abs(in[i]) > 0.1f) {
        const std::size_t k = d.n_results_.load(std::memory_order_relaxed);
        if (k < kMaxResults)
          d.results_[k].store(t - d.click_at_, std::memory_order_relaxed);
        d.n_results_.store(k + 1, std::memory_order_release);
        d.click_at_ = -1;
      }
      if (t % static_cast<std::int64_t>(d.interval_) == 0) {
        if (d.click_at_ >= 0)
          d.counters_.lost_clicks.fetch_add(1, std::memory_order_relaxed);  // never came back
        d.click_at_ = t;
      }
      if (d.click_at_ >= 0 && t - d.click_at_ < kClickFrames)
        s[i] = 0.9f;  // a 1 ms burst: survives an effect that would smear a single sample
    }
    feed = s;
  }
  d.clock_ += static_cast<std::int64_t>(frames);
  if (feed && d.in_ring_.write(feed, frames) < frames)
    d.counters_.overruns.fetch_add(1, std::memory_order_relaxed);
  const std::size_t got = d.out_ring_.read(out, frames);
  if (got < frames) {
    std::fill(out + got, out + frames, 0.0f);
    d.counters_.underruns.fetch_add(1, std::memory_order_relaxed);
    d.counters_.silence_frames.fetch_add(frames - got, std::memory_order_relaxed);
  }
  d.counters_.callbacks.fetch_add(1, std::memory_order_relaxed);
  d.counters_.frames.fetch_add(frames, std::memory_order_relaxed);
  sem_post(&d.sem_);
}

}  // namespace sw::audio_io

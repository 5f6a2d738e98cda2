// SPDX-License-Identifier: GPL-3.0-or-later
#include "sidewinder/fx/model_instance.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <numeric>
#include <stdexcept>
#include <string>

namespace sw::fx {
namespace {

// How long the constructor runs silence and then an impulse through twin
// resamplers to measure the chain's buffering lag and its content delay.
constexpr double kMeasureSeconds = 2.0;
// Extra prefill frames beyond the largest lag measured. libsoxr emits its
// output in bursts whose worst case creeps up slowly over time: measured at
// 44.1/96/22.05 kHz hosts, the largest lag after 10 s exceeded the largest
// after 0.5 s by 26/20/11 frames. 64 frames cover that with room; the
// underrun counter and its test watch it.
constexpr std::size_t kPrefillMargin = 64;

bool all_finite(const float* p, std::size_t n) noexcept {
  float acc = 0.0f;
  for (std::size_t i = 0; i < n; ++i)
    acc += p[i] * 0.0f;  // NaN or ±inf makes the product NaN
  return acc == 0.0f;
}

// Prepares the resampler pair of one group. The input resampler's delay is a
// whole number d of model-rate frames (its warm-up ends on the output grid);
// at integer rates h, m with g = gcd(h, m) that is d·h/m host frames, not
// whole unless d is a multiple of m/g. Priming the output resampler with k
// more model-rate frames of silence, (d + k) a multiple of m/g, makes the
// chain's latency a whole number of host frames, so the dry signal can be
// aligned with the wet one exactly. Costs at most m/g - 1 model frames.
void prepare_pair(dsp::BlockResampler& up, dsp::BlockResampler& down, double host_rate, double model_rate, int in_ch,
                  int out_ch, std::size_t max_block) {
  up.prepare(host_rate, model_rate, in_ch, max_block);
  down.prepare(model_rate, host_rate, out_ch, up.max_output_per_call());
  const double h = std::round(host_rate), m = std::round(model_rate), d = std::round(up.delay_frames());
  if (h == host_rate && m == model_rate && h < 1e7 && m < 1e7) {
    const long period = static_cast<long>(m) / std::gcd(static_cast<long>(h), static_cast<long>(m));
    const long k = (period - static_cast<long>(d) % period) % period;
    down.prime(static_cast<std::size_t>(k));
  }
}

struct ChainMeasure {
  std::size_t max_lag = 0;    // max over t of (host frames in - frames out)
  std::size_t max_ahead = 0;  // max over t of (frames out - host frames in)
  double delay = 0.0;         // content delay in host frames, without the prefill
};

// Twin resamplers prepared exactly like the real ones are in exactly the
// real ones' state; running them shows how many frames the real chain has
// produced after any number of input frames (that count depends only on the
// total, not on the partition) and where an impulse comes out.
ChainMeasure measure_chain(double host_rate, double model_rate, std::size_t max_block) {
  dsp::BlockResampler up, down;
  prepare_pair(up, down, host_rate, model_rate, 1, 1, max_block);
  std::vector<float> mid(up.max_output_per_call()), out(down.max_output_per_call());
  const std::size_t total = static_cast<std::size_t>(host_rate * kMeasureSeconds);
  const std::size_t impulse_at = total / 2;
  std::vector<float> response;
  response.reserve(total);
  ChainMeasure m;
  std::size_t produced = 0;
  for (std::size_t t = 0; t < total; ++t) {
    const float x = t == impulse_at ? 1.0f : 0.0f;
    const std::size_t k = up.process(&x, 1, mid.data(), mid.size());
    const std::size_t j = down.process(mid.data(), k, out.data(), out.size());
    response.insert(response.end(), out.begin(), out.begin() + static_cast<std::ptrdiff_t>(j));
    produced += j;
    m.max_lag = std::max(m.max_lag, t + 1 - std::min(t + 1, produced));
    m.max_ahead = std::max(m.max_ahead, produced - std::min(t + 1, produced));
  }
  std::size_t peak = 0;
  for (std::size_t i = 1; i < response.size(); ++i) {
    if (std::fabs(response[i]) > std::fabs(response[peak]))
      peak = i;
  }
  if (response.empty() || !(std::fabs(response[peak]) > 0.1f) || peak == 0 || peak + 1 >= response.size())
    throw std::runtime_error("model instance: could not measure the resampling delay");
  // Parabolic interpolation of the peak (ref: J. O. Smith, Spectral Audio
  // Signal Processing, "Quadratic Interpolation of Spectral Peaks").
  const double a = response[peak - 1], b = response[peak], c = response[peak + 1];
  const double frac = (a - c) / (2.0 * (a - 2.0 * b + c));
  m.delay = static_cast<double>(peak) + frac - static_cast<double>(impulse_at);
  return m;
}

}  // namespace

ModelInstance::ModelInstance(std::shared_ptr<const ssm::Model> model, const HostSpec& spec)
    : model_(std::move(model)), spec_(spec) {
  if (!model_)
    throw std::invalid_argument("model instance: no model");
  const ssm::ModelConfig& c = model_->config();
  if (!c.has_audio_head)
    throw std::invalid_argument("a backbone-only sequence model (no audio.* tensors) cannot process audio");
  if (!(c.sample_rate > 0.0))
    throw std::invalid_argument("the model declares no sample rate");
  if (!(spec.sample_rate >= 1000.0 && spec.sample_rate <= 1536000.0))
    throw std::invalid_argument("sample rate must be 1 kHz .. 1536 kHz (got " + std::to_string(spec.sample_rate) + ")");
  if (spec.max_block_size < 1 || spec.max_block_size > 65536)
    throw std::invalid_argument("host block size must be 1 .. 65536");
  if (spec.channels < 1 || spec.channels > 16)
    throw std::invalid_argument("channel count must be 1 .. 16 (got " + std::to_string(spec.channels) + ")");
  const bool per_channel = c.in_channels == 1 && c.out_channels == 1;
  if (!per_channel && c.in_channels != spec.channels) {
    throw std::invalid_argument("the model takes " + std::to_string(c.in_channels) + " channel(s); the host has " +
                                std::to_string(spec.channels));
  }
  {
    auto it = model_->metadata().find("loudness_lufs");
    if (it != model_->metadata().end()) {
      double lufs = 0.0;
      const char* b = it->second.data();
      const auto r = std::from_chars(b, b + it->second.size(), lufs);
      if (r.ec == std::errc() && r.ptr == b + it->second.size() && std::isfinite(lufs)) {
        const double db = std::clamp(kNormalisedLufs - lufs, -24.0, 24.0);
        loudness_gain_ = static_cast<float>(std::pow(10.0, db / 20.0));
      }
    }
  }
  out_channels_ = per_channel ? spec.channels : c.out_channels;
  if (out_channels_ > 16)
    throw std::invalid_argument("the model gives " + std::to_string(out_channels_) + " output channels (at most 16)");
  resampling_ = spec.sample_rate != c.sample_rate;
  const std::size_t B = spec.max_block_size;

  std::size_t prefill = 0, ahead = 0;
  if (resampling_) {
    const ChainMeasure m = measure_chain(spec.sample_rate, c.sample_rate, B);
    prefill = m.max_lag + kPrefillMargin;
    ahead = m.max_ahead + kPrefillMargin;
    latency_ = static_cast<int>(std::lround(static_cast<double>(prefill) + m.delay));
  }
  const int n_groups = per_channel ? spec.channels : 1;
  for (int gi = 0; gi < n_groups; ++gi) {
    Group g;
    g.first_channel = per_channel ? gi : 0;
    g.in_ch = per_channel ? 1 : c.in_channels;
    g.out_ch = per_channel ? 1 : c.out_channels;
    std::size_t model_frames = B;
    if (resampling_) {
      g.up = std::make_unique<dsp::BlockResampler>();
      g.down = std::make_unique<dsp::BlockResampler>();
      prepare_pair(*g.up, *g.down, spec.sample_rate, c.sample_rate, g.in_ch, g.out_ch, B);
      model_frames = g.up->max_output_per_call();
      // holds the prefill, what the chain runs ahead by, and one call's output
      fifo_cap_ = prefill + ahead + B + g.down->max_output_per_call();
      g.fifo.assign(fifo_cap_ * static_cast<std::size_t>(g.out_ch), 0.0f);
      g.fifo_count = prefill;  // the prefill: `prefill` frames of silence
    }
    max_model_frames_ = std::max(max_model_frames_, model_frames);
    g.stream = std::make_unique<ssm::Stream>(model_);
    g.stream->prepare({c.sample_rate, model_frames});
    g.in_il.assign(B * static_cast<std::size_t>(g.in_ch), 0.0f);
    g.model_in.assign(model_frames * static_cast<std::size_t>(g.in_ch), 0.0f);
    g.model_out.assign(model_frames * static_cast<std::size_t>(g.out_ch), 0.0f);
    if (resampling_)
      g.down_out.assign(g.down->max_output_per_call() * static_cast<std::size_t>(g.out_ch), 0.0f);
    groups_.push_back(std::move(g));
  }
  host_out_.assign(B * static_cast<std::size_t>(out_channels_), 0.0f);
}

void ModelInstance::reset() noexcept {
  for (Group& g : groups_)
    g.stream->reset();
}

void ModelInstance::run_model(Group& g, const float* in, float* out, std::size_t frames) noexcept {
  g.stream->process(in, out, frames);
  const std::size_t n = frames * static_cast<std::size_t>(g.out_ch);
  if (!all_finite(out, n)) {
    std::memset(out, 0, n * sizeof(float));
    g.stream->reset();
    ++nonfinite_events_;
  }
}

void ModelInstance::process(const float* const* in, float* const* out, std::size_t n) noexcept {
  std::size_t done = 0;
  while (done < n) {
    const std::size_t piece = std::min(n - done, spec_.max_block_size);
    const float* in_p[16];
    float* out_p[16];
    for (int c = 0; c < spec_.channels; ++c)
      in_p[c] = in[c] + done;
    for (int c = 0; c < out_channels_; ++c)
      out_p[c] = out[c] + done;
    process_piece(in_p, out_p, piece);
    done += piece;
  }
}

void ModelInstance::process_piece(const float* const* in, float* const* out, std::size_t n) noexcept {
  // Every group reads its input before any group writes (out may alias in).
  for (Group& g : groups_) {
    const std::size_t ic = static_cast<std::size_t>(g.in_ch);
    for (std::size_t t = 0; t < n; ++t) {
      for (std::size_t c = 0; c < ic; ++c) {
        const float x = in[g.first_channel + static_cast<int>(c)][t];
        g.in_il[t * ic + c] = std::isfinite(x) ? x : 0.0f;  // a host's NaN never reaches a model or soxr
      }
    }
  }
  for (Group& g : groups_) {
    const std::size_t oc = static_cast<std::size_t>(g.out_ch);
    const float* result = nullptr;
    if (!resampling_) {
      run_model(g, g.in_il.data(), g.model_out.data(), n);
      result = g.model_out.data();
    } else {
      // host rate -> model rate -> model -> host rate -> latency FIFO
      const std::size_t m =
          g.up->process(g.in_il.data(), n, g.model_in.data(), g.model_in.size() / static_cast<std::size_t>(g.in_ch));
      run_model(g, g.model_in.data(), g.model_out.data(), m);
      const std::size_t k = g.down->process(g.model_out.data(), m, g.down_out.data(), g.down_out.size() / oc);
      // push k frames into the FIFO
      for (std::size_t f = 0; f < k; ++f) {
        if (g.fifo_count == fifo_cap_) {  // not expected (sized from the measurement): counted
          underruns_ += k - f;
          break;
        }
        const std::size_t w = (g.fifo_read + g.fifo_count) % fifo_cap_;
        std::memcpy(g.fifo.data() + w * oc, g.down_out.data() + f * oc, oc * sizeof(float));
        ++g.fifo_count;
      }
      // pop n frames (silence if the chain lags, counted)
      float* dst = host_out_.data();
      for (std::size_t f = 0; f < n; ++f) {
        if (g.fifo_count == 0) {
          std::memset(dst + f * oc, 0, oc * sizeof(float));
          ++underruns_;
          continue;
        }
        std::memcpy(dst + f * oc, g.fifo.data() + g.fifo_read * oc, oc * sizeof(float));
        g.fifo_read = (g.fifo_read + 1) % fifo_cap_;
        --g.fifo_count;
      }
      result = dst;
    }
    for (std::size_t t = 0; t < n; ++t) {
      for (std::size_t c = 0; c < oc; ++c)
        out[g.first_channel + static_cast<int>(c)][t] = result[t * oc + c];
    }
  }
}

}  // namespace sw::fx

// SPDX-License-Identifier: GPL-3.0-or-later
#include "sidewinder/fx/effect.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "sidewinder/denormal_guard.h"

namespace sw::fx {
namespace {

bool same_spec(const HostSpec& a, const HostSpec& b) {
  return a.sample_rate == b.sample_rate && a.max_block_size == b.max_block_size && a.channels == b.channels;
}

void check_instance_fits(const ModelInstance& inst, const HostSpec& spec) {
  if (!same_spec(inst.spec(), spec))
    throw std::invalid_argument(
        "effect: the model instance was built for another sample rate, block size or channel count");
  if (inst.out_channels() != spec.channels)
    throw std::invalid_argument("effect: the model gives " + std::to_string(inst.out_channels()) +
                                " output channel(s); the effect needs " + std::to_string(spec.channels));
  if (inst.latency_samples() < 0 || inst.latency_samples() > Effect::kMaxLatency)
    throw std::invalid_argument("effect: the model's latency is over the limit");
}

void store_max(std::atomic<float>& a, float v) noexcept {
  // Single writer (the audio thread); a reader's exchange(0) may race and
  // lose one block's peak, which a meter does not mind.
  if (v > a.load(std::memory_order_relaxed))
    a.store(v, std::memory_order_relaxed);
}

}  // namespace

Effect::Effect() = default;

Effect::~Effect() {
  delete current_;
  delete fading_;
}

void Effect::prepare(const HostSpec& spec, std::unique_ptr<ModelInstance> instance) {
  if (spec.channels < 1 || spec.channels > 16 || spec.max_block_size < 1 || spec.max_block_size > 65536 ||
      !(spec.sample_rate > 0.0))
    throw std::invalid_argument("effect: bad host spec");
  if (instance)
    check_instance_fits(*instance, spec);
  spec_ = spec;
  delete slot_.take_pending();
  slot_.collect_garbage();
  delete current_;
  delete fading_;
  fading_ = nullptr;
  current_ = instance.release();
  current_nonfinite_ = current_ ? current_->nonfinite_events() : 0;
  const std::size_t C = static_cast<std::size_t>(spec.channels), B = spec.max_block_size;
  auto planar = [&](std::vector<std::vector<float>>& v, std::size_t len) {
    v.assign(C, std::vector<float>(len, 0.0f));
  };
  planar(dry_, B);
  planar(wet_in_, B);
  planar(wet_, B);
  planar(wet_old_, B);
  planar(delay_, static_cast<std::size_t>(kMaxLatency) + 1);
  delay_pos_ = 0;
  for (auto* g : {&g_in_, &g_norm_, &g_mix_, &g_out_, &g_bypass_, &g_fade_, &g_mute_})
    g->assign(B, 0.0f);
  in_gain_.prepare(spec.sample_rate, kParameterRampSeconds);
  out_gain_.prepare(spec.sample_rate, kParameterRampSeconds);
  mix_.prepare(spec.sample_rate, kParameterRampSeconds);
  norm_.prepare(spec.sample_rate, kParameterRampSeconds);
  bypass_.prepare(spec.sample_rate, kBypassRampSeconds);
  fade_.prepare(spec.sample_rate, kModelFadeSeconds);
  mute_.prepare(spec.sample_rate, kUnmuteSeconds);
  in_gain_.set_current_and_target(dsp::db_to_gain(params_.input_gain_db.load()));
  out_gain_.set_current_and_target(dsp::db_to_gain(params_.output_gain_db.load()));
  mix_.set_current_and_target(std::clamp(params_.mix.load(), 0.0f, 1.0f));
  norm_.set_current_and_target(params_.normalise.load() ? 1.0f : 0.0f);
  bypass_.set_current_and_target(params_.bypass.load() ? 1.0f : 0.0f);
  fade_.set_current_and_target(1.0f);
  mute_.set_current_and_target(1.0f);
  latency_.store(current_ ? current_->latency_samples() : 0);
  prepared_ = true;
}

void Effect::publish(std::unique_ptr<ModelInstance> instance) {
  if (!instance)
    return;
  check_instance_fits(*instance, spec_);
  slot_.publish(std::move(instance));
}

void Effect::check_instance(ModelInstance* inst, std::size_t& nonfinite_seen) noexcept {
  if (inst == nullptr)
    return;
  if (inst->nonfinite_events() != nonfinite_seen) {
    nonfinite_.fetch_add(inst->nonfinite_events() - nonfinite_seen, std::memory_order_relaxed);
    nonfinite_seen = inst->nonfinite_events();
    mute_.set_current_and_target(0.0f);  // the block was silenced; fade back in
    mute_.set_target(1.0f);
  }
}

void Effect::process(float* const* io, std::size_t n) noexcept {
  if (!prepared_)
    return;
  ScopedDenormalGuard guard;
  const auto t0 = std::chrono::steady_clock::now();
  std::size_t done = 0;
  while (done < n) {
    const std::size_t piece = std::min(n - done, spec_.max_block_size);
    float* p[16];
    for (int c = 0; c < spec_.channels; ++c)
      p[c] = io[c] + done;
    process_piece(p, piece);
    done += piece;
  }
  const double spent = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double audio = static_cast<double>(n) / spec_.sample_rate;
  if (audio > 0.0) {
    const float load = static_cast<float>(spent / audio);
    const float prev = cpu_load_.load(std::memory_order_relaxed);
    cpu_load_.store(prev + 0.05f * (load - prev), std::memory_order_relaxed);
  }
}

void Effect::process_piece(float* const* io, std::size_t n) noexcept {
  const int C = spec_.channels;
  if (reset_requested_.exchange(false, std::memory_order_acquire)) {
    if (fading_ != nullptr && slot_.retire(fading_))
      fading_ = nullptr;
    if (current_ != nullptr)
      current_->reset();
    for (auto& line : delay_)
      std::fill(line.begin(), line.end(), 0.0f);
    for (auto* s : {&in_gain_, &out_gain_, &mix_, &norm_, &bypass_, &fade_, &mute_})
      s->snap();
  }
  // A new model: crossfade from the current one (if a fade is still running,
  // the new model waits for the next block).
  if (fading_ == nullptr && slot_.has_pending()) {
    if (ModelInstance* next = slot_.take_pending()) {
      fading_ = current_;
      fading_nonfinite_ = current_nonfinite_;
      current_ = next;
      current_nonfinite_ = next->nonfinite_events();
      latency_.store(current_->latency_samples(), std::memory_order_relaxed);
      if (fading_ != nullptr) {
        fade_.set_current_and_target(0.0f);
        fade_.set_target(1.0f);
      }
    }
  }
  // Parameter targets, once per block.
  in_gain_.set_target(dsp::db_to_gain(params_.input_gain_db.load(std::memory_order_relaxed)));
  out_gain_.set_target(dsp::db_to_gain(params_.output_gain_db.load(std::memory_order_relaxed)));
  mix_.set_target(std::clamp(params_.mix.load(std::memory_order_relaxed), 0.0f, 1.0f));
  norm_.set_target(params_.normalise.load(std::memory_order_relaxed) ? 1.0f : 0.0f);
  bypass_.set_target(params_.bypass.load(std::memory_order_relaxed) ? 1.0f : 0.0f);
  for (std::size_t t = 0; t < n; ++t) {
    g_in_[t] = in_gain_.next();
    g_out_[t] = out_gain_.next();
    g_mix_[t] = mix_.next();
    g_norm_[t] = norm_.next();
    g_bypass_[t] = bypass_.next();
    g_fade_[t] = fade_.next();
  }

  float in_peak = 0.0f;
  const float* wet_in_p[16];
  float* wet_p[16];
  float* wet_old_p[16];
  for (int c = 0; c < C; ++c) {
    float* d = dry_[c].data();
    float* w = wet_in_[c].data();
    for (std::size_t t = 0; t < n; ++t) {
      const float x = io[c][t];
      in_peak = std::max(in_peak, std::fabs(x));
      const float xs = std::isfinite(x) ? x : 0.0f;  // a host's NaN/inf never reaches the output
      d[t] = xs;
      w[t] = xs * g_in_[t];
    }
    wet_in_p[c] = w;
    wet_p[c] = wet_[c].data();
    wet_old_p[c] = wet_old_[c].data();
  }
  store_max(in_peak_, in_peak);

  // The models. During a crossfade both run; each gets its own loudness
  // gain, and the dry path crossfades between their two latencies as well.
  const bool fading = fading_ != nullptr;
  if (current_ != nullptr) {
    current_->process(wet_in_p, wet_p, n);
    check_instance(current_, current_nonfinite_);
  } else {
    for (int c = 0; c < C; ++c)
      std::memcpy(wet_p[c], wet_in_p[c], n * sizeof(float));
  }
  if (fading) {
    fading_->process(wet_in_p, wet_old_p, n);
    check_instance(fading_, fading_nonfinite_);
  }
  underruns_.store(current_ ? current_->underruns() : 0, std::memory_order_relaxed);
  for (std::size_t t = 0; t < n; ++t)
    g_mute_[t] = mute_.next();

  // Dry delay (the models' latency), mix, output gain, bypass.
  const float gain_new = current_ ? current_->loudness_gain() : 1.0f;
  const float gain_old = fading ? fading_->loudness_gain() : 1.0f;
  const std::size_t L = static_cast<std::size_t>(current_ ? current_->latency_samples() : 0);
  const std::size_t L_old = fading ? static_cast<std::size_t>(fading_->latency_samples()) : L;
  const std::size_t ring = static_cast<std::size_t>(kMaxLatency) + 1;
  float out_peak = 0.0f;
  for (int c = 0; c < C; ++c) {
    float* line = delay_[c].data();
    const float* d = dry_[c].data();
    const float* w = wet_p[c];
    const float* w_old = wet_old_p[c];
    float* o = io[c];
    std::size_t pos = delay_pos_;
    for (std::size_t t = 0; t < n; ++t) {
      line[pos] = d[t];
      float dry = line[(pos + ring - L) % ring];
      // normalisation on/off is smoothed; off: exactly 1
      float wet = w[t] * (1.0f + g_norm_[t] * (gain_new - 1.0f));
      if (fading) {
        const float dry_old = line[(pos + ring - L_old) % ring];
        dry = dry_old + g_fade_[t] * (dry - dry_old);
        const float wet_old = w_old[t] * (1.0f + g_norm_[t] * (gain_old - 1.0f));
        wet = wet_old + g_fade_[t] * (wet - wet_old);
      }
      pos = pos + 1 == ring ? 0 : pos + 1;
      wet *= g_mute_[t];
      const float mixed = (g_mix_[t] * wet + (1.0f - g_mix_[t]) * dry) * g_out_[t];
      const float y = g_bypass_[t] * dry + (1.0f - g_bypass_[t]) * mixed;
      out_peak = std::max(out_peak, std::fabs(y));
      o[t] = y;
    }
  }
  if (fading && !fade_.is_smoothing() && slot_.retire(fading_))
    fading_ = nullptr;
  delay_pos_ = (delay_pos_ + n) % ring;
  store_max(out_peak_, out_peak);
}

}  // namespace sw::fx

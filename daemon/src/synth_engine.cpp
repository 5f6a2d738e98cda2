// SPDX-License-Identifier: GPL-3.0-or-later
#include "sidewinder/daemon/synth_engine.h"

#include <algorithm>

namespace sw::daemon {

SynthStream::SynthStream(SpeakerPool::Lease speaker, speech::Speech speech, std::function<void()> on_ready,
                         std::size_t ring_samples)
    : speaker_(std::move(speaker)),
      speech_(std::move(speech)),
      on_ready_(std::move(on_ready)),
      ring_(ring_samples),
      rate_(speaker_->voice().sample_rate()) {}

std::size_t SynthStream::read(float* out, std::size_t n) noexcept {
  notified_.store(false, std::memory_order_release);  // before reading: a later write notifies again
  const std::size_t got = ring_.read(out, n);
  if (got && stalled_.exchange(false, std::memory_order_acq_rel))
    engine_->wake(worker_);
  return got;
}

void SynthStream::cancel() noexcept {
  if (!cancelled_.exchange(true, std::memory_order_acq_rel) && engine_)
    engine_->wake(worker_);
}

SynthEngine::SynthEngine(EngineConfig config) : cfg_(config) {
  if (cfg_.threads == 0 || cfg_.block_samples == 0 || cfg_.ring_samples < 2 * cfg_.block_samples)
    throw std::invalid_argument("engine: need threads >= 1, block_samples >= 1, ring_samples >= 2 blocks");
  for (std::size_t i = 0; i < cfg_.threads; ++i)
    workers_.push_back(std::make_unique<Worker>());
  for (auto& w : workers_)
    w->thread = std::thread([this, p = w.get()] { run(*p); });
}

SynthEngine::~SynthEngine() {
  stop_.store(true);
  for (auto& w : workers_) {
    {
      std::lock_guard<std::mutex> l(w->mu);
      w->wake = true;
    }
    w->cv.notify_all();
  }
  for (auto& w : workers_)
    w->thread.join();
}

std::shared_ptr<SynthStream> SynthEngine::submit(SpeakerPool::Lease speaker, speech::Speech speech,
                                                 std::function<void()> on_ready) {
  if (active_.fetch_add(1) >= cfg_.max_streams) {
    active_.fetch_sub(1);
    throw EngineBusy("engine busy: " + std::to_string(cfg_.max_streams) + " streams already being spoken");
  }
  std::shared_ptr<SynthStream> s;
  try {
    s.reset(new SynthStream(std::move(speaker), std::move(speech), std::move(on_ready), cfg_.ring_samples));
  } catch (...) {
    active_.fetch_sub(1);
    throw;
  }
  std::size_t best = 0;
  for (std::size_t i = 1; i < workers_.size(); ++i)
    if (workers_[i]->load.load() < workers_[best]->load.load())
      best = i;
  s->engine_ = this;
  s->worker_ = best;
  Worker& w = *workers_[best];
  w.load.fetch_add(1);
  {
    std::lock_guard<std::mutex> l(w.mu);
    w.inbox.push_back(s);
    w.wake = true;
  }
  w.cv.notify_one();
  return s;
}

void SynthEngine::wake(std::size_t worker) noexcept {
  Worker& w = *workers_[worker];
  {
    std::lock_guard<std::mutex> l(w.mu);
    w.wake = true;
  }
  w.cv.notify_one();
}

void SynthEngine::end(SynthStream& s, const char* why) {
  if (why && s.failure_.empty())
    s.failure_ = why;
  s.produced_all_.store(true, std::memory_order_release);
  if (!s.notified_.exchange(true, std::memory_order_acq_rel) && s.on_ready_)
    s.on_ready_();
}

// The round's batch: every stream in it advances one block. On the CPU that
// is a loop, one stream at a time (its Speech: decoder chunk, synthesiser);
// this is the seam where a batched backend takes all the batch's streams of
// a voice as one step (issue 7).
void SynthEngine::advance(SynthStream* const* batch, std::size_t n, std::vector<float>& block) {
  for (std::size_t b = 0; b < n; ++b) {
    SynthStream& s = *batch[b];
    const auto t0 = SynthStream::Clock::now();
    std::size_t got = 0;
    bool finished = false;
    float volume = 1.0f;
    if (cfg_.controls) {  // live: a held MIDI note's pitch (0: the voice's own), the volume
      s.speaker_->stream().set_f0_hz(cfg_.controls->f0_hz.load(std::memory_order_relaxed));
      volume = cfg_.controls->volume.load(std::memory_order_relaxed);
    }
    try {
      while (got < block.size()) {
        const std::size_t k = s.speech_.pull(block.data() + got, block.size() - got);
        if (k == 0) {
          finished = true;
          break;
        }
        got += k;
      }
    } catch (const std::exception& e) {
      s.failure_ = std::string("synthesis failed: ") + e.what();
      finished = true;
    }
    if (volume != 1.0f)
      for (std::size_t i = 0; i < got; ++i)
        block[i] *= volume;
    s.ring_.write(block.data(), got);  // fits: room checked when the batch was made
    const std::chrono::duration<double> dt = SynthStream::Clock::now() - t0;
    s.compute_s_.store(s.compute_s_.load(std::memory_order_relaxed) + dt.count(), std::memory_order_release);
    s.made_.fetch_add(got, std::memory_order_acq_rel);
    if (finished)
      end(s, nullptr);
    else if (!s.notified_.exchange(true, std::memory_order_acq_rel) && s.on_ready_)
      s.on_ready_();
  }
}

void SynthEngine::run(Worker& w) {
  std::vector<std::shared_ptr<SynthStream>> active;
  std::vector<SynthStream*> batch;               // this round's runnable streams
  std::vector<float> block(cfg_.block_samples);  // [block_samples]
  bool progressed = true;
  for (;;) {
    {
      std::unique_lock<std::mutex> l(w.mu);
      // Sleep when there is nothing to do: no streams, or every one paused on a full ring.
      if (!progressed || active.empty())
        w.cv.wait(l, [&] { return w.wake || stop_.load(); });
      w.wake = false;
      for (auto& s : w.inbox)
        active.push_back(std::move(s));
      w.inbox.clear();
    }
    if (stop_.load())
      break;
    // The batch: every stream with room in its ring for a block.
    batch.clear();
    for (auto& sp : active) {
      SynthStream& s = *sp;
      if (s.cancelled()) {
        end(s, "cancelled");
        continue;
      }
      const std::size_t cap = s.ring_.capacity();
      if (cap - s.ring_.size_approx() < block.size()) {
        s.stalled_.store(true, std::memory_order_release);
        if (cap - s.ring_.size_approx() < block.size())
          continue;  // the writer's read() wakes us
        s.stalled_.store(false, std::memory_order_release);
      }
      batch.push_back(&s);
    }
    advance(batch.data(), batch.size(), block);
    progressed = !batch.empty();
    // Drop what has ended; the lease (Speaker) goes back to the pool here.
    const auto gone =
        std::stable_partition(active.begin(), active.end(), [](const auto& s) { return !s->produced_all(); });
    const auto n_gone = static_cast<std::size_t>(active.end() - gone);
    for (auto it = gone; it != active.end(); ++it)
      (*it)->speaker_.reset();  // the Speech is not pulled again
    active.erase(gone, active.end());
    if (n_gone) {
      w.load.fetch_sub(n_gone);
      active_.fetch_sub(n_gone);
      progressed = true;  // look again before sleeping
    }
    rounds_.fetch_add(1, std::memory_order_relaxed);
  }
  std::lock_guard<std::mutex> l(w.mu);
  for (auto& s : w.inbox)
    active.push_back(std::move(s));
  w.inbox.clear();
  for (auto& s : active)
    end(*s, "engine stopped");
  active_.fetch_sub(active.size());
}

}  // namespace sw::daemon

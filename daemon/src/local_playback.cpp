// SPDX-License-Identifier: GPL-3.0-or-later
#include "sidewinder/daemon/local_playback.h"

#include <vector>

#include "sidewinder/dsp/resampler.h"

namespace sw::daemon {

LocalPlayback::LocalPlayback(SynthEngine& engine, std::shared_ptr<SpeakerPool> speakers,
                             const audio_io::DeviceChoice& where)
    : engine_(engine), speakers_(std::move(speakers)) {
  rate_ = audio_io::PortAudio::default_rate(where, false, true);
  player_ = std::make_unique<audio_io::Player>(where, rate_, 256, std::size_t(rate_));
  player_->start();
  thread_ = std::thread([this] { run(); });
}

LocalPlayback::~LocalPlayback() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
    queue_.clear();
  }
  cv_.notify_one();
  thread_.join();
  player_->drain(5.0);
  player_->stop();
}

void LocalPlayback::say(const std::string& text, std::shared_ptr<const speech::VoiceModel> voice,
                        const speech::SpeakOptions& o) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (queue_.size() >= kMaxQueued) {
      ++dropped_;
      return;
    }
    queue_.push_back({text, std::move(voice), o});
  }
  cv_.notify_one();
}

void LocalPlayback::run() {
  std::vector<float> buf(1024), dev;
  for (;;) {
    Item it;
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [&] { return stop_ || !queue_.empty(); });
      if (stop_)
        return;
      it = std::move(queue_.front());
      queue_.pop_front();
    }
    try {
      auto lease = speakers_->acquire(it.voice);
      auto sp = lease->begin(it.text, it.options);
      struct Waiter {
        std::mutex m;
        std::condition_variable cv;
        bool ready = false;
      };
      auto w = std::make_shared<Waiter>();  // the engine may still be calling on_ready as we leave
      auto stream = engine_.submit(std::move(lease), std::move(sp), [w] {
        std::lock_guard<std::mutex> l(w->m);
        w->ready = true;
        w->cv.notify_one();
      });
      dsp::Resampler to_device(it.voice->sample_rate(), rate_, 1);
      bool started = false;
      auto play = [&](const float* x, std::size_t n, bool last) {
        dev.resize(dsp::Resampler::output_frames_for(n, to_device.in_rate(), rate_) + 4096);
        std::size_t done = 0;
        while (done < n) {
          std::size_t used = 0;
          const std::size_t got = to_device.process(x + done, n - done, &used, dev.data(), dev.size());
          player_->write_all(dev.data(), got);
          if (got && !started) {  // from the first sample on, a short ring is an underrun
            player_->resume_accounting();
            started = true;
          }
          done += used;
          if (!used && !got)
            break;
        }
        if (last)
          while (std::size_t got = to_device.flush(dev.data(), dev.size()))
            player_->write_all(dev.data(), got);
      };
      for (;;) {
        const std::size_t n = stream->read(buf.data(), buf.size());
        if (n) {
          play(buf.data(), n, false);
          continue;
        }
        if (stream->done())
          break;
        std::unique_lock<std::mutex> l(w->m);
        w->cv.wait_for(l, std::chrono::milliseconds(100), [&] { return w->ready; });
        w->ready = false;
      }
      play(buf.data(), 0, true);
      player_->pause_accounting();  // the silence until the next text is not an underrun
      ++spoken_;
    } catch (const std::exception&) {
      ++dropped_;  // a bad text was refused to its client already
    }
  }
}

}  // namespace sw::daemon

// SPDX-License-Identifier: GPL-3.0-or-later
#include "sidewinder/daemon/speaker_pool.h"

namespace sw::daemon {

SpeakerPool::Lease SpeakerPool::acquire(const std::shared_ptr<const speech::VoiceModel>& voice) {
  std::unique_ptr<speech::Speaker> s;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto& v = free_[voice.get()];
    if (!v.empty()) {
      s = std::move(v.back());
      v.pop_back();
    }
  }
  if (!s) {
    s = std::make_unique<speech::Speaker>(voice);  // outside the lock: espeak-ng set-up
    ++created_;
  }
  std::weak_ptr<SpeakerPool> pool = weak_from_this();
  return Lease(s.release(), [pool](speech::Speaker* p) {
    std::unique_ptr<speech::Speaker> owned(p);
    if (auto sp = pool.lock())
      sp->give_back(std::move(owned));
  });
}

void SpeakerPool::give_back(std::unique_ptr<speech::Speaker> s) {
  std::lock_guard<std::mutex> l(mu_);
  free_[&s->voice()].push_back(std::move(s));
}

std::size_t SpeakerPool::idle() const {
  std::lock_guard<std::mutex> l(mu_);
  std::size_t n = 0;
  for (const auto& [k, v] : free_)
    n += v.size();
  return n;
}

}  // namespace sw::daemon

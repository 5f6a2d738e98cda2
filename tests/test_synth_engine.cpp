// SPDX-License-Identifier: GPL-3.0-or-later
// The daemon's engine (daemon/synth_engine): streams advanced block by block
// on engine threads, audio handed back through per-stream rings. What is
// checked: the samples are exactly those of a direct pull; many streams at
// once each get theirs; a stream nobody reads fills only its own ring and
// does not hold the others up; cancel and the stream limit; reading is
// allocation-free.
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "alloc_counter.h"
#include "sidewinder/daemon/synth_engine.h"
#include "sidewinder/speech/voice_loader.h"
#include "test_util.h"

using namespace sw;

namespace {

std::shared_ptr<const speech::VoiceModel> tiny_voice() {
  static auto v = speech::load_voice(test::data_path("voice/tiny_voice.safetensors"));
  return v;
}

std::vector<float> direct(const std::string& text) {
  speech::Speaker s(tiny_voice());
  std::vector<float> out;
  s.speak_text(text, speech::SpeakOptions{}, [&](const float* x, std::size_t n) {
    out.insert(out.end(), x, x + n);
    return true;
  });
  return out;
}

// A writer that waits for on_ready and reads everything.
struct Reader {
  std::mutex mu;
  std::condition_variable cv;
  bool ready = false;
  std::function<void()> on_ready() {
    return [this] {
      std::lock_guard<std::mutex> l(mu);
      ready = true;
      cv.notify_one();
    };
  }
  std::vector<float> drain(daemon::SynthStream& s) {
    std::vector<float> out, buf(700);
    for (;;) {
      while (std::size_t n = s.read(buf.data(), buf.size()))
        out.insert(out.end(), buf.begin(), buf.begin() + n);
      if (s.done())
        return out;
      std::unique_lock<std::mutex> l(mu);
      cv.wait_for(l, std::chrono::seconds(5), [&] { return ready; });
      ready = false;
    }
  }
};

const char* kTexts[] = {"Hello world.", "The cat sat on the mat. It was warm.", "One, two, three, four, five.",
                        "A stream nobody reads must not hold the others up."};

}  // namespace

TEST_CASE("engine: a stream's samples are exactly those of a direct pull", "[engine][daemon]") {
  for (std::size_t threads : {1, 2}) {
    daemon::EngineConfig cfg;
    cfg.threads = threads;
    cfg.block_samples = 300;  // not a multiple of the hop or the reader's size
    cfg.ring_samples = 1024;
    daemon::SynthEngine engine(cfg);
    auto pool = daemon::SpeakerPool::create();
    for (const char* text : kTexts) {
      auto lease = pool->acquire(tiny_voice());
      Reader r;
      auto s = engine.submit(lease, lease->begin(text, speech::SpeakOptions{}), r.on_ready());
      lease.reset();
      const auto got = r.drain(*s);
      const auto want = direct(text);
      REQUIRE(got.size() == want.size());
      CHECK(got == want);
      CHECK(s->failure().empty());
      CHECK(s->samples_made() == want.size());
      CHECK(s->compute_seconds() > 0.0);
    }
    for (int i = 0; i < 100 && engine.active(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    CHECK(engine.active() == 0);
    CHECK(pool->idle() >= 1);  // the Speakers came back
  }
}

TEST_CASE("engine: many streams advance together; one nobody reads stalls only itself", "[engine][daemon]") {
  daemon::EngineConfig cfg;
  cfg.threads = 1;  // all on one thread: the stalled one shares its rounds
  cfg.block_samples = 256;
  cfg.ring_samples = 1024;
  daemon::SynthEngine engine(cfg);
  auto pool = daemon::SpeakerPool::create();

  auto stuck_lease = pool->acquire(tiny_voice());
  Reader never;
  auto stuck = engine.submit(stuck_lease, stuck_lease->begin(kTexts[3], speech::SpeakOptions{}), never.on_ready());
  stuck_lease.reset();

  std::vector<std::thread> ts;
  std::vector<int> ok(8, 0);
  for (int i = 0; i < 8; ++i)
    ts.emplace_back([&, i] {
      const char* text = kTexts[i % 3];
      auto lease = pool->acquire(tiny_voice());
      Reader r;
      auto s = engine.submit(lease, lease->begin(text, speech::SpeakOptions{}), r.on_ready());
      lease.reset();
      ok[i] = r.drain(*s) == direct(text);
    });
  for (auto& t : ts)
    t.join();
  CHECK(ok == std::vector<int>(8, 1));
  // The unread stream made no more than its ring holds, and is still there.
  CHECK(!stuck->produced_all());
  CHECK(stuck->samples_made() <= cfg.ring_samples);
  CHECK(stuck->available() == stuck->samples_made());
  CHECK(engine.active() == 1);
  CHECK(engine.rounds() > 0);
  // Read it now: it resumes and ends with all its samples.
  CHECK(never.drain(*stuck) == direct(kTexts[3]));
}

TEST_CASE("engine: cancel lets go of the stream; the stream limit refuses with EngineBusy", "[engine][daemon]") {
  daemon::EngineConfig cfg;
  cfg.max_streams = 2;
  cfg.ring_samples = 2048;
  daemon::SynthEngine engine(cfg);
  auto pool = daemon::SpeakerPool::create();
  const std::string long_text(3000, 'a');
  auto start = [&] {
    auto lease = pool->acquire(tiny_voice());
    return engine.submit(lease, lease->begin("Hello there. " + long_text, speech::SpeakOptions{}), nullptr);
  };
  auto a = start();
  auto b = start();
  CHECK_THROWS_AS(start(), daemon::EngineBusy);
  a->cancel();
  b->cancel();
  for (int i = 0; i < 200 && engine.active(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  CHECK(engine.active() == 0);
  CHECK(a->produced_all());
  CHECK(a->failure() == "cancelled");
  CHECK(pool->idle() == 3);  // the two cancelled and the refused one's Speakers are back
  auto c = start();          // room again
  CHECK(c);
}

TEST_CASE("engine: the writer's side (read, done) does not allocate", "[engine][daemon][realtime]") {
  daemon::SynthEngine engine;
  auto pool = daemon::SpeakerPool::create();
  auto lease = pool->acquire(tiny_voice());
  auto s = engine.submit(lease, lease->begin(kTexts[1], speech::SpeakOptions{}), nullptr);
  lease.reset();
  std::vector<float> buf(512);
  std::size_t total = 0, allocs = 0;
  while (!s->done()) {
    test::AllocationScope scope;
    total += s->read(buf.data(), buf.size());
    (void)s->done();
    allocs += scope.count();
  }
  CHECK(total == direct(kTexts[1]).size());
  CHECK(allocs == 0);
}

namespace {
struct F0Log : speech::FrameObserver {
  std::vector<float> f0;
  void on_frame(std::size_t, const float*, float hz, float) noexcept override { f0.push_back(hz); }
};
}  // namespace

TEST_CASE("engine: the live controls: a held note's pitch on every frame, the volume on every sample",
          "[engine][daemon][midi]") {
  daemon::VoiceControls controls;
  daemon::EngineConfig cfg;
  cfg.controls = &controls;
  daemon::SynthEngine engine(cfg);
  auto pool = daemon::SpeakerPool::create();
  const std::string text = kTexts[1];
  const auto plain = direct(text);
  daemon::MidiVoiceChart chart;
  chart.apply(0x90, 57, 100, controls, 1);  // A3 held: 220 Hz
  chart.apply(0xB0, 7, 50, controls, 1);    // volume 0.5
  F0Log log;
  auto lease = pool->acquire(tiny_voice());
  lease->stream().set_observer(&log);
  Reader r;
  auto s = engine.submit(lease, lease->begin(text, speech::SpeakOptions{}), r.on_ready());
  const auto sung = r.drain(*s);
  lease->stream().set_observer(nullptr);
  lease.reset();
  REQUIRE(!log.f0.empty());
  CHECK(std::all_of(log.f0.begin(), log.f0.end(), [](float f) { return std::abs(f - 220.0f) < 1e-3f; }));
  REQUIRE(sung.size() == plain.size());  // the pitch changes, not the timing
  double e_sung = 0, e_plain = 0;
  for (std::size_t i = 0; i < sung.size(); ++i)
    e_sung += double(sung[i]) * sung[i], e_plain += double(plain[i]) * plain[i];
  CHECK(sung != plain);
  CHECK(e_sung > 0);
  // Released: the voice's own intonation, at the volume still set.
  chart.apply(0x80, 57, 0, controls, 1);
  CHECK(controls.f0_hz.load() == 0.0f);
  controls.volume.store(1.0f);
  auto lease2 = pool->acquire(tiny_voice());
  Reader r2;
  auto s2 = engine.submit(lease2, lease2->begin(text, speech::SpeakOptions{}), r2.on_ready());
  lease2.reset();
  CHECK(r2.drain(*s2) == plain);
}

TEST_CASE("midi voice chart: held notes stack, CC 7 volume, CC 20 rate, program change voice", "[daemon][midi]") {
  daemon::VoiceControls c;
  daemon::MidiVoiceChart chart;
  chart.apply(0x90, 69, 100, c, 2);
  CHECK(c.f0_hz.load() == Approx(440.0));
  chart.apply(0x91, 81, 100, c, 2);  // any channel: A5 on top
  CHECK(c.f0_hz.load() == Approx(880.0));
  chart.apply(0x81, 81, 0, c, 2);  // released: back to A4
  CHECK(c.f0_hz.load() == Approx(440.0));
  chart.apply(0x90, 69, 0, c, 2);  // note on with velocity 0 is a note off
  CHECK(c.f0_hz.load() == 0.0f);
  chart.apply(0xB0, 7, 127, c, 2);
  CHECK(c.volume.load() == Approx(1.27));
  chart.apply(0xB0, 20, 0, c, 2);
  CHECK(c.rate.load() == Approx(0.5));
  chart.apply(0xB0, 20, 64, c, 2);
  CHECK(c.rate.load() == Approx(1.0));
  chart.apply(0xC0, 1, 0, c, 2);
  CHECK(c.voice.load() == 1);
  chart.apply(0xC0, 5, 0, c, 2);  // no such voice: unchanged
  CHECK(c.voice.load() == 1);
}

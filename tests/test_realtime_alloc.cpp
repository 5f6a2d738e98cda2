// SPDX-License-Identifier: GPL-3.0-or-later
// process() and reset() allocate nothing: counted with the test allocator
// (alloc_counter.cpp), which test_alloc_counter.cpp proves counts.
#include <catch2/catch.hpp>

#include "alloc_counter.h"
#include "sidewinder/ssm/model_loader.h"
#include "test_util.h"

using namespace sw;

namespace {

void check_no_alloc(const std::shared_ptr<const ssm::Model>& model, const ssm::KernelTable* k) {
  const auto& c = model->config();
  ssm::Stream s(model, k);
  s.prepare({c.sample_rate, 512});
  const std::size_t frames = 48000;  // one second at 48 kHz
  const auto in = test::test_signal(frames, c.in_channels, 7);
  std::vector<float> out(frames * c.out_channels);
  const auto parts = test::partition(frames, 512, 42u);  // random sizes 1..512
  std::size_t allocations;
  {
    test::AllocationScope scope;
    std::size_t pos = 0;
    for (std::size_t b : parts) {
      s.process(in.data() + pos * c.in_channels, out.data() + pos * c.out_channels, b);
      pos += b;
    }
    s.reset();
    s.process(in.data(), out.data(), 4096);  // larger than max_block_size: split internally
    allocations = scope.count();
  }
  INFO(ssm::describe(c) << " kernels=" << s.kernels().isa);
  REQUIRE(allocations == 0);
  bool any_nonzero = false;
  for (float x : out)
    any_nonzero = any_nonzero || x != 0.0f;
  REQUIRE(any_nonzero);  // it really processed
}

}  // namespace

TEST_CASE("realtime: Stream::process and reset allocate nothing (built-in configs)", "[realtime]") {
  for (const char* name : {"fx-s", "fx-m", "fx-m2"}) {
    auto model = ssm::Model::create(ssm::make_random_weights(ssm::builtin_config(name), 1));
    for (const ssm::KernelTable* k : test::all_kernel_tables())
      check_no_alloc(model, k);
  }
}

TEST_CASE("realtime: Stream::process allocates nothing (golden models)", "[realtime]") {
  for (const char* name : {"m1_odd", "m2_groups", "backbone_m1"}) {
    auto model = ssm::load_model(test::data_path(std::string("golden/") + name + ".safetensors"));
    check_no_alloc(model, nullptr);
  }
}

TEST_CASE("realtime: prepare() does allocate (the scope sees the engine's allocations)", "[realtime]") {
  auto model = ssm::Model::create(ssm::make_random_weights(ssm::builtin_config("fx-s"), 1));
  ssm::Stream s(model);
  test::AllocationScope scope;
  s.prepare({48000, 64});
  REQUIRE(scope.count() > 0);
}

#include "sidewinder/dsp/model_slot.h"
#include "sidewinder/dsp/smoothed_value.h"
#include "sidewinder/dsp/spsc_ring.h"

TEST_CASE("realtime: the dsp hot paths allocate nothing (ring, slot, smoothing, swap + process)", "[realtime]") {
  dsp::SpscRing<float> ring(1024);
  dsp::ObjectSlot<ssm::Stream> slot(8);
  dsp::SmoothedValue gain(1.0f);
  gain.prepare(48000, 0.05);
  auto model_a = ssm::Model::create(ssm::make_random_weights(ssm::builtin_config("fx-s"), 1));
  auto model_b = ssm::Model::create(ssm::make_random_weights(ssm::builtin_config("fx-s"), 2));
  auto make = [](const std::shared_ptr<const ssm::Model>& m) {
    auto s = std::make_unique<ssm::Stream>(m);
    s->prepare({48000, 256});
    return s;
  };
  slot.publish(make(model_a));
  std::vector<float> buf(256, 0.25f), out(256), tmp(256);
  std::size_t allocations = 0;
  for (int block = 0; block < 200; ++block) {
    if (block == 100)
      slot.publish(make(model_b));  // loader thread's work, not counted
    test::AllocationScope scope;    // the audio thread's work
    ssm::Stream* s = slot.acquire();
    if (!s)
      break;  // checked below, outside the counted scope
    ring.write(buf.data(), buf.size());
    const std::size_t got = ring.read(tmp.data(), tmp.size());
    gain.set_target(block % 2 ? 0.5f : 1.0f);
    gain.apply(tmp.data(), got);
    s->process(tmp.data(), out.data(), got);
    allocations += scope.count();
    if (block == 150)
      REQUIRE(slot.collect_garbage() >= 1);  // the old stream is freed here, off the audio side
  }
  REQUIRE(slot.current() != nullptr);
  REQUIRE(allocations == 0);
  REQUIRE(slot.current()->model_ptr() == model_b);
}

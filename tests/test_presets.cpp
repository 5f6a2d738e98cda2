// SPDX-License-Identifier: GPL-3.0-or-later
//
// Every shipped preset (presets/*.safetensors) loads, says what it is, and
// renders a short committed input to the committed output of the independent
// float64 reference (tests/reference/make_preset_fixtures.py).
//
// Tolerance: max|y − y_ref| / max|y_ref| ≤ 1e-4. Trained distortion presets
// amplify rounding more than the random golden models: perturbing every
// weight and input by fp32 rounding moves their output by up to 3.0e-6 of its
// peak (tests/reference/sensitivity.py --presets; golden cases: 5.9e-7), and
// the engine's vectorised exp/log add to that (measured worst 1.0e-5, the
// Distortion+ lite preset with the SSE2 table at block 1). 1e-4 keeps a 10×
// margin over that, as the trainer cross-check does, while a wrong formula or
// a damaged file moves the output by 1e-2 or more.
#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>

#include "sidewinder/ssm/model_loader.h"
#include "test_util.h"

using namespace sw;
namespace fs = std::filesystem;

namespace {

constexpr double kTol = 1e-4;

std::vector<fs::path> shipped_presets() {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(SW_PRESETS_DIR))
    if (e.path().extension() == ".safetensors")
      out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("presets: at least six shipped, each loads with its metadata", "[presets]") {
  const auto presets = shipped_presets();
  REQUIRE(presets.size() >= 6);
  for (const auto& p : presets) {
    INFO(p.string());
    const ssm::ModelWeights w = ssm::load_model_weights(p.string());
    REQUIRE(w.config.sample_rate == 48000);
    for (const char* key : {"name", "description", "models", "license", "held_out_esr", "loudness_lufs", "training",
                            "cpu_ms_per_second"}) {
      INFO("metadata key " << key);
      REQUIRE(w.metadata.count(key) == 1);
      REQUIRE(!w.metadata.at(key).empty());
    }
    REQUIRE(w.metadata.at("name") == p.stem().string());
    const double esr = std::stod(w.metadata.at("held_out_esr"));
    REQUIRE(esr >= 0.0);
    REQUIRE(esr < 1.0);
  }
}

TEST_CASE("presets: each renders its committed reference output", "[presets]") {
  for (const auto& p : shipped_presets()) {
    const std::string name = p.stem().string();
    INFO(name);
    const auto model = ssm::load_model(p.string());
    const std::string io_path = test::data_path("presets/" + name + ".io.safetensors");
    REQUIRE(fs::exists(io_path));  // a new preset needs its fixture (make_preset_fixtures.py)
    const ssm::SafetensorsFile io = ssm::read_safetensors(io_path);
    const std::vector<float> in = io.read_f32(io.tensors.at("input"));
    const std::vector<float> ref = io.read_f32(io.tensors.at("output"));
    double worst = 0;
    for (const ssm::KernelTable* k : test::all_kernel_tables()) {
      for (std::size_t block : {std::size_t(1), std::size_t(64), std::size_t(4096)}) {
        INFO("kernels=" << k->isa << " block=" << block);
        const auto y = test::run_stream(model, k, in, test::partition(in.size(), block));
        const double err = test::norm_err(y, ref);
        CAPTURE(err);
        REQUIRE(err <= kTol);
        worst = std::max(worst, err);
      }
    }
    std::printf("preset %s: worst error %.2e (tolerance %.0e)\n", name.c_str(), worst, kTol);
  }
}

// SPDX-License-Identifier: GPL-3.0-or-later
// The loader: every shipped fixture loads; every file of the broken corpus
// (tests/reference/make_broken_corpus.py, manifest.json) is refused with one
// message naming the file and what is wrong; no truncation crashes.
#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "sidewinder/ssm/model_loader.h"
#include "sidewinder/ssm/reference_model.h"
#include "test_util.h"

using namespace sw;
namespace fs = std::filesystem;

TEST_CASE("loader: every golden model and the demo model load", "[loader]") {
  int n = 0;
  for (const auto& e : fs::directory_iterator(test::data_path("golden"))) {
    const std::string p = e.path().string();
    if (p.size() < 12 || p.substr(p.size() - 12) != ".safetensors" || p.find(".io.") != std::string::npos)
      continue;
    INFO(p);
    REQUIRE_NOTHROW(ssm::load_model(p));
    ++n;
  }
  REQUIRE(n >= 10);
}

TEST_CASE("loader: shapes and metadata are read, not assumed", "[loader]") {
  const auto m1 = ssm::load_model_weights(test::data_path("golden/m1_odd.safetensors"));
  CHECK(m1.config.arch == ssm::Arch::mamba1);
  CHECK(m1.config.n_layers == 3);
  CHECK(m1.config.d_model == 12);
  CHECK(m1.config.d_inner == 20);
  CHECK(m1.config.d_state == 7);
  CHECK(m1.config.d_conv == 3);
  CHECK(m1.config.dt_rank == 3);
  CHECK(m1.config.in_channels == 2);
  CHECK(m1.config.out_channels == 3);
  CHECK(m1.config.norm_eps == Approx(0.01f));
  CHECK(m1.config.has_in_proj_bias);
  CHECK_FALSE(m1.config.has_skip);
  const auto m2 = ssm::load_model_weights(test::data_path("golden/m2_groups.safetensors"));
  CHECK(m2.config.arch == ssm::Arch::mamba2);
  CHECK(m2.config.n_heads == 4);
  CHECK(m2.config.head_dim == 12);
  CHECK(m2.config.n_groups == 2);
  CHECK(m2.config.d_state == 7);
  CHECK(m2.config.d_per_channel);
  const auto bb = ssm::load_model_weights(test::data_path("golden/backbone_m1.safetensors"));
  CHECK_FALSE(bb.config.has_audio_head);
  CHECK(bb.config.in_channels == 8);
  CHECK(bb.config.sample_rate == 0.0);
}

TEST_CASE("loader: the broken corpus is refused, one clear message each", "[loader]") {
  std::ifstream f(test::data_path("broken/manifest.json"));
  REQUIRE(f.good());
  const nlohmann::json manifest = nlohmann::json::parse(f);
  REQUIRE(manifest.size() >= 20);
  for (const auto& entry : manifest) {
    const std::string file = test::data_path("broken/" + entry.at("file").get<std::string>());
    INFO(file << " — " << entry.at("why").get<std::string>());
    std::string message;
    try {
      ssm::load_model(file);
    } catch (const ssm::ModelLoadError& e) {
      message = e.what();
    }
    CAPTURE(message);
    REQUIRE(!message.empty());
    REQUIRE(message.rfind(file + ": ", 0) == 0);  // starts with the path
    for (const auto& s : entry.at("expect"))
      REQUIRE_THAT(message, Catch::Contains(s.get<std::string>()));
  }
}

TEST_CASE("loader: a missing file is refused by name", "[loader]") {
  REQUIRE_THROWS_AS(ssm::load_model("/nonexistent/model.safetensors"), ssm::ModelLoadError);
  REQUIRE_THROWS_WITH(ssm::load_model("/nonexistent/model.safetensors"),
                      Catch::Contains("/nonexistent/model.safetensors"));
}

TEST_CASE("loader: every truncation and single-byte corruption is refused or loads, never crashes", "[loader]") {
  const std::string src = test::data_path("golden/m1_state1.safetensors");
  std::ifstream in(src, std::ios::binary);
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string tmp = (fs::temp_directory_path() / "sw_trunc_test.safetensors").string();
  auto write = [&](const std::vector<char>& b) {
    std::ofstream o(tmp, std::ios::binary | std::ios::trunc);
    o.write(b.data(), static_cast<std::streamsize>(b.size()));
  };
  std::size_t refused = 0;
  for (std::size_t n = 0; n < bytes.size(); n += 7) {
    write(std::vector<char>(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n)));
    try {
      ssm::load_model(tmp);
    } catch (const ssm::ModelLoadError&) {
      ++refused;
    }
  }
  REQUIRE(refused == (bytes.size() + 6) / 7);  // every strict prefix is refused
  std::mt19937 rng(3);
  for (int i = 0; i < 300; ++i) {
    auto b = bytes;
    b[rng() % b.size()] = static_cast<char>(rng());
    write(b);
    try {
      ssm::load_model(tmp);
    } catch (const ssm::ModelLoadError&) {
    }
  }
  std::remove(tmp.c_str());
}

TEST_CASE("loader: save and load round-trip exactly", "[loader]") {
  auto cfg = ssm::builtin_config("fx-m2");
  auto w = ssm::make_random_weights(cfg, 77);
  w.metadata["name"] = "round trip";
  const std::string tmp = (fs::temp_directory_path() / "sw_roundtrip.safetensors").string();
  ssm::save_model_weights(w, tmp);
  const auto r = ssm::load_model_weights(tmp);
  std::remove(tmp.c_str());
  REQUIRE(r.metadata.at("name") == "round trip");
  REQUIRE(r.config.n_heads == cfg.n_heads);
  REQUIRE(r.layers[3].in_proj_w == w.layers[3].in_proj_w);
  REQUIRE(r.audio_skip_w == w.audio_skip_w);
}

TEST_CASE("loader: a small file claiming a huge recurrent state is refused before allocation", "[loader]") {
  // Mamba-2 with d_model 1: about 0.36 M parameters (1.4 MB) on disk, but d_inner 32768 ×
  // d_state 16384 = 2^29 floats (2 GiB) of state per stream.
  ssm::ModelConfig c;
  c.arch = ssm::Arch::mamba2;
  c.n_layers = 1, c.d_model = 1, c.d_inner = 32768, c.head_dim = 32768, c.n_heads = 1, c.n_groups = 1;
  c.d_state = 16384, c.d_conv = 2, c.sample_rate = 48000;
  const std::string tmp = (fs::temp_directory_path() / "sw_huge_state.safetensors").string();
  ssm::save_model_weights(ssm::make_random_weights(c, 1), tmp);
  std::string message;
  try {
    ssm::load_model(tmp);
  } catch (const ssm::ModelLoadError& e) {
    message = e.what();
  }
  std::remove(tmp.c_str());
  REQUIRE_THAT(message, Catch::Contains("too large") && Catch::Contains("recurrent state"));
}

TEST_CASE("loader: a directory is refused by name", "[loader]") {
  const std::string dir = fs::temp_directory_path().string();
  REQUIRE_THROWS_WITH(ssm::load_model(dir), Catch::Contains(dir) && Catch::Contains("not a regular file"));
}

TEST_CASE("loader: numbers in metadata are parsed strictly", "[loader]") {
  const std::string tmp = (fs::temp_directory_path() / "sw_strict.safetensors").string();
  std::map<std::string, ssm::TensorToWrite> t;
  const auto f = ssm::read_safetensors(test::data_path("golden/m1_state1.safetensors"));
  for (const auto& [name, info] : f.tensors)
    t[name] = {info.shape, f.read_f32(info)};
  for (const char* bad : {" 48000", "+48000", "48000.0", "48k", ""}) {
    auto meta = f.metadata;
    meta["sample_rate"] = bad;
    ssm::write_safetensors(tmp, t, meta);
    INFO("sample_rate='" << bad << "'");
    REQUIRE_THROWS_WITH(ssm::load_model(tmp), Catch::Contains("sample_rate"));
  }
  auto meta = f.metadata;
  meta["norm_eps"] = "1e-5";
  ssm::write_safetensors(tmp, t, meta);
  REQUIRE_NOTHROW(ssm::load_model(tmp));
  meta["norm_eps"] = "0,00001";  // a decimal comma is refused whatever the locale
  ssm::write_safetensors(tmp, t, meta);
  REQUIRE_THROWS_WITH(ssm::load_model(tmp), Catch::Contains("norm_eps"));
  std::remove(tmp.c_str());
}

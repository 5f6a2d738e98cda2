// SPDX-License-Identifier: GPL-3.0-or-later
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "sidewinder/dsp/audio_file.h"

using sw::dsp::AudioFileError;
using sw::dsp::AudioFileReader;
using sw::dsp::AudioFileWriter;
using sw::dsp::RawSpec;

namespace fs = std::filesystem;

namespace {

// A fresh directory under the system temp dir, removed with its contents.
struct TempDir {
  fs::path path;
  TempDir() {
    std::random_device rd;
    const auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
    path = fs::temp_directory_path() / ("sw_dsp_audio_test_" + std::to_string(::getpid()) + "_" +
                                        std::to_string(stamp) + "_" + std::to_string(rd()));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
  std::size_t entry_count() const {
    std::size_t n = 0;
    for (const auto& e : fs::directory_iterator(path)) {
      (void)e;
      ++n;
    }
    return n;
  }
};

constexpr double kPi = 3.14159265358979323846;

// Stereo test signal: 440 Hz in L, 660 Hz in R, amplitude 0.5.
std::vector<float> test_signal(std::size_t frames, int channels, double rate) {
  std::vector<float> x(frames * static_cast<std::size_t>(channels));
  for (std::size_t i = 0; i < frames; ++i) {
    for (int c = 0; c < channels; ++c) {
      const double f = 440.0 * (1.0 + 0.5 * c);
      x[i * static_cast<std::size_t>(channels) + static_cast<std::size_t>(c)] =
          0.5f * static_cast<float>(std::sin(2.0 * kPi * f * static_cast<double>(i) / rate));
    }
  }
  return x;
}

std::vector<float> read_all(AudioFileReader& r) {
  const auto ch = static_cast<std::size_t>(r.info().channels);
  std::vector<float> out;
  std::vector<float> block(1000 * ch);
  for (;;) {
    const std::size_t got = r.read(block.data(), 1000);
    if (got == 0)
      break;
    out.insert(out.end(), block.begin(), block.begin() + static_cast<std::ptrdiff_t>(got * ch));
  }
  return out;
}

void write_file(const std::string& path, const std::vector<float>& x, int channels, double rate,
                const std::string& input = "", bool float_samples = false) {
  AudioFileWriter w = AudioFileWriter::create(path, rate, channels, input, float_samples);
  const std::size_t frames = x.size() / static_cast<std::size_t>(channels);
  // Two writes to exercise appending.
  const std::size_t half = frames / 2;
  REQUIRE(w.write(x.data(), half) == half);
  REQUIRE(w.write(x.data() + half * static_cast<std::size_t>(channels), frames - half) == frames - half);
  CHECK(w.info().frames == static_cast<std::int64_t>(frames));
  w.commit();
}

double energy(const std::vector<float>& x) {
  double s = 0.0;
  for (float v : x)
    s += static_cast<double>(v) * v;
  return s;
}

std::string error_message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const AudioFileError& e) {
    return e.what();
  }
  return "(no AudioFileError thrown)";
}

}  // namespace

TEST_CASE("AudioFile round trips through lossless formats", "[dsp][audio_file]") {
  TempDir dir;
  constexpr int kChannels = 2;
  constexpr double kRate = 48000.0;
  constexpr std::size_t kFrames = 4801;
  const std::vector<float> x = test_signal(kFrames, kChannels, kRate);

  struct Case {
    const char* name;
    double tolerance;  // 24-bit PCM: ~1.2e-7 quantisation step
    bool is_float;
  };
  for (const Case& c : {Case{"out.wav", 1e-6, false}, Case{"out.flac", 1e-6, false}, Case{"out.aiff", 1e-6, false},
                        Case{"OUT.AIF", 1e-6, false}, Case{"out.f32", 0.0, true}}) {
    INFO(c.name);
    const std::string path = dir.file(c.name);
    write_file(path, x, kChannels, kRate);
    REQUIRE(fs::exists(path));

    AudioFileReader r = AudioFileReader::open(path, RawSpec{kRate, kChannels});
    CHECK(r.info().sample_rate == kRate);
    CHECK(r.info().channels == kChannels);
    CHECK(r.info().frames == static_cast<std::int64_t>(kFrames));
    CHECK(r.info().is_float == c.is_float);
    CHECK_FALSE(r.info().format_name.empty());
    const std::vector<float> y = read_all(r);
    REQUIRE(y.size() == x.size());
    double max_err = 0.0;
    for (std::size_t i = 0; i < x.size(); ++i)
      max_err = std::max(max_err, static_cast<double>(std::fabs(y[i] - x[i])));
    CHECK(max_err <= c.tolerance);
  }
  // Only the committed files are left: no temporaries.
  CHECK(dir.entry_count() == 5);
}

TEST_CASE("AudioFile WAV output is float when asked (a float input stays float)", "[dsp][audio_file]") {
  TempDir dir;
  const std::vector<float> x = test_signal(1000, 1, 44100.0);
  const std::string raw_in = dir.file("in.f32");
  write_file(raw_in, x, 1, 44100.0);
  const bool in_is_float = AudioFileReader::open(raw_in, RawSpec{44100.0, 1}).info().is_float;
  CHECK(in_is_float);

  const std::string wav = dir.file("float.wav");
  write_file(wav, x, 1, 44100.0, raw_in, in_is_float);
  AudioFileReader r = AudioFileReader::open(wav);
  CHECK(r.info().is_float);
  CHECK(read_all(r) == x);  // bit exact

  const std::string wav24 = dir.file("pcm.wav");
  write_file(wav24, x, 1, 44100.0, raw_in, false);
  CHECK_FALSE(AudioFileReader::open(wav24).info().is_float);

  const std::string aiff = dir.file("float.aiff");
  write_file(aiff, x, 1, 44100.0, wav, AudioFileReader::open(wav).info().is_float);
  CHECK(AudioFileReader::open(aiff).info().is_float);
}

TEST_CASE("AudioFile Ogg Vorbis keeps length and rough energy", "[dsp][audio_file]") {
  TempDir dir;
  constexpr std::size_t kFrames = 24000;
  const std::vector<float> x = test_signal(kFrames, 2, 48000.0);
  const std::string path = dir.file("out.ogg");
  write_file(path, x, 2, 48000.0);
  AudioFileReader r = AudioFileReader::open(path);
  CHECK(r.info().channels == 2);
  CHECK(r.info().sample_rate == 48000.0);
  const std::vector<float> y = read_all(r);
  CHECK(y.size() == x.size());
  const double ratio = energy(y) / energy(x);
  CHECK(ratio > 0.8);
  CHECK(ratio < 1.25);
}

TEST_CASE("AudioFile integer formats clip instead of wrapping", "[dsp][audio_file]") {
  TempDir dir;
  const std::vector<float> x = {1.5f, -2.0f, 0.25f};
  const std::string path = dir.file("clip.wav");
  write_file(path, x, 1, 8000.0);
  AudioFileReader r = AudioFileReader::open(path);
  const std::vector<float> y = read_all(r);
  REQUIRE(y.size() == 3);
  CHECK(y[0] == Approx(1.0f).margin(1e-6));
  CHECK(y[1] == Approx(-1.0f).margin(1e-6));
  CHECK(y[2] == Approx(0.25f).margin(1e-6));
}

TEST_CASE("AudioFileReader errors name the path", "[dsp][audio_file]") {
  TempDir dir;
  const std::string missing = dir.file("missing.wav");
  const std::string msg = error_message_of([&] { AudioFileReader::open(missing); });
  CHECK_THAT(msg, Catch::Contains(missing) && Catch::Contains("does not exist"));

  const std::string garbage = dir.file("garbage.wav");
  {
    std::mt19937 rng(5);
    std::ofstream f(garbage, std::ios::binary);
    for (int i = 0; i < 4096; ++i)
      f.put(static_cast<char>(rng() & 0xff));
  }
  const std::string msg2 = error_message_of([&] { AudioFileReader::open(garbage); });
  CHECK_THAT(msg2, Catch::Contains(garbage) && Catch::Contains("cannot read audio"));

  const std::string raw = dir.file("raw.f32");
  { std::ofstream f(raw, std::ios::binary); }
  const std::string msg3 = error_message_of([&] { AudioFileReader::open(raw); });  // no rate
  CHECK_THAT(msg3, Catch::Contains(raw) && Catch::Contains("sample rate"));
  AudioFileReader empty = AudioFileReader::open(raw, RawSpec{16000.0, 1});
  CHECK(empty.info().frames == 0);
  float buf[4];
  CHECK(empty.read(buf, 4) == 0);

  const std::string msg4 = error_message_of([&] { AudioFileReader::open(dir.path.string()); });
  CHECK_THAT(msg4, Catch::Contains("directory"));
}

TEST_CASE("AudioFileWriter: no commit leaves nothing, commit replaces atomically", "[dsp][audio_file]") {
  TempDir dir;
  const std::vector<float> x = test_signal(500, 1, 16000.0);
  const std::string out = dir.file("render.wav");
  {
    AudioFileWriter w = AudioFileWriter::create(out, 16000.0, 1);
    w.write(x.data(), 500);
    CHECK(dir.entry_count() == 1);  // the temporary file
    CHECK_FALSE(fs::exists(out));
  }
  CHECK_FALSE(fs::exists(out));
  CHECK(dir.entry_count() == 0);

  // An existing OUT is untouched until commit, then replaced.
  write_file(out, x, 1, 16000.0);
  const auto size_before = fs::file_size(out);
  {
    AudioFileWriter w = AudioFileWriter::create(out, 16000.0, 1);
    std::vector<float> longer(5000, 0.1f);
    w.write(longer.data(), longer.size());
    CHECK(fs::file_size(out) == size_before);
    // Moving the writer keeps one owner of the temporary file.
    AudioFileWriter moved = std::move(w);
    CHECK(fs::file_size(out) == size_before);
  }
  CHECK(fs::file_size(out) == size_before);
  CHECK(dir.entry_count() == 1);

  AudioFileWriter w = AudioFileWriter::create(out, 16000.0, 1);
  std::vector<float> longer(5000, 0.1f);
  w.write(longer.data(), longer.size());
  w.commit();
  CHECK(fs::file_size(out) > size_before);
  CHECK(dir.entry_count() == 1);
  CHECK_THROWS_AS(w.write(longer.data(), 1), AudioFileError);
  CHECK(AudioFileReader::open(out).info().frames == 5000);
}

TEST_CASE("AudioFileWriter refuses unknown extensions and the input file", "[dsp][audio_file]") {
  TempDir dir;
  const std::string bad = dir.file("out.mp3");
  const std::string msg = error_message_of([&] { AudioFileWriter::create(bad, 48000.0, 1); });
  CHECK_THAT(msg,
             Catch::Contains(bad) && Catch::Contains(".mp3") && Catch::Contains(".wav") && Catch::Contains(".flac"));
  const std::string msg_noext = error_message_of([&] { AudioFileWriter::create(dir.file("noext"), 48000.0, 1); });
  CHECK_THAT(msg_noext, Catch::Contains("extension"));
  CHECK(dir.entry_count() == 0);

  const std::vector<float> x = test_signal(100, 1, 48000.0);
  const std::string in = dir.file("in.wav");
  write_file(in, x, 1, 48000.0);
  CHECK(AudioFileWriter::same_file(in, in));
  CHECK(AudioFileWriter::same_file(in, dir.file("./in.wav")));
  CHECK_FALSE(AudioFileWriter::same_file(in, dir.file("other.wav")));
  CHECK_FALSE(AudioFileWriter::same_file("-", "-"));
  CHECK(AudioFileWriter::same_file(dir.file("./y.wav"), dir.file("y.wav")));
  const std::string link = dir.file("hardlink.wav");
  fs::create_hard_link(in, link);
  CHECK(AudioFileWriter::same_file(in, link));

  const std::string msg2 = error_message_of([&] { AudioFileWriter::create(link, 48000.0, 1, in); });
  CHECK_THAT(msg2, Catch::Contains(link) && Catch::Contains("input"));
  CHECK(AudioFileReader::open(in).info().frames == 100);  // input untouched
  CHECK(dir.entry_count() == 2);
}

TEST_CASE("AudioFile raw float32 through stdin (pipe) and stdout", "[dsp][audio_file]") {
  TempDir dir;
  const std::vector<float> x = test_signal(3001, 2, 22050.0);

  // stdin: a real pipe, fed by a thread, so no seeking is possible.
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const int saved_stdin = ::dup(0);
  REQUIRE(saved_stdin >= 0);
  REQUIRE(::dup2(fds[0], 0) == 0);
  ::close(fds[0]);
  std::thread feeder([&] {
    const char* p = reinterpret_cast<const char*>(x.data());
    std::size_t left = x.size() * sizeof(float);
    while (left > 0) {
      const ssize_t n = ::write(fds[1], p, std::min<std::size_t>(left, 777));
      if (n <= 0)
        break;
      p += n;
      left -= static_cast<std::size_t>(n);
    }
    ::close(fds[1]);
  });
  std::vector<float> y;
  {
    AudioFileReader r = AudioFileReader::open("-", RawSpec{22050.0, 2});
    CHECK(r.info().frames == -1);
    CHECK(r.info().channels == 2);
    y = read_all(r);
  }
  feeder.join();
  ::dup2(saved_stdin, 0);
  ::close(saved_stdin);
  std::clearerr(stdin);
  CHECK(y == x);

  // stdout: redirect fd 1 to a file for the duration.
  const std::string captured = dir.file("stdout.bin");
  std::fflush(stdout);
  const int saved_stdout = ::dup(1);
  REQUIRE(saved_stdout >= 0);
  const int out_fd = ::open(captured.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  REQUIRE(out_fd >= 0);
  ::dup2(out_fd, 1);
  ::close(out_fd);
  {
    AudioFileWriter w = AudioFileWriter::create("-", 22050.0, 2);
    w.write(x.data(), 3001);
    w.commit();
  }
  std::fflush(stdout);
  ::dup2(saved_stdout, 1);
  ::close(saved_stdout);
  std::ifstream f(captured, std::ios::binary);
  std::vector<float> z(x.size());
  f.read(reinterpret_cast<char*>(z.data()), static_cast<std::streamsize>(z.size() * sizeof(float)));
  CHECK(f.gcount() == static_cast<std::streamsize>(x.size() * sizeof(float)));
  CHECK(z == x);
}

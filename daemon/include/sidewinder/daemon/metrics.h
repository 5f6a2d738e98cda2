// SPDX-License-Identifier: GPL-3.0-or-later
// The daemon's counters and histograms, shared by its protocols, written out
// as Prometheus text (ref: prometheus.io/docs/instrumenting/exposition_formats,
// text format 0.0.4). Per request, not per sample: every method takes a short
// lock and may allocate (a new label set). Not for an audio thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace sw::daemon {

class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double v);
  // Prometheus lines for `name` with the given label text ("" or `a="b"`).
  void write(std::string& out, const std::string& name, const std::string& labels) const;
  std::uint64_t count() const { return count_; }

 private:
  std::vector<double> bounds_;
  std::vector<std::uint64_t> counts_;  // [bounds + 1]: the last is +Inf
  double sum_ = 0;
  std::uint64_t count_ = 0;
};

class Metrics {
 public:
  Metrics();
  // protocol: "wyoming", "http".
  void request(const std::string& protocol);
  void error(const std::string& protocol, const std::string& code);
  void dropped(const std::string& protocol, const std::string& why);  // slow client, timeout, gone
  // A stream that finished: time from request to first audio, its real-time
  // factor (engine seconds / audio seconds), seconds of audio.
  void first_audio(const std::string& protocol, double seconds);
  void finished(const std::string& protocol, double rtf, double audio_seconds);

  // The exposition; gauges (name, help, value) the caller reads at the time
  // (active streams, connections) appended.
  std::string prometheus(const std::vector<std::pair<std::string, double>>& gauges = {}) const;

  // For tests and /health.
  std::uint64_t requests(const std::string& protocol) const;
  std::uint64_t errors(const std::string& protocol) const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::uint64_t> requests_;                         // protocol
  std::map<std::pair<std::string, std::string>, std::uint64_t> errors_;   // protocol, code
  std::map<std::pair<std::string, std::string>, std::uint64_t> dropped_;  // protocol, why
  std::map<std::string, double> audio_seconds_;
  std::map<std::string, Histogram> ttfa_, rtf_;
};

}  // namespace sw::daemon

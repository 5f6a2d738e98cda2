// SPDX-License-Identifier: GPL-3.0-or-later
#include "sidewinder/daemon/metrics.h"

#include <cmath>
#include <cstdio>

namespace sw::daemon {

namespace {

std::string num(double v) {
  if (std::isinf(v))
    return v > 0 ? "+Inf" : "-Inf";
  char b[40];
  std::snprintf(b, sizeof b, "%.9g", v);
  return b;
}

std::string label(const char* k, const std::string& v) {
  std::string out = std::string(k) + "=\"";
  for (char c : v) {
    if (c == '"' || c == '\\')
      out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

// 0.5 ms .. 10 s: time to first audio.
std::vector<double> ttfa_bounds() {
  return {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10};
}
// Real-time factor: compute / audio (1 = just real time).
std::vector<double> rtf_bounds() {
  return {0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2};
}

}  // namespace

Histogram::Histogram(std::vector<double> b) : bounds_(std::move(b)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double v) {
  std::size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i])
    ++i;
  ++counts_[i];
  sum_ += v;
  ++count_;
}

void Histogram::write(std::string& out, const std::string& name, const std::string& labels) const {
  std::uint64_t cum = 0;
  const std::string sep = labels.empty() ? "" : ",";
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    cum += counts_[i];
    const double le = i < bounds_.size() ? bounds_[i] : INFINITY;
    out += name + "_bucket{" + labels + sep + label("le", num(le)) + "} " + std::to_string(cum) + "\n";
  }
  const std::string l = labels.empty() ? "" : "{" + labels + "}";
  out += name + "_sum" + l + " " + num(sum_) + "\n";
  out += name + "_count" + l + " " + std::to_string(count_) + "\n";
}

Metrics::Metrics() = default;

void Metrics::request(const std::string& p) {
  std::lock_guard<std::mutex> l(mu_);
  ++requests_[p];
}

void Metrics::error(const std::string& p, const std::string& code) {
  std::lock_guard<std::mutex> l(mu_);
  ++errors_[{p, code}];
}

void Metrics::dropped(const std::string& p, const std::string& why) {
  std::lock_guard<std::mutex> l(mu_);
  ++dropped_[{p, why}];
}

void Metrics::first_audio(const std::string& p, double s) {
  std::lock_guard<std::mutex> l(mu_);
  ttfa_.try_emplace(p, ttfa_bounds()).first->second.observe(s);
}

void Metrics::finished(const std::string& p, double rtf, double audio_s) {
  std::lock_guard<std::mutex> l(mu_);
  rtf_.try_emplace(p, rtf_bounds()).first->second.observe(rtf);
  audio_seconds_[p] += audio_s;
}

std::uint64_t Metrics::requests(const std::string& p) const {
  std::lock_guard<std::mutex> l(mu_);
  const auto it = requests_.find(p);
  return it == requests_.end() ? 0 : it->second;
}

std::uint64_t Metrics::errors(const std::string& p) const {
  std::lock_guard<std::mutex> l(mu_);
  std::uint64_t n = 0;
  for (const auto& [k, v] : errors_)
    if (k.first == p)
      n += v;
  return n;
}

std::string Metrics::prometheus(const std::vector<std::pair<std::string, double>>& gauges) const {
  std::lock_guard<std::mutex> l(mu_);
  std::string o;
  o += "# HELP sidewinder_requests_total Speech requests received.\n# TYPE sidewinder_requests_total counter\n";
  for (const auto& [p, v] : requests_)
    o += "sidewinder_requests_total{" + label("protocol", p) + "} " + std::to_string(v) + "\n";
  o += "# HELP sidewinder_errors_total Requests answered with an error.\n# TYPE sidewinder_errors_total counter\n";
  for (const auto& [k, v] : errors_)
    o += "sidewinder_errors_total{" + label("protocol", k.first) + "," + label("code", k.second) + "} " +
         std::to_string(v) + "\n";
  o += "# HELP sidewinder_dropped_total Streams cut short: slow client, timeout, client gone.\n"
       "# TYPE sidewinder_dropped_total counter\n";
  for (const auto& [k, v] : dropped_)
    o += "sidewinder_dropped_total{" + label("protocol", k.first) + "," + label("reason", k.second) + "} " +
         std::to_string(v) + "\n";
  o += "# HELP sidewinder_audio_seconds_total Seconds of speech sent.\n# TYPE sidewinder_audio_seconds_total counter\n";
  for (const auto& [p, v] : audio_seconds_)
    o += "sidewinder_audio_seconds_total{" + label("protocol", p) + "} " + num(v) + "\n";
  o += "# HELP sidewinder_time_to_first_audio_seconds Request received to first audio handed to the client.\n"
       "# TYPE sidewinder_time_to_first_audio_seconds histogram\n";
  for (const auto& [p, h] : ttfa_)
    h.write(o, "sidewinder_time_to_first_audio_seconds", label("protocol", p));
  o += "# HELP sidewinder_real_time_factor Engine time per second of audio, per finished stream.\n"
       "# TYPE sidewinder_real_time_factor histogram\n";
  for (const auto& [p, h] : rtf_)
    h.write(o, "sidewinder_real_time_factor", label("protocol", p));
  for (const auto& [name, v] : gauges) {
    o += "# TYPE " + name + " gauge\n";
    o += name + " " + num(v) + "\n";
  }
  return o;
}

}  // namespace sw::daemon

// SPDX-License-Identifier: GPL-3.0-or-later
// Non-real-time: file reading and model parsing live here, never in the
// code the audio thread runs.
#include "sidewinder/fx/model_host.h"

#include <chrono>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include "sidewinder/ssm/model_loader.h"

namespace sw::fx {
namespace {

std::string meta(const ssm::Model& m, const char* key) {
  auto it = m.metadata().find(key);
  return it == m.metadata().end() ? std::string() : it->second;
}

std::vector<unsigned char> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f)
    throw ssm::ModelLoadError(path + ": cannot open");
  f.seekg(0, std::ios::end);
  const std::streamoff size = f.tellg();
  if (size < 0)
    throw ssm::ModelLoadError(path + ": cannot read (not a regular file?)");
  if (static_cast<std::uint64_t>(size) > ssm::kMaxFileBytes)
    throw ssm::ModelLoadError(path + ": file too large");
  f.seekg(0, std::ios::beg);
  std::vector<unsigned char> bytes(static_cast<std::size_t>(size));
  if (size > 0 && !f.read(reinterpret_cast<char*>(bytes.data()), size))
    throw ssm::ModelLoadError(path + ": read error");
  return bytes;
}

}  // namespace

ModelHost::ModelHost(Effect& effect) : effect_(effect) {
  thread_ = std::thread([this] { worker(); });
}

ModelHost::~ModelHost() {
  stop();
}

void ModelHost::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable())
    thread_.join();
}

void ModelHost::prepare(const HostSpec& spec) {
  std::lock_guard<std::mutex> load_lock(load_mutex_);
  std::unique_ptr<ModelInstance> inst;
  std::shared_ptr<const ssm::Model> model;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    model = model_;
  }
  std::string error;
  if (model) {
    try {
      inst = std::make_unique<ModelInstance>(model, spec);
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  int latency = inst ? inst->latency_samples() : 0;
  try {
    effect_.prepare(spec, std::move(inst));
  } catch (const std::exception& e) {  // the model does not fit this layout: play dry, say why
    error = e.what();
    latency = 0;
    effect_.prepare(spec, nullptr);
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    spec_ = spec;
    prepared_ = true;
    status_.latency = latency;
    status_.loaded = model != nullptr && error.empty();
    status_.error = error.empty() ? std::string() : status_.name + ": " + error;
    ++status_.generation;
  }
  notify();
}

bool ModelHost::load(ModelSource source) {
  std::lock_guard<std::mutex> load_lock(load_mutex_);
  const std::string label = source.name.empty() ? std::string("model") : source.name;
  std::string error;
  std::shared_ptr<const ssm::Model> model;
  std::unique_ptr<ModelInstance> inst;
  int latency = 0;
  try {
    if (source.bytes.empty())
      source.bytes = read_file(source.name);
    model = ssm::load_model_from_memory(source.bytes, label);
    HostSpec spec;
    bool prepared;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      spec = spec_;
      prepared = prepared_;
    }
    if (prepared) {
      inst = std::make_unique<ModelInstance>(model, spec);
      latency = inst->latency_samples();
      effect_.publish(std::move(inst));
    } else {
      // not prepared yet: check now that the model can run at all (stereo in, stereo out)
      ModelInstance probe(model, HostSpec{model->config().sample_rate, 64, 2});
      if (probe.out_channels() != 2)
        throw std::invalid_argument("the model gives " + std::to_string(probe.out_channels()) +
                                    " output channel(s) for 2 input channels");
    }
  } catch (const std::exception& e) {
    error = e.what();
    if (error.rfind(label, 0) != 0)
      error = label + ": " + error;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++status_.generation;
    status_.error = error;
    if (error.empty()) {
      model_ = model;
      status_.loaded = true;
      status_.name = meta(*model, "name");
      if (status_.name.empty())
        status_.name = label.substr(label.find_last_of('/') + 1);
      status_.description = meta(*model, "description");
      status_.licence = meta(*model, "license");
      status_.model_rate = model->config().sample_rate;
      status_.latency = latency;
      status_.source = std::move(source);
    }
  }
  notify();
  effect_.collect_garbage();
  return error.empty();
}

bool ModelHost::load_now(ModelSource source) {
  return load(std::move(source));
}

void ModelHost::load_async(ModelSource source) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back(std::move(source));
  }
  cv_.notify_all();
}

void ModelHost::wait_idle() {
  std::unique_lock<std::mutex> lock(mutex_);
  cv_.wait(lock, [this] { return queue_.empty() && busy_ == 0; });
}

ModelStatus ModelHost::status() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return status_;
}

ModelStatus ModelHost::status_without_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  ModelStatus s;
  s.generation = status_.generation;
  s.loaded = status_.loaded;
  s.source.kind = status_.source.kind;
  s.source.name = status_.source.name;
  s.name = status_.name;
  s.description = status_.description;
  s.licence = status_.licence;
  s.model_rate = status_.model_rate;
  s.latency = status_.latency;
  s.error = status_.error;
  return s;
}

std::uint64_t ModelHost::generation() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return status_.generation;
}

void ModelHost::set_listener(std::function<void(const ModelStatus&)> listener) {
  std::lock_guard<std::mutex> lock(mutex_);
  listener_ = std::move(listener);
}

void ModelHost::set_poll(std::function<void()> poll) {
  std::lock_guard<std::mutex> lock(mutex_);
  poll_ = std::move(poll);
}

void ModelHost::notify() {
  std::function<void(const ModelStatus&)> l;
  ModelStatus s;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    l = listener_;
    s = status_;
  }
  if (l)
    l(s);
}

void ModelHost::worker() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_) {
    if (queue_.empty()) {
      // Wake now and then to free what the audio thread retired and to run
      // the front end's poll.
      cv_.wait_for(lock, std::chrono::milliseconds(kPollMilliseconds));
      if (stop_)
        break;
      std::function<void()> poll = poll_;
      lock.unlock();
      if (poll)
        poll();
      effect_.collect_garbage();
      lock.lock();
      continue;
    }
    ModelSource src = std::move(queue_.front());
    queue_.pop_front();
    ++busy_;
    lock.unlock();
    load(std::move(src));
    lock.lock();
    --busy_;
    cv_.notify_all();
  }
}

}  // namespace sw::fx

// SPDX-License-Identifier: GPL-3.0-or-later
// BatchEngine (contract: sidewinder/gpu/batch_engine.h): one device arena for
// the weights, one for the activations of a window, one for the state, one
// scratch for the scans; a CUDA graph per (rows, frames).
#include <cmath>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "layer_kernels.h"
#include "scan.h"
#include "sidewinder/gpu/batch_engine.h"

namespace sw::gpu {

namespace {

void check(cudaError_t e, const std::string& what) {
  if (e != cudaSuccess) {
    cudaGetLastError();  // clear a sticky launch error so the next call reports its own
    throw std::runtime_error("CUDA: " + what + ": " + cudaGetErrorString(e));
  }
}

std::size_t round_up(std::size_t n) {
  return (n + 31) / 32 * 32;  // 128-byte aligned views
}

}  // namespace

bool cuda_available(std::string* why) noexcept {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess || count == 0) {
    if (why)
      *why = e != cudaSuccess ? std::string("no CUDA device: ") + cudaGetErrorString(e) : "no CUDA device";
    cudaGetLastError();
    return false;
  }
  return true;
}

DeviceInfo device_info() {
  std::string why;
  if (!cuda_available(&why))
    throw std::runtime_error(why);
  cudaDeviceProp p{};
  check(cudaGetDeviceProperties(&p, 0), "cudaGetDeviceProperties");
  int driver = 0;
  cudaDriverGetVersion(&driver);
  DeviceInfo d;
  d.name = p.name;
  d.multiprocessors = p.multiProcessorCount;
  d.cc_major = p.major;
  d.cc_minor = p.minor;
  d.memory_gib = double(p.totalGlobalMem) / (1024.0 * 1024.0 * 1024.0);
  d.driver = std::to_string(driver / 1000) + "." + std::to_string(driver % 1000 / 10);
  return d;
}

struct BatchEngine::Impl {
  ssm::ModelConfig c;
  BatchSpec spec;
  DevModel m;
  std::vector<DevLayer> layers;
  std::vector<DevLayerState> states;
  DevBuffers buf;
  float* d_weights = nullptr;
  float* d_act = nullptr;
  float* d_state = nullptr;
  void* d_work = nullptr;
  std::size_t state_floats = 0, bytes = 0;
  float* h_in = nullptr;
  float* h_out = nullptr;
  cudaStream_t stream = nullptr;
  int sms = 1;
  std::map<std::pair<int, int>, cudaGraphExec_t> graphs;

  ~Impl() {
    for (auto& g : graphs)
      cudaGraphExecDestroy(g.second);
    if (stream)
      cudaStreamDestroy(stream);
    cudaFree(d_weights);
    cudaFree(d_act);
    cudaFree(d_state);
    cudaFree(d_work);
    cudaFreeHost(h_in);
    cudaFreeHost(h_out);
  }

  Mamba1Scan scan1(std::size_t l, int rows, int T) const {
    Mamba1Scan s;
    s.batch = rows, s.T = T, s.E = m.E, s.N = m.N, s.ld = buf.W;
    s.u = buf.u, s.dt = buf.dt, s.z = buf.z, s.B = buf.bm, s.C = buf.cm;
    s.A = layers[l].A, s.D = layers[l].D, s.h = states[l].h, s.y = buf.y;
    return s;
  }
  Mamba2Scan scan2(std::size_t l, int rows, int T) const {
    Mamba2Scan s;
    s.batch = rows, s.T = T, s.H = m.H, s.P = m.P, s.N = m.N, s.G = m.G, s.ld = buf.W;
    s.x = buf.u, s.x_batch = std::size_t(m.conv) * buf.W;
    s.B = buf.u + std::size_t(m.E) * buf.W, s.C = buf.u + std::size_t(m.E + m.G * m.N) * buf.W;
    s.bc_batch = std::size_t(m.conv) * buf.W;
    s.dt = buf.dt, s.A = layers[l].A, s.D = layers[l].D, s.d_per_channel = m.d_per_channel;
    s.h = states[l].h, s.y = buf.y;
    return s;
  }

  // The whole step, enqueued on `stream` (what a graph captures).
  void enqueue(int rows, int T) {
    const std::size_t W = buf.W;
    check(cudaMemcpyAsync(const_cast<float*>(buf.in), h_in, std::size_t(rows) * W * m.ci * sizeof(float),
                          cudaMemcpyHostToDevice, stream),
          "input copy");
    check(launch_input(m, buf, rows, T, stream), "input kernel");
    for (std::size_t l = 0; l < layers.size(); ++l) {
      check(launch_pre(m, layers[l], states[l], buf, rows, T, stream), "in_proj kernel");
      check(launch_conv(m, layers[l], states[l], buf, rows, T, stream), "conv kernel");
      if (m.mamba2)
        check(mamba2_scan(scan2(l, rows, T), d_work, stream), "Mamba-2 scan");
      else
        check(mamba1_scan(scan1(l, rows, T), d_work, sms, stream), "Mamba-1 scan");
      check(launch_post(m, layers[l], buf, rows, T, stream), "out_proj kernel");
    }
    check(launch_head(m, buf, rows, T, stream), "head kernel");
    const int out_w = m.has_head ? m.co : m.D;
    check(
        cudaMemcpyAsync(h_out, buf.out, std::size_t(rows) * W * out_w * sizeof(float), cudaMemcpyDeviceToHost, stream),
        "output copy");
  }
};

BatchEngine::BatchEngine(const ssm::ModelWeights& w, const BatchSpec& spec) : impl_(new Impl) {
  w.check_sizes();
  Impl& I = *impl_;
  I.c = w.config;
  I.spec = spec;
  const ssm::ModelConfig& c = I.c;
  if (spec.max_rows < 1 || spec.window < 1)
    throw std::invalid_argument("gpu: max_rows and window must be >= 1");
  std::string why;
  if (!cuda_available(&why))
    throw std::runtime_error(why);

  DevModel& m = I.m;
  m.mamba2 = c.arch == ssm::Arch::mamba2;
  m.D = c.d_model, m.E = c.d_inner, m.N = c.d_state, m.K = c.d_conv, m.R = c.dt_rank;
  m.H = c.n_heads, m.P = c.head_dim, m.G = c.n_groups, m.conv = c.conv_dim(), m.rows = c.in_proj_rows();
  m.ci = c.in_channels, m.co = c.out_channels, m.has_head = c.has_audio_head, m.has_skip = c.has_skip;
  m.d_per_channel = c.d_per_channel, m.eps = c.norm_eps, m.gate_eps = c.gate_norm_eps;
  if (staging_floats(m) > kMaxColumn)
    throw std::invalid_argument("gpu: d_model " + std::to_string(m.D) + " / d_inner " + std::to_string(m.E) +
                                " is wider than the CUDA backend's " + std::to_string(kMaxColumn) +
                                " channels; use --device cpu");
  if (m.K < 1 || m.K > 64)
    throw std::invalid_argument("gpu: d_conv " + std::to_string(m.K) + " is outside 1..64");
  if (m.mamba2 && mamba2_scan_smem_bytes(m.P, m.N) > mamba2_scan_max_smem())
    throw std::invalid_argument("gpu: headdim x d_state (" + std::to_string(m.P) + " x " + std::to_string(m.N) +
                                ") is too large for the CUDA Mamba-2 scan; use --device cpu");

  // Weights: one arena, views into it.
  std::vector<float> host;
  auto put = [&host](const std::vector<float>& v) -> long {
    if (v.empty())
      return -1;
    const long at = long(host.size());
    host.insert(host.end(), v.begin(), v.end());
    host.resize(round_up(host.size()), 0.0f);
    return at;
  };
  struct Offsets {
    long norm_w, in_w, in_b, conv_w, conv_b, x_w, dt_w, dt_b, dt_bias, A, D, gnw, out_w, out_b;
  };
  std::vector<Offsets> offs;
  for (const ssm::LayerWeights& lw : w.layers) {
    std::vector<float> A(lw.a_log.size());
    for (std::size_t i = 0; i < A.size(); ++i)
      A[i] = -std::exp(lw.a_log[i]);
    offs.push_back(Offsets{put(lw.norm_w), put(lw.in_proj_w), put(lw.in_proj_b), put(lw.conv_w), put(lw.conv_b),
                           put(lw.x_proj_w), put(lw.dt_proj_w), put(lw.dt_proj_b), put(lw.dt_bias), put(A), put(lw.d),
                           put(lw.gate_norm_w), put(lw.out_proj_w), put(lw.out_proj_b)});
  }
  const long o_norm_f = put(w.norm_f_w), o_in_w = put(w.audio_in_w), o_in_b = put(w.audio_in_b),
             o_out_w = put(w.audio_out_w), o_out_b = put(w.audio_out_b), o_skip = put(w.audio_skip_w);
  check(cudaMalloc(&I.d_weights, std::max<std::size_t>(host.size(), 1) * sizeof(float)), "allocating the weights");
  check(cudaMemcpy(I.d_weights, host.data(), host.size() * sizeof(float), cudaMemcpyHostToDevice),
        "uploading the weights");
  auto view = [&I](long at) -> const float* { return at < 0 ? nullptr : I.d_weights + at; };
  for (const Offsets& o : offs) {
    DevLayer l;
    l.norm_w = view(o.norm_w), l.in_w = view(o.in_w), l.in_b = view(o.in_b), l.conv_w = view(o.conv_w);
    l.conv_b = view(o.conv_b), l.x_w = view(o.x_w), l.dt_w = view(o.dt_w), l.dt_b = view(o.dt_b);
    l.dt_bias = view(o.dt_bias), l.A = view(o.A), l.D = view(o.D), l.gnw = view(o.gnw);
    l.out_w = view(o.out_w), l.out_b = view(o.out_b);
    I.layers.push_back(l);
  }
  m.norm_f = view(o_norm_f), m.in_w = view(o_in_w), m.in_b = view(o_in_b);
  m.out_w = view(o_out_w), m.out_b = view(o_out_b), m.skip_w = view(o_skip);

  // Activations of one window: [rows, C, W] each.
  const std::size_t R = std::size_t(spec.max_rows), W = std::size_t(spec.window), K = std::size_t(m.K);
  const std::size_t in_w = m.has_head ? m.ci : m.D, out_w = m.has_head ? m.co : m.D;
  const std::size_t dt_rows = m.mamba2 ? m.H : m.E, bc_rows = m.mamba2 ? 0 : m.N;
  const std::size_t sizes[] = {R * W * in_w, R * W * out_w,   R * m.D * W,     R * m.conv * (W + K - 1), R * m.conv * W,
                               R * m.E * W,  R * dt_rows * W, R * bc_rows * W, R * bc_rows * W,          R * m.E * W};
  std::size_t total = 0;
  for (std::size_t s : sizes)
    total += round_up(s);
  auto mib = [](std::size_t floats) { return std::to_string(floats * sizeof(float) / (1024 * 1024)) + " MiB"; };
  check(cudaMalloc(&I.d_act, total * sizeof(float)), "allocating " + mib(total) + " of activations");
  float* p = I.d_act;
  float* views[10];
  for (int i = 0; i < 10; ++i) {
    views[i] = p;
    p += round_up(sizes[i]);
  }
  DevBuffers& b = I.buf;
  b.W = W, b.Wk = W + K - 1;
  b.in = views[0], b.out = views[1], b.r = views[2], b.xc = views[3], b.u = views[4], b.z = views[5];
  b.dt = views[6], b.bm = views[7], b.cm = views[8], b.y = views[9];

  // State: per layer, conv history then SSM state.
  const std::size_t hist = round_up(R * m.conv * (K - 1)), ssm = round_up(R * m.E * m.N);
  I.state_floats = c.n_layers * (hist + ssm);
  check(cudaMalloc(&I.d_state, std::max<std::size_t>(I.state_floats, 1) * sizeof(float)), "allocating the state");
  check(cudaMemset(I.d_state, 0, I.state_floats * sizeof(float)), "clearing the state");
  check(cudaDeviceSynchronize(), "clearing the state");
  for (int l = 0; l < c.n_layers; ++l)
    I.states.push_back(DevLayerState{I.d_state + l * (hist + ssm), I.d_state + l * (hist + ssm) + hist});

  check(cudaDeviceGetAttribute(&I.sms, cudaDevAttrMultiProcessorCount, 0), "querying the device");
  const std::size_t work = m.mamba2 ? mamba2_scan_work_bytes(I.scan2(0, spec.max_rows, spec.window))
                                    : mamba1_scan_work_bytes(I.scan1(0, spec.max_rows, spec.window), I.sms);
  check(cudaMalloc(&I.d_work, std::max<std::size_t>(work, 16)), "allocating the scan scratch");
  if (m.mamba2)
    check(mamba2_scan_prepare(m.P, m.N), "preparing the Mamba-2 scan");

  check(cudaHostAlloc(reinterpret_cast<void**>(&I.h_in), R * W * in_w * sizeof(float), cudaHostAllocDefault),
        "allocating pinned input");
  check(cudaHostAlloc(reinterpret_cast<void**>(&I.h_out), R * W * out_w * sizeof(float), cudaHostAllocDefault),
        "allocating pinned output");
  std::fill(I.h_in, I.h_in + R * W * in_w, 0.0f);
  std::fill(I.h_out, I.h_out + R * W * out_w, 0.0f);
  check(cudaStreamCreateWithFlags(&I.stream, cudaStreamNonBlocking), "creating a stream");
  I.bytes = host.size() * sizeof(float) + total * sizeof(float) + I.state_floats * sizeof(float) + work;

  // A first step outside any graph loads the kernels and proves the device
  // runs them; then back to silence.
  I.enqueue(1, 1);
  check(cudaStreamSynchronize(I.stream), "first step");
  check(cudaMemsetAsync(I.d_state, 0, I.state_floats * sizeof(float), I.stream), "clearing the state");
  check(cudaStreamSynchronize(I.stream), "clearing the state");
}

BatchEngine::~BatchEngine() = default;

int BatchEngine::in_channels() const noexcept {
  return impl_->m.has_head ? impl_->m.ci : impl_->m.D;
}
int BatchEngine::out_channels() const noexcept {
  return impl_->m.has_head ? impl_->m.co : impl_->m.D;
}
const BatchSpec& BatchEngine::spec() const noexcept {
  return impl_->spec;
}
double BatchEngine::sample_rate() const noexcept {
  return impl_->c.sample_rate;
}
float* BatchEngine::input() noexcept {
  return impl_->h_in;
}
const float* BatchEngine::output() const noexcept {
  return impl_->h_out;
}
std::size_t BatchEngine::device_bytes() const noexcept {
  return impl_->bytes;
}

void BatchEngine::run(int rows, int frames) {
  Impl& I = *impl_;
  if (rows < 0 || rows > I.spec.max_rows || frames < 0 || frames > I.spec.window)
    throw std::invalid_argument("gpu: run(" + std::to_string(rows) + ", " + std::to_string(frames) +
                                ") outside the prepared " + std::to_string(I.spec.max_rows) + " rows x " +
                                std::to_string(I.spec.window) + " frames");
  if (rows == 0 || frames == 0)
    return;
  auto it = I.graphs.find({rows, frames});
  if (it == I.graphs.end()) {
    cudaGraph_t graph = nullptr;
    check(cudaStreamBeginCapture(I.stream, cudaStreamCaptureModeThreadLocal), "beginning a graph capture");
    try {
      I.enqueue(rows, frames);
    } catch (...) {
      cudaStreamEndCapture(I.stream, &graph);
      if (graph)
        cudaGraphDestroy(graph);
      throw;
    }
    check(cudaStreamEndCapture(I.stream, &graph), "ending a graph capture");
    cudaGraphExec_t exec = nullptr;
    const cudaError_t e = cudaGraphInstantiate(&exec, graph, 0);
    cudaGraphDestroy(graph);
    check(e, "instantiating a graph");
    it = I.graphs.emplace(std::make_pair(rows, frames), exec).first;
  }
  check(cudaGraphLaunch(it->second, I.stream), "launching the step");
  check(cudaStreamSynchronize(I.stream), "running the step");
}

void BatchEngine::reset() {
  check(cudaMemsetAsync(impl_->d_state, 0, impl_->state_floats * sizeof(float), impl_->stream), "reset");
  check(cudaStreamSynchronize(impl_->stream), "reset");
}

void BatchEngine::reset_row(int row) {
  Impl& I = *impl_;
  if (row < 0 || row >= I.spec.max_rows)
    throw std::invalid_argument("gpu: reset_row(" + std::to_string(row) + ") outside the prepared rows");
  const std::size_t hist = std::size_t(I.m.conv) * (I.m.K - 1), ssm = std::size_t(I.m.E) * I.m.N;
  for (const DevLayerState& s : I.states) {
    check(cudaMemsetAsync(s.hist + row * hist, 0, hist * sizeof(float), I.stream), "reset_row");
    check(cudaMemsetAsync(s.h + row * ssm, 0, ssm * sizeof(float), I.stream), "reset_row");
  }
  check(cudaStreamSynchronize(I.stream), "reset_row");
}

}  // namespace sw::gpu

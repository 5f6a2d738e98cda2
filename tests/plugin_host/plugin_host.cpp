// SPDX-License-Identifier: GPL-3.0-or-later
// A headless JUCE host that loads the *built* Sidewinder VST3 or LV2 through
// JUCE's plugin-hosting classes and checks it from the outside:
//   compare   output = `sidewinder render` of the same input and model within
//             1e-5, block sizes 1, 31, 64, 512, 4096, at 48 and 44.1 kHz (the
//             reported latency compensated);
//   clicks    bypass toggles and gain/mix jumps cause no step beyond a bound;
//   state     saving and restoring state (parameters + model) restores the
//             same output, in a fresh instance;
//   realtime  no heap allocation inside processBlock (this process's counting
//             allocator, tests/alloc_counter.cpp) over 10 s with automation
//             and a model swap in the middle;
//   bench     CPU per instance for each bundled model (48 kHz, block 64).
// Usage: sidewinder_plugin_host (vst3 BUNDLE | lv2 URI) --cli SIDEWINDER
//        --presets DIR --work DIR [--bench] [--only NAME]
#include <juce_audio_processors/juce_audio_processors.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "alloc_counter.h"
#include "sidewinder/dsp/audio_file.h"

namespace {

using Planar = std::vector<std::vector<float>>;

struct Options {
  std::string format, plugin, cli, presets, work, only;
  bool bench = false;
};

int g_failures = 0;

void report(bool ok, const std::string& what) {
  std::printf("%s  %s\n", ok ? "PASS" : "FAIL", what.c_str());
  std::fflush(stdout);
  if (!ok)
    ++g_failures;
}

// Deterministic stereo test signal: tones, a swept level and noise bursts.
Planar make_signal(std::size_t frames, double rate) {
  Planar x(2, std::vector<float>(frames));
  std::uint32_t s = 12345u;
  auto noise = [&s] {
    s = s * 1664525u + 1013904223u;
    return static_cast<float>(static_cast<double>(s >> 8) / 8388608.0 - 1.0);
  };
  for (std::size_t t = 0; t < frames; ++t) {
    const double tt = static_cast<double>(t) / rate;
    const double env = 0.2 + 0.6 * std::fabs(std::sin(2.0 * M_PI * 0.7 * tt));
    const bool burst = std::fmod(tt, 0.5) < 0.05;
    x[0][t] = static_cast<float>(env * 0.4 * std::sin(2.0 * M_PI * 110.0 * tt) + (burst ? 0.2 * noise() : 0.0));
    x[1][t] = static_cast<float>(0.3 * std::sin(2.0 * M_PI * 440.0 * tt + 0.5) +
                                 0.1 * std::sin(2.0 * M_PI * 2500.0 * tt) + (burst ? 0.1 * noise() : 0.0));
  }
  return x;
}

std::vector<float> interleave(const Planar& x) {
  std::vector<float> v(x[0].size() * x.size());
  for (std::size_t t = 0; t < x[0].size(); ++t)
    for (std::size_t c = 0; c < x.size(); ++c)
      v[t * x.size() + c] = x[c][t];
  return v;
}

class Host {
 public:
  explicit Host(const Options& o) : o_(o) {
    fm_.addDefaultFormats();
    for (auto* f : fm_.getFormats()) {
      const bool want = (o.format == "vst3" && f->getName() == "VST3") || (o.format == "lv2" && f->getName() == "LV2");
      if (!want)
        continue;
      juce::OwnedArray<juce::PluginDescription> types;
      f->findAllTypesForFile(types, o.plugin);
      if (!types.isEmpty())
        desc_ = *types[0];
    }
    if (desc_.name.isEmpty()) {
      std::fprintf(stderr, "no %s plugin found at %s\n", o.format.c_str(), o.plugin.c_str());
      std::exit(2);
    }
    std::printf("found: [%s] %s by %s (%s)\n", desc_.pluginFormatName.toRawUTF8(), desc_.name.toRawUTF8(),
                desc_.manufacturerName.toRawUTF8(), desc_.fileOrIdentifier.toRawUTF8());
  }

  std::unique_ptr<juce::AudioPluginInstance> create(double rate, int block) {
    juce::String err;
    auto inst = fm_.createPluginInstance(desc_, rate, block, err);
    if (!inst) {
      std::fprintf(stderr, "cannot instantiate: %s\n", err.toRawUTF8());
      std::exit(2);
    }
    inst->releaseResources();  // a VST3 takes a new bus arrangement only while inactive
    auto layout = inst->getBusesLayout();
    layout.getMainInputChannelSet() = juce::AudioChannelSet::stereo();
    layout.getMainOutputChannelSet() = juce::AudioChannelSet::stereo();
    if (!inst->setBusesLayout(layout)) {
      std::fprintf(stderr, "the plugin refused a stereo layout\n");
      std::exit(2);
    }
    inst->prepareToPlay(rate, block);
    pump();  // a VST3 reports its new latency through the message thread, as DAWs see it
    return inst;
  }

  // Runs the message loop for a moment (restartComponent, async updates).
  static void pump(int ms = 50) { juce::MessageManager::getInstance()->runDispatchLoopUntil(ms); }

  static juce::AudioProcessorParameter* param(juce::AudioPluginInstance& p, const char* name) {
    for (auto* q : p.getParameters())
      if (q->getName(64) == name)
        return q;
    std::fprintf(stderr, "parameter %s not found\n", name);
    std::exit(2);
  }

  // Runs x through `p` in blocks of `block`, plus `tail` frames of silence;
  // `each_block(i)` runs before block i (outside any counting). Counts this
  // thread's allocations inside processBlock if `allocs` is given: [0] all
  // of them, [1] those called from outside this executable (the plugin and
  // what it loaded). JUCE's own hosting classes, compiled into this host,
  // grow buffers in some calls (seen in VST3PluginInstance::processAudio and
  // LV2AudioPluginInstance::processBlockImpl); those are the host's, not the
  // plugin's.
  template <class F>
  static Planar run(juce::AudioPluginInstance& p, const Planar& x, int block, std::size_t tail, F&& each_block,
                    std::size_t* allocs = nullptr) {
    const std::size_t n = x[0].size() + tail;
    const int C = static_cast<int>(x.size());
    Planar y(x.size(), std::vector<float>(n, 0.0f));
    for (int c = 0; c < C; ++c)
      std::copy(x[c].begin(), x[c].end(), y[c].begin());
    juce::MidiBuffer midi;
    std::size_t i = 0;
    for (std::size_t pos = 0; pos < n; pos += static_cast<std::size_t>(block), ++i) {
      const int b = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(block), n - pos));
      each_block(i);
      float* ch[2] = {y[0].data() + pos, C > 1 ? y[1].data() + pos : nullptr};
      juce::AudioBuffer<float> buf(ch, C, b);  // refers to y: no allocation
      if (allocs != nullptr) {
        sw::test::AllocationScope scope;
        p.processBlock(buf, midi);
        allocs[0] += scope.count();
        allocs[1] += scope.count_outside_main_program();
      } else {
        p.processBlock(buf, midi);
      }
    }
    return y;
  }
  static Planar run(juce::AudioPluginInstance& p, const Planar& x, int block, std::size_t tail = 0) {
    return run(p, x, block, tail, [](std::size_t) {});
  }

  const Options& o_;
  juce::AudioPluginFormatManager fm_;
  juce::PluginDescription desc_;
};

float max_step(const std::vector<float>& v, std::size_t from) {
  float m = 0.0f;
  for (std::size_t t = from + 1; t < v.size(); ++t)
    m = std::max(m, std::fabs(v[t] - v[t - 1]));
  return m;
}

// ---- compare: plugin output = `sidewinder render` ------------------------
constexpr std::size_t kMaxTail = 8192;  // the effect's latency limit (fx::Effect::kMaxLatency)

void test_compare(Host& h, const Options& o) {
  const std::string model = o.presets + "/ts-overdrive.safetensors";  // the plugin's default model
  for (double rate : {48000.0, 44100.0}) {
    const std::size_t frames = static_cast<std::size_t>(rate * 2);
    const Planar x = make_signal(frames, rate);
    const std::string in = o.work + "/in_" + std::to_string(int(rate)) + ".wav";
    const std::string ref = o.work + "/ref_" + std::to_string(int(rate)) + ".wav";
    {
      auto w = sw::dsp::AudioFileWriter::create(in, rate, 2, "", true);
      const auto il = interleave(x);
      w.write(il.data(), frames);
      w.commit();
    }
    const std::string cmd = "'" + o.cli + "' render '" + in + "' '" + ref + "' -m '" + model + "' > /dev/null";
    if (std::system(cmd.c_str()) != 0) {
      report(false, "sidewinder render failed: " + cmd);
      continue;
    }
    auto r = sw::dsp::AudioFileReader::open(ref);
    std::vector<float> want(frames * 2);
    if (r.read(want.data(), frames) != frames) {
      report(false, "reference too short");
      continue;
    }
    for (int block : {1, 31, 64, 512, 4096}) {
      auto p = h.create(rate, block);
      // LV2 reports latency through an output port, read after processing:
      // run a generous tail and read the latency at the end.
      const Planar y = Host::run(*p, x, block, kMaxTail);
      const int L = p->getLatencySamples();
      double err = 0.0;
      for (std::size_t t = 0; t < frames; ++t)
        for (int c = 0; c < 2; ++c)
          err = std::max(err, std::fabs(double(y[c][t + L]) - want[t * 2 + c]));
      char msg[200];
      std::snprintf(msg, sizeof msg,
                    "compare %s %.1f kHz block %4d: latency %d, max |plugin - render| = %.3g (tol 1e-5)",
                    o.format.c_str(), rate / 1000.0, block, L, err);
      const bool latency_ok = rate == 48000.0 ? L == 0 : (L > 0 && L <= int(kMaxTail));
      report(err <= 1e-5 && latency_ok, msg);
    }
  }
}

// ---- clicks: bypass and gains are smoothed -------------------------------
void test_clicks(Host& h, const Options& o) {
  const double rate = 48000.0;
  const int block = 64;
  const std::size_t frames = 48000 * 4;
  Planar x(2, std::vector<float>(frames));
  for (std::size_t t = 0; t < frames; ++t)
    x[0][t] = x[1][t] = 0.25f * static_cast<float>(std::sin(2.0 * M_PI * 200.0 * double(t) / rate));
  // Steady settings: every combination the automation below visits.
  float steady = 0.0f;
  for (int combo = 0; combo < 16; ++combo) {
    auto p = h.create(rate, block);
    Host::param(*p, "Input")->setValue(combo & 1 ? 0.625f : 0.375f);  // ±6 dB of -24..24
    Host::param(*p, "Output")->setValue(combo & 2 ? 0.625f : 0.5f);   // +6 / 0 dB
    Host::param(*p, "Mix")->setValue(combo & 4 ? 0.3f : 1.0f);
    Host::param(*p, "Bypass")->setValue(combo & 8 ? 1.0f : 0.0f);
    const Planar short_x = {std::vector<float>(x[0].begin(), x[0].begin() + 24000),
                            std::vector<float>(x[1].begin(), x[1].begin() + 24000)};
    const Planar y = Host::run(*p, short_x, block);
    steady = std::max(steady, max_step(y[0], 4800));  // after the first 0.1 s
  }
  auto p = h.create(rate, block);
  const Planar y = Host::run(*p, x, block, 0, [&](std::size_t i) {
    Host::param(*p, "Input")->setValue((i / 50) % 2 ? 0.625f : 0.375f);
    Host::param(*p, "Output")->setValue((i / 70) % 2 ? 0.625f : 0.5f);
    Host::param(*p, "Mix")->setValue((i / 90) % 2 ? 0.3f : 1.0f);
    Host::param(*p, "Bypass")->setValue((i / 130) % 2 ? 1.0f : 0.0f);
  });
  const float step = max_step(y[0], 4800);
  // The automation took effect: inside a bypassed stretch (blocks 130..259,
  // after the 20 ms = 15-block ramp) the output is the input, bit for bit.
  bool bypassed = true;
  for (std::size_t t = 147 * 64; t < 259 * 64; ++t)
    bypassed = bypassed && y[0][t] == x[0][t];
  report(bypassed, "clicks " + o.format + ": bypass engaged (output = input while bypassed)");
  // Bound: a linear crossfade over 20 ms (960 samples) between two settings'
  // outputs (each ≤ 1 in magnitude here) adds at most 2/960 ≈ 0.002 per
  // sample to the larger of their own steps; 0.01 allows for the model's
  // smooth response to a ramped input gain. An unsmoothed switch steps by
  // the wet/dry difference (~0.2–0.5 here).
  char msg[200];
  std::snprintf(msg, sizeof msg, "clicks %s: largest step with automation %.4f, steady settings %.4f (bound +0.01)",
                o.format.c_str(), step, steady);
  report(step <= steady + 0.01f, msg);
}

// ---- state: save and restore -----------------------------------------------
void test_state(Host& h, const Options& o) {
  const double rate = 48000.0;
  const int block = 256;
  const Planar x = make_signal(48000, rate);
  auto a = h.create(rate, block);
  const int n_programs = a->getNumPrograms();
  int target = -1;
  for (int i = 0; i < n_programs; ++i)
    if (a->getProgramName(i) == "opto-comp")
      target = i;
  report(n_programs >= 6 && target >= 0,
         o.format + ": the bundled presets are the plugin's programs (" + std::to_string(n_programs) + ")");
  if (target < 0)
    return;
  // Settings made through the host API on one instance...
  auto configure = [&](juce::AudioPluginInstance& p) {
    p.setCurrentProgram(target);
    // JUCE's LV2 host hands the program change over in the next run(): one
    // block delivers it; then the plugin's model host loads it (it polls
    // every 50 ms). A real-time host gets there within a few blocks.
    Host::run(p, Planar(2, std::vector<float>(static_cast<std::size_t>(block), 0.0f)), block);
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    Host::run(p, Planar(2, std::vector<float>(static_cast<std::size_t>(block) * 4, 0.0f)), block);
    Host::pump(100);
    Host::param(p, "Input")->setValue(0.5625f);  // +3 dB
    Host::param(p, "Mix")->setValue(0.7f);
    Host::param(p, "Normalise")->setValue(1.0f);
  };
  configure(*a);
  Host::run(*a, x, block);  // play a while
  juce::MemoryBlock state;
  a->getStateInformation(state);
  // ...saved, then restored into two fresh instances: they play the same,
  // bit for bit; once their model crossfade and parameter ramps are done
  // and the models reset (AudioProcessor::reset), they play exactly as the
  // instance the state came from, reset too; and not as the default does.
  const Planar silence(2, std::vector<float>(48000, 0.0f));
  a->reset();
  const Planar want = Host::run(*a, x, block);
  auto fresh = h.create(rate, block);
  const Planar dflt = Host::run(*fresh, x, block);
  Planar first;
  bool round_trip = true;
  double twice = 0.0, worst = 0.0, changed = 0.0;
  for (int k = 0; k < 2; ++k) {
    auto c = h.create(rate, block);
    c->setStateInformation(state.getData(), static_cast<int>(state.getSize()));
    const Planar y0 = Host::run(*c, x, block);
    if (k == 0)
      first = y0;
    auto d = h.create(rate, block);
    d->setStateInformation(state.getData(), static_cast<int>(state.getSize()));
    Host::run(*d, silence, block);
    d->reset();
    juce::MemoryBlock again;  // what the restored instance saves: the same bytes
    d->getStateInformation(again);
    round_trip = round_trip && again == state;
    const Planar y = Host::run(*d, x, block);
    for (int ch = 0; ch < 2; ++ch)
      for (std::size_t t = 0; t < x[0].size(); ++t) {
        twice = std::max(twice, std::fabs(double(y0[ch][t]) - first[ch][t]));
        worst = std::max(worst, std::fabs(double(y[ch][t]) - want[ch][t]));
        changed = std::max(changed, std::fabs(double(y[ch][t]) - dflt[ch][t]));
      }
  }
  // JUCE's LV2 host has no reset() (LV2 has no such call), so there the
  // saved instance cannot be brought back to a known state to compare with;
  // the restored instances are checked against each other, their own saved
  // state and the default.
  const bool can_reset = o.format == "vst3";
  char msg[360];
  std::snprintf(msg, sizeof msg,
                "state %s (%zu bytes): two restores differ by %.3g; a restored instance saves the same bytes: %s; "
                "restored vs the saved instance (both reset): %s; differs from the default by %.3g",
                o.format.c_str(), state.getSize(), twice, round_trip ? "yes" : "no",
                can_reset ? juce::String(worst, 3).toRawUTF8() : "n/a (no reset in JUCE's LV2 host)", changed);
  report(twice == 0.0 && round_trip && (!can_reset || worst == 0.0) && changed > 0.01, msg);
}

// ---- the VST3 state blob, opened up (for the embedded-model test) ----------
// JUCE's binary XML (AudioProcessor::copyXmlToBinary): magic, length, text.
std::unique_ptr<juce::XmlElement> xml_from_binary(const void* data, std::size_t size, std::size_t* used = nullptr) {
  if (size < 8)
    return nullptr;
  const auto* b = static_cast<const juce::uint8*>(data);
  if (juce::ByteOrder::littleEndianInt(b) != 0x21324356)
    return nullptr;
  const std::size_t len = juce::ByteOrder::littleEndianInt(b + 4);
  if (8 + len > size)
    return nullptr;
  if (used != nullptr)
    *used = 8 + len;
  return juce::parseXML(juce::String::fromUTF8(reinterpret_cast<const char*>(b + 8), static_cast<int>(len) - 1));
}

juce::MemoryBlock xml_to_binary(const juce::XmlElement& xml) {
  const juce::String text = xml.toString(juce::XmlElement::TextFormat().singleLine());
  juce::MemoryOutputStream out;
  out.writeInt(0x21324356);
  out.writeInt(static_cast<int>(text.getNumBytesAsUTF8()) + 1);
  out.write(text.toRawUTF8(), text.getNumBytesAsUTF8() + 1);
  return out.getMemoryBlock();
}

// The JUCE VST3 host's state is <VST3PluginState><IComponent>base64</...>;
// the component state starts with the plugin's own blob (our XML), followed
// by the JUCE wrapper's private data. Calls edit() on our XML and rebuilds.
bool edit_vst3_state(juce::MemoryBlock& state, const std::function<void(juce::XmlElement&)>& edit) {
  auto outer = xml_from_binary(state.getData(), state.getSize());
  if (outer == nullptr)
    return false;
  auto* comp = outer->getChildByName("IComponent");
  juce::MemoryBlock bytes;
  if (comp == nullptr || !bytes.fromBase64Encoding(comp->getAllSubText()))
    return false;
  std::size_t used = 0;
  auto ours = xml_from_binary(bytes.getData(), bytes.getSize(), &used);
  if (ours == nullptr)
    return false;
  edit(*ours);
  juce::MemoryBlock rebuilt = xml_to_binary(*ours);
  rebuilt.append(static_cast<const char*>(bytes.getData()) + used, bytes.getSize() - used);
  comp->deleteAllTextElements();
  comp->addTextElement(rebuilt.toBase64Encoding());
  state = xml_to_binary(*outer);
  return true;
}

// ---- embedded model: a project opens where the user's model file is gone ----
void test_embedded(Host& h, const Options& o) {
  const double rate = 48000.0;
  const int block = 128;
  const std::size_t frames = 48000;
  const Planar x = make_signal(frames, rate);
  // The user's model: a file outside the plugin (a copy of a shipped model
  // under another name, so the plugin treats it as a user file).
  const juce::File work(o.work);
  const juce::File user = work.getChildFile("my-amp.safetensors");
  juce::File(o.presets + "/fuzz-face.safetensors").copyFileTo(user);
  juce::MemoryBlock model_bytes;
  user.loadFileAsData(model_bytes);
  // What `sidewinder render` makes of the input with that model.
  const std::string in = o.work + "/emb_in.wav", ref = o.work + "/emb_ref.wav";
  {
    auto w = sw::dsp::AudioFileWriter::create(in, rate, 2, "", true);
    const auto il = interleave(x);
    w.write(il.data(), frames);
    w.commit();
  }
  const std::string cmd =
      "'" + o.cli + "' render '" + in + "' '" + ref + "' -m '" + user.getFullPathName().toStdString() + "' > /dev/null";
  if (std::system(cmd.c_str()) != 0) {
    report(false, "sidewinder render failed: " + cmd);
    return;
  }
  std::vector<float> want(frames * 2);
  sw::dsp::AudioFileReader::open(ref).read(want.data(), frames);

  // A project saved with that model loaded: the default state with the
  // model element a user-loaded file leaves behind (kind, path, the bytes).
  auto a = h.create(rate, block);
  juce::MemoryBlock state;
  a->getStateInformation(state);
  auto with_model = [&](const juce::MemoryBlock& data) {
    juce::MemoryBlock s = state;
    const bool ok = edit_vst3_state(s, [&](juce::XmlElement& xml) {
      auto* m = xml.getChildByName("model");
      m->setAttribute("kind", "file");
      m->setAttribute("name", user.getFullPathName());
      m->setAttribute("data", data.toBase64Encoding());
    });
    return ok ? s : juce::MemoryBlock();
  };
  const juce::MemoryBlock project = with_model(model_bytes);
  if (project.isEmpty()) {
    report(false, "embedded: could not open the VST3 state");
    return;
  }
  user.deleteFile();  // the other machine does not have the file
  auto b = h.create(rate, block);
  b->setStateInformation(project.getData(), static_cast<int>(project.getSize()));
  b->reset();
  Host::run(*b, Planar(2, std::vector<float>(9600, 0.0f)), block);  // the crossfade to it
  b->reset();
  const Planar y = Host::run(*b, x, block);
  double err = 0.0;
  for (std::size_t t = 0; t < frames; ++t)
    for (int c = 0; c < 2; ++c)
      err = std::max(err, std::fabs(double(y[c][t]) - want[t * 2 + c]));
  // ... and saves it again (the embedded copy travels on).
  juce::MemoryBlock again;
  b->getStateInformation(again);
  bool embedded_again = false;
  edit_vst3_state(again, [&](juce::XmlElement& xml) {
    auto* m = xml.getChildByName("model");
    juce::MemoryBlock d;
    embedded_again = m != nullptr && m->getStringAttribute("kind") == "file" &&
                     d.fromBase64Encoding(m->getStringAttribute("data")) && d == model_bytes;
  });
  char msg[260];
  std::snprintf(msg, sizeof msg,
                "embedded %s: a state with a user model whose file is gone plays it: max |plugin - render| = %.3g "
                "(tol 1e-5); saved again with the copy: %s",
                o.format.c_str(), err, embedded_again ? "yes" : "no");
  report(err <= 1e-5 && embedded_again, msg);

  // A broken embedded model: refused, the model that played keeps playing.
  juce::MemoryBlock broken_bytes(model_bytes);
  static_cast<char*>(broken_bytes.getData())[10] ^= 0x55;  // inside the header length / JSON
  broken_bytes.setSize(broken_bytes.getSize() / 2);        // and truncated
  const juce::MemoryBlock broken = with_model(broken_bytes);
  auto c = h.create(rate, block);
  const Planar dflt = Host::run(*c, x, block);
  auto d = h.create(rate, block);
  d->setStateInformation(broken.getData(), static_cast<int>(broken.getSize()));
  const Planar yd = Host::run(*d, x, block);
  double diff = 0.0;
  for (int ch = 0; ch < 2; ++ch)
    for (std::size_t t = 0; t < frames; ++t)
      diff = std::max(diff, std::fabs(double(yd[ch][t]) - dflt[ch][t]));
  report(diff == 0.0, "embedded " + o.format +
                          ": a broken embedded model is refused and the default keeps playing "
                          "(difference " +
                          std::to_string(diff) + ")");
}

// ---- realtime: no allocation in processBlock -------------------------------
void test_realtime(Host& h, const Options& o) {
  const double rate = 48000.0;
  const int block = 64;
  auto p = h.create(rate, block);
  const std::size_t frames = 48000 * 10;
  const Planar x = make_signal(frames, rate);
  int target = 0;
  for (int i = 0; i < p->getNumPrograms(); ++i)
    if (p->getProgramName(i) == "fuzz-face")
      target = i;
  auto* in = Host::param(*p, "Input");
  auto* out = Host::param(*p, "Output");
  auto* mix = Host::param(*p, "Mix");
  auto* byp = Host::param(*p, "Bypass");
  const std::size_t swap_block = frames / 2 / block;
  std::size_t allocs[2] = {0, 0};
  const Planar y = Host::run(
      *p, x, block, 0,
      [&](std::size_t i) {
        in->setValue(0.5f + 0.1f * static_cast<float>(std::sin(double(i) * 0.01)));
        out->setValue(0.5f + 0.05f * static_cast<float>(std::sin(double(i) * 0.013)));
        mix->setValue(0.8f + 0.2f * static_cast<float>(std::sin(double(i) * 0.007)));
        byp->setValue((i / 1000) % 2 ? 1.0f : 0.0f);
        if (i == swap_block)  // "message thread": ask for another model
          p->setCurrentProgram(target);
        if (i == swap_block + 1)  // (LV2 delivers it in the block between) give the worker time to load it
          std::this_thread::sleep_for(std::chrono::milliseconds(300));
      },
      allocs);
  double tail = 0.0;
  for (std::size_t t = frames - 48000; t < frames; ++t)
    tail = std::max(tail, std::fabs(double(y[0][t])));
  report(allocs[1] == 0 && p->getCurrentProgram() == target && tail > 0.01,
         o.format + ": allocations inside processBlock over 10 s with automation and a model swap: " +
             std::to_string(allocs[1]) + " by the plugin (" + std::to_string(allocs[0]) +
             " in all, the rest by this host's JUCE hosting code)");
  {
    sw::test::AllocationScope scope;  // the counter counts, in this process and in the plugin
    auto q = h.create(rate, block);
    report(scope.count_outside_main_program() > 0,
           o.format + ": the allocation counter sees the plugin's allocations (" +
               std::to_string(scope.count_outside_main_program()) + " of " + std::to_string(scope.count()) +
               " while creating and preparing one)");
  }
}

// ---- bench: CPU per instance ------------------------------------------------
double thread_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

void bench(Host& h, const Options& o) {
  const double rate = 48000.0;
  const int block = 64;
  const Planar x = make_signal(48000 * 5, rate);
  auto p = h.create(rate, block);
  std::printf(
      "bench %s: CPU per instance, stereo, 48 kHz, block 64, ms of CPU per second of audio (median of 5 runs "
      "of 5 s)\n",
      o.format.c_str());
  for (int i = 0; i < p->getNumPrograms(); ++i) {
    p->setCurrentProgram(i);
    Host::run(*p, Planar(2, std::vector<float>(64, 0.0f)), block);  // LV2 delivers the change in run()
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    Host::run(*p, Planar(2, std::vector<float>(9600, 0.0f)), block);  // swap + crossfade done
    std::vector<double> ms;
    for (int r = 0; r < 5; ++r) {
      const double t0 = thread_seconds();
      Host::run(*p, x, block);
      ms.push_back((thread_seconds() - t0) / 5.0 * 1000.0);
    }
    std::sort(ms.begin(), ms.end());
    std::printf("  %-20s %7.2f ms/s\n", p->getProgramName(i).toRawUTF8(), ms[2]);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s (vst3 BUNDLE | lv2 URI) --cli PATH --presets DIR --work DIR [--bench]\n", argv[0]);
    return 2;
  }
  o.format = argv[1];
  o.plugin = argv[2];
  for (int i = 3; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--cli")
      o.cli = next();
    else if (a == "--presets")
      o.presets = next();
    else if (a == "--work")
      o.work = next();
    else if (a == "--only")
      o.only = next();
    else if (a == "--bench")
      o.bench = true;
  }
  juce::ScopedJuceInitialiser_GUI juce_init;  // message manager; no display needed (no editor opened)
  juce::File(o.work).createDirectory();
  Host h(o);
  if (o.bench) {
    bench(h, o);
    return 0;
  }
  auto want = [&](const char* name) { return o.only.empty() || o.only == name; };
  if (want("compare"))
    test_compare(h, o);
  if (want("clicks"))
    test_clicks(h, o);
  if (want("state"))
    test_state(h, o);
  if (want("realtime"))
    test_realtime(h, o);
  if (want("embedded") && o.format == "vst3")  // (the LV2 state is lilv's; the plugin side is the same code)
    test_embedded(h, o);
  std::printf("%s: %d failure(s)\n", o.format.c_str(), g_failures);
  return g_failures == 0 ? 0 : 1;
}

// SPDX-License-Identifier: GPL-3.0-or-later
#include "plugin_processor.h"

#include "plugin_editor.h"
#include "sidewinder_presets.h"

namespace sw::plugin {
namespace {

constexpr const char* kDefaultPreset = "ts-overdrive";
constexpr int kMaxBlock = 8192;

}  // namespace

const std::vector<BundledPreset>& bundled_presets() {
  static const std::vector<BundledPreset> presets = [] {
    std::vector<BundledPreset> v;
    for (int i = 0; i < SidewinderPresets::namedResourceListSize; ++i) {
      const char* resource = SidewinderPresets::namedResourceList[i];
      int size = 0;
      const char* data = SidewinderPresets::getNamedResource(resource, size);
      juce::String file = SidewinderPresets::getNamedResourceOriginalFilename(resource);
      if (data == nullptr || !file.endsWith(".safetensors"))
        continue;
      v.push_back({file.upToLastOccurrenceOf(".safetensors", false, false).toStdString(), data, size});
    }
    std::sort(v.begin(), v.end(), [](const BundledPreset& a, const BundledPreset& b) { return a.name < b.name; });
    return v;
  }();
  return presets;
}

juce::AudioProcessorValueTreeState::ParameterLayout Processor::make_layout() {
  using namespace juce;
  auto db = [](float v, int) { return String(v, 1) + " dB"; };
  std::vector<std::unique_ptr<RangedAudioParameter>> p;
  p.push_back(std::make_unique<AudioParameterFloat>(
      ParameterID{param::kInputGain, 1}, "Input", NormalisableRange<float>(-24.0f, 24.0f, 0.01f), 0.0f,
      AudioParameterFloatAttributes().withLabel("dB").withStringFromValueFunction(db)));
  p.push_back(std::make_unique<AudioParameterFloat>(
      ParameterID{param::kOutputGain, 1}, "Output", NormalisableRange<float>(-24.0f, 24.0f, 0.01f), 0.0f,
      AudioParameterFloatAttributes().withLabel("dB").withStringFromValueFunction(db)));
  p.push_back(std::make_unique<AudioParameterFloat>(ParameterID{param::kMix, 1}, "Mix",
                                                    NormalisableRange<float>(0.0f, 100.0f, 0.1f), 100.0f,
                                                    AudioParameterFloatAttributes().withLabel("%")));
  p.push_back(std::make_unique<AudioParameterBool>(ParameterID{param::kBypass, 1}, "Bypass", false));
  p.push_back(std::make_unique<AudioParameterBool>(ParameterID{param::kNormalise, 1}, "Normalise", false));
  return {p.begin(), p.end()};
}

Processor::Processor()
    : AudioProcessor(BusesProperties()
                         .withInput("Input", juce::AudioChannelSet::stereo(), true)
                         .withOutput("Output", juce::AudioChannelSet::stereo(), true)),
      apvts_(*this, nullptr, "sidewinder", make_layout()) {
  input_gain_ = apvts_.getRawParameterValue(param::kInputGain);
  output_gain_ = apvts_.getRawParameterValue(param::kOutputGain);
  mix_ = apvts_.getRawParameterValue(param::kMix);
  bypass_ = apvts_.getRawParameterValue(param::kBypass);
  normalise_ = apvts_.getRawParameterValue(param::kNormalise);
  juce::PropertiesFile::Options o;
  o.applicationName = "Sidewinder";
  o.folderName = "Sidewinder";
  o.filenameSuffix = ".settings";
  o.osxLibrarySubFolder = "Application Support";
  settings_ = std::make_unique<juce::PropertiesFile>(o);
  host_.set_listener([this](const fx::ModelStatus& s) { on_model_status(s); });
  host_.load_now(preset_source(kDefaultPreset));  // ready before the first block
  const auto& presets = bundled_presets();
  for (std::size_t i = 0; i < presets.size(); ++i) {
    if (presets[i].name == kDefaultPreset)
      program_.store(static_cast<int>(i));
  }
  host_.set_poll([this] {
    const int want = requested_program_.exchange(-1);
    if (want >= 0 && want < static_cast<int>(bundled_presets().size()))
      host_.load_now(preset_source(bundled_presets()[static_cast<std::size_t>(want)].name));
  });
}

Processor::~Processor() {
  host_.stop();  // no worker callback into this object from here on
  cancelPendingUpdate();
}

int Processor::getNumPrograms() {
  return juce::jmax(1, static_cast<int>(bundled_presets().size()));
}

const juce::String Processor::getProgramName(int index) {
  const auto& p = bundled_presets();
  return index >= 0 && index < static_cast<int>(p.size()) ? juce::String(p[static_cast<std::size_t>(index)].name)
                                                          : juce::String("Default");
}

void Processor::setCurrentProgram(int index) {
  if (index < 0 || index >= static_cast<int>(bundled_presets().size()))
    return;
  program_.store(index);
  requested_program_.store(index);
}

fx::ModelSource Processor::preset_source(const std::string& name) const {
  fx::ModelSource s;
  s.kind = fx::ModelSource::Kind::preset;
  s.name = name;
  for (const BundledPreset& p : bundled_presets()) {
    if (p.name == name)
      s.bytes.assign(p.data, p.data + p.size);
  }
  if (s.bytes.empty())
    s.bytes = {0};  // an unknown preset: the loader reports "<name>: truncated ..."
  return s;
}

void Processor::on_model_status(const fx::ModelStatus& s) {
  // Called on the loading thread. Latency changes go to the host from the
  // message thread.
  if (s.loaded && s.source.kind == fx::ModelSource::Kind::preset) {
    const auto& presets = bundled_presets();
    for (std::size_t i = 0; i < presets.size(); ++i) {
      if (presets[i].name == s.source.name)
        program_.store(static_cast<int>(i));
    }
  }
  pending_latency_.store(s.latency);
  triggerAsyncUpdate();  // the message thread compares and reports; cancelled in ~Processor
}

void Processor::handleAsyncUpdate() {
  const int latency = pending_latency_.load();
  if (latency != getLatencySamples())
    setLatencySamples(latency);
}

bool Processor::isBusesLayoutSupported(const BusesLayout& layouts) const {
  const auto in = layouts.getMainInputChannelSet(), out = layouts.getMainOutputChannelSet();
  if (in != out)
    return false;
  return out == juce::AudioChannelSet::mono() || out == juce::AudioChannelSet::stereo();
}

void Processor::prepareToPlay(double sample_rate, int max_block) {
  fx::HostSpec spec;
  spec.sample_rate = sample_rate;
  spec.max_block_size = static_cast<std::size_t>(juce::jlimit(1, kMaxBlock, max_block));
  spec.channels = juce::jmax(1, getTotalNumOutputChannels());
  host_.prepare(spec);
  spare_.setSize(spec.channels, static_cast<int>(spec.max_block_size));
  cancelPendingUpdate();
  setLatencySamples(host_.status().latency);
}

void Processor::processBlock(juce::AudioBuffer<float>& buffer, juce::MidiBuffer&) {
  juce::ScopedNoDenormals no_denormals;
  const int n = buffer.getNumSamples();
  const int channels = effect_.spec().channels;
  if (n <= 0)
    return;
  fx::EffectParameters& p = effect_.parameters();
  p.input_gain_db.store(input_gain_->load(std::memory_order_relaxed), std::memory_order_relaxed);
  p.output_gain_db.store(output_gain_->load(std::memory_order_relaxed), std::memory_order_relaxed);
  p.mix.store(mix_->load(std::memory_order_relaxed) * 0.01f, std::memory_order_relaxed);
  p.bypass.store(bypass_->load(std::memory_order_relaxed) >= 0.5f, std::memory_order_relaxed);
  p.normalise.store(normalise_->load(std::memory_order_relaxed) >= 0.5f, std::memory_order_relaxed);
  const int have = buffer.getNumChannels();
  if (have >= channels) {
    effect_.process(buffer.getArrayOfWritePointers(), static_cast<std::size_t>(n));
    return;
  }
  // Fewer channels than prepared for (a host that changed the layout without
  // preparing again): the missing ones run on a copy of the last one in
  // preallocated scratch, in pieces of the prepared block size.
  float* io[16];
  const int max_block = spare_.getNumSamples();
  if (max_block <= 0 || channels > 16)
    return;  // not prepared
  for (int done = 0; done < n; done += max_block) {
    const int piece = juce::jmin(max_block, n - done);
    for (int c = 0; c < channels; ++c) {
      if (c < have) {
        io[c] = buffer.getWritePointer(c, done);
      } else {
        io[c] = spare_.getWritePointer(c);
        if (have > 0)
          juce::FloatVectorOperations::copy(io[c], buffer.getReadPointer(have - 1, done), piece);
        else
          juce::FloatVectorOperations::clear(io[c], piece);
      }
    }
    effect_.process(io, static_cast<std::size_t>(piece));
  }
}

juce::AudioProcessorParameter* Processor::getBypassParameter() const {
  return apvts_.getParameter(param::kBypass);
}

juce::AudioProcessorEditor* Processor::createEditor() {
  return new Editor(*this);
}

void Processor::load_preset_async(const std::string& name) {
  host_.load_async(preset_source(name));
}

void Processor::load_file_async(const std::string& path) {
  fx::ModelSource s;
  s.kind = fx::ModelSource::Kind::file;
  s.name = path;
  host_.load_async(std::move(s));
}

juce::File Processor::user_folder() const {
  return juce::File(settings_->getValue(
      "user_folder",
      juce::File::getSpecialLocation(juce::File::userDocumentsDirectory).getChildFile("Sidewinder").getFullPathName()));
}

void Processor::set_user_folder(const juce::File& folder) {
  settings_->setValue("user_folder", folder.getFullPathName());
  settings_->saveIfNeeded();
}

void Processor::getStateInformation(juce::MemoryBlock& dest) {
  // A program change or a load the user just chose is part of the state.
  const int want = requested_program_.exchange(-1);
  if (want >= 0 && want < static_cast<int>(bundled_presets().size()))
    host_.load_now(preset_source(bundled_presets()[static_cast<std::size_t>(want)].name));
  host_.wait_idle();
  juce::ValueTree state = apvts_.copyState();
  const fx::ModelStatus s = host_.status();
  juce::ValueTree model("model");
  if (s.loaded) {
    const bool preset = s.source.kind == fx::ModelSource::Kind::preset;
    model.setProperty("kind", preset ? "preset" : "file", nullptr);
    model.setProperty("name", juce::String(s.source.name), nullptr);
    if (!preset) {
      juce::MemoryBlock bytes(s.source.bytes.data(), s.source.bytes.size());
      model.setProperty("data", bytes.toBase64Encoding(), nullptr);
    }
  }
  state.removeChild(state.getChildWithName("model"), nullptr);
  state.appendChild(model, nullptr);
  state.setProperty("format", 1, nullptr);
  if (auto xml = state.createXml())
    copyXmlToBinary(*xml, dest);
}

void Processor::setStateInformation(const void* data, int size) {
  std::unique_ptr<juce::XmlElement> xml(getXmlFromBinary(data, size));
  if (xml == nullptr || !xml->hasTagName(apvts_.state.getType()))
    return;  // not ours: keep the current state
  juce::ValueTree state = juce::ValueTree::fromXml(*xml);
  const juce::ValueTree model = state.getChildWithName("model");
  state.removeChild(model, nullptr);
  apvts_.replaceState(state);
  if (!model.isValid() || !model.hasProperty("kind"))
    return;
  const juce::String kind = model["kind"].toString(), name = model["name"].toString();
  if (kind == "preset") {
    host_.load_now(preset_source(name.toStdString()));
  } else if (kind == "file") {
    fx::ModelSource s;
    s.kind = fx::ModelSource::Kind::file;
    s.name = name.toStdString();
    juce::MemoryBlock bytes;
    if (bytes.fromBase64Encoding(model["data"].toString()) && bytes.getSize() > 0) {
      const auto* b = static_cast<const unsigned char*>(bytes.getData());
      s.bytes.assign(b, b + bytes.getSize());
    }
    host_.load_now(std::move(s));  // the embedded copy; the file itself if none was saved
  }
}

}  // namespace sw::plugin

juce::AudioProcessor* JUCE_CALLTYPE createPluginFilter() {
  return new sw::plugin::Processor();
}

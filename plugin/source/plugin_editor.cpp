// SPDX-License-Identifier: GPL-3.0-or-later
#include "plugin_editor.h"

namespace sw::plugin {
namespace {

const juce::Colour kBackground(0xff16181d), kPanel(0xff22252c), kTrack(0xff0e0f12), kAccent(0xff49c5b6),
    kText(0xffe6e6e6), kDim(0xff9aa0a8), kError(0xffff6b5e);
constexpr int kPresetIdBase = 1, kUserIdBase = 1000;

void style_label(juce::Label& l, float size, juce::Colour c) {
  l.setFont(juce::Font(size));
  l.setColour(juce::Label::textColourId, c);
  l.setJustificationType(juce::Justification::topLeft);
}

void style_knob(juce::Slider& s) {
  s.setSliderStyle(juce::Slider::RotaryHorizontalVerticalDrag);
  s.setTextBoxStyle(juce::Slider::TextBoxBelow, false, 80, 18);
  s.setColour(juce::Slider::rotarySliderFillColourId, kAccent);
  s.setColour(juce::Slider::textBoxOutlineColourId, juce::Colours::transparentBlack);
}

}  // namespace

void Meter::push(float peak) {
  const float db = juce::Decibels::gainToDecibels(peak, -60.0f);
  level_db_ = db > level_db_ ? db : juce::jmax(-60.0f, level_db_ - 1.5f);  // ~45 dB/s at 30 Hz
  repaint();
}

void Meter::paint(juce::Graphics& g) {
  auto r = getLocalBounds().toFloat();
  g.setColour(kTrack);
  g.fillRoundedRectangle(r, 3.0f);
  g.setColour(kDim.withAlpha(0.4f));
  for (float db : {-48.0f, -24.0f, -12.0f, -6.0f, 0.0f}) {  // ticks
    const float y = r.getBottom() - 2.0f - (r.getHeight() - 4.0f) * (db + 60.0f) / 66.0f;
    g.drawHorizontalLine(static_cast<int>(y), r.getX() + 2.0f, r.getRight() - 2.0f);
  }
  const float frac = juce::jlimit(0.0f, 1.0f, (level_db_ + 60.0f) / 66.0f);
  auto bar = r.reduced(2.0f).removeFromBottom((r.getHeight() - 4.0f) * frac);
  g.setColour(level_db_ > -0.1f ? kError : kAccent);
  g.fillRoundedRectangle(bar, 2.0f);
}

Editor::Editor(Processor& p) : AudioProcessorEditor(&p), processor_(p) {
  setOpaque(true);
  addAndMakeVisible(browser_);
  browser_.setTextWhenNothingSelected("Choose a model");
  browser_.onChange = [this] { on_browser_change(); };
  addAndMakeVisible(load_button_);
  load_button_.onClick = [this] {
    chooser_ =
        std::make_unique<juce::FileChooser>("Load a Sidewinder model", processor_.user_folder(), "*.safetensors");
    chooser_->launchAsync(juce::FileBrowserComponent::openMode | juce::FileBrowserComponent::canSelectFiles,
                          [this](const juce::FileChooser& fc) {
                            const juce::File f = fc.getResult();
                            if (f.existsAsFile())
                              processor_.load_file_async(f.getFullPathName().toStdString());
                          });
  };
  addAndMakeVisible(folder_button_);
  folder_button_.onClick = [this] {
    chooser_ = std::make_unique<juce::FileChooser>("Folder of your models", processor_.user_folder());
    chooser_->launchAsync(juce::FileBrowserComponent::openMode | juce::FileBrowserComponent::canSelectDirectories,
                          [this](const juce::FileChooser& fc) {
                            const juce::File f = fc.getResult();
                            if (f.isDirectory()) {
                              processor_.set_user_folder(f);
                              refresh_browser();
                            }
                          });
  };
  for (auto* l :
       {&title_, &name_, &description_, &licence_, &info_, &error_, &input_label_, &output_label_, &mix_label_})
    addAndMakeVisible(*l);
  style_label(title_, 22.0f, kAccent);
  title_.setText("SIDEWINDER", juce::dontSendNotification);
  style_label(name_, 18.0f, kText);
  style_label(description_, 13.0f, kDim);
  style_label(licence_, 12.0f, kDim);
  style_label(info_, 12.0f, kDim);
  style_label(error_, 13.0f, kError);
  for (auto [l, t] :
       {std::pair{&input_label_, "Input"}, std::pair{&output_label_, "Output"}, std::pair{&mix_label_, "Mix"}}) {
    style_label(*l, 13.0f, kText);
    l->setJustificationType(juce::Justification::centred);
    l->setText(t, juce::dontSendNotification);
  }
  for (auto* s : {&input_, &output_, &mix_}) {
    style_knob(*s);
    addAndMakeVisible(*s);
  }
  addAndMakeVisible(bypass_);
  addAndMakeVisible(normalise_);
  addAndMakeVisible(in_meter_);
  addAndMakeVisible(out_meter_);
  auto& apvts = processor_.parameters();
  input_att_ = std::make_unique<SliderAttachment>(apvts, param::kInputGain, input_);
  output_att_ = std::make_unique<SliderAttachment>(apvts, param::kOutputGain, output_);
  mix_att_ = std::make_unique<SliderAttachment>(apvts, param::kMix, mix_);
  mix_.setTextValueSuffix(" %");
  bypass_att_ = std::make_unique<ButtonAttachment>(apvts, param::kBypass, bypass_);
  normalise_att_ = std::make_unique<ButtonAttachment>(apvts, param::kNormalise, normalise_);
  refresh_browser();
  setSize(640, 400);
  startTimerHz(30);
}

Editor::~Editor() {
  stopTimer();
}

void Editor::refresh_browser() {
  browser_.clear(juce::dontSendNotification);
  browser_.addSectionHeading("Presets");
  int id = kPresetIdBase;
  for (const BundledPreset& p : bundled_presets())
    browser_.addItem(p.name, id++);
  user_files_.clear();
  const juce::File folder = processor_.user_folder();
  if (folder.isDirectory()) {
    user_files_ = folder.findChildFiles(juce::File::findFiles, false, "*.safetensors");
    user_files_.sort();
  }
  browser_.addSectionHeading("User folder: " + folder.getFileName());
  for (int i = 0; i < user_files_.size(); ++i)
    browser_.addItem(user_files_[i].getFileNameWithoutExtension(), kUserIdBase + i);
  shown_generation_ = ~0ull;
}

void Editor::on_browser_change() {
  const int id = browser_.getSelectedId();
  if (id >= kUserIdBase && id - kUserIdBase < user_files_.size()) {
    processor_.load_file_async(user_files_[id - kUserIdBase].getFullPathName().toStdString());
  } else if (id >= kPresetIdBase && id - kPresetIdBase < static_cast<int>(bundled_presets().size())) {
    processor_.load_preset_async(bundled_presets()[static_cast<std::size_t>(id - kPresetIdBase)].name);
  }
}

bool Editor::isInterestedInFileDrag(const juce::StringArray& files) {
  return files.size() == 1 && files[0].endsWithIgnoreCase(".safetensors");
}

void Editor::filesDropped(const juce::StringArray& files, int, int) {
  if (!files.isEmpty())
    processor_.load_file_async(files[0].toStdString());
}

void Editor::show_status(const fx::ModelStatus& s) {
  name_.setText(s.loaded ? juce::String(s.name) : juce::String("No model"), juce::dontSendNotification);
  description_.setText(juce::String(s.description), juce::dontSendNotification);
  licence_.setText(s.licence.empty() ? juce::String() : "Licence: " + juce::String(s.licence),
                   juce::dontSendNotification);
  error_.setText(juce::String(s.error), juce::dontSendNotification);
  // select the playing model in the browser
  int id = 0;
  if (s.source.kind == fx::ModelSource::Kind::preset) {
    for (std::size_t i = 0; i < bundled_presets().size(); ++i)
      if (bundled_presets()[i].name == s.source.name)
        id = kPresetIdBase + static_cast<int>(i);
  } else {
    for (int i = 0; i < user_files_.size(); ++i)
      if (user_files_[i].getFullPathName().toStdString() == s.source.name)
        id = kUserIdBase + i;
  }
  if (id != 0)
    browser_.setSelectedId(id, juce::dontSendNotification);
  else if (s.loaded)
    browser_.setText(juce::String(s.name), juce::dontSendNotification);
}

void Editor::timerCallback() {
  fx::Effect& fx = processor_.effect();
  in_meter_.push(fx.take_input_peak());
  out_meter_.push(fx.take_output_peak());
  if (processor_.model_generation() != shown_generation_) {
    status_ = processor_.model_status();
    shown_generation_ = status_.generation;
    show_status(status_);
  }
  const fx::ModelStatus& s = status_;
  juce::String info;
  info << "CPU " << juce::String(100.0 * fx.cpu_load(), 1) << " %   latency " << s.latency << " samples";
  if (s.model_rate > 0.0)
    info << "   model " << juce::String(s.model_rate / 1000.0, 1) << " kHz";
  if (fx.nonfinite_events() > 0)
    info << "   model output was not finite " << juce::String(static_cast<juce::int64>(fx.nonfinite_events()))
         << " time(s): muted and reset";
  info_.setText(info, juce::dontSendNotification);
  info_.setColour(juce::Label::textColourId, fx.nonfinite_events() > 0 ? kError : kDim);
}

void Editor::paint(juce::Graphics& g) {
  g.fillAll(kBackground);
  g.setColour(kPanel);
  g.fillRoundedRectangle(getLocalBounds().reduced(10).withTrimmedTop(90).toFloat(), 6.0f);
  g.setColour(kDim);
  g.setFont(11.0f);
  g.drawText("IN", 24, getHeight() - 32, 24, 14, juce::Justification::centred);
  g.drawText("OUT", getWidth() - 50, getHeight() - 32, 30, 14, juce::Justification::centred);
}

void Editor::resized() {
  auto r = getLocalBounds().reduced(16);
  auto top = r.removeFromTop(34);
  title_.setBounds(top.removeFromLeft(150));
  folder_button_.setBounds(top.removeFromRight(110).reduced(2));
  load_button_.setBounds(top.removeFromRight(100).reduced(2));
  browser_.setBounds(top.reduced(2));
  r.removeFromTop(4);
  error_.setBounds(r.removeFromTop(36));
  r.removeFromTop(10);
  auto meters_l = r.removeFromLeft(24);
  auto meters_r = r.removeFromRight(24);
  in_meter_.setBounds(meters_l.withTrimmedBottom(20).reduced(0, 6));
  out_meter_.setBounds(meters_r.withTrimmedBottom(20).reduced(0, 6));
  r.reduce(12, 6);
  name_.setBounds(r.removeFromTop(26));
  description_.setBounds(r.removeFromTop(36));
  licence_.setBounds(r.removeFromTop(18));
  info_.setBounds(r.removeFromBottom(20));
  auto toggles = r.removeFromBottom(26);
  bypass_.setBounds(toggles.removeFromLeft(100));
  normalise_.setBounds(toggles.removeFromLeft(160));
  const int w = r.getWidth() / 3;
  for (auto [s, l] :
       {std::pair{&input_, &input_label_}, std::pair{&output_, &output_label_}, std::pair{&mix_, &mix_label_}}) {
    auto c = r.removeFromLeft(w);
    l->setBounds(c.removeFromTop(18));
    s->setBounds(c.reduced(8, 0));
  }
}

}  // namespace sw::plugin

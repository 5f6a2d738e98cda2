/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The Sidewinder C API: speech synthesis for daemons and embedders.
 *
 * Opaque handles, status codes, pull-style streaming into the caller's
 * buffers (after whisper.h and libpiper's piper.h):
 *
 *   sw_voice* v;     if (sw_voice_load("allison-slt.safetensors", &v) != SW_OK) puts(sw_last_error());
 *   sw_speaker* s;   sw_speaker_new(v, &s);
 *   sw_speak_options o; sw_speak_options_init(&o);
 *   sw_speaker_start(s, "Hello there.", -1, &o);
 *   float buf[1024]; size_t n;
 *   while (sw_speaker_pull(s, buf, 1024, &n) == SW_OK) play(buf, n);   // SW_END: done
 *   sw_speaker_free(s); sw_voice_free(v);
 *
 * Threads: a voice is immutable and may be shared by any number of speakers
 * on any threads; a speaker is used by one thread at a time. Nothing here is
 * for an audio callback: pull() phonemises text (allocates, takes espeak-ng's
 * lock) at sentence boundaries; hand its audio to the callback through a ring.
 * Errors: every call that fails returns a negative status and sets a
 * message for this thread, sw_last_error(). No call throws or aborts.
 */
#ifndef SIDEWINDER_H
#define SIDEWINDER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SIDEWINDER_API_VERSION 1

typedef enum sw_status {
  SW_OK = 0,
  SW_END = 1,             /* pull: the text is spoken, nothing more to come */
  SW_ERROR_ARGUMENT = -1, /* a null handle or pointer, an option out of range */
  SW_ERROR_VOICE = -2,    /* the voice file cannot be read or is not a valid voice */
  SW_ERROR_MARKUP = -3,   /* bad SSML or inline phonemes (the message names the place) */
  SW_ERROR_LIMIT = -4,    /* text longer than SW_MAX_TEXT_BYTES */
  SW_ERROR_INTERNAL = -5
} sw_status;

#define SW_MAX_TEXT_BYTES (1u << 20)

typedef struct sw_voice sw_voice;
typedef struct sw_speaker sw_speaker;

typedef struct sw_speak_options {
  double rate;            /* 0.25..4, 1 = the voice's */
  double pitch_semitones; /* -24..24 */
  double volume;          /* 0..4 */
  int ssml;               /* the text is SSML */
  uint64_t seed;          /* the synthesiser's noise */
} sw_speak_options;

/* Library version string, e.g. "0.1.0". */
const char* sw_version(void);
/* The last error of this thread ("" if none); valid until this thread's next call. */
const char* sw_last_error(void);

void sw_speak_options_init(sw_speak_options* options);

sw_status sw_voice_load(const char* path, sw_voice** voice);
void sw_voice_free(sw_voice* voice);
int sw_voice_sample_rate(const sw_voice* voice);
/* Metadata strings owned by the voice ("" if absent): name, language, license, credits. */
const char* sw_voice_info(const sw_voice* voice, const char* key);

sw_status sw_speaker_new(const sw_voice* voice, sw_speaker** speaker);
void sw_speaker_free(sw_speaker* speaker);
/* Starts speaking `text` (UTF-8; len bytes, or -1 for NUL-terminated), dropping
 * whatever was being spoken. Markup errors are reported here, before any audio. */
sw_status sw_speaker_start(sw_speaker* speaker, const char* text, ptrdiff_t len, const sw_speak_options* options);
/* Writes up to `max` mono float samples at the voice's rate; *written is how
 * many. SW_OK while there is more (written > 0), SW_END when finished. */
sw_status sw_speaker_pull(sw_speaker* speaker, float* out, size_t max, size_t* written);
/* Live controls, any time: f0 in Hz for the following frames (<= 0: the voice's own). */
void sw_speaker_set_f0(sw_speaker* speaker, float hz);

#ifdef __cplusplus
}
#endif

#endif /* SIDEWINDER_H */

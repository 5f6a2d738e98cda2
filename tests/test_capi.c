/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The C API from C (include/sidewinder.h compiles as C99): load, speak,
 * pull to the end, and every error path a caller can hit.
 * usage: test_capi VOICE_FILE BROKEN_FILE */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sidewinder.h"

static int failures = 0;
#define CHECK(c)                                                            \
  do {                                                                      \
    if (!(c)) {                                                             \
      fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #c); \
      ++failures;                                                           \
    }                                                                       \
  } while (0)

static size_t speak_all(sw_speaker* s, const char* text, const sw_speak_options* o, double* energy) {
  float buf[777];
  size_t n = 0, total = 0;
  sw_status st;
  *energy = 0;
  CHECK(sw_speaker_start(s, text, -1, o) == SW_OK);
  while ((st = sw_speaker_pull(s, buf, 777, &n)) == SW_OK) {
    CHECK(n > 0 && n <= 777);
    for (size_t i = 0; i < n; ++i)
      *energy += (double)buf[i] * buf[i];
    total += n;
  }
  CHECK(st == SW_END);
  CHECK(n == 0);
  return total;
}

int main(int argc, char** argv) {
  sw_voice* v = NULL;
  sw_speaker* s = NULL;
  sw_speak_options o;
  double e1, e2;
  size_t n;
  float x[16];
  if (argc < 3) {
    fprintf(stderr, "usage: test_capi VOICE BROKEN\n");
    return 2;
  }
  CHECK(strlen(sw_version()) > 0);
  CHECK(sw_voice_load("/nonexistent/voice.safetensors", &v) == SW_ERROR_VOICE && v == NULL);
  CHECK(strstr(sw_last_error(), "/nonexistent/voice.safetensors") != NULL);
  CHECK(sw_voice_load(argv[2], &v) == SW_ERROR_VOICE); /* an effect model, not a voice */
  CHECK(strstr(sw_last_error(), "sidewinder-voice") != NULL);
  CHECK(sw_voice_load(NULL, &v) == SW_ERROR_ARGUMENT);
  CHECK(sw_voice_load(argv[1], &v) == SW_OK && v != NULL);
  CHECK(sw_voice_sample_rate(v) == 16000);
  CHECK(strcmp(sw_voice_info(v, "name"), "tiny-test-voice") == 0);
  CHECK(strcmp(sw_voice_info(v, "no such key"), "") == 0);
  CHECK(sw_speaker_new(v, &s) == SW_OK && s != NULL);
  CHECK(sw_speaker_pull(s, x, 16, &n) == SW_END && n == 0); /* nothing started */

  sw_speak_options_init(&o);
  n = speak_all(s, "Hello world. The cat sat.", &o, &e1);
  CHECK(n > 16000);
  CHECK(e1 > 0);
  CHECK(speak_all(s, "Hello world. The cat sat.", &o, &e2) == n); /* the same again */
  CHECK(e1 == e2);
  o.rate = 0.5;
  CHECK(speak_all(s, "Hello world. The cat sat.", &o, &e2) > n * 3 / 2); /* slower: longer */
  o.rate = 9.0;
  CHECK(sw_speaker_start(s, "x", -1, &o) == SW_ERROR_ARGUMENT);
  sw_speak_options_init(&o);
  o.ssml = 1;
  CHECK(sw_speaker_start(s, "<speak>Hi <break time=\"3x\"/></speak>", -1, &o) == SW_ERROR_MARKUP);
  CHECK(strstr(sw_last_error(), "line 1, column") != NULL);
  CHECK(speak_all(s, "<speak><break time=\"250ms\"/></speak>", &o, &e2) == 4000);
  CHECK(e2 == 0);
  {
    char* big = malloc(SW_MAX_TEXT_BYTES + 2);
    memset(big, 'a', SW_MAX_TEXT_BYTES + 1);
    big[SW_MAX_TEXT_BYTES + 1] = 0;
    CHECK(sw_speaker_start(s, big, -1, NULL) == SW_ERROR_LIMIT);
    free(big);
  }
  CHECK(sw_speaker_start(NULL, "x", -1, NULL) == SW_ERROR_ARGUMENT);
  CHECK(sw_speaker_pull(s, NULL, 1, &n) == SW_ERROR_ARGUMENT);
  /* a start mid-speech drops the old text */
  CHECK(sw_speaker_start(s, "A long sentence that will not be finished at all.", -1, NULL) == SW_OK);
  CHECK(sw_speaker_pull(s, x, 16, &n) == SW_OK && n == 16);
  sw_speak_options_init(&o);
  CHECK(speak_all(s, "<speak><break time=\"100ms\"/></speak>", (o.ssml = 1, &o), &e2) == 1600);
  sw_speaker_set_f0(s, 200.0f);
  sw_speaker_free(s);
  sw_voice_free(v);
  sw_speaker_free(NULL);
  sw_voice_free(NULL);
  if (failures)
    fprintf(stderr, "%d check(s) failed\n", failures);
  else
    printf("C API: all checks passed\n");
  return failures ? 1 : 0;
}

/* test_viz.c: VIZ through the public API: tg_set_setting("VIZ", ...) records a real run's rewrites (a matmul and a
 * softmax, on sizes no other test uses, so that their kernels are generated here and not found in the source
 * cache), tg_viz_write writes the page and the JSON, and its errors. The page is opened in a browser by
 * tools/viz_test.sh (make test-viz). */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <unistd.h>

#include "helpers.h"

static int tviz_count(const char *s, const char *needle) {
  int n = 0;
  for (const char *p = s; (p = strstr(p, needle)) != NULL; p++) n++;
  return n;
}

TEST(test_viz_records_a_run) {
  int viz0 = tg_setting("VIZ");
  char dir[] = "/tmp/tg-viz-XXXXXX";
  CHECK_NOT_NULL(mkdtemp(dir));
  char json[256], page[256];
  snprintf(json, sizeof json, "%s/run.json", dir);
  snprintf(page, sizeof page, "%s/run.html", dir);
  CHECK_EQ_INT(tg_set_setting("VIZ", 1), 0);
  CHECK_EQ_INT(tg_setting("VIZ"), 1);
  tg_scope_begin();
  float x[3 * 7], w[7 * 5];
  for (int i = 0; i < 21; i++) x[i] = (float)(i % 5) * 0.25f - 0.5f;
  for (int i = 0; i < 35; i++) w[i] = (float)(i % 3) - 1.0f;
  tg_tensor *p = tg_softmax(tg_matmul(TEST_F32(x, 3, 7), TEST_F32(w, 7, 5)), 1);
  float got[15];
  CHECK_EQ_INT(tg_to_host(p, got, sizeof got), 0);
  tg_scope_end();
  CHECK_EQ_INT(tg_set_setting("VIZ", viz0), 0);
  /* the values: each row of the softmax sums to 1 (and VIZ changed nothing) */
  for (int r = 0; r < 3; r++) {
    double sum = 0;
    for (int c = 0; c < 5; c++) sum += got[5 * r + c];
    CHECK_NEAR(sum, 1.0, 1e-5);
  }
  CHECK_EQ_INT(tg_viz_write(json, 1), 0);
  char *j = test_read_text(json);
  CHECK_NOT_NULL(j);
  if (j) {
    CHECK(strncmp(j, "{\"version\":1,", 13) == 0);
    CHECK(tviz_count(j, "{\"kind\":\"schedule\"") >= 1);
    CHECK(tviz_count(j, "{\"kind\":\"kernel\"") >= 2); /* the matmul's reduction and the softmax's */
    CHECK(strstr(j, "\"name\":\"r_") != NULL);
    CHECK(strstr(j, "\"steps\":[[") != NULL);
    CHECK(strstr(j, ".c:") != NULL || strstr(j, ".h:") != NULL); /* rules by file:line */
    CHECK(strstr(j, "\"launches\":[\n[\"") != NULL);
  }
  free(j);
  CHECK_EQ_INT(tg_viz_write(page, 0), 0);
  char *h = test_read_text(page);
  CHECK_NOT_NULL(h);
  if (h) {
    CHECK(strncmp(h, "<!DOCTYPE html>", 15) == 0);
    CHECK(strstr(h, "<script id=\"tg-data\" type=\"application/json\">\n{\"version\":1,") != NULL);
    CHECK(strstr(h, "function replay(") != NULL); /* the viewer is inside: no file beside it */
    CHECK(strstr(h, "src=\"") == NULL && strstr(h, "href=\"http") == NULL); /* nothing from the network */
    CHECK(strstr(h, "</html>") != NULL);
  }
  free(h);
  unlink(json);
  unlink(page);
  CHECK_EQ_INT(rmdir(dir), 0);
}

TEST(test_viz_errors) {
  int viz0 = tg_setting("VIZ");
  tg_clear_error();
  CHECK_EQ_INT(tg_viz_write(NULL, 0), -1);
  CHECK_ERROR_HAS("tg_viz_write: the path is empty");
  tg_clear_error();
  CHECK_EQ_INT(tg_viz_write("/nonexistent-dir-of-tg/page.html", 0), -1);
  CHECK_ERROR_HAS("/nonexistent-dir-of-tg/page.html");
  tg_clear_error();
  CHECK_EQ_INT(tg_set_setting("VIZ", -1), 0); /* the JSON alone, at exit */
  CHECK_EQ_INT(tg_setting("VIZ"), -1);
  CHECK_EQ_INT(tg_set_setting("PROFILE", -1), -1);
  CHECK_ERROR_HAS("PROFILE = -1");
  CHECK_EQ_INT(tg_set_setting("VIZ", viz0), 0);
}

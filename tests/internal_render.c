/* internal_render.c: the renderer's dialect data. A dialect that cannot render a dtype makes rendering a kernel that
 * uses it an error naming the dialect and the dtype (not a crash), and every other kernel still runs; a dialect's extra
 * parameters land in the parameter list. #included into runner.c after the implementation. */
#include "test.h"

static tg__dialect tr_dialect;
static char tr_saved_dev[64];
static int tr_had_dev;

/* DEV=RFAKE until tr_end: the CPU device speaking d (the C dialect with changes). Kernels without inputs run on DEV's
 * device, so DEV stays set while they are realised. */
static void tr_begin(const tg__dialect *d) {
  tt_fake_device("RFAKE", d, NULL);
  const char *old = getenv("DEV");
  tr_had_dev = old != NULL;
  if (old) snprintf(tr_saved_dev, sizeof tr_saved_dev, "%s", old);
  setenv("DEV", "RFAKE", 1);
}

static void tr_end(void) {
  if (tr_had_dev) setenv("DEV", tr_saved_dev, 1);
  else unsetenv("DEV");
}

TEST(test_internal_render_unsupported_dtype) {
  tg_scope_begin();
  tr_dialect = tg__dialect_c;
  tr_dialect.name = "NoF64";
  tr_dialect.unsupported = 1u << TG_FLOAT64;
  tr_begin(&tr_dialect);
  tg_clear_error();
  tg_tensor *t = tg_mul_s(tg_arange(0, 4, 1, TG_FLOAT64), 2);
  CHECK_EQ_INT(tg_realize(t), -1);
  CHECK(tg_error() && strstr(tg_error(), "render of kernel E_4: the NoF64 dialect does not support dtype float64"));
  tg_clear_error();
  tg_schedule *s = tg_schedule_create(&t, 1);
  CHECK(s && tg_schedule_count(s) == 1 && tg_schedule_source(s, 0) == NULL);
  tg_schedule_free(s);
  tg_clear_error();
  float want[4] = {0, 2, 4, 6}, got[4] = {0};
  tg_tensor *u = tg_mul_s(tg_arange(0, 4, 1, TG_FLOAT32), 2); /* float32 kernels on that dialect still run */
  CHECK_EQ_INT(tg_to_host(u, got, sizeof got), 0);
  CHECK_ARR_NEAR(got, want, 4, 0);
  tr_end();
  tg_scope_end();
  tg_clear_error();
}

TEST(test_internal_render_extra_params) {
  tg_scope_begin();
  tr_dialect = tg__dialect_c;
  tr_dialect.extra_params = ", int extra";
  tr_dialect.has_entry_wrapper = 0; /* only rendered: the CPU's entry point would not pass it */
  tr_begin(&tr_dialect);
  tg_tensor *t = tg_add_s(tg_arange(0, 4, 1, TG_FLOAT32), 3); /* not realised before: one kernel to render */
  tg_schedule *s = tg_schedule_create(&t, 1);
  const char *src = s ? tg_schedule_source(s, 0) : NULL;
  CHECK(src && strstr(src, "void E_4(float* restrict data0, int extra, i64 start, i64 end) {"));
  tg_schedule_free(s);
  tr_end();
  tg_scope_end();
}

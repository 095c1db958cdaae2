/* test_state.c: state dicts, tg_load_state_dict (checks first, in place, nothing changed on error), safetensors
 * (byte-identical to tinygrad's safe_save, the Rust crate's files read back, every malformed or truncated file
 * refused), and IDX files (every type, plain and gzip, broken files, the real Fashion-MNIST when installed).
 * Golden bytes come from tests/golden/gen_state.py. Files go to a mkdtemp directory under /tmp, removed after. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include "tinygrad.h"
#include "test.h"
#include "helpers.h"
#include "golden/golden_state.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

// ---------------------------------------------------------------------------------------------------------------------
// temporary files

typedef struct st_tmp {
  char dir[64];
  char path[256];
} st_tmp;

static int st_tmp_open(st_tmp *t) {
  snprintf(t->dir, sizeof t->dir, "/tmp/tg_test_state_XXXXXX");
  return test_check(mkdtemp(t->dir) != NULL, __FILE__, __LINE__, "mkdtemp failed");
}

/* removes every file of the directory, then the directory */
static void st_tmp_close(st_tmp *t) {
  DIR *d = opendir(t->dir);
  struct dirent *e;
  char p[512];
  while (d && (e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
      snprintf(p, sizeof p, "%s/%s", t->dir, e->d_name);
      if (unlink(p) != 0) rmdir(p);
    }
  if (d) closedir(d);
  rmdir(t->dir);
}

static const char *st_path(st_tmp *t, const char *name) {
  snprintf(t->path, sizeof t->path, "%s/%s", t->dir, name);
  return t->path;
}

static const char *st_write(st_tmp *t, const char *name, const void *bytes, size_t n) {
  const char *p = st_path(t, name);
  FILE *f = fopen(p, "wb");
  if (!f || fwrite(bytes, 1, n, f) != n) test_check(0, __FILE__, __LINE__, "cannot write %s", p);
  if (f) fclose(f);
  return p;
}

/* the whole file, malloc'd (NULL if absent) */
static unsigned char *st_read(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long sz = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *b = (unsigned char *)malloc(sz > 0 ? (size_t)sz : 1);
  *n = fread(b, 1, (size_t)sz, f);
  fclose(f);
  return b;
}

/* a safetensors file from a header string and ndata zero bytes of data; the 8-byte length is the header's unless
 * len_override >= 0 */
static const char *st_write_st(st_tmp *t, const char *header, size_t ndata, long long len_override) {
  size_t hl = strlen(header), n = 8 + hl + ndata;
  unsigned char *b = (unsigned char *)calloc(1, n);
  uint64_t len = len_override >= 0 ? (uint64_t)len_override : hl;
  for (int k = 0; k < 8; k++) b[k] = (unsigned char)(len >> (8 * k));
  memcpy(b + 8, header, hl);
  const char *p = st_write(t, "m.safetensors", b, n);
  free(b);
  return p;
}

// ---------------------------------------------------------------------------------------------------------------------
// golden tensors

static tg_tensor *st_golden_tensor(const golden_st_tensor *g) {
  return tg_from_data(g->data, g->dtype, g->ndim, g->shape);
}

/* ONE assertion: t has g's dtype, shape and bytes */
static int st_check_golden(tg_tensor *t, const golden_st_tensor *g, int line) {
  return test_tensor_raw(t, g->dtype, g->data, g->ndim, g->shape, g->name, __FILE__, line);
}

static tg_state_dict *st_golden_dict(void) {
  tg_state_dict *sd = tg_state_dict_new();
  for (int i = 0; i < TEST_COUNT(g_st_tensors); i++)
    tg_state_dict_add(sd, g_st_tensors[i].name, tg_keep(st_golden_tensor(&g_st_tensors[i])));
  return sd;
}

// ---------------------------------------------------------------------------------------------------------------------
// state dicts

TEST(test_st_dict_basics) {
  tg_scope_begin();
  static const float v[3] = {1, 2, 3};
  tg_tensor *a = TEST_F32(v, 3), *b = tg_zeros(TG_INT32, TG_SHAPE(2, 2)), *c = tg_scalar(5, TG_FLOAT64);
  int64_t live = tg_live_tensors();
  tg_state_dict *sd = tg_state_dict_new();
  CHECK_NOT_NULL(sd);
  CHECK_EQ_INT(tg_state_dict_count(sd), 0);
  CHECK_EQ_INT(tg_state_dict_add(sd, "l1.weight", a), 0);
  CHECK_EQ_INT(tg_state_dict_add(sd, "l1.bias", b), 0);
  CHECK_EQ_INT(tg_state_dict_add(sd, "scale", c), 0);
  CHECK_EQ_INT(tg_state_dict_count(sd), 3);
  CHECK_STR(tg_state_dict_name(sd, 0), "l1.weight");
  CHECK_STR(tg_state_dict_name(sd, 1), "l1.bias");
  CHECK_STR(tg_state_dict_name(sd, 2), "scale");
  CHECK(tg_state_dict_tensor(sd, 0) == a);
  CHECK(tg_state_dict_tensor(sd, 2) == c);
  CHECK(tg_state_dict_get(sd, "l1.bias") == b);
  CHECK(tg_state_dict_get(sd, "scale") == c);
  /* absent, duplicate, out of range, NULL */
  CHECK_NULL(tg_state_dict_get(sd, "l2.weight"));
  CHECK_ERROR_HAS("no tensor is named 'l2.weight'");
  CHECK_EQ_INT(tg_state_dict_add(sd, "l1.bias", a), -1);
  CHECK_ERROR_HAS("the name 'l1.bias' is already in the state dict");
  CHECK_EQ_INT(tg_state_dict_count(sd), 3);
  CHECK_NULL(tg_state_dict_name(sd, 3));
  CHECK_ERROR_HAS("index 3 is out of range for 3 entries");
  CHECK_NULL(tg_state_dict_tensor(sd, -1));
  CHECK_ERROR_HAS("tg_state_dict_tensor");
  CHECK_NULL(tg_state_dict_get(NULL, "x"));
  /* (every refused argument: test_st_dict_refusals_change_nothing) */
  /* the dict borrows: freeing it frees no tensor */
  tg_state_dict_free(sd);
  tg_state_dict_free(NULL);
  CHECK_EQ_INT(tg_live_tensors(), live);
  CHECK_TENSOR(a, v, 0, 3);
  tg_scope_end();
}

/* the names, tensors and metadata of sd, as one string (to compare before and after a refused call) */
static void st_dict_snapshot(const tg_state_dict *sd, char *out, size_t n) {
  size_t at = (size_t)snprintf(out, n, "%d:", tg_state_dict_count(sd));
  for (int i = 0; i < tg_state_dict_count(sd) && at < n; i++)
    at += (size_t)snprintf(out + at, n - at, "%s=%p,", tg_state_dict_name(sd, i), (void *)tg_state_dict_tensor(sd, i));
  for (int i = 0; i < tg_state_dict_metadata_count(sd) && at < n; i++)
    at += (size_t)snprintf(out + at, n - at, "[%s=%s]", tg_state_dict_metadata_key(sd, i),
                           tg_state_dict_metadata_value(sd, i));
}

/* every refused argument of the state-dict functions: -1 or NULL, a message saying which argument and why, and the
 * dict exactly as before (a refused add used to leave no trace but an old error, and the next save wrote {}) */
TEST(test_st_dict_refusals_change_nothing) {
  st_tmp tmp;
  if (!st_tmp_open(&tmp)) return;
  tg_scope_begin();
  static const float v[2] = {1, 2};
  tg_tensor *a = TEST_F32(v, 2);
  tg_state_dict *sd = tg_state_dict_new();
  CHECK_EQ_INT(tg_state_dict_add(sd, "a", a), 0);
  CHECK_EQ_INT(tg_state_dict_metadata_set(sd, "format", "pt"), 0);
  char before[512], after[512];
  st_dict_snapshot(sd, before, sizeof before);
  /* a NULL tensor, as an op that failed returns it: the message names the entry and repeats the op's error */
  tg_tensor *bad = tg_reshape(a, TG_SHAPE(3));
  CHECK_NULL(bad);
  CHECK_EQ_INT(tg_state_dict_add(sd, "w", bad), -1);
  CHECK_ERROR_HAS("tg_state_dict_add: the tensor for 'w' is NULL (the last error: tg_reshape");
  tg_clear_error();
  CHECK_EQ_INT(tg_state_dict_add(sd, "w", NULL), -1);
  CHECK_STR(tg_error(), "tg_state_dict_add: the tensor for 'w' is NULL");
  CHECK_EQ_INT(tg_state_dict_add(sd, NULL, a), -1);
  CHECK_STR(tg_error(), "tg_state_dict_add: the name is NULL");
  CHECK_EQ_INT(tg_state_dict_add(sd, "", a), -1);
  CHECK_STR(tg_error(), "tg_state_dict_add: the name is empty");
  CHECK_EQ_INT(tg_state_dict_add(sd, "a", a), -1);
  CHECK_STR(tg_error(), "tg_state_dict_add: the name 'a' is already in the state dict");
  CHECK_EQ_INT(tg_state_dict_add(NULL, "x", a), -1);
  CHECK_STR(tg_error(), "tg_state_dict_add: the state dict is NULL");
  /* metadata */
  CHECK_EQ_INT(tg_state_dict_metadata_set(NULL, "k", "v"), -1);
  CHECK_STR(tg_error(), "tg_state_dict_metadata_set: the state dict is NULL");
  CHECK_EQ_INT(tg_state_dict_metadata_set(sd, NULL, "v"), -1);
  CHECK_STR(tg_error(), "tg_state_dict_metadata_set: the key is NULL");
  CHECK_EQ_INT(tg_state_dict_metadata_set(sd, "", "v"), -1);
  CHECK_STR(tg_error(), "tg_state_dict_metadata_set: the key is empty");
  CHECK_EQ_INT(tg_state_dict_metadata_set(sd, "format", NULL), -1);
  CHECK_STR(tg_error(), "tg_state_dict_metadata_set: the value of 'format' is NULL");
  CHECK_EQ_INT(tg_state_dict_metadata_set(sd, "format", "bad\xff"), -1);
  CHECK_STR(tg_error(), "tg_state_dict_metadata_set: the value of 'format' is not UTF-8");
  CHECK_EQ_INT(tg_state_dict_metadata_set(sd, "k\xc0\xaf", "v"), -1);
  CHECK_ERROR_HAS("tg_state_dict_metadata_set: the key of 'k");
  st_dict_snapshot(sd, after, sizeof after);
  CHECK_STR(after, before);
  /* the readers */
  CHECK_EQ_INT(tg_state_dict_count(NULL), -1);
  CHECK_STR(tg_error(), "tg_state_dict_count: the state dict is NULL");
  CHECK_EQ_INT(tg_state_dict_metadata_count(NULL), -1);
  CHECK_STR(tg_error(), "tg_state_dict_metadata_count: the state dict is NULL");
  CHECK_NULL(tg_state_dict_name(NULL, 0));
  CHECK_STR(tg_error(), "tg_state_dict_name: the state dict is NULL");
  CHECK_NULL(tg_state_dict_get(sd, NULL));
  CHECK_STR(tg_error(), "tg_state_dict_get: the name is NULL");
  CHECK_NULL(tg_state_dict_get(sd, ""));
  CHECK_STR(tg_error(), "tg_state_dict_get: no tensor is named ''");
  CHECK_NULL(tg_state_dict_metadata_key(sd, 1));
  CHECK_STR(tg_error(), "tg_state_dict_metadata_key: index 1 is out of range for 1 entries");
  CHECK_NULL(tg_state_dict_metadata_value(sd, -1));
  CHECK_STR(tg_error(), "tg_state_dict_metadata_value: index -1 is out of range for 1 entries");
  CHECK_NULL(tg_state_dict_metadata_key(NULL, 0));
  CHECK_STR(tg_error(), "tg_state_dict_metadata_key: the state dict is NULL");
  CHECK_NULL(tg_state_dict_metadata_get(sd, "absent"));
  CHECK_STR(tg_error(), "tg_state_dict_metadata_get: no metadata key is 'absent'");
  CHECK_NULL(tg_state_dict_metadata_get(sd, NULL));
  CHECK_STR(tg_error(), "tg_state_dict_metadata_get: the key is NULL");
  CHECK_NULL(tg_state_dict_metadata_get(NULL, "format"));
  /* after all that, a save writes the dict as it is: one tensor and the metadata */
  const char *p = st_path(&tmp, "after.safetensors");
  CHECK_EQ_INT(tg_safetensors_save(p, sd), 0);
  tg_state_dict *back = tg_safetensors_load(p);
  CHECK_EQ_INT(tg_state_dict_count(back), 1);
  CHECK_TENSOR(tg_state_dict_get(back, "a"), v, 0, 2);
  CHECK_STR(tg_state_dict_metadata_get(back, "format"), "pt");
  tg_state_dict_free(back);
  /* a file may hold an empty name (the format allows it): it loads, and saves back */
  static const char hdr[] = "{\"\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}";
  p = st_write_st(&tmp, hdr, 1, -1);
  back = tg_safetensors_load(p);
  CHECK_NOT_NULL(back);
  CHECK_STR(tg_state_dict_name(back, 0), "");
  CHECK_EQ_INT(tg_numel(tg_state_dict_get(back, "")), 1);
  CHECK_EQ_INT(tg_safetensors_save(st_path(&tmp, "again.safetensors"), back), 0);
  tg_state_dict_free(back);
  tg_state_dict_free(sd);
  tg_scope_end();
  st_tmp_close(&tmp);
}

/* a file of n one-byte U8 tensors "t0".."t{n-1}" holding i % 251; the last is named dup_last (NULL: "t{n-1}") */
static const char *st_write_many(st_tmp *t, int n, const char *dup_last) {
  size_t cap = (size_t)n * 64 + 64, at = 0;
  char *h = (char *)malloc(cap);
  at += (size_t)snprintf(h + at, cap - at, "{");
  for (int i = 0; i < n; i++) {
    char name[32];
    snprintf(name, sizeof name, "t%d", i);
    at += (size_t)snprintf(h + at, cap - at, "%s\"%s\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[%d,%d]}",
                           i ? "," : "", i == n - 1 && dup_last ? dup_last : name, i, i + 1);
  }
  at += (size_t)snprintf(h + at, cap - at, "}");
  unsigned char *b = (unsigned char *)malloc(8 + at + (size_t)n);
  for (int k = 0; k < 8; k++) b[k] = (unsigned char)((uint64_t)at >> (8 * k));
  memcpy(b + 8, h, at);
  for (int i = 0; i < n; i++) b[8 + at + (size_t)i] = (unsigned char)(i % 251);
  const char *p = st_write(t, "many.safetensors", b, 8 + at + (size_t)n);
  free(b);
  free(h);
  return p;
}

/* many tensors: every one found by name, in order, with its value; a duplicate name at the very end of a large
 * header is still found (names are indexed by a hash, duplicates found by sorting: no O(n^2) pass) */
TEST(test_st_many_tensors) {
  st_tmp tmp;
  if (!st_tmp_open(&tmp)) return;
  enum { N = 20000 };
  tg_state_dict *sd = tg_safetensors_load(st_write_many(&tmp, N, NULL));
  CHECK_NOT_NULL(sd);
  CHECK_EQ_INT(tg_state_dict_count(sd), N);
  int wrong = 0;
  for (int i = 0; sd && i < N; i += 7) {
    char name[32];
    snprintf(name, sizeof name, "t%d", i);
    uint8_t got = 0;
    tg_tensor *t = tg_state_dict_get(sd, name);
    wrong += !t || tg_state_dict_tensor(sd, i) != t || strcmp(tg_state_dict_name(sd, i), name) != 0 ||
             tg_to_host(t, &got, 1) != 0 || got != (uint8_t)(i % 251);
  }
  CHECK_EQ_INT(wrong, 0);
  CHECK_NULL(tg_state_dict_get(sd, "t20000"));
  tg_state_dict_free(sd);
  CHECK_NULL(tg_safetensors_load(st_write_many(&tmp, N, "t3")));
  CHECK_ERROR_HAS("a tensor name given twice: 't3'");
  st_tmp_close(&tmp);
}

// ---------------------------------------------------------------------------------------------------------------------
// safetensors: golden files

TEST(test_st_save_is_tinygrads_bytes) {
  st_tmp tmp;
  if (!st_tmp_open(&tmp)) return;
  tg_state_dict *sd = st_golden_dict();
  CHECK_EQ_INT(tg_state_dict_count(sd), TEST_COUNT(g_st_tensors));
  const char *p = st_path(&tmp, "golden.safetensors");
  CHECK_EQ_INT(tg_safetensors_save(p, sd), 0);
  size_t n = 0;
  unsigned char *got = st_read(p, &n);
  CHECK_NOT_NULL(got);
  CHECK_EQ_INT(n, sizeof g_st_ours);
  size_t first = 0;
  while (got && first < n && first < sizeof g_st_ours && got[first] == g_st_ours[first]) first++;
  test_check(got && n == sizeof g_st_ours && first == n, __FILE__, __LINE__,
             "the saved file differs from tinygrad's safe_save at byte %zu", first);
  free(got);
  for (int i = 0; i < tg_state_dict_count(sd); i++) tg_free(tg_state_dict_tensor(sd, i));
  tg_state_dict_free(sd);
  st_tmp_close(&tmp);
}

TEST(test_st_roundtrip_every_dtype) {
  st_tmp tmp;
  if (!st_tmp_open(&tmp)) return;
  /* tinygrad's file (what we save) loads back to every tensor, in order */
  const char *p = st_write(&tmp, "ours.safetensors", g_st_ours, sizeof g_st_ours);
  tg_state_dict *sd = tg_safetensors_load(p);
  CHECK_NOT_NULL(sd);
  CHECK_EQ_INT(tg_state_dict_count(sd), TEST_COUNT(g_st_tensors));
  for (int i = 0; sd && i < TEST_COUNT(g_st_tensors) && i < tg_state_dict_count(sd); i++) {
    CHECK_STR(tg_state_dict_name(sd, i), g_st_tensors[i].name);
    st_check_golden(tg_state_dict_tensor(sd, i), &g_st_tensors[i], __LINE__);
  }
  /* a 0-d tensor and an empty one */
  tg_tensor *s = tg_state_dict_get(sd, "scalar"), *e = tg_state_dict_get(sd, "empty");
  CHECK_EQ_INT(tg_ndim(s), 0);
  CHECK_NEAR(tg_item(s), 2.5, 0);
  CHECK_EQ_INT(tg_ndim(e), 2);
  CHECK_EQ_INT(tg_numel(e), 0);
  /* values of a few, as floats */
  static const float want_conv[8] = {-1, -0.75f, -0.5f, -0.25f, 0, 0.25f, 0.5f, 0.75f};
  CHECK_TENSOR(tg_state_dict_get(sd, "conv.weight"), want_conv, 0, 2, 1, 2, 2);
  static const float want_bf16[6] = {1.0f, -2.5f, 3.140625f, 1.2676506e30f, -INFINITY, 0.0078125f};
  CHECK_TENSOR(tg_state_dict_get(sd, "bf16"), want_bf16, 0, 2, 3);
  /* loaded tensors are ordinary tensors */
  tg_tensor *y = tg_mul_s(tg_state_dict_get(sd, "conv.weight"), 4);
  static const float want_y[8] = {-4, -3, -2, -1, 0, 1, 2, 3};
  CHECK_TENSOR(y, want_y, 0, 2, 1, 2, 2);
  tg_free(y);
  tg_state_dict_free(sd);
  st_tmp_close(&tmp);
}

TEST(test_st_load_rust_crate_file) {
  st_tmp tmp;
  if (!st_tmp_open(&tmp)) return;
  const char *p = st_write(&tmp, "rust.safetensors", g_st_rust, sizeof g_st_rust);
  tg_state_dict *sd = tg_safetensors_load(p);
  CHECK_NOT_NULL(sd);
  CHECK_EQ_INT(tg_state_dict_count(sd), TEST_COUNT(g_st_tensors));
  /* the file's order (the crate sorts by alignment, then name), and every tensor by name */
  for (int i = 0; sd && i < TEST_COUNT(g_st_rust_order) && i < tg_state_dict_count(sd); i++)
    CHECK_STR(tg_state_dict_name(sd, i), g_st_tensors[g_st_rust_order[i]].name);
  for (int i = 0; sd && i < TEST_COUNT(g_st_tensors); i++)
    st_check_golden(tg_state_dict_get(sd, g_st_tensors[i].name), &g_st_tensors[i], __LINE__);
  /* the metadata is not a tensor: it is kept, in the file's order */
  CHECK_NULL(tg_state_dict_get(sd, "__metadata__"));
  CHECK_EQ_INT(tg_state_dict_metadata_count(sd), TEST_COUNT(g_st_rust_meta) / 2);
  for (int i = 0; sd && i < TEST_COUNT(g_st_rust_meta) / 2; i++) {
    CHECK_STR(tg_state_dict_metadata_key(sd, i), g_st_rust_meta[2 * i]);
    CHECK_STR(tg_state_dict_metadata_value(sd, i), g_st_rust_meta[2 * i + 1]);
  }
  CHECK_STR(tg_state_dict_metadata_get(sd, "format"), "pt");
  CHECK_STR(tg_state_dict_metadata_get(sd, "note"), "metadata is kept on load");
  tg_state_dict_free(sd);
  st_tmp_close(&tmp);
}

TEST(test_st_empty_dict_and_only_empty_tensors) {
  st_tmp tmp;
  if (!st_tmp_open(&tmp)) return;
  /* an empty dict: "{}" padded to 8, and nothing else */
  tg_state_dict *sd = tg_state_dict_new();
  const char *p = st_path(&tmp, "empty.safetensors");
  CHECK_EQ_INT(tg_safetensors_save(p, sd), 0);
  size_t n = 0;
  unsigned char *got = st_read(p, &n);
  static const unsigned char want[16] = {8, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' ', ' ', ' ', ' ', ' '};
  CHECK(got && n == 16 && memcmp(got, want, 16) == 0);
  free(got);
  tg_state_dict_free(sd);
  sd = tg_safetensors_load(p);
  CHECK_NOT_NULL(sd);
  CHECK_EQ_INT(tg_state_dict_count(sd), 0);
  tg_state_dict_free(sd);
  /* only zero-size tensors (no data at all) and a 0-d one, round trip */
  sd = tg_state_dict_new();
  tg_tensor *e1 = tg_zeros(TG_FLOAT32, TG_SHAPE(0)), *e2 = tg_ones(TG_INT64, TG_SHAPE(3, 0, 2));
  tg_tensor *s = tg_scalar(-3, TG_INT16);
  tg_state_dict_add(sd, "e1", e1);
  tg_state_dict_add(sd, "e2", e2);
  tg_state_dict_add(sd, "s", s);
  CHECK_EQ_INT(tg_safetensors_save(p, sd), 0);
  tg_state_dict *back = tg_safetensors_load(p);
  CHECK_NOT_NULL(back);
  CHECK_EQ_INT(tg_state_dict_count(back), 3);
  tg_tensor *b2 = tg_state_dict_get(back, "e2"), *bs = tg_state_dict_get(back, "s");
  CHECK_EQ_INT(tg_numel(b2), 0);
  CHECK(tg_ndim(b2) == 3 && tg_shape(b2)[0] == 3 && tg_shape(b2)[1] == 0 && tg_shape(b2)[2] == 2);
  CHECK_DTYPE(b2, TG_INT64);
  static const int16_t want_s = -3;
  CHECK_RAW0(bs, TG_INT16, &want_s);
  tg_state_dict_free(back);
  tg_state_dict_free(sd);
  tg_free(e1);
  tg_free(e2);
  tg_free(s);
  st_tmp_close(&tmp);
}

TEST(test_st_save_errors) {
  st_tmp tmp;
  if (!st_tmp_open(&tmp)) return;
  tg_scope_begin();
  static const float v[2] = {1, 2};
  tg_tensor *a = TEST_F32(v, 2);
  tg_state_dict *sd = tg_state_dict_new();
  tg_state_dict_add(sd, "a", a);
  CHECK_EQ_INT(tg_safetensors_save(NULL, sd), -1);
  CHECK_ERROR_HAS("tg_safetensors_save: the path is NULL");
  CHECK_EQ_INT(tg_safetensors_save(st_path(&tmp, "x"), NULL), -1);
  CHECK_ERROR_HAS("the state dict is NULL");
  CHECK_EQ_INT(tg_safetensors_save(st_path(&tmp, "no/such/dir/x.safetensors"), sd), -1);
  CHECK_ERROR_HAS("cannot create");
  /* names JSON (or the format) cannot hold; no file is left behind */
  tg_state_dict *bad = tg_state_dict_new();
  tg_state_dict_add(bad, "__metadata__", a);
  CHECK_EQ_INT(tg_safetensors_save(st_path(&tmp, "m.safetensors"), bad), -1);
  CHECK_ERROR_HAS("reserved for metadata");
  CHECK(access(st_path(&tmp, "m.safetensors"), F_OK) != 0);
  tg_state_dict_free(bad);
  bad = tg_state_dict_new();
  tg_state_dict_add(bad, "bad\xff", a);
  CHECK_EQ_INT(tg_safetensors_save(st_path(&tmp, "u.safetensors"), bad), -1);
  CHECK_ERROR_HAS("it is not UTF-8");
  tg_state_dict_free(bad);
  /* lazy tensors are realised on save */
  tg_tensor *lazy = tg_add_s(tg_mul_s(a, 3), 1);
  tg_state_dict_add(sd, "lazy", lazy);
  const char *p = st_path(&tmp, "ok.safetensors");
  CHECK_EQ_INT(tg_safetensors_save(p, sd), 0);
  tg_state_dict *back = tg_safetensors_load(p);
  static const float want[2] = {4, 7};
  CHECK_TENSOR(tg_state_dict_get(back, "lazy"), want, 0, 2);
  CHECK_TENSOR(tg_state_dict_get(back, "a"), v, 0, 2);
  tg_state_dict_free(back);
  tg_state_dict_free(sd);
  tg_scope_end();
  st_tmp_close(&tmp);
}

// ---------------------------------------------------------------------------------------------------------------------
// safetensors: malformed files

/* every proper prefix of a valid file (and the file plus one byte) is refused with an error naming the file */
static void st_check_truncations(st_tmp *tmp, const unsigned char *file, size_t n, int line) {
  const char *p = st_path(tmp, "t.safetensors");
  size_t refused = 0, named = 0;
  unsigned char *longer = (unsigned char *)malloc(n + 1);
  memcpy(longer, file, n);
  longer[n] = 0;
  for (size_t len = 0; len <= n + 1; len++) {
    if (len == n) continue;
    st_write(tmp, "t.safetensors", longer, len);
    tg_clear_error();
    tg_state_dict *sd = tg_safetensors_load(p);
    refused += sd == NULL;
    named += sd == NULL && tg_error() && strstr(tg_error(), p) != NULL;
    tg_state_dict_free(sd);
  }
  free(longer);
  test_check(refused == n + 1, __FILE__, line, "%zu of %zu truncated/extended files refused", refused, n + 1);
  test_check(named == n + 1, __FILE__, line, "%zu of %zu errors name the file", named, n + 1);
}

TEST(test_st_truncated_at_every_byte) {
  st_tmp tmp;
  if (!st_tmp_open(&tmp)) return;
  st_check_truncations(&tmp, g_st_ours, sizeof g_st_ours, __LINE__);
  st_check_truncations(&tmp, g_st_rust, sizeof g_st_rust, __LINE__);
  /* the specific messages */
  const char *p = st_write(&tmp, "t.safetensors", g_st_ours, 5);
  CHECK_NULL(tg_safetensors_load(p));
  CHECK_ERROR_HAS("shorter than the 8 bytes");
  p = st_write(&tmp, "t.safetensors", g_st_ours, 100);
  CHECK_NULL(tg_safetensors_load(p));
  CHECK_ERROR_HAS("the header length 1048 is beyond the end of the file (the file has 100 bytes)");
  p = st_write(&tmp, "t.safetensors", g_st_ours, sizeof g_st_ours - 1);
  CHECK_NULL(tg_safetensors_load(p));
  CHECK_ERROR_HAS("beyond the 239 bytes of data (truncated file?)");
  st_tmp_close(&tmp);
}

typedef struct st_bad_case {
  const char *header;
  size_t ndata;
  const char *error;  /* a part of the expected message */
} st_bad_case;

#define ST_F32_1 "\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]"

static const st_bad_case st_bad_json[] = {
    {"{\"a\":{" ST_F32_1 "}", 4, "expected ',' or '}' in an object"},
    {"{\"a\":{" ST_F32_1 "},}", 4, "expected a string"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1,],\"data_offsets\":[0,4]}}", 4, "expected an integer"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}}", 4, "fraction or exponent"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1e0],\"data_offsets\":[0,4]}}", 4, "fraction or exponent"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[01],\"data_offsets\":[0,4]}}", 4, "leading zero"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":true,\"data_offsets\":[0,4]}}", 4, "expected '['"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1] \"data_offsets\":[0,4]}}", 4, "expected ',' or '}'"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1 2],\"data_offsets\":[0,4]}}", 4, "expected ',' or ']' in an array"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999],\"data_offsets\":[0,4]}}", 4, "too large for 64"},
    {"{\"a\":{\"dtype\":F32,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "expected a string"},
    {"{\"a\":{\"dtype\":null,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "expected a string"},
    {"[1]", 0, "at byte 8: expected '{'"},
    {"{\"a\":x}", 0, "at byte 13: expected '{'"},
    {"", 0, "at byte 8: expected '{'"},
    {"{}x", 0, "at byte 10: unexpected bytes after the header's object"},
    {"{} \n\t\r ", 0, NULL}, /* whitespace after the object is fine */
    {"{\"a\" {}}", 0, "expected ':' after a key"},
    {"{\"a", 0, "unterminated string"},
    {"{\"a\\q\":{}}", 0, "unknown escape"},
    {"{\"a\\u12\":{}}", 0, "expected 4 hex digits"},
    {"{\"\\udc00\":{}}", 0, "a lone low surrogate"},
    {"{\"\\ud800x\":{}}", 0, "a high surrogate not followed by a low one"},
    {"{\"\\u0000\":{}}", 0, "a NUL character"},
    {"{\"a\x01\":{}}", 0, "a control character in a string"},
    {"{\"a\xff\":{}}", 0, "invalid UTF-8"},
    {"{\"a\xc0\xaf\":{}}", 0, "invalid UTF-8"}, /* an overlong '/' */
    {"{\"a\xed\xa0\x80\":{}}", 0, "invalid UTF-8"}, /* an encoded surrogate */
};

static const st_bad_case st_bad_entries[] = {
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, "beyond the 4 bytes of data"},
    {"{\"a\":{" ST_F32_1 "},\"b\":{" ST_F32_1 "}}", 4, "tensor 'b' (data_offsets [0, 4]) overlaps tensor 'a'"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
     "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "overlaps"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "no tensor covers bytes [0, 4)"},
    {"{\"a\":{" ST_F32_1 "}}", 8, "the tensors cover 4 bytes but the file holds 8 bytes of data"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "needs a different number of"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,16]}}", 16, "more than 2^63"},
    {"{\"a\":{\"dtype\":\"F8_E4M3\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1,
     "tensor 'a' has dtype \"F8_E4M3\", which tinygrad.h does not support"},
    {"{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "the entry of 'a' has no dtype"},
    {"{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "the entry of 'a' has no shape"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "the entry of 'a' has no data_offsets"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4, "are not [begin, end]"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 4, "more than 2 entries in data_offsets"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,0]}}", 0, "negative dimension in shape (-1,)"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[-4,0]}}", 0, "expected 0 <= begin <= end"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,0]}}", 4, "expected 0 <= begin <= end"},
    {"{\"a\":{" ST_F32_1 "},\"a\":{" ST_F32_1 "}}", 4, "a tensor name given twice"},
    {"{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "a field given twice"},
    {"{\"a\":{" ST_F32_1 ",\"extra\":[1]}}", 4, "unknown field \"extra\""},
    {"{\"__metadata__\":{\"k\":1},\"a\":{" ST_F32_1 "}}", 4, "__metadata__ values must be strings"},
    {"{\"__metadata__\":{\"k\":{}},\"a\":{" ST_F32_1 "}}", 4, "__metadata__ values must be strings"},
    {"{\"__metadata__\":[],\"a\":{" ST_F32_1 "}}", 4, "expected '{'"},
    {"{\"__metadata__\":{},\"__metadata__\":{}}", 0, "__metadata__ given twice"},
    {"{\"__metadata__\":{\"k\":\"a\",\"j\":\"b\",\"k\":\"c\"}}", 0, "a key of __metadata__ given twice: 'k'"},
    {"{\"__metadata__\":{\"k\":null}}", 0, "__metadata__ values must be strings"},
    {"{\"__metadata__\":{\"k\":[\"a\"]}}", 0, "__metadata__ values must be strings"},
    {"{\"__metadata__\":{\"k\":true}}", 0, "__metadata__ values must be strings"},
    {"{\"__metadata__\":{\"k\":\"\\u0000\"}}", 0, "a NUL character"},
    {"{\"__metadata__\":{\"k\":\"a\xff\"}}", 0, "invalid UTF-8"},
    {"{\"__metadata__\":null}", 0, "expected '{'"},
    {"{\"__metadata__\":\"x\"}", 0, "expected '{'"},
    {"{\"__metadata__\":{\"k\":\"v\"}}", 0, NULL}, /* metadata alone: fine */
    /* sizes: every product of the nonzero dimensions, and the byte count, fits in int64 whatever the order and the
     * zeros (numel is 0, but strides and other products of sizes would overflow) */
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387905,4,0],\"data_offsets\":[0,0]}}", 0, "more than 2^63"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[0,4611686018427387905,4],\"data_offsets\":[0,0]}}", 0, "more than 2^63"},
    {"{\"a\":{\"dtype\":\"F64\",\"shape\":[2147483648,0,2147483648],\"data_offsets\":[0,0]}}", 0,
     "more than 2^63"}, /* numel 2^62 without the zero: the bytes overflow */
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2305843009213693952,0],\"data_offsets\":[0,0]}}", 0, "more than 2^63"},
    /* 2^60 elements counting the 0 as 1: past the library's limit on sizes (2^60-1, see test_overflow.c) */
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1152921504606846976,0],\"data_offsets\":[0,0]}}", 0, "too large"},
    {"{\"a\":{\"dtype\":\"U8\",\"shape\":[9223372036854775807],\"data_offsets\":[0,1]}}", 1, "a different number of"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4,
     "more than 16 entries in a shape"},
};

static void st_check_bad(st_tmp *tmp, const st_bad_case *cases, int n) {
  for (int i = 0; i < n; i++) {
    const char *p = st_write_st(tmp, cases[i].header, cases[i].ndata, -1);
    tg_clear_error();
    tg_state_dict *sd = tg_safetensors_load(p);
    if (!cases[i].error) {
      test_check(sd != NULL, __FILE__, __LINE__, "case %d (%s) was refused: %s", i, cases[i].header,
                 tg_error() ? tg_error() : "");
      tg_state_dict_free(sd);
      continue;
    }
    const char *e = tg_error();
    test_check(!sd && e && strstr(e, cases[i].error) && strstr(e, p), __FILE__, __LINE__,
               "case %d (%s): expected NULL and an error with \"%s\", got %s and \"%s\"", i, cases[i].header,
               cases[i].error, sd ? "a dict" : "NULL", e ? e : "(no error)");
    tg_state_dict_free(sd);
  }
}

TEST(test_st_malformed_json) {
  st_tmp tmp;
  if (!st_tmp_open(&tmp)) return;
  st_check_bad(&tmp, st_bad_json, TEST_COUNT(st_bad_json));
  /* the byte offset of an error counts from the start of the file */
  st_write_st(&tmp, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4, -1);
  CHECK_NULL(tg_safetensors_load(tmp.path));
  CHECK_ERROR_HAS("malformed JSON header at byte 38: expected an integer, found a fraction or exponent");
  st_tmp_close(&tmp);
}

TEST(test_st_malformed_entries) {
  st_tmp tmp;
  if (!st_tmp_open(&tmp)) return;
  st_check_bad(&tmp, st_bad_entries, TEST_COUNT(st_bad_entries));
  /* the header length: over 100 MB, or past the end */
  const char *p = st_write_st(&tmp, "{}", 0, 1LL << 40);
  CHECK_NULL(tg_safetensors_load(p));
  CHECK_ERROR_HAS("the header length 1099511627776 is over the 100 MB limit");
  p = st_write_st(&tmp, "{}", 0, 3);
  CHECK_NULL(tg_safetensors_load(p));
  CHECK_ERROR_HAS("beyond the end of the file");
  p = st_write_st(&tmp, "{}      ", 0, 2); /* a shorter header leaves spaces as "data" */
  CHECK_NULL(tg_safetensors_load(p));
  CHECK_ERROR_HAS("the tensors cover 0 bytes but the file holds 6 bytes of data");
  /* what is not a file */
  CHECK_NULL(tg_safetensors_load(st_path(&tmp, "absent.safetensors")));
  CHECK_ERROR_HAS("cannot open");
  CHECK_ERROR_HAS("absent.safetensors");
  CHECK_NULL(tg_safetensors_load(tmp.dir));
  CHECK_ERROR_HAS("not a regular file");
  CHECK_NULL(tg_safetensors_load(NULL));
  CHECK_ERROR_HAS("the path is NULL");
  /* good files of the same shapes load: the checks above fail for their reason only */
  p = st_write_st(&tmp, "{\"__metadata__\":{\"k\":\"v\"},\"a\":{" ST_F32_1 "},\"b\":{\"dtype\":\"F32\",\"shape\":[0],"
                  "\"data_offsets\":[4,4]}}", 4, -1);
  tg_state_dict *sd = tg_safetensors_load(p);
  CHECK_NOT_NULL(sd);
  CHECK_EQ_INT(tg_state_dict_count(sd), 2);
  tg_state_dict_free(sd);
  /* escapes in names decode to UTF-8 */
  p = st_write_st(&tmp, "{\"\\u00f1\\ud83d\\ude00\\\"\\/\\n\":{" ST_F32_1 "}}", 4, -1);
  sd = tg_safetensors_load(p);
  CHECK_NOT_NULL(sd);
  CHECK_STR(tg_state_dict_name(sd, 0), "\303\261\360\237\230\200\"/\n");
  tg_state_dict_free(sd);
  st_tmp_close(&tmp);
}

TEST(test_st_loaded_dict_owns_its_tensors) {
  st_tmp tmp;
  if (!st_tmp_open(&tmp)) return;
  const char *p = st_write(&tmp, "ours.safetensors", g_st_ours, sizeof g_st_ours);
  int64_t live = tg_live_tensors();
  tg_state_dict *sd;
  tg_scope_begin();
  sd = tg_safetensors_load(p);
  tg_scope_end(); /* the scope does not own them */
  CHECK_NOT_NULL(sd);
  CHECK_EQ_INT(tg_live_tensors(), live + TEST_COUNT(g_st_tensors));
  st_check_golden(tg_state_dict_get(sd, "f64"), &g_st_tensors[13], __LINE__);
  tg_state_dict_free(sd);
  CHECK_EQ_INT(tg_live_tensors(), live);
  st_tmp_close(&tmp);
}

// ---------------------------------------------------------------------------------------------------------------------
// tg_load_state_dict

TEST(test_st_load_state_dict_in_place) {
  tg_scope_begin();
  static const float w0[6] = {1, 2, 3, 4, 5, 6}, w1[6] = {-1, -2, -3, -4, -5, -6};
  static const float b1[3] = {0.5f, 0.25f, 0.125f}, k1[4] = {9, 8, 7, 6};
  tg_tensor *w = TEST_F32(w0, 2, 3);                                    /* realised */
  tg_tensor *b = tg_zeros(TG_FLOAT32, TG_SHAPE(3));                     /* lazy */
  tg_tensor *k = tg_add_s(tg_rand(TG_FLOAT32, TG_SHAPE(2, 2)), 1);      /* lazy, realised below */
  CHECK_EQ_INT(tg_realize(k), 0);
  tg_tensor *y = tg_mul_s(w, 2); /* realised before the load: keeps the old values */
  CHECK_EQ_INT(tg_realize(y), 0);
  tg_tensor *view = tg_reshape(w, TG_SHAPE(3, 2)); /* a view of w's buffer */
  tg_state_dict *model = tg_state_dict_new(), *file = tg_state_dict_new();
  tg_state_dict_add(model, "w", w);
  tg_state_dict_add(model, "b", b);
  tg_state_dict_add(model, "k", k);
  tg_state_dict_add(file, "k", TEST_F32(k1, 2, 2));
  tg_state_dict_add(file, "w", TEST_F32(w1, 2, 3));
  tg_state_dict_add(file, "b", TEST_F32(b1, 3));
  CHECK_EQ_INT(tg_load_state_dict(model, file, 1), 0);
  /* the same handles, the new values, also through lazy expressions built after the load */
  CHECK(tg_state_dict_get(model, "w") == w);
  CHECK_TENSOR(w, w1, 0, 2, 3);
  CHECK_TENSOR(b, b1, 0, 3);
  CHECK_TENSOR(k, k1, 0, 2, 2);
  static const float w1x2[6] = {-2, -4, -6, -8, -10, -12}, w0x2[6] = {2, 4, 6, 8, 10, 12};
  CHECK_TENSOR(tg_mul_s(w, 2), w1x2, 0, 2, 3);
  static const float bsum = 0.875f;
  CHECK_TENSOR0(tg_sum(b, 0, NULL, 0), bsum, 1e-6);
  CHECK_TENSOR(y, w0x2, 0, 2, 3);  /* computed before: unchanged */
  CHECK_TENSOR(view, w1, 0, 3, 2); /* written in place: the view sees it */
  /* loading again (new values) works and is seen too */
  tg_state_dict *file2 = tg_state_dict_new();
  tg_state_dict_add(file2, "w", TEST_F32(w0, 2, 3));
  CHECK_EQ_INT(tg_load_state_dict(model, file2, 0), 0);
  CHECK_TENSOR(tg_mul_s(w, 2), w0x2, 0, 2, 3);
  CHECK_TENSOR(b, b1, 0, 3);
  tg_state_dict_free(file2);
  tg_state_dict_free(file);
  tg_state_dict_free(model);
  tg_scope_end();
}

TEST(test_st_load_state_dict_shared_nodes) {
  tg_scope_begin();
  /* equal lazy graphs are one node (hash-consing) and realise into one buffer: loading one must not change the
   * other */
  tg_tensor *a = tg_zeros(TG_FLOAT32, TG_SHAPE(3)), *b = tg_zeros(TG_FLOAT32, TG_SHAPE(3));
  tg_tensor *c = tg_ones(TG_FLOAT32, TG_SHAPE(3)), *d = tg_ones(TG_FLOAT32, TG_SHAPE(3));
  tg_tensor *both[2] = {a, b};
  CHECK_EQ_INT(tg_realize_all(both, 2), 0);
  tg_state_dict *model = tg_state_dict_new(), *file = tg_state_dict_new();
  tg_state_dict_add(model, "a", a);
  tg_state_dict_add(model, "c", c);
  static const float va[3] = {7, 8, 9}, vc[3] = {-1, -2, -3}, zeros[3] = {0, 0, 0}, ones[3] = {1, 1, 1};
  tg_state_dict_add(file, "a", TEST_F32(va, 3));
  tg_state_dict_add(file, "c", TEST_F32(vc, 3));
  CHECK_EQ_INT(tg_load_state_dict(model, file, 1), 0);
  CHECK_TENSOR(a, va, 0, 3);
  CHECK_TENSOR(b, zeros, 0, 3);
  CHECK_TENSOR(c, vc, 0, 3);
  CHECK_TENSOR(d, ones, 0, 3);
  /* b too: the zeros node's cached buffer is never written, so a new tg_zeros still reads zeros */
  tg_state_dict *m2 = tg_state_dict_new();
  tg_state_dict_add(m2, "a", b);
  CHECK_EQ_INT(tg_load_state_dict(m2, file, 0), 0);
  CHECK_TENSOR(b, va, 0, 3);
  CHECK_TENSOR(a, va, 0, 3);
  CHECK_TENSOR(tg_zeros(TG_FLOAT32, TG_SHAPE(3)), zeros, 0, 3);
  CHECK_TENSOR(tg_add_s(tg_ones(TG_FLOAT32, TG_SHAPE(3)), 0), ones, 0, 3);
  /* a tensor that is a buffer is written in place, again and again */
  CHECK_EQ_INT(tg_load_state_dict(model, m2, 0), 0); /* a := b */
  CHECK_TENSOR(a, va, 0, 3);
  tg_state_dict_free(m2);
  tg_state_dict_free(file);
  tg_state_dict_free(model);
  tg_scope_end();
}

TEST(test_st_load_state_dict_errors_change_nothing) {
  tg_scope_begin();
  static const float a0[2] = {1, 2}, a1[2] = {3, 4};
  tg_tensor *a = TEST_F32(a0, 2);
  tg_tensor *lazy = tg_full(5, TG_FLOAT32, TG_SHAPE(2));
  tg_tensor *wm = tg_zeros(TG_FLOAT32, TG_SHAPE(32, 1, 3, 3));
  tg_tensor *wf = tg_zeros(TG_FLOAT32, TG_SHAPE(32, 1, 5, 5));
  tg_state_dict *model = tg_state_dict_new(), *file = tg_state_dict_new();
  tg_state_dict_add(model, "a", a);
  tg_state_dict_add(model, "lazy", lazy);
  tg_state_dict_add(model, "l1.weight", wm);
  tg_state_dict_add(file, "a", TEST_F32(a1, 2));
  tg_state_dict_add(file, "lazy", TEST_F32(a1, 2));
  tg_state_dict_add(file, "l1.weight", wf);
  /* a shape mismatch after two good pairs: nothing is written */
  CHECK_EQ_INT(tg_load_state_dict(model, file, 1), -1);
  CHECK_ERROR_HAS("tg_load_state_dict: 'l1.weight' has shape (32, 1, 5, 5) in the file but (32, 1, 3, 3) in the model");
  static const float fives[2] = {5, 5};
  CHECK_TENSOR(a, a0, 0, 2);
  CHECK_TENSOR(lazy, fives, 0, 2);
  /* a dtype mismatch */
  tg_state_dict *f2 = tg_state_dict_new();
  tg_state_dict_add(f2, "a", TEST_F32(a1, 2));
  tg_state_dict_add(f2, "lazy", tg_cast(TEST_F32(a1, 2), TG_FLOAT16));
  CHECK_EQ_INT(tg_load_state_dict(model, f2, 0), -1);
  CHECK_ERROR_HAS("'lazy' is float16 in the file but float32 in the model");
  CHECK_TENSOR(a, a0, 0, 2);
  /* strict: missing on either side */
  tg_state_dict *f1 = tg_state_dict_new();
  tg_state_dict_add(f1, "a", TEST_F32(a1, 2));
  CHECK_EQ_INT(tg_load_state_dict(model, f1, 1), -1);
  CHECK_ERROR_HAS("'lazy' is in the model but not in the file");
  tg_state_dict_free(f1);
  tg_state_dict *f3 = tg_state_dict_new();
  tg_state_dict_add(f3, "a", TEST_F32(a1, 2));
  tg_state_dict_add(f3, "lazy", TEST_F32(a1, 2));
  tg_state_dict_add(f3, "l1.weight", tg_ones(TG_FLOAT32, TG_SHAPE(32, 1, 3, 3)));
  tg_state_dict_add(f3, "l2.weight", TEST_F32(a1, 2));
  CHECK_EQ_INT(tg_load_state_dict(model, f3, 1), -1);
  CHECK_ERROR_HAS("'l2.weight' is in the file but not in the model");
  CHECK_TENSOR(a, a0, 0, 2);
  CHECK_TENSOR(lazy, fives, 0, 2);
  /* not strict: the common names load, the others are skipped */
  tg_state_dict *f4 = tg_state_dict_new();
  tg_state_dict_add(f4, "lazy", TEST_F32(a1, 2));
  tg_state_dict_add(f4, "other", TEST_F32(a0, 2));
  CHECK_EQ_INT(tg_load_state_dict(model, f4, 0), 0);
  CHECK_TENSOR(lazy, a1, 0, 2);
  CHECK_TENSOR(a, a0, 0, 2);
  /* NULLs */
  CHECK_EQ_INT(tg_load_state_dict(NULL, f4, 0), -1);
  CHECK_ERROR_HAS("the destination state dict is NULL");
  CHECK_EQ_INT(tg_load_state_dict(model, NULL, 0), -1);
  tg_state_dict_free(f2);
  tg_state_dict_free(f3);
  tg_state_dict_free(f4);
  tg_state_dict_free(file);
  tg_state_dict_free(model);
  tg_scope_end();
}

TEST(test_st_load_state_dict_aliases) {
  tg_scope_begin();
  static const float v1[2] = {1, 2}, v2[2] = {3, 4};
  tg_tensor *t1 = TEST_F32(v1, 2), *t2 = TEST_F32(v2, 2);
  /* a swap: every source is read before any destination is written */
  tg_state_dict *dst = tg_state_dict_new(), *src = tg_state_dict_new();
  tg_state_dict_add(dst, "a", t1);
  tg_state_dict_add(dst, "b", t2);
  tg_state_dict_add(src, "a", t2);
  tg_state_dict_add(src, "b", t1);
  CHECK_EQ_INT(tg_load_state_dict(dst, src, 1), 0);
  CHECK_TENSOR(t1, v2, 0, 2);
  CHECK_TENSOR(t2, v1, 0, 2);
  /* into itself: nothing changes */
  CHECK_EQ_INT(tg_load_state_dict(dst, dst, 1), 0);
  CHECK_TENSOR(t1, v2, 0, 2);
  CHECK_TENSOR(t2, v1, 0, 2);
  /* a source computed lazily from a destination */
  tg_state_dict *s2 = tg_state_dict_new();
  tg_state_dict_add(s2, "a", tg_add(t1, t2)); /* (4, 6) */
  tg_state_dict_add(s2, "b", tg_mul_s(t1, 10)); /* (30, 40), from t1 before the load */
  CHECK_EQ_INT(tg_load_state_dict(dst, s2, 1), 0);
  static const float w1[2] = {4, 6}, w2[2] = {30, 40};
  CHECK_TENSOR(t1, w1, 0, 2);
  CHECK_TENSOR(t2, w2, 0, 2);
  tg_state_dict_free(s2);
  tg_state_dict_free(src);
  tg_state_dict_free(dst);
  tg_scope_end();
}

TEST(test_st_load_state_dict_pending_assign) {
  tg_scope_begin();
  static const float v[3] = {1, 2, 3}, nv[3] = {10, 20, 30};
  tg_tensor *w = TEST_F32(v, 3);
  static const float z[3] = {0, 0, 0};
  tg_tensor *other = tg_keep(TEST_F32(z, 3));
  CHECK_NOT_NULL(tg_assign(w, tg_add_s(w, 100))); /* pending, as an optimiser step leaves it */
  CHECK_NOT_NULL(tg_assign(other, tg_ones(TG_FLOAT32, TG_SHAPE(3))));
  tg_state_dict *m = tg_state_dict_new(), *f = tg_state_dict_new();
  tg_state_dict_add(m, "w", w);
  tg_state_dict_add(f, "w", TEST_F32(nv, 3));
  CHECK_EQ_INT(tg_load_state_dict(m, f, 1), 0); /* the assignments run first, then the load */
  CHECK_TENSOR(w, nv, 0, 3);
  static const float ones[3] = {1, 1, 1};
  CHECK_TENSOR(other, ones, 0, 3);
  CHECK_TENSOR(w, nv, 0, 3); /* a later realisation does not run the assignment again */
  tg_state_dict_free(f);
  tg_state_dict_free(m);
  tg_scope_end();
  tg_free(other);
}

TEST(test_st_model_save_load_roundtrip) {
  st_tmp tmp;
  if (!st_tmp_open(&tmp)) return;
  tg_scope_begin();
  tg_manual_seed(3);
  /* a "model": a trained one is saved, a fresh one takes its weights */
  tg_tensor *w = tg_randn(TG_FLOAT32, TG_SHAPE(4, 3)), *bias = tg_rand(TG_FLOAT32, TG_SHAPE(4));
  tg_tensor *steps = tg_full(12, TG_INT32, TG_SHAPE(1));
  tg_state_dict *trained = tg_state_dict_new();
  tg_state_dict_add(trained, "fc.weight", w);
  tg_state_dict_add(trained, "fc.bias", bias);
  tg_state_dict_add(trained, "steps", steps);
  const char *p = st_path(&tmp, "model.safetensors");
  CHECK_EQ_INT(tg_safetensors_save(p, trained), 0);
  tg_tensor *w2 = tg_zeros(TG_FLOAT32, TG_SHAPE(4, 3)), *b2 = tg_zeros(TG_FLOAT32, TG_SHAPE(4));
  tg_tensor *s2 = tg_zeros(TG_INT32, TG_SHAPE(1));
  tg_state_dict *fresh = tg_state_dict_new();
  tg_state_dict_add(fresh, "fc.weight", w2);
  tg_state_dict_add(fresh, "fc.bias", b2);
  tg_state_dict_add(fresh, "steps", s2);
  tg_state_dict *file = tg_safetensors_load(p);
  CHECK_EQ_INT(tg_load_state_dict(fresh, file, 1), 0);
  tg_state_dict_free(file);
  float *a = tg_to_float(w), *b = tg_to_float(w2);
  CHECK(a && b && memcmp(a, b, 12 * sizeof(float)) == 0);
  free(a);
  free(b);
  a = tg_to_float(bias);
  CHECK_TENSOR(b2, a, 0, 4);
  free(a);
  static const int32_t twelve = 12;
  CHECK_RAW(s2, TG_INT32, &twelve, 1);
  /* the two models compute the same thing */
  static const float x[3] = {1, -1, 0.5f};
  float *y1 = tg_to_float(tg_linear(TEST_F32(x, 1, 3), w, bias));
  CHECK_TENSOR(tg_linear(TEST_F32(x, 1, 3), w2, b2), y1, 1e-6, 1, 4);
  free(y1);
  tg_state_dict_free(fresh);
  tg_state_dict_free(trained);
  tg_scope_end();
  st_tmp_close(&tmp);
}

// ---------------------------------------------------------------------------------------------------------------------
// IDX

typedef struct st_idx_case {
  const unsigned char *plain, *gz;
  size_t nplain, ngz;
  tg_dtype dt;
  const void *vals;
  int ndim;
  int64_t shape[3];
} st_idx_case;

#define ST_IDX(t, dt, nd, ...) \
  {g_idx_plain_##t, g_idx_gz_##t, sizeof g_idx_plain_##t, sizeof g_idx_gz_##t, dt, g_idx_vals_##t, nd, {__VA_ARGS__}}
static const st_idx_case st_idx_cases[] = {
    ST_IDX(08, TG_UINT8, 2, 2, 3),   ST_IDX(09, TG_INT8, 2, 3, 2),      ST_IDX(0b, TG_INT16, 1, 5),
    ST_IDX(0c, TG_INT32, 3, 1, 2, 3), ST_IDX(0d, TG_FLOAT32, 1, 6), ST_IDX(0e, TG_FLOAT64, 2, 2, 2),
};

TEST(test_st_idx_every_type) {
  st_tmp tmp;
  if (!st_tmp_open(&tmp)) return;
  tg_scope_begin();
  for (int i = 0; i < TEST_COUNT(st_idx_cases); i++) {
    const st_idx_case *c = &st_idx_cases[i];
    tg_tensor *t = tg_idx_load(st_write(&tmp, "x-idx", c->plain, c->nplain));
    test_tensor_raw(t, c->dt, c->vals, c->ndim, c->shape, "plain IDX", __FILE__, __LINE__);
    t = tg_idx_load(st_write(&tmp, "x-idx.gz", c->gz, c->ngz));
    test_tensor_raw(t, c->dt, c->vals, c->ndim, c->shape, "gzip IDX", __FILE__, __LINE__);
  }
  static const int32_t minus7 = -7;
  CHECK_RAW0(tg_idx_load(st_write(&tmp, "s-idx", g_idx_plain_scalar, sizeof g_idx_plain_scalar)), TG_INT32, &minus7);
  /* the values as floats, for one float type */
  static const float want[6] = {0.5f, -2.25f, 1e-30f, 3.4e38f, INFINITY, -0.0f};
  CHECK_TENSOR(tg_idx_load(st_write(&tmp, "f-idx", g_idx_plain_0d, sizeof g_idx_plain_0d)), want, 0, 6);
  tg_scope_end();
  st_tmp_close(&tmp);
}

/* ONE assertion: loading these bytes as an IDX file fails with an error containing `error` */
static int st_idx_refused(st_tmp *tmp, const void *bytes, size_t n, const char *error, int line) {
  const char *p = st_write(tmp, "bad-idx", bytes, n);
  tg_clear_error();
  tg_tensor *t = tg_idx_load(p);
  const char *e = tg_error();
  int ok = test_check(!t && e && strstr(e, error) && strstr(e, p), __FILE__, line,
                      "expected NULL and an error with \"%s\", got %s and \"%s\"", error, t ? "a tensor" : "NULL",
                      e ? e : "(no error)");
  tg_free(t);
  return ok;
}

TEST(test_st_idx_malformed) {
  st_tmp tmp;
  if (!st_tmp_open(&tmp)) return;
  unsigned char b[64];
  const unsigned char *good = g_idx_plain_0c; /* int32 (1, 2, 3): 4 + 12 + 24 bytes */
  size_t n = sizeof g_idx_plain_0c;
  /* every truncation, and one byte too many */
  int refused = 0;
  for (size_t len = 0; len < n; len++) {
    const char *p = st_write(&tmp, "t-idx", good, len);
    tg_tensor *t = tg_idx_load(p);
    refused += t == NULL && tg_error() != NULL;
    tg_free(t);
  }
  CHECK_EQ_INT(refused, n);
  st_idx_refused(&tmp, good, 20, "the header declares 24 bytes of data but 4 follow (truncated file)", __LINE__);
  memcpy(b, good, n);
  b[n] = 0;
  st_idx_refused(&tmp, b, n + 1, "but 25 follow (trailing bytes)", __LINE__);
  /* the magic, the type, the dimensions */
  st_idx_refused(&tmp, good, 0, "not an IDX file", __LINE__);
  memcpy(b, good, n);
  b[0] = 1;
  st_idx_refused(&tmp, b, n, "not an IDX file", __LINE__);
  memcpy(b, good, n);
  b[2] = 0x0A;
  st_idx_refused(&tmp, b, n, "not an IDX file", __LINE__);
  static const unsigned char many_dims[4] = {0, 0, 0x08, 17};
  st_idx_refused(&tmp, many_dims, 4, "17 dimensions; tinygrad.h supports at most 16", __LINE__);
  static const unsigned char huge[4 + 12] = {0, 0, 0x0E, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 8};
  st_idx_refused(&tmp, huge, sizeof huge, "the shape (4294967295, 4294967295, 8) is too large", __LINE__);
  static const unsigned char big[4 + 8] = {0, 0, 0x08, 2, 0x7f, 0xff, 0xff, 0xff, 0, 0, 1, 0};
  st_idx_refused(&tmp, big, sizeof big, "truncated file", __LINE__); /* no 512 GB allocation first */
  /* gzip: short and long inside, cut, a bad checksum */
  st_idx_refused(&tmp, g_idx_gz_short, sizeof g_idx_gz_short, "truncated", __LINE__);
  st_idx_refused(&tmp, g_idx_gz_trailing, sizeof g_idx_gz_trailing, "trailing bytes after the 6 bytes of data",
                 __LINE__);
  st_idx_refused(&tmp, g_idx_gz_0c, sizeof g_idx_gz_0c - 10, "tg_idx_load", __LINE__);
  st_idx_refused(&tmp, g_idx_gz_0c, 10, "tg_idx_load", __LINE__);
  unsigned char gzb[256];
  memcpy(gzb, g_idx_gz_0c, sizeof g_idx_gz_0c);
  gzb[sizeof g_idx_gz_0c - 8] ^= 0xff; /* the CRC-32 of the trailer */
  st_idx_refused(&tmp, gzb, sizeof g_idx_gz_0c, "corrupt or truncated gzip data", __LINE__);
  /* not a file */
  CHECK_NULL(tg_idx_load(st_path(&tmp, "absent-idx")));
  CHECK_ERROR_HAS("cannot open");
  CHECK_NULL(tg_idx_load(tmp.dir));
  CHECK_ERROR_HAS("not a regular file");
  CHECK_NULL(tg_idx_load(NULL));
  CHECK_ERROR_HAS("the path is NULL");
  st_tmp_close(&tmp);
}

TEST(test_st_idx_fashion_mnist) {
  static const char dir[] = "/usr/share/datasets/fashion-mnist";
  struct stat st;
  if (stat(dir, &st) != 0) {
    printf("test_st_idx_fashion_mnist: %s is absent (package dataset-fashion-mnist): skipped\n", dir);
    return;
  }
  tg_scope_begin();
  tg_tensor *img = tg_idx_load("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz");
  CHECK_NOT_NULL(img);
  CHECK_DTYPE(img, TG_UINT8);
  CHECK(tg_ndim(img) == 3 && tg_dim(img, 0) == GOLDEN_FASHION_T10K_N && tg_dim(img, 1) == 28 && tg_dim(img, 2) == 28);
  size_t n = (size_t)GOLDEN_FASHION_T10K_N * 28 * 28;
  unsigned char *px = (unsigned char *)malloc(n);
  CHECK_EQ_INT(tg_to_host(img, px, n), 0);
  uint64_t sum = 0, wsum = 0;
  for (size_t i = 0; i < n; i++) {
    sum += px[i];
    wsum += (uint64_t)px[i] * (i % 251 + 1);
  }
  CHECK(sum == GOLDEN_FASHION_T10K_SUM);
  CHECK(wsum == GOLDEN_FASHION_T10K_WSUM);
  CHECK(memcmp(px + 14 * 28, g_fashion_img0_row14, 28) == 0);
  int col_ok = 1;
  for (int r = 0; r < 28; r++) col_ok &= px[(size_t)9999 * 784 + (size_t)r * 28 + 10] == g_fashion_img9999_col10[r];
  CHECK(col_ok);
  free(px);
  tg_tensor *lab = tg_idx_load("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz");
  CHECK_RAW(tg_slice(lab, 0, 0, 20, 1), TG_UINT8, g_fashion_t10k_labels20, 20);
  tg_tensor *tl = tg_idx_load("/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz");
  CHECK(tg_ndim(tl) == 1 && tg_dim(tl, 0) == GOLDEN_FASHION_TRAIN_N);
  CHECK_RAW(tg_slice(tl, 0, 0, 20, 1), TG_UINT8, g_fashion_train_labels20, 20);
  /* the library counts the classes (one_hot + sum): 6000 each */
  float want[10];
  for (int c = 0; c < 10; c++) want[c] = (float)g_fashion_train_counts[c];
  CHECK_TENSOR(tg_sum(tg_one_hot(tg_cast(tl, TG_INT32), 10), TG_AXES(0), 0), want, 0, 10);
  tg_scope_end();
}

// ---------------------------------------------------------------------------------------------------------------------
// sizes: no product of sizes read from a file (or a lazy shape) overflows

/* the shape of a loaded tensor, and its numel */
static int st_shape_is(tg_tensor *t, int ndim, const int64_t *shape, int line) {
  int ok = t && tg_ndim(t) == ndim && tg_numel(t) == 0;
  for (int d = 0; ok && d < ndim; d++) ok = tg_shape(t)[d] == shape[d];
  return test_check(ok, __FILE__, line, "the loaded tensor is not the empty one of the file's shape");
}

TEST(test_st_shape_overflow) {
  st_tmp tmp;
  if (!st_tmp_open(&tmp)) return;
  /* safetensors (more cases in st_bad_entries): a zero does not excuse a product over int64, first or last */
  st_write_st(&tmp, "{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387905,4,0],\"data_offsets\":[0,0]}}", 0, -1);
  CHECK_NULL(tg_safetensors_load(tmp.path));
  CHECK_ERROR_HAS("tensor 'a' of shape (4611686018427387905, 4, 0) and dtype F32 needs more than 2^63 bytes");
  /* an empty tensor whose other sizes multiply to 2^61 bytes is fine (2^59 elements: within the library's limit) */
  st_write_st(&tmp, "{\"a\":{\"dtype\":\"F32\",\"shape\":[0,576460752303423488],\"data_offsets\":[0,0]}}", 0, -1);
  tg_state_dict *sd = tg_safetensors_load(tmp.path);
  static const int64_t big0[2] = {0, 576460752303423488};
  st_shape_is(tg_state_dict_get(sd, "a"), 2, big0, __LINE__);
  tg_state_dict_free(sd);
  /* IDX: sizes are 32-bit, but 3 of them overflow; a leading 0 used to hide that */
  static const unsigned char zero_first[4 + 16] = {0, 0, 0x08, 4, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff,
                                                   0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  st_idx_refused(&tmp, zero_first, sizeof zero_first, "the shape (0, 4294967295, 4294967295, 4294967295) is too large",
                 __LINE__);
  /* numel (2^31-1)^2 fits, its float64 bytes do not */
  static const unsigned char bytes_over[4 + 12] = {0, 0, 0x0E, 3, 0x7f, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff,
                                                   0, 0, 0, 0};
  st_idx_refused(&tmp, bytes_over, sizeof bytes_over, "the shape (2147483647, 2147483647, 0) is too large", __LINE__);
  static const unsigned char fine[4 + 8] = {0, 0, 0x08, 2, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff};
  tg_tensor *t = tg_idx_load(st_write(&tmp, "fine-idx", fine, sizeof fine));
  static const int64_t fine_shape[2] = {0, 4294967295};
  st_shape_is(t, 2, fine_shape, __LINE__);
  CHECK_DTYPE(t, TG_UINT8);
  tg_free(t);
  st_tmp_close(&tmp);
}

TEST(test_st_save_refuses_a_shape_too_large) {
  st_tmp tmp;
  if (!st_tmp_open(&tmp)) return;
  tg_scope_begin();
  /* a lazy expand of almost 2^60 float64 elements (8 EB): refused before anything is written (the expand of 2^62
   * elements is refused by tg_expand itself, see test_overflow.c) */
  tg_tensor *huge = tg_expand(tg_scalar(1, TG_FLOAT64), TG_SHAPE(1073741824LL, 1073741823LL));
  CHECK_NOT_NULL(huge);
  tg_state_dict *sd = tg_state_dict_new();
  tg_state_dict_add(sd, "huge", huge);
  const char *p = st_path(&tmp, "huge.safetensors");
  CHECK_EQ_INT(tg_safetensors_save(p, sd), -1);
  CHECK_ERROR_HAS("32-bit index");
  CHECK(access(p, F_OK) != 0);
  tg_state_dict_free(sd);
  tg_scope_end();
  st_tmp_close(&tmp);
}

// ---------------------------------------------------------------------------------------------------------------------
// __metadata__

/* the dict of g_st_meta: w and step, and the metadata pairs in order */
static tg_state_dict *st_meta_dict(void) {
  static const float w[4] = {1.5f, -2, 0.25f, 8};
  static const int64_t step = 7;
  tg_state_dict *sd = tg_state_dict_new();
  tg_state_dict_add(sd, "w", tg_keep(TEST_F32(w, 2, 2)));
  tg_state_dict_add(sd, "step", tg_keep(tg_from_data(&step, TG_INT64, 0, NULL)));
  for (int i = 0; i + 1 < TEST_COUNT(g_st_meta_pairs); i += 2)
    CHECK_EQ_INT(tg_state_dict_metadata_set(sd, g_st_meta_pairs[i], g_st_meta_pairs[i + 1]), 0);
  return sd;
}

static void st_meta_dict_free(tg_state_dict *sd) {
  for (int i = 0; i < tg_state_dict_count(sd); i++) tg_free(tg_state_dict_tensor(sd, i));
  tg_state_dict_free(sd);
}

/* the file at p is exactly want (n bytes); ONE assertion naming the first differing byte */
static int st_file_is(const char *p, const unsigned char *want, size_t n, int line) {
  size_t got_n = 0, first = 0;
  unsigned char *got = st_read(p, &got_n);
  while (got && first < got_n && first < n && got[first] == want[first]) first++;
  int ok = test_check(got && got_n == n && first == n, __FILE__, line, "%s: %zu bytes, differs from the %zu expected "
                      "at byte %zu", p, got_n, n, first);
  free(got);
  return ok;
}

/* metadata is saved exactly as tinygrad's safe_save(tensors, fn, metadata) writes it, and loaded back in order */
TEST(test_st_metadata_is_tinygrads_bytes) {
  st_tmp tmp;
  if (!st_tmp_open(&tmp)) return;
  tg_state_dict *sd = st_meta_dict();
  CHECK_EQ_INT(tg_state_dict_metadata_count(sd), TEST_COUNT(g_st_meta_pairs) / 2);
  const char *p = st_path(&tmp, "meta.safetensors");
  CHECK_EQ_INT(tg_safetensors_save(p, sd), 0);
  st_file_is(p, g_st_meta, sizeof g_st_meta, __LINE__);
  st_meta_dict_free(sd);
  /* tinygrad's file loads with its metadata in order, and saves back to the same bytes */
  tg_state_dict *back = tg_safetensors_load(st_write(&tmp, "theirs.safetensors", g_st_meta, sizeof g_st_meta));
  CHECK_NOT_NULL(back);
  CHECK_EQ_INT(tg_state_dict_metadata_count(back), TEST_COUNT(g_st_meta_pairs) / 2);
  for (int i = 0; back && i < TEST_COUNT(g_st_meta_pairs) / 2; i++) {
    CHECK_STR(tg_state_dict_metadata_key(back, i), g_st_meta_pairs[2 * i]);
    CHECK_STR(tg_state_dict_metadata_value(back, i), g_st_meta_pairs[2 * i + 1]);
    CHECK_STR(tg_state_dict_metadata_get(back, g_st_meta_pairs[2 * i]), g_st_meta_pairs[2 * i + 1]);
  }
  CHECK_STR(tg_state_dict_metadata_get(back, "empty"), "");
  static const float w[4] = {1.5f, -2, 0.25f, 8};
  CHECK_TENSOR(tg_state_dict_get(back, "w"), w, 0, 2, 2);
  static const int64_t step = 7;
  CHECK_RAW0(tg_state_dict_get(back, "step"), TG_INT64, &step);
  p = st_path(&tmp, "again.safetensors");
  CHECK_EQ_INT(tg_safetensors_save(p, back), 0);
  st_file_is(p, g_st_meta, sizeof g_st_meta, __LINE__);
  tg_state_dict_free(back);
  st_tmp_close(&tmp);
}

TEST(test_st_metadata_set_replaces_in_place) {
  st_tmp tmp;
  if (!st_tmp_open(&tmp)) return;
  tg_state_dict *sd = tg_state_dict_new();
  CHECK_EQ_INT(tg_state_dict_metadata_count(sd), 0);
  CHECK_EQ_INT(tg_state_dict_metadata_set(sd, "a", "1"), 0);
  CHECK_EQ_INT(tg_state_dict_metadata_set(sd, "b", "2"), 0);
  CHECK_EQ_INT(tg_state_dict_metadata_set(sd, "a", "three"), 0); /* replaced, keeps its place (as a Python dict) */
  CHECK_EQ_INT(tg_state_dict_metadata_set(sd, "b", tg_state_dict_metadata_get(sd, "b")), 0); /* its own string */
  CHECK_EQ_INT(tg_state_dict_metadata_count(sd), 2);
  CHECK_STR(tg_state_dict_metadata_key(sd, 0), "a");
  CHECK_STR(tg_state_dict_metadata_value(sd, 0), "three");
  CHECK_STR(tg_state_dict_metadata_key(sd, 1), "b");
  CHECK_STR(tg_state_dict_metadata_value(sd, 1), "2");
  CHECK_EQ_INT(tg_state_dict_count(sd), 0); /* metadata is not a tensor */
  /* a dict of metadata only: json.dumps({"__metadata__": {...}}, separators=(',', ':')), spaces to 8 */
  const char *p = st_path(&tmp, "only-meta.safetensors");
  CHECK_EQ_INT(tg_safetensors_save(p, sd), 0);
  static const char json[] = "{\"__metadata__\":{\"a\":\"three\",\"b\":\"2\"}}  ";
  unsigned char want[8 + sizeof json - 1] = {sizeof json - 1};
  memcpy(want + 8, json, sizeof json - 1);
  CHECK_EQ_INT((sizeof json - 1) % 8, 0);
  st_file_is(p, want, sizeof want, __LINE__);
  tg_state_dict *back = tg_safetensors_load(p);
  CHECK_EQ_INT(tg_state_dict_count(back), 0);
  CHECK_EQ_INT(tg_state_dict_metadata_count(back), 2);
  CHECK_STR(tg_state_dict_metadata_get(back, "a"), "three");
  tg_state_dict_free(back);
  /* tg_load_state_dict copies tensors only: the metadata of both dicts stays as it was */
  tg_state_dict *other = tg_state_dict_new();
  CHECK_EQ_INT(tg_state_dict_metadata_set(other, "x", "y"), 0);
  CHECK_EQ_INT(tg_load_state_dict(sd, other, 1), 0);
  CHECK_EQ_INT(tg_state_dict_metadata_count(sd), 2);
  CHECK_EQ_INT(tg_state_dict_metadata_count(other), 1);
  tg_state_dict_free(other);
  tg_state_dict_free(sd);
  st_tmp_close(&tmp);
}

/* internal_state.c: tg_safetensors_save over an existing checkpoint fails without touching it. Failures come from
 * fault injection (tg__fault_arm(TG__FAULT_IO): a write, the flush) and from a real "disk full" (a small
 * RLIMIT_FSIZE, SIGXFSZ ignored, so write() fails with EFBIG). Each time: -1, an error naming the path and the
 * reason, the old file byte for byte as it was and still loading to its values, and no temporary file left beside
 * it. A crash mid-write (a child killed by SIGXFSZ while it writes) leaves the old file intact too (its temporary
 * stays: a dead process cleans nothing). Also: a successful overwrite keeps the file's permission bits, and a new
 * file gets 0666 less the umask.
 * #included into runner.c after the implementation (it calls tg__fault_arm). Files go to a mkdtemp directory. */
#include "test.h"
#include "helpers.h"

#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct tis_dir {
  char dir[64], path[256];
} tis_dir;

static int tis_open(tis_dir *d) {
  snprintf(d->dir, sizeof d->dir, "/tmp/tg_test_istate_XXXXXX");
  return test_check(mkdtemp(d->dir) != NULL, __FILE__, __LINE__, "mkdtemp failed");
}

static const char *tis_path(tis_dir *d, const char *name) {
  snprintf(d->path, sizeof d->path, "%s/%s", d->dir, name);
  return d->path;
}

/* the number of entries of the directory other than only (and . and ..): temporaries left behind */
static int tis_others(tis_dir *d, const char *only) {
  DIR *dir = opendir(d->dir);
  struct dirent *e;
  int n = 0;
  while (dir && (e = readdir(dir)))
    n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, only);
  if (dir) closedir(dir);
  return n;
}

static void tis_close(tis_dir *d) {
  DIR *dir = opendir(d->dir);
  struct dirent *e;
  char p[512];
  while (dir && (e = readdir(dir)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
      snprintf(p, sizeof p, "%s/%s", d->dir, e->d_name);
      unlink(p);
    }
  if (dir) closedir(dir);
  rmdir(d->dir);
}

static unsigned char *tis_read(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  *n = 0;
  if (!f) return NULL;
  unsigned char *b = (unsigned char *)malloc(1 << 20);
  *n = fread(b, 1, 1 << 20, f);
  fclose(f);
  return b;
}

/* checkpoint A: w = (1, 2, 3), step = 41 */
static const float tis_a_w[3] = {1, 2, 3};
static const int64_t tis_a_step = 41;

static tg_state_dict *tis_dict_a(void) {
  tg_state_dict *sd = tg_state_dict_new();
  tg_state_dict_add(sd, "w", tg_from_float(tis_a_w, 1, (int64_t[]){3}));
  tg_state_dict_add(sd, "step", tg_from_data(&tis_a_step, TG_INT64, 0, NULL));
  tg_state_dict_metadata_set(sd, "epoch", "1");
  return sd;
}

/* checkpoint B: larger (two tensors of 4096 floats, so that it passes a 4 KiB file size limit), realised */
static tg_state_dict *tis_dict_b(void) {
  static float v[4096];
  for (int i = 0; i < 4096; i++) v[i] = (float)i * 0.5f;
  tg_state_dict *sd = tg_state_dict_new();
  tg_state_dict_add(sd, "w", tg_from_float(v, 1, (int64_t[]){4096}));
  tg_state_dict_add(sd, "v", tg_from_float(v, 2, (int64_t[]){64, 64}));
  tg_state_dict_add(sd, "step", tg_from_data(&tis_a_step, TG_INT64, 0, NULL));
  return sd;
}

static void tis_dict_free(tg_state_dict *sd) {
  for (int i = 0; i < tg_state_dict_count(sd); i++) tg_free(tg_state_dict_tensor(sd, i));
  tg_state_dict_free(sd);
}

/* ONE assertion: path holds exactly the bytes a (n) and loads to A's values */
static int tis_still_a(const char *path, const unsigned char *a, size_t n, const char *when, int line) {
  size_t got_n;
  unsigned char *got = tis_read(path, &got_n);
  int same = got && got_n == n && memcmp(got, a, n) == 0;
  free(got);
  tg_state_dict *sd = tg_safetensors_load(path);
  float w[3] = {0, 0, 0};
  int64_t step = 0;
  int loads = sd && tg_state_dict_count(sd) == 2 && tg_to_host(tg_state_dict_get(sd, "w"), w, sizeof w) == 0 &&
              tg_to_host(tg_state_dict_get(sd, "step"), &step, sizeof step) == 0 && w[0] == 1 && w[1] == 2 &&
              w[2] == 3 && step == 41 && tg_state_dict_metadata_get(sd, "epoch") &&
              strcmp(tg_state_dict_metadata_get(sd, "epoch"), "1") == 0;
  tg_state_dict_free(sd);
  return test_check(same && loads, __FILE__, line, "%s: checkpoint A %s", when,
                    !got ? "is gone" : !same ? "changed" : "does not load to its values");
}

/* ONE assertion: the error names the save, the path and the reason */
static int tis_error_is(const char *err, const char *path, const char *reason, const char *when, int line) {
  int ok = err && strstr(err, "tg_safetensors_save") && strstr(err, path) && strstr(err, reason);
  return test_check(ok, __FILE__, line, "%s: the error \"%s\" does not name the path and \"%s\"", when,
                    err ? err : "(none)", reason);
}

TEST(test_internal_st_save_fault_keeps_old_file) {
  tis_dir d;
  if (!tis_open(&d)) return;
  tg_state_dict *a = tis_dict_a(), *b = tis_dict_b();
  const char *p = tis_path(&d, "ckpt.safetensors");
  char path[256];
  snprintf(path, sizeof path, "%s", p);
  CHECK_EQ_INT(tg_safetensors_save(path, a), 0);
  size_t na;
  unsigned char *bytes_a = tis_read(path, &na);
  CHECK(na > 8);
  CHECK_EQ_INT(tg_realize_all((tg_tensor *[]){tg_state_dict_tensor(b, 0), tg_state_dict_tensor(b, 1)}, 2), 0);
  /* fail the k-th file operation of the save, for every k until the save gets through: the first write, each
   * tensor's, and the flush before the rename */
  int failures = 0, rc = -1, bad_error = 0, bad_file = 0, left = 0, flush = 0;
  char first_err[512] = "";
  for (int k = 0; k < 64 && rc != 0; k++) {
    tg_clear_error();
    tg__fault_arm(TG__FAULT_IO, k, 1);
    rc = tg_safetensors_save(path, b);
    tg__fault_arm(TG__FAULT_IO, 0, 0);
    if (rc == 0) break;
    failures++;
    const char *e = tg_error();
    if (k == 0) snprintf(first_err, sizeof first_err, "%s", e ? e : "");
    flush += e && strstr(e, "tg_safetensors_save: cannot flush") && strstr(e, path);
    bad_error += !(e && strstr(e, path) && (strstr(e, "No space left on device") || strstr(e, "Input/output error")));
    bad_file += !tis_still_a(path, bytes_a, na, "after a fault", __LINE__);
    left += tis_others(&d, "ckpt.safetensors");
  }
  /* at least 6 points: the length, the header, 3 tensors, the flush (tg__afile may ask before more operations) */
  CHECK(failures >= 6);
  CHECK_EQ_INT(flush, 1);
  CHECK_EQ_INT(bad_error, 0);
  CHECK_EQ_INT(bad_file, 0);
  CHECK_EQ_INT(left, 0);
  tis_error_is(first_err, path, "cannot write", "the first write", __LINE__);
  tis_error_is(first_err, path, "No space left on device. HINT: free some disk space", "the first write", __LINE__);
  /* then it goes through: the file is B */
  CHECK_EQ_INT(rc, 0);
  tg_state_dict *back = tg_safetensors_load(path);
  CHECK_EQ_INT(tg_state_dict_count(back), 3);
  CHECK_EQ_INT(tg_state_dict_metadata_count(back), 0);
  float w[4096];
  CHECK(tg_to_host(tg_state_dict_get(back, "w"), w, sizeof w) == 0 && w[0] == 0 && w[4095] == 2047.5f);
  tg_state_dict_free(back);
  CHECK_EQ_INT(tis_others(&d, "ckpt.safetensors"), 0);
  free(bytes_a);
  tis_dict_free(a);
  tis_dict_free(b);
  tis_close(&d);
}

/* a real full disk: the file size limit stops the write of the temporary file with EFBIG */
TEST(test_internal_st_save_disk_full_keeps_old_file) {
  tis_dir d;
  if (!tis_open(&d)) return;
  tg_state_dict *a = tis_dict_a(), *b = tis_dict_b();
  char path[256];
  snprintf(path, sizeof path, "%s", tis_path(&d, "ckpt.safetensors"));
  CHECK_EQ_INT(tg_safetensors_save(path, a), 0);
  size_t na;
  unsigned char *bytes_a = tis_read(path, &na);
  CHECK_EQ_INT(tg_realize_all((tg_tensor *[]){tg_state_dict_tensor(b, 0), tg_state_dict_tensor(b, 1)}, 2), 0);
  struct rlimit old, lim;
  CHECK_EQ_INT(getrlimit(RLIMIT_FSIZE, &old), 0);
  if (old.rlim_max != RLIM_INFINITY && old.rlim_max < 4096) {
    printf("test_internal_st_save_disk_full_keeps_old_file: RLIMIT_FSIZE is below 4096 here: skipped\n");
  } else {
    lim = old;
    lim.rlim_cur = 4096;
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    /* nothing may print while the limit holds: the runner's output may be a file longer than 4 KiB */
    int set = setrlimit(RLIMIT_FSIZE, &lim);
    int rc = tg_safetensors_save(path, b);
    char err[512];
    snprintf(err, sizeof err, "%s", tg_error() ? tg_error() : "");
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, old_handler);
    CHECK_EQ_INT(set, 0);
    CHECK_EQ_INT(rc, -1);
    tis_error_is(err, path, "cannot write", "a full disk", __LINE__);
    tis_error_is(err, path, "File too large. HINT: free some disk space", "a full disk", __LINE__);
    tis_still_a(path, bytes_a, na, "after a full disk", __LINE__);
    CHECK_EQ_INT(tis_others(&d, "ckpt.safetensors"), 0);
    /* the limit is back: the same save goes through */
    CHECK_EQ_INT(tg_safetensors_save(path, b), 0);
    tg_state_dict *back = tg_safetensors_load(path);
    CHECK_EQ_INT(tg_state_dict_count(back), 3);
    tg_state_dict_free(back);
  }
  free(bytes_a);
  tis_dict_free(a);
  tis_dict_free(b);
  tis_close(&d);
}

/* a crash mid-write: a child process saves B over A with a 4 KiB file size limit and SIGXFSZ's default action, so
 * the kernel kills it in the middle of the write */
TEST(test_internal_st_save_crash_keeps_old_file) {
  tis_dir d;
  if (!test_on_cpu()) return; /* the child reads the tensors back: a forked process cannot use its parent's GPU */
  if (!tis_open(&d)) return;
  tg_state_dict *a = tis_dict_a(), *b = tis_dict_b();
  char path[256];
  snprintf(path, sizeof path, "%s", tis_path(&d, "ckpt.safetensors"));
  CHECK_EQ_INT(tg_safetensors_save(path, a), 0);
  size_t na;
  unsigned char *bytes_a = tis_read(path, &na);
  CHECK_EQ_INT(tg_realize_all((tg_tensor *[]){tg_state_dict_tensor(b, 0), tg_state_dict_tensor(b, 1)}, 2), 0);
  struct rlimit old;
  CHECK_EQ_INT(getrlimit(RLIMIT_FSIZE, &old), 0);
  fflush(NULL);
  pid_t pid = old.rlim_max != RLIM_INFINITY && old.rlim_max < 4096 ? -1 : fork();
  if (pid == 0) {
    struct rlimit fsize = {4096, old.rlim_max}, core = {0, 0};
    setrlimit(RLIMIT_CORE, &core); /* the default action of SIGXFSZ dumps core: not into the repository */
    setrlimit(RLIMIT_FSIZE, &fsize);
    signal(SIGXFSZ, SIG_DFL);
    tg_safetensors_save(path, b);
    _exit(3); /* not reached: the write past 4 KiB kills the process */
  }
  int status = 0;
  CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
  CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGXFSZ);
  tis_still_a(path, bytes_a, na, "after a crash mid-write", __LINE__);
  CHECK_EQ_INT(tis_others(&d, "ckpt.safetensors"), 1); /* the dead process's temporary, beside the intact file */
  free(bytes_a);
  tis_dict_free(a);
  tis_dict_free(b);
  tis_close(&d);
}

TEST(test_internal_st_save_keeps_permissions) {
  tis_dir d;
  if (!tis_open(&d)) return;
  tg_state_dict *a = tis_dict_a(), *b = tis_dict_b();
  char path[256];
  snprintf(path, sizeof path, "%s", tis_path(&d, "ckpt.safetensors"));
  CHECK_EQ_INT(tg_safetensors_save(path, a), 0);
  CHECK_EQ_INT(chmod(path, 0604), 0);
  struct stat st;
  CHECK_EQ_INT(tg_safetensors_save(path, b), 0);
  CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0604);
  CHECK_EQ_INT(chmod(path, 0640), 0);
  CHECK_EQ_INT(tg_safetensors_save(path, a), 0);
  CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0640);
  size_t na;
  unsigned char *bytes_a = tis_read(path, &na);
  tis_still_a(path, bytes_a, na, "after an overwrite", __LINE__);
  free(bytes_a);
  /* a new file: 0666 less the umask, as fopen would give (not mkstemp's 0600) */
  mode_t um = umask(027);
  const char *fresh = tis_path(&d, "fresh.safetensors");
  int rc = tg_safetensors_save(fresh, a);
  umask(um);
  CHECK_EQ_INT(rc, 0);
  CHECK(stat(fresh, &st) == 0 && (st.st_mode & 07777) == 0640);
  tis_dict_free(a);
  tis_dict_free(b);
  tis_close(&d);
}

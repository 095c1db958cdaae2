/* viz.c: a matmul and a softmax with VIZ on: every graph rewrite of the schedule and of each kernel, and a timeline of
 * the launches, written to one HTML page that any browser opens (no server, no network).
 *
 *   make viz                     writes build/viz.html and prints its path (VIZ=1 is set by this program)
 *   ./build/viz out.html         another path; the recording can also be written as JSON (out.json: VIZ=-1's data)
 *
 * VIZ=1 in the environment does the same for any program, writing the page at exit ($VIZ_PATH, else
 * $TMPDIR/tinygrad-viz-<pid>.html); this one calls tg_viz_write itself, the way a program chooses when and where. */
#define TINYGRAD_IMPLEMENTATION
#include "tinygrad.h"
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
  const char *path = argc > 1 ? argv[1] : "build/viz.html";
  size_t n = strlen(path);
  int json = n > 5 && strcmp(path + n - 5, ".json") == 0;
  if (tg_set_setting("VIZ", json ? -1 : 1) != 0) {
    fprintf(stderr, "viz: %s\n", tg_error());
    return 1;
  }
  tg_manual_seed(0);
  tg_scope_begin();
  tg_tensor *x = tg_randn(TG_FLOAT32, TG_SHAPE(64, 128)), *w = tg_randn(TG_FLOAT32, TG_SHAPE(128, 32));
  tg_tensor *probs = tg_softmax(tg_matmul(x, w), 1); /* (64, 32): each row sums to 1 */
  if (tg_realize(probs) != 0) {
    fprintf(stderr, "viz: %s\n", tg_error());
    return 1;
  }
  float row[32], sum = 0;
  if (tg_to_host(tg_shrink(probs, 2, (const int64_t[]){0, 1, 0, 32}), row, sizeof row) == 0)
    for (int i = 0; i < 32; i++) sum += row[i];
  printf("softmax(x @ w): 64x32, the first row sums to %.6f\n", sum);
  tg_scope_end();
  tg_set_setting("VIZ", 0); /* recorded: nothing more, and no second page at exit */
  if (tg_viz_write(path, json) != 0) {
    fprintf(stderr, "viz: %s\n", tg_error());
    return 1;
  }
  printf("wrote %s: open it in a browser\n", path);
  return 0;
}

/* test_smoke.c: the first tests, that the build and the runner work end to end. Real tests live in the other
 * tests/test_*.c files; this one only checks two facts of the dtype table. */
#include "tinygrad.h"
#include "test.h"

TEST(test_smoke_dtype_size) {
  CHECK_EQ_INT(tg_dtype_size(TG_FLOAT32), 4);
}

TEST(test_smoke_promote) {
  CHECK_EQ_INT(tg_promote(TG_INT32, TG_FLOAT32), TG_FLOAT32);
}

/* internal_tokenizer.c: the tokenizer's string table (tg__stab): keys in one arena, found again after the table grew
 * past the size its init was told of. #included into runner.c after the implementation. */
#include "test.h"

TEST(test_internal_stab_grows_and_finds_every_key) {
  tg__stab t;
  tg__stab_init(&t, 0); /* room for 16 keys: 1000 make it grow six times */
  char k[32];
  for (int i = 0; i < 1000; i++) {
    int n = snprintf(k, sizeof k, "key%d", i * 7);
    tg__stab_put(&t, k, n, i);
  }
  tg__stab_put(&t, "key0", 4, 99); /* there already: the first value stays */
  tg__stab_trim(&t);
  CHECK_EQ_INT(t.n, 1000);
  CHECK(t.cap >= 2000);
  for (int i = 0; i < 1000; i++) {
    int n = snprintf(k, sizeof k, "key%d", i * 7);
    CHECK_EQ_INT(tg__stab_get(&t, k, n), i);
    const char *kk = tg__stab_key(&t, k, n);
    CHECK(kk != NULL && strcmp(kk, k) == 0);
  }
  CHECK_EQ_INT(tg__stab_get(&t, "key1", 4), -1);
  CHECK(tg__stab_key(&t, "key1", 4) == NULL);
  CHECK_EQ_INT(tg__stab_get(&t, "key", 3), -1); /* a prefix of keys is no key */
  /* bytes, NULs included, are keys as they are */
  tg__stab_put(&t, "a\0b", 3, 5000);
  CHECK_EQ_INT(tg__stab_get(&t, "a\0b", 3), 5000);
  CHECK_EQ_INT(tg__stab_get(&t, "a", 1), -1);
  tg__stab_free(&t);
}

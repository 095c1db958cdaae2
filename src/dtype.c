/* dtype.c: the element types, tinygrad's promotion lattice, and host-side element conversion (layer 1).
 *
 * Contract: tg__dtypes[dt] describes every tg_dtype. float16 and bfloat16 are storage types: kernels load them into
 * float, compute in float and convert back on store; the host converts with tg__half_to_float and friends. */
#include "internal.h"

TG__DATA const tg__dtype_info tg__dtypes[TG_NDTYPES] = {
    /* name       cname                 size float int unsigned priority */
    {"bool", "_Bool", 1, 0, 0, 0, 0},
    {"int8", "signed char", 1, 0, 1, 0, 1},
    {"uint8", "unsigned char", 1, 0, 1, 1, 2},
    {"int16", "short", 2, 0, 1, 0, 3},
    {"uint16", "unsigned short", 2, 0, 1, 1, 4},
    {"int32", "int", 4, 0, 1, 0, 5},
    {"uint32", "unsigned int", 4, 0, 1, 1, 6},
    {"int64", "long long", 8, 0, 1, 0, 7},
    {"uint64", "unsigned long long", 8, 0, 1, 1, 8},
    {"float16", "float", 2, 1, 0, 0, 11},
    {"bfloat16", "float", 2, 1, 0, 0, 12},
    {"float32", "float", 4, 1, 0, 0, 13},
    {"float64", "double", 8, 1, 0, 0, 14},
};

static int tg__valid_dtype(tg_dtype dt) { return (int)dt >= 0 && (int)dt < TG_NDTYPES; }
const char *tg_dtype_name(tg_dtype dt) { return tg__valid_dtype(dt) ? tg__dtypes[dt].name : "invalid"; }
int tg_dtype_size(tg_dtype dt) { return tg__valid_dtype(dt) ? tg__dtypes[dt].size : 0; }
int tg_dtype_is_float(tg_dtype dt) { return tg__valid_dtype(dt) && tg__dtypes[dt].is_float; }
int tg_dtype_is_int(tg_dtype dt) { return tg__valid_dtype(dt) && tg__dtypes[dt].is_int; }
int tg_dtype_is_unsigned(tg_dtype dt) { return tg__valid_dtype(dt) && tg__dtypes[dt].is_unsigned; }

// ---------------------------------------------------------------------------------------------------------------------
// promotion: tinygrad's lattice (dtype.py promo_lattice). The result of promoting a and b is the least element (by
// priority) of the intersection of their upward closures. int64 and uint64 meet at tinygrad's "weakfloat", which
// becomes the default float; we model it as a virtual node WF between the 64-bit ints and the halves.

enum { TG__WF = TG_NDTYPES, TG__NLATTICE };
static const int tg__lattice[TG__NLATTICE][3] = {
    /* bool  */ {TG_INT8, TG_UINT8, -1},    /* int8  */ {TG_INT16, -1, -1},
    /* uint8 */ {TG_INT16, TG_UINT16, -1},  /* int16 */ {TG_INT32, -1, -1},
    /* uint16 */ {TG_INT32, TG_UINT32, -1}, /* int32 */ {TG_INT64, -1, -1},
    /* uint32 */ {TG_INT64, TG_UINT64, -1}, /* int64 */ {TG__WF, -1, -1},
    /* uint64 */ {TG__WF, -1, -1},          /* float16 */ {TG_FLOAT32, -1, -1},
    /* bfloat16 */ {TG_FLOAT32, -1, -1},    /* float32 */ {TG_FLOAT64, -1, -1},
    /* float64 */ {-1, -1, -1},             /* WF */ {TG_FLOAT16, TG_BFLOAT16, -1},
};

static uint32_t tg__parents(int d) {
  uint32_t m = 1u << d;
  for (int i = 0; i < 3 && tg__lattice[d][i] >= 0; i++) m |= tg__parents(tg__lattice[d][i]);
  return m;
}

static int tg__lattice_priority(int d) { return d == TG__WF ? 10 : tg__dtypes[d].priority; }

tg_dtype tg_promote(tg_dtype a, tg_dtype b) {
  if (!tg__valid_dtype(a) || !tg__valid_dtype(b)) return TG_FLOAT32;
  uint32_t common = tg__parents(a) & tg__parents(b);
  int best = -1;
  for (int d = 0; d < TG__NLATTICE; d++)
    if ((common >> d) & 1 && (best < 0 || tg__lattice_priority(d) < tg__lattice_priority(best))) best = d;
  return best == TG__WF ? TG_FLOAT32 : (tg_dtype)best;
}

TG__PRIVATE tg_dtype tg__default_float(void) { return TG_FLOAT32; }
TG__PRIVATE tg_dtype tg__least_float(tg_dtype dt) { return tg_dtype_is_float(dt) ? dt : tg__default_float(); }

TG__PRIVATE double tg__dtype_min(tg_dtype dt) {
  switch (dt) {
  case TG_BOOL: return 0;
  case TG_INT8: return -128;
  case TG_INT16: return -32768;
  case TG_INT32: return -2147483648.0;
  case TG_INT64: return -9223372036854775808.0;
  case TG_UINT8: case TG_UINT16: case TG_UINT32: case TG_UINT64: return 0;
  default: return -INFINITY;
  }
}

TG__PRIVATE double tg__dtype_max(tg_dtype dt) {
  switch (dt) {
  case TG_BOOL: return 1;
  case TG_INT8: return 127;
  case TG_INT16: return 32767;
  case TG_INT32: return 2147483647.0;
  case TG_INT64: return 9223372036854775807.0;
  case TG_UINT8: return 255;
  case TG_UINT16: return 65535;
  case TG_UINT32: return 4294967295.0;
  case TG_UINT64: return 18446744073709551615.0;
  default: return INFINITY;
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// half and bfloat16 conversions (round to nearest even, like the hardware)

TG__PRIVATE float tg__half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
  if (exp == 0x1f) bits = sign | 0x7f800000u | (man << 13);
  else if (exp) bits = sign | ((exp + 112) << 23) | (man << 13);
  else if (!man) bits = sign;
  else { /* subnormal: normalise */
    int e = -1;
    do { man <<= 1; e++; } while (!(man & 0x400));
    bits = sign | ((uint32_t)(112 - e) << 23) | ((man & 0x3ff) << 13);
  }
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

TG__PRIVATE uint16_t tg__float_to_half(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000;
  int32_t exp = (int32_t)((x >> 23) & 0xff) - 127 + 15;
  uint32_t man = x & 0x7fffff;
  if (((x >> 23) & 0xff) == 0xff) return (uint16_t)(sign | 0x7c00 | (man ? 0x200 : 0));
  if (exp >= 0x1f) return (uint16_t)(sign | 0x7c00);
  if (exp <= 0) {
    if (exp < -10) return (uint16_t)sign;
    man |= 0x800000;
    uint32_t shift = (uint32_t)(14 - exp), half = man >> shift, rem = man & ((1u << shift) - 1),
             mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1))) half++;
    return (uint16_t)(sign | half);
  }
  uint32_t h = sign | ((uint32_t)exp << 10) | (man >> 13), rem = man & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++;
  return (uint16_t)h;
}

TG__PRIVATE float tg__bf16_to_float(uint16_t h) {
  uint32_t bits = (uint32_t)h << 16;
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

TG__PRIVATE uint16_t tg__float_to_bf16(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  if ((x & 0x7fffffff) > 0x7f800000) return (uint16_t)((x >> 16) | 0x40); /* quiet NaN */
  x += 0x7fff + ((x >> 16) & 1);
  return (uint16_t)(x >> 16);
}

// ---------------------------------------------------------------------------------------------------------------------
// host-side element access, through double (exact for every type but 64-bit integers above 2^53)

TG__PRIVATE double tg__load_elem(const void *p, tg_dtype dt, int64_t i) {
  switch (dt) {
  case TG_BOOL: return ((const unsigned char *)p)[i] != 0;
  case TG_INT8: return ((const int8_t *)p)[i];
  case TG_UINT8: return ((const uint8_t *)p)[i];
  case TG_INT16: return ((const int16_t *)p)[i];
  case TG_UINT16: return ((const uint16_t *)p)[i];
  case TG_INT32: return ((const int32_t *)p)[i];
  case TG_UINT32: return ((const uint32_t *)p)[i];
  case TG_INT64: return (double)((const int64_t *)p)[i];
  case TG_UINT64: return (double)((const uint64_t *)p)[i];
  case TG_FLOAT16: return tg__half_to_float(((const uint16_t *)p)[i]);
  case TG_BFLOAT16: return tg__bf16_to_float(((const uint16_t *)p)[i]);
  case TG_FLOAT32: return ((const float *)p)[i];
  case TG_FLOAT64: return ((const double *)p)[i];
  default: return 0;
  }
}

TG__PRIVATE void tg__store_elem(void *p, tg_dtype dt, int64_t i, double v) {
  switch (dt) {
  case TG_BOOL: ((unsigned char *)p)[i] = v != 0; break;
  case TG_INT8: ((int8_t *)p)[i] = (int8_t)(int64_t)v; break;
  case TG_UINT8: ((uint8_t *)p)[i] = (uint8_t)(int64_t)v; break;
  case TG_INT16: ((int16_t *)p)[i] = (int16_t)(int64_t)v; break;
  case TG_UINT16: ((uint16_t *)p)[i] = (uint16_t)(int64_t)v; break;
  case TG_INT32: ((int32_t *)p)[i] = (int32_t)(int64_t)v; break;
  case TG_UINT32: ((uint32_t *)p)[i] = (uint32_t)(int64_t)v; break;
  case TG_INT64: ((int64_t *)p)[i] = (int64_t)v; break;
  case TG_UINT64: ((uint64_t *)p)[i] = v < 0 ? (uint64_t)(int64_t)v : (uint64_t)v; break;
  case TG_FLOAT16: ((uint16_t *)p)[i] = tg__float_to_half((float)v); break;
  case TG_BFLOAT16: ((uint16_t *)p)[i] = tg__float_to_bf16((float)v); break;
  case TG_FLOAT32: ((float *)p)[i] = (float)v; break;
  case TG_FLOAT64: ((double *)p)[i] = v; break;
  default: break;
  }
}

/* state.c: named tensors (state dicts), safetensors save/load (mmap, validated), the IDX reader (gzip through libz loaded at run time). */
#include "internal.h"

/* jit.c: TinyJit: capture the kernels of a step function once, replay them on new inputs. */
#include "internal.h"

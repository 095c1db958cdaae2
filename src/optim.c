/* optim.c: SGD, Adam, AdamW and LAMB as lazy assignments realised with the loss (tinygrad's schedule_step). */
#include "internal.h"

/* nn.c: the nn functional forms (losses, pooling, interpolation, attention, conv1d, conv_transpose2d), initialisers and layers. */
#include "internal.h"

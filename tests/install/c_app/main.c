/* c_app: load the demo model's weights into the statically linked network and segment a 64x64
 * gray ramp; prints the mask's share of foreground. usage: c_app WEIGHTS */
#include "coins_unetgen.h"
#include "unetgen.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    if (argc != 2) return fprintf(stderr, "usage: c_app WEIGHTS\n"), 2;
    unetgen_model *model = NULL;
    if (unetgen_model_load(coins_network(), argv[1], &model) != UNETGEN_OK)
        return fprintf(stderr, "c_app: %s\n", unetgen_last_error()), 1;
    enum { H = 64, W = 64 };
    static unsigned char image[H * W], mask[H * W];
    for (int i = 0; i < H * W; ++i) image[i] = (unsigned char)((i % W) * 4);
    unetgen_segment_args a = {0};
    a.input_format = UNETGEN_INPUT_U8_NHWC;
    a.input = image;
    a.n = 1, a.channels = 1, a.h = H, a.w = W;
    a.output_kind = UNETGEN_OUTPUT_MASK;
    a.output = mask;
    a.output_capacity = H * W;
    if (unetgen_segment(model, &a) != UNETGEN_OK) return fprintf(stderr, "c_app: %s\n", unetgen_last_error()), 1;
    int on = 0;
    for (int i = 0; i < H * W; ++i) on += mask[i] != 0;
    printf("c_app: %s segmented %dx%d, foreground %d of %d pixels\n", unetgen_model_name(model), a.out_h, a.out_w,
           on, H * W);
    unetgen_model_free(model);
    return 0;
}

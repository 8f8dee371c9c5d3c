/* link_small.c — an application built with unetgen_add_library(): includes the generated C
 * header, links the static library and runs the pipeline through the descriptor (zero weights,
 * so every logit must be 0). The static library's buffers must come from the caching pool
 * (unetgen_pool.h, installed by small_net_network()) as NAME.so's do: once the pool has settled
 * (two calls), a third call of the same size maps and unmaps nothing. Exit 0 on success. */
#include "small_net_unetgen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void planar(halide_buffer_t *b, halide_dimension_t *dims, float *data, const int *extents, int n) {
    int stride = 1;
    memset(b, 0, sizeof *b);
    for (int i = 0; i < n; ++i) {
        dims[i].min = 0;
        dims[i].extent = extents[i];
        dims[i].stride = stride;
        dims[i].flags = 0;
        stride *= extents[i];
    }
    b->host = (uint8_t *)data;
    b->type.code = halide_type_float;
    b->type.bits = 32;
    b->type.lanes = 1;
    b->dimensions = n;
    b->dim = dims;
}

int main(void) {
    const unetgen_network_desc *net = small_net_network();
    if (net->abi_version != UNETGEN_ABI_VERSION || strcmp(net->name, "small_net") != 0 || !net->manifest_json ||
        !strstr(net->manifest_json, "\"packed_floats\"") || net->uses_gpu) {
        fprintf(stderr, "descriptor fields are wrong\n");
        return 1;
    }
    /* packed_floats from the manifest (a plain scan; the runtime has the real parser) */
    long packed = atol(strstr(net->manifest_json, "\"packed_floats\"") + strlen("\"packed_floats\":"));
    int in_ext[4] = {16, 24, 3, 1}, w_ext[1] = {(int)packed}, out_ext[4] = {16, 24, 32, 1};
    float *in = calloc(16 * 24 * 3, sizeof(float)), *w = calloc((size_t)packed, sizeof(float));
    float *out = malloc(16 * 24 * 32 * sizeof(float));
    halide_buffer_t bi, bw, bo;
    halide_dimension_t di[4], dw[1], d_o[4];
    planar(&bi, di, in, in_ext, 4);
    planar(&bw, dw, w, w_ext, 1);
    planar(&bo, d_o, out, out_ext, 4);
    for (int i = 0; i < 16 * 24 * 32; ++i) out[i] = 1.0f;
    net->set_num_threads(2);
    int rc = net->pipeline(&bi, &bw, 1, &bo);
    if (rc != 0) {
        fprintf(stderr, "pipeline returned %d\n", rc);
        return 1;
    }
    for (int i = 0; i < 16 * 24 * 32; ++i)
        if (out[i] != 0.0f) {
            fprintf(stderr, "logit %d is %g, expected 0 with zero weights\n", i, out[i]);
            return 1;
        }
    /* 128x96: the intermediates (32 channels at full size: 1.5 MiB) are pooled blocks. */
    int big_in[4] = {128, 96, 3, 1}, big_out[4] = {128, 96, 32, 1};
    float *in2 = calloc(128 * 96 * 3, sizeof(float)), *out2 = malloc(128 * 96 * 32 * sizeof(float));
    planar(&bi, di, in2, big_in, 4);
    planar(&bo, d_o, out2, big_out, 4);
    unetgen_pool_counts first, second;
    if (net->pipeline(&bi, &bw, 1, &bo) != 0) {
        fprintf(stderr, "the 128x96 call failed\n");
        return 1;
    }
    if (net->pipeline(&bi, &bw, 1, &bo) != 0) {
        fprintf(stderr, "the second 128x96 call failed\n");
        return 1;
    }
    unetgen_pool_read(&first, 1);
    if (net->pipeline(&bi, &bw, 1, &bo) != 0) {
        fprintf(stderr, "the third 128x96 call failed\n");
        return 1;
    }
    unetgen_pool_read(&second, 0);
    if (first.mapped == 0 || second.peak == 0) {
        fprintf(stderr, "the static library's buffers did not come from the pool (mapped %zu, peak %zu bytes)\n",
                first.mapped, second.peak);
        return 1;
    }
    if (second.mapped != first.mapped || second.unmapped != first.unmapped || second.live != 0) {
        fprintf(stderr, "the third call of the same size mapped %zu and unmapped %zu bytes (live after: %zu)\n",
                second.mapped - first.mapped, second.unmapped - first.unmapped, second.live);
        return 1;
    }
    printf("small_net: pool peak %zu bytes, %zu mapped once, none mapped again\n", second.peak, second.mapped);
    free(in2);
    free(out2);
    net->release_device();
    printf("small_net: pipeline ran, %ld packed floats\n", packed);
    free(in);
    free(w);
    free(out);
    return 0;
}

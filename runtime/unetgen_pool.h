/* unetgen_pool.h — the caching allocator of every generated library, static (NAME.a) and
 * shared (NAME.so) alike: one source, included by the generated NAME_unetgen.h, whose
 * NAME_network() installs it with halide_set_custom_malloc / halide_set_custom_free before the
 * first pipeline runs.
 *
 * Why: Halide allocates every compute_root intermediate when it is first produced and frees it
 * after its last use, and the per-task scratch of every parallel loop once per task. Fresh big
 * blocks page-fault and are zeroed again every call (measured: ~38k minor faults and ~80 ms of
 * kernel time per 256x256 UNet001 call), and giving memory back costs a TLB shootdown per
 * munmap (141 us each with 2 threads; an earlier pool that trimmed reused blocks to the request
 * made 79 of them per milesial_transposed call, 11 ms).
 *
 * How: a request of 128 KiB and up is rounded up to a size class (steps of 1/32 of its power of
 * two, whole pages: at most ~3% more than asked) and mapped whole. A freed block is kept, and
 * handed out whole (never cut) to a request whose class it holds with at most as much again to
 * spare (the smallest such block), so a steady stream of calls maps and unmaps nothing. What the
 * pool holds (the blocks live + cached) never passes the most ever asked for at once (the mark:
 * live requests, by class) plus twice the largest block: a freed block is kept only within that
 * bound, and a fresh mapping first lets cached blocks go (largest first) until it fits. The slack
 * is what stops the churn of a tighter pool: with at most 1/4 to spare and one block of slack,
 * each milesial_transposed 3x256x256 call mapped 8 blocks afresh (95 MB, 23k page faults,
 * ~10 ms of 130), and UNet004 and nnU-Net churned too. Some networks' buffers do not pair up by
 * size even so (UNet001 bilinear in bf16 needs 142 MB of blocks for a mark of 58: 20% of its
 * time went to fresh pages), so the caller may raise the bound to a limit (the runtime passes
 * each call's memory budget, unetgen_pool_set_limit). So the memory a call takes is the
 * pipeline's own peak of live bytes (what the tile planner's model, common/tile_geometry.h,
 * budgets for, and what `peak` reports) plus at most two buffers, or the budget when that is
 * more. Blocks under 128 KiB go to malloc. The pool used to start at 256 KiB, but glibc, given a
 * stream of calls freeing blocks of 128-256 KiB at the top of its heap, trims and regrows it every
 * call (UNet003Small 3x128x128 with its checkpoint: 150 page faults and 3 brk calls a call, 1.72
 * against 1.51 ms pooled; whether it happens depended on what else the process had allocated).
 * Smaller still is slower: the per-task scratch of small layers is thousands of allocations a
 * call, and the pool's slot scan under its mutex cost MONAI's UNet 3% at 16 KiB.
 *
 * Definitions are weak: several networks linked into one program, or this header included by
 * several translation units, share one pool, as they share one copy of Halide's runtime. Plain C
 * (C99 and C++). Thread-safe: one mutex, held for a scan of at most UNETGEN_POOL_SLOTS entries. */
#ifndef UNETGEN_POOL_H
#define UNETGEN_POOL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#ifdef __cplusplus
extern "C" {
#endif

#define UNETGEN_POOL_SLOTS 256
#define UNETGEN_POOL_MIN ((size_t)128 * 1024)
#define UNETGEN_POOL_HEADER ((size_t)128) /* keeps the data 128-byte aligned, as Halide wants */

/* Byte counts: live now (requests, by class), the most live at once since the last reset,
 * cached for reuse; the mark (the most ever live) and the largest block (unetgen_pool_bound of
 * them bounds held + cached); and how many bytes were mapped afresh and given back since the pool started
 * (a steady stream of calls adds none). */
typedef struct unetgen_pool_counts {
    size_t live, peak, cached, mark;
    size_t held; /* bytes of the blocks live now (a block may be up to twice its request's class) */
    size_t largest; /* the biggest block ever: the slack the cache may hold beyond the mark */
    size_t mapped, unmapped;
} unetgen_pool_counts;

struct unetgen_pool_slots {
    char *raw[UNETGEN_POOL_SLOTS];
    size_t cap[UNETGEN_POOL_SLOTS];
    int count;
    unetgen_pool_counts n;
    size_t limit; /* unetgen_pool_set_limit: what the pool may hold in all, when more than its bound */
};
__attribute__((weak)) struct unetgen_pool_slots unetgen_pool_state;
__attribute__((weak)) pthread_mutex_t unetgen_pool_mutex = PTHREAD_MUTEX_INITIALIZER;

/* What the pool may hold (blocks live + cached) given the mark and the largest block: the most
   ever asked for at once plus two of the largest block, or the limit when that is more. */
__attribute__((weak)) size_t unetgen_pool_bound(size_t mark, size_t largest) {
    const size_t own = mark + 2 * largest;
    return unetgen_pool_state.limit > own ? unetgen_pool_state.limit : own;
}

/* The memory the caller allows the calls (the runtime passes each call's memory budget, which
   the tile plan keeps the pipeline's own peak within): the pool keeps freed blocks up to this
   much in all, so that networks whose buffers do not pair up by size stop mapping afresh. */
__attribute__((weak)) void unetgen_pool_set_limit(size_t bytes) {
    pthread_mutex_lock(&unetgen_pool_mutex);
    unetgen_pool_state.limit = bytes;
    pthread_mutex_unlock(&unetgen_pool_mutex);
}

/* The mapping size for `size` data bytes: header + data rounded up to a class, whole pages. */
__attribute__((weak)) size_t unetgen_pool_class(size_t size) {
    size_t need = UNETGEN_POOL_HEADER + size, top = 1;
    while (top <= need / 2) top *= 2;
    size_t step = top / 32 > 4096 ? top / 32 : 4096;
    return (need + step - 1) / step * step;
}

/* Halide's halide_malloc: a block of `size` bytes, 128-byte aligned, or NULL. */
__attribute__((weak)) void *unetgen_pool_malloc(void *user_context, size_t size) {
    (void)user_context;
    if (size < UNETGEN_POOL_MIN) {
        char *raw = (char *)aligned_alloc(UNETGEN_POOL_HEADER, UNETGEN_POOL_HEADER + ((size + 127u) & ~(size_t)127u));
        if (!raw) return NULL;
        *(size_t *)raw = 0; /* not pooled */
        return raw + UNETGEN_POOL_HEADER;
    }
    const size_t cap = unetgen_pool_class(size);
    char *raw = NULL;
    char *evict[UNETGEN_POOL_SLOTS];
    size_t evict_cap[UNETGEN_POOL_SLOTS];
    int evicted = 0;
    pthread_mutex_lock(&unetgen_pool_mutex);
    unetgen_pool_counts *n = &unetgen_pool_state.n;
    /* The smallest cached block that holds the class and is at most twice it, taken whole. */
    int best = -1;
    for (int k = 0; k < unetgen_pool_state.count; ++k) {
        const size_t c = unetgen_pool_state.cap[k];
        if (c >= cap && c - cap <= cap && (best < 0 || c < unetgen_pool_state.cap[best])) best = k;
    }
    size_t got = cap;
    if (best >= 0) {
        raw = unetgen_pool_state.raw[best];
        got = unetgen_pool_state.cap[best];
        n->cached -= got;
        --unetgen_pool_state.count;
        unetgen_pool_state.raw[best] = unetgen_pool_state.raw[unetgen_pool_state.count];
        unetgen_pool_state.cap[best] = unetgen_pool_state.cap[unetgen_pool_state.count];
    } else {
        /* A fresh mapping: first let cached blocks go (largest first) until live + cached
           stays within the bound this allocation sets. */
        const size_t mark = n->live + cap > n->mark ? n->live + cap : n->mark;
        const size_t largest = cap > n->largest ? cap : n->largest;
        while (unetgen_pool_state.count > 0 && n->held + cap + n->cached > unetgen_pool_bound(mark, largest)) {
            int big = 0;
            for (int k = 1; k < unetgen_pool_state.count; ++k)
                if (unetgen_pool_state.cap[k] > unetgen_pool_state.cap[big]) big = k;
            evict[evicted] = unetgen_pool_state.raw[big];
            evict_cap[evicted++] = unetgen_pool_state.cap[big];
            n->cached -= unetgen_pool_state.cap[big];
            --unetgen_pool_state.count;
            unetgen_pool_state.raw[big] = unetgen_pool_state.raw[unetgen_pool_state.count];
            unetgen_pool_state.cap[big] = unetgen_pool_state.cap[unetgen_pool_state.count];
        }
        n->mapped += cap;
        if (cap > n->largest) n->largest = cap;
    }
    n->live += cap;
    n->held += got;
    if (n->live > n->peak) n->peak = n->live;
    if (n->live > n->mark) n->mark = n->live;
    for (int k = 0; k < evicted; ++k) n->unmapped += evict_cap[k];
    pthread_mutex_unlock(&unetgen_pool_mutex);
    for (int k = 0; k < evicted; ++k) munmap(evict[k], evict_cap[k]);
    if (!raw) {
        void *p = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            pthread_mutex_lock(&unetgen_pool_mutex);
            n->live -= cap;
            n->held -= cap;
            n->mapped -= cap;
            pthread_mutex_unlock(&unetgen_pool_mutex);
            return NULL;
        }
        raw = (char *)p;
    }
    ((size_t *)raw)[0] = got; /* the block */
    ((size_t *)raw)[1] = cap; /* the request's class */
    return raw + UNETGEN_POOL_HEADER;
}

/* Halide's halide_free. */
__attribute__((weak)) void unetgen_pool_free(void *user_context, void *ptr) {
    (void)user_context;
    if (!ptr) return;
    char *raw = (char *)ptr - UNETGEN_POOL_HEADER;
    const size_t cap = ((size_t *)raw)[0];
    if (cap == 0) {
        free(raw);
        return;
    }
    pthread_mutex_lock(&unetgen_pool_mutex);
    unetgen_pool_counts *n = &unetgen_pool_state.n;
    n->live -= ((size_t *)raw)[1];
    n->held -= cap;
    const int keep =
        unetgen_pool_state.count < UNETGEN_POOL_SLOTS && n->held + n->cached + cap <= unetgen_pool_bound(n->mark, n->largest);
    if (keep) {
        unetgen_pool_state.raw[unetgen_pool_state.count] = raw;
        unetgen_pool_state.cap[unetgen_pool_state.count] = cap;
        ++unetgen_pool_state.count;
        n->cached += cap;
    } else {
        n->unmapped += cap;
    }
    pthread_mutex_unlock(&unetgen_pool_mutex);
    if (!keep) munmap(raw, cap);
}

/* The counts now; reset nonzero: restart the peak from what is live now (after reading it). */
__attribute__((weak)) void unetgen_pool_read(unetgen_pool_counts *out, int reset) {
    pthread_mutex_lock(&unetgen_pool_mutex);
    if (out) *out = unetgen_pool_state.n;
    if (reset) unetgen_pool_state.n.peak = unetgen_pool_state.n.live;
    pthread_mutex_unlock(&unetgen_pool_mutex);
}

/* Gives every cached block back (live ones stay theirs until freed). */
__attribute__((weak)) void unetgen_pool_drop_cached(void) {
    char *raw[UNETGEN_POOL_SLOTS];
    size_t cap[UNETGEN_POOL_SLOTS];
    pthread_mutex_lock(&unetgen_pool_mutex);
    const int count = unetgen_pool_state.count;
    for (int k = 0; k < count; ++k) {
        raw[k] = unetgen_pool_state.raw[k];
        cap[k] = unetgen_pool_state.cap[k];
        unetgen_pool_state.n.unmapped += cap[k];
    }
    unetgen_pool_state.count = 0;
    unetgen_pool_state.n.cached = 0;
    pthread_mutex_unlock(&unetgen_pool_mutex);
    for (int k = 0; k < count; ++k) munmap(raw[k], cap[k]);
}

#ifdef __cplusplus
} /* extern "C" */
#endif
#endif

/*
 * latency: the compact sketch of attempt durations kept in an endpoint's
 * stats buckets (complete.lua writes them, handlers/endpoint_stats.c reads
 * them). A duration of d ms falls in bin floor(4 * log2(d + 1)): four bins
 * per doubling, so a quantile read back is within ~10% of the true one
 * (19% bin width, read at its middle), and a bucket holds a few counters,
 * not samples. Integer arithmetic only: 2^(q/4) is kept in ten-thousandths.
 */
#ifndef HOOKD_STORE_LATENCY_H
#define HOOKD_STORE_LATENCY_H

#include <stdint.h>

#define LATENCY_BINS 160 /* up to 2^40 ms: every duration fits */

static const uint32_t latency_quarter[5] = {10000, 11892, 14142, 16818, 20000}; /* 2^(q/4) x 10^4 */

static inline int latency_bin(int64_t ms)
{
    uint64_t x = (uint64_t)(ms < 0 ? 0 : ms) + 1;
    int k = 63 - __builtin_clzll(x), q = 3;
    while (q > 0 && (unsigned __int128)x * 10000 < ((unsigned __int128)1 << k) * latency_quarter[q])
        q--;
    int bin = 4 * k + q;
    return bin < LATENCY_BINS ? bin : LATENCY_BINS - 1;
}

/* The bin's lower edge (ms): durations in it are at least this. */
static inline double latency_bin_low(int bin)
{
    return (double)((uint64_t)1 << (bin / 4)) * latency_quarter[bin % 4] / 10000.0 - 1;
}

/* What a quantile falling in the bin reads as: its middle, in ms. */
static inline int64_t latency_bin_ms(int bin)
{
    double lo = latency_bin_low(bin), hi = latency_bin_low(bin + 1);
    return (int64_t)((lo + hi) / 2 + 0.5);
}

#endif

/*
 * _samples.h: the sample arithmetic of the patch layout's decoders (spec/svdi.md sections
 * 12.5-12.7), shared by _patchc.c (whole planes) and _arithc.c (strips of arith planes), so that
 * both give the same samples by construction. Static inline helpers only: each file that
 * includes it compiles them into its own hot loops.
 */
#ifndef SVDCODEC_SAMPLES_H
#define SVDCODEC_SAMPLES_H

#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define EXACT_LIMIT (UINT64_C(1) << 53)  /* section 12.5 */
#define MAX_HALF 8                       /* P <= 16 (section 12.2) */
/* The hot loops are compiled twice on x86-64 Linux with GCC, for AVX2 machines and for the
   baseline (SSE2), and the loader picks one: measured 0.96 -> 0.26 ms for a Kodak image's
   upsampling and colour conversion. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define MULTIVERSION __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define MULTIVERSION
#endif
#if defined(__GNUC__)
#define SAMPLES_INLINE inline __attribute__((always_inline))
#else
#define SAMPLES_INLINE inline
#endif

/* section 12.7: JFIF YCbCr -> RGB in libjpeg's 16-bit fixed point */
#define FIX_CR_R 91881
#define FIX_CB_G 22554
#define FIX_CR_G 46802
#define FIX_CB_B 116130
#define FIX_HALF 32768

/* acc += a * b, or return -1 once the sum would reach EXACT_LIMIT */
static int bound_add(uint64_t *acc, uint64_t a, uint64_t b) {
    if (a == 0 || b == 0) return 0;
    if (a >= EXACT_LIMIT || b > (EXACT_LIMIT - *acc) / a) return -1;
    *acc += a * b;
    return *acc >= EXACT_LIMIT ? -1 : 0;
}

static inline int32_t clip_i32(int32_t v, int32_t lo, int32_t hi) {
    return v < lo ? lo : (v > hi ? hi : v);
}

/* One edge, p1 p0 | q0 q1 -> the four new samples, without branches: the test is data
   dependent and mispredicted half of the time. >> of a negative int32 is an arithmetic shift on
   every compiler CPython supports (floor division, as the spec's >>). */
static SAMPLES_INLINE void filter4(int32_t *p1, int32_t *p0, int32_t *q0, int32_t *q1,
                                   int32_t alpha,
                           int32_t beta, int32_t tc, int32_t top) {
    int32_t a = *p1, b = *p0, c = *q0, d = *q1;
    int32_t on = (abs(c - b) < alpha) & (abs(a - b) < beta) & (abs(d - c) < beta);
    int32_t delta = clip_i32((4 * (c - b) + (a - d) + 4) >> 3, -tc, tc) * on;
    int32_t eps = delta / 2; /* C division truncates towards zero */
    *p1 = clip_i32(a + eps, 0, top);
    *p0 = clip_i32(b + delta, 0, top);
    *q0 = clip_i32(c - delta, 0, top);
    *q1 = clip_i32(d - eps, 0, top);
}

/* filter4 over n edges whose samples lie in four arrays: a loop the compiler vectorizes */
static SAMPLES_INLINE void filter_rows(int32_t *restrict a, int32_t *restrict b,
                                       int32_t *restrict c,
                               int32_t *restrict d, Py_ssize_t n, int32_t alpha, int32_t beta,
                               int32_t tc, int32_t top) {
    for (Py_ssize_t x = 0; x < n; x++)
        filter4(a + x, b + x, c + x, d + x, alpha, beta, tc, top);
}

/* Unfold the four quarter sums s[parity][hh] (even or odd in x and in y) into one P x P patch
   and store its samples (section 12.4's mirror rule, then section 12.5's rounding and clip).
   A is an integer below 2^53 in magnitude, so x = A 2^-F is exact; clipping x to 0 .. 2^bd - 1
   before truncating gives clip(floor(x)), as truncation differs from floor only below 0. The
   loops over the quarter have no branches, so they vectorize; h is a constant once inlined. */
static SAMPLES_INLINE void store_patch(const double *restrict s, double base, double scale,
                                       double top,
                               int h, int32_t *restrict dst, Py_ssize_t stride) {
    const int hh = h * h, p = 2 * h;
    int32_t q[4 * MAX_HALF * MAX_HALF];  /* TL, TR (x mirrored), BL (y), BR (both) */
    for (int i = 0; i < hh; i++) {
        double e = s[i] + s[2 * hh + i], o = s[hh + i] + s[3 * hh + i];
        double e2 = s[i] - s[2 * hh + i], o2 = s[hh + i] - s[3 * hh + i];
        double v[4] = {e + o, e - o, e2 + o2, e2 - o2};
        for (int c = 0; c < 4; c++) {
            double x = (v[c] + base) * scale;
            x = x < 0.0 ? 0.0 : x;
            q[c * hh + i] = (int32_t)(x > top ? top : x);
        }
    }
    for (int y = 0; y < h; y++) {
        int32_t *r0 = dst + (Py_ssize_t)y * stride, *r1 = dst + (Py_ssize_t)(p - 1 - y) * stride;
        for (int x = 0; x < h; x++) {
            int i = y * h + x;
            r0[x] = q[i];
            r0[p - 1 - x] = q[hh + i];
            r1[x] = q[2 * hh + i];
            r1[p - 1 - x] = q[3 * hh + i];
        }
    }
}

/* acc[i] += coef * b[i]: a fixed trip count for P = 8 lets the compiler vectorize it */
static SAMPLES_INLINE void axpy16(double *restrict acc, double coef, const double *restrict b) {
    for (int i = 0; i < 16; i++) acc[i] += coef * b[i];
}

static SAMPLES_INLINE void axpy(double *restrict acc, double coef, const double *restrict b,
                                int hh) {
    for (int i = 0; i < hh; i++) acc[i] += coef * b[i];
}

/* dst[x] = (3 v[x/2] + v[x/2 -+ 1] + round) >> shift for x < width <= 2 cols, neighbours clamped
   to the row: the inner loop has no branches, so the compiler can vectorize it */
static SAMPLES_INLINE void double_row(const int32_t *restrict v, Py_ssize_t cols, Py_ssize_t width,
                       int32_t round, int shift, int32_t *restrict dst) {
    if (cols == 1) {
        dst[0] = (4 * v[0] + round) >> shift;
        if (width > 1) dst[1] = dst[0];
        return;
    }
    dst[0] = (4 * v[0] + round) >> shift;
    dst[1] = (3 * v[0] + v[1] + round) >> shift;
    for (Py_ssize_t j = 1; j < cols - 1; j++) {
        int32_t m = 3 * v[j] + round;
        dst[2 * j] = (m + v[j - 1]) >> shift;
        dst[2 * j + 1] = (m + v[j + 1]) >> shift;
    }
    Py_ssize_t j = cols - 1;
    dst[2 * j] = (3 * v[j] + v[j - 1] + round) >> shift;
    if (2 * j + 1 < width) dst[2 * j + 1] = (4 * v[j] + round) >> shift;
}

/* Pass 1 of section 12.6 on one row of `cols` samples: its vertical edges' samples are gathered
   into tmp (4 arrays of cols / p - 1), filtered by filter_rows and scattered back. */
static SAMPLES_INLINE void deblock_row_vertical(int32_t *row, Py_ssize_t cols, int p, int32_t alpha,
                                        int32_t beta, int32_t tc, int32_t top, int32_t *tmp) {
    const Py_ssize_t n = cols / p - 1;  /* vertical edges per row */
    int32_t *t0 = tmp, *t1 = tmp + n, *t2 = t1 + n, *t3 = t2 + n, *edge = row + p - 2;
    if (n <= 0) return;
    for (Py_ssize_t e = 0; e < n; e++) {
        t0[e] = edge[e * p];
        t1[e] = edge[e * p + 1];
        t2[e] = edge[e * p + 2];
        t3[e] = edge[e * p + 3];
    }
    filter_rows(t0, t1, t2, t3, n, alpha, beta, tc, top);
    for (Py_ssize_t e = 0; e < n; e++) {
        edge[e * p] = t0[e];
        edge[e * p + 1] = t1[e];
        edge[e * p + 2] = t2[e];
        edge[e * p + 3] = t3[e];
    }
}

/* Section 12.7: the plane row i' that image row y blends with y >> 1 when sy = 2 (clamped to
   the plane's rows). */
static inline Py_ssize_t neighbour_row(Py_ssize_t y, Py_ssize_t rows) {
    Py_ssize_t i = y >> 1, i2 = (y & 1) ? i + 1 : i - 1;
    return i2 < 0 ? 0 : (i2 > rows - 1 ? rows - 1 : i2);
}

/* Image row y of a plane at full resolution into dst[0 .. width - 1], from its plane row a (row
   y >> 1 if sy = 2, else y) and, if sy = 2, the row b = neighbour_row(y); tmp holds cols ints.
   Returns dst, or a itself when it needs no work. */
static SAMPLES_INLINE const int32_t *upsample_from(const int32_t *a, const int32_t *b,
                                                   Py_ssize_t cols,
                                           int sx, int sy, Py_ssize_t width,
                                           int32_t *restrict tmp, int32_t *restrict dst) {
    const int32_t *v = a;
    int shift = 2 * ((sx == 2) + (sy == 2));
    if (sy == 2) {
        for (Py_ssize_t j = 0; j < cols; j++) tmp[j] = 3 * a[j] + b[j];
        v = tmp;
    }
    int32_t round = shift ? 1 << (shift - 1) : 0;
    if (sx == 2) {
        double_row(v, cols, width, round, shift, dst);
    } else if (shift) {
        for (Py_ssize_t x = 0; x < width; x++) dst[x] = (v[x] + round) >> shift;
    } else {
        return v;
    }
    return dst;
}

/* Section 12.7's YCbCr -> RGB of one row into three int32 rows (written in place of y, cb, cr).
   +256 << 16 keeps every shifted value positive; the -256 after the shift removes it. */
static SAMPLES_INLINE void ycbcr_row(int32_t *restrict y, int32_t *restrict cb,
                                     int32_t *restrict cr,
                      Py_ssize_t width) {
    const int32_t lift = 256 << 16;
    for (Py_ssize_t x = 0; x < width; x++) {
        int32_t b = cb[x] - 128, r = cr[x] - 128, l = y[x] - 256;
        int32_t vr = l + ((FIX_CR_R * r + FIX_HALF + lift) >> 16);
        int32_t vg = l + ((-FIX_CB_G * b - FIX_CR_G * r + FIX_HALF + lift) >> 16);
        int32_t vb = l + ((FIX_CB_B * b + FIX_HALF + lift) >> 16);
        y[x] = vr < 0 ? 0 : (vr > 255 ? 255 : vr);
        cb[x] = vg < 0 ? 0 : (vg > 255 ? 255 : vg);
        cr[x] = vb < 0 ? 0 : (vb > 255 ? 255 : vb);
    }
}


/* Image row y of `channels` int32 rows (samples in 0 .. 2^bd - 1) into the interleaved output:
   uint8 for bd 8, native uint16 for bd 16. */
static SAMPLES_INLINE void write_row(const int32_t *const *row, int channels, int bd,
                                     Py_ssize_t width,
                             void *out, Py_ssize_t y) {
    if (bd == 8) {
        uint8_t *o = (uint8_t *)out + (size_t)y * width * channels;
        if (channels == 3) {
            const int32_t *r0 = row[0], *r1 = row[1], *r2 = row[2];
            for (Py_ssize_t x = 0; x < width; x++) {
                o[3 * x] = (uint8_t)r0[x];
                o[3 * x + 1] = (uint8_t)r1[x];
                o[3 * x + 2] = (uint8_t)r2[x];
            }
        } else {
            for (int c = 0; c < channels; c++) {
                const int32_t *pc = row[c];
                for (Py_ssize_t x = 0; x < width; x++) o[x * channels + c] = (uint8_t)pc[x];
            }
        }
    } else {
        uint16_t *o = (uint16_t *)out + (size_t)y * width * channels;
        for (int c = 0; c < channels; c++) {
            const int32_t *pc = row[c];
            for (Py_ssize_t x = 0; x < width; x++) o[x * channels + c] = (uint16_t)pc[x];
        }
    }
}

/* What image row y needs of one plane: its plane row a and, if sy = 2, the row b it blends with
   (section 12.7), both of cols samples. */
typedef struct {
    const int32_t *a, *b;
    Py_ssize_t cols;
    int sx, sy;
} PlaneRow;

/* One image row: upsampling, colour conversion, then out's row y_out. rows holds channels x
   width int32, tmp the widest plane's cols. */
static SAMPLES_INLINE void compose_row(const PlaneRow *pr, int channels, int bd, int ycbcr,
                               Py_ssize_t width, int32_t *rows, int32_t *tmp, void *out,
                               Py_ssize_t y_out) {
    const int32_t *row[4];
    for (int c = 0; c < channels; c++) {
        int32_t *dst = rows + (size_t)c * width;
        row[c] = upsample_from(pr[c].a, pr[c].b, pr[c].cols, pr[c].sx, pr[c].sy, width, tmp,
                               dst);
        if (ycbcr && c < 3 && row[c] != dst) {  /* converted in place below */
            memcpy(dst, row[c], sizeof(int32_t) * (size_t)width);
            row[c] = dst;
        }
    }
    if (ycbcr) ycbcr_row(rows, rows + width, rows + 2 * width, width);
    write_row(row, channels, bd, width, out, y_out);
}

#endif

/*
 * _patchc: the patch layout's decoder in C (spec/svdi.md section 12.3-12.7).
 *
 * An optional accelerator: svdcodec/patch.py and svdcodec/entropy.py are the reference
 * (numpy) decoder and this module MUST produce the same samples bit for bit; the test suite
 * decodes every golden vector and random planes through both. The spec makes that possible:
 * every step is integer arithmetic, and the reconstruction sums are exact in binary64 once the
 * bound of section 12.5 is below 2^53.
 *
 * Differences from the reference are in how, not what:
 * - the AC symbols are read patch by patch from per-component cursors, so no dense N x k
 *   coefficient matrix is built (the streams are component-major, each in raster order);
 * - basis vectors are mirror-symmetric (section 12.4), so each patch accumulates four
 *   (P/2)^2 quarter sums, one per parity, and unfolds them at the end: a quarter of the
 *   multiply-adds of a dense product;
 * - upsampling and colour conversion run one output row at a time.
 *
 * Every function checks the sizes of the buffers it is given; a malformed payload returns an
 * error message (a str) that the caller raises as CorruptError; a bad call raises ValueError.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ESCAPE 255u                      /* section 12.3: symbol byte taken from the escapes */
#define ESCAPE_MAX (2147483647u - 255u)  /* section 12.3: 255 + e < 2^31 */
#define EXACT_LIMIT (UINT64_C(1) << 53)  /* section 12.5 */
#define MAX_HALF 8                       /* P <= 16 (section 12.2) */
#define MAX_PARITY 3u
#define MAX_PATCHES ((Py_ssize_t)1 << 36)  /* far above the limits; keeps sizes from overflowing */

/* The hot loops are compiled twice on x86-64 Linux with GCC, for AVX2 machines and for the
   baseline (SSE2), and the loader picks one: measured 0.96 -> 0.26 ms for a Kodak image's
   upsampling and colour conversion. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define MULTIVERSION __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define MULTIVERSION
#endif

/* section 12.7: JFIF YCbCr -> RGB in libjpeg's 16-bit fixed point */
#define FIX_CR_R 91881
#define FIX_CB_G 22554
#define FIX_CR_G 46802
#define FIX_CB_B 116130
#define FIX_HALF 32768

static uint32_t read_u32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

/* zigzag: 0, 1, 2, 3, ... -> 0, -1, 1, -2, ... */
static int64_t unzigzag(uint32_t u) {
    return (u & 1u) ? -(int64_t)((u >> 1) + 1) : (int64_t)(u >> 1);
}

/* acc += a * b, or return -1 once the sum would reach EXACT_LIMIT */
static int bound_add(uint64_t *acc, uint64_t a, uint64_t b) {
    if (a == 0 || b == 0) return 0;
    if (a >= EXACT_LIMIT || b > (EXACT_LIMIT - *acc) / a) return -1;
    *acc += a * b;
    return *acc >= EXACT_LIMIT ? -1 : 0;
}

/* --- deblocking (section 12.6) ---------------------------------------------------------- */
static inline int32_t clip_i32(int32_t v, int32_t lo, int32_t hi) {
    return v < lo ? lo : (v > hi ? hi : v);
}

/* One edge, p1 p0 | q0 q1 -> the four new samples, without branches: the test is data
   dependent and mispredicted half of the time. >> of a negative int32 is an arithmetic shift on
   every compiler CPython supports (floor division, as the spec's >>). */
static inline void filter4(int32_t *p1, int32_t *p0, int32_t *q0, int32_t *q1, int32_t alpha,
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
static inline void filter_rows(int32_t *restrict a, int32_t *restrict b, int32_t *restrict c,
                               int32_t *restrict d, Py_ssize_t n, int32_t alpha, int32_t beta,
                               int32_t tc, int32_t top) {
    for (Py_ssize_t x = 0; x < n; x++)
        filter4(a + x, b + x, c + x, d + x, alpha, beta, tc, top);
}

/* Pass 1 (vertical edges) gathers each row's edge samples into tmp (4 arrays of cols / p), so
   both passes run as filter_rows. */
MULTIVERSION
static void deblock_plane(int32_t *plane, Py_ssize_t rows, Py_ssize_t cols, int p, int32_t alpha,
                          int32_t beta, int32_t tc, int bd, int32_t *tmp) {
    const int32_t top = (int32_t)((1u << bd) - 1u);
    const Py_ssize_t n = cols / p - 1;  /* vertical edges per row */
    int32_t *t0 = tmp, *t1 = tmp + n, *t2 = t1 + n, *t3 = t2 + n;
    if (alpha == 0) return;
    for (Py_ssize_t y = 0; y < rows && n > 0; y++) {
        int32_t *row = plane + y * cols + p - 2;
        for (Py_ssize_t e = 0; e < n; e++) {
            t0[e] = row[e * p];
            t1[e] = row[e * p + 1];
            t2[e] = row[e * p + 2];
            t3[e] = row[e * p + 3];
        }
        filter_rows(t0, t1, t2, t3, n, alpha, beta, tc, top);
        for (Py_ssize_t e = 0; e < n; e++) {
            row[e * p] = t0[e];
            row[e * p + 1] = t1[e];
            row[e * p + 2] = t2[e];
            row[e * p + 3] = t3[e];
        }
    }
    for (Py_ssize_t y = p; y < rows; y += p) {  /* pass 2: horizontal edges */
        int32_t *r0 = plane + (y - 2) * cols;
        filter_rows(r0, r0 + cols, r0 + 2 * cols, r0 + 3 * cols, cols, alpha, beta, tc, top);
    }
}

/* --- reconstruction (sections 12.4, 12.5) ----------------------------------------------- */
typedef struct {
    int k, r, p, half, bd, shift;
    Py_ssize_t gh, gw;
    uint32_t m_dc;
    const uint8_t *mult, *parity, *basis, *dc, *counts, *ac, *esc;
    uint32_t n_esc;
} Plane;

/* Unfold the four quarter sums s[parity][hh] (even or odd in x and in y) into one P x P patch
   and store its samples (section 12.4's mirror rule, then section 12.5's rounding and clip).
   A is an integer below 2^53 in magnitude, so x = A 2^-F is exact; clipping x to 0 .. 2^bd - 1
   before truncating gives clip(floor(x)), as truncation differs from floor only below 0. The
   loops over the quarter have no branches, so they vectorize; h is a constant once inlined. */
static inline void store_patch(const double *restrict s, double base, double scale, double top,
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
static inline void axpy16(double *restrict acc, double coef, const double *restrict b) {
    for (int i = 0; i < 16; i++) acc[i] += coef * b[i];
}

static inline void axpy(double *restrict acc, double coef, const double *restrict b, int hh) {
    for (int i = 0; i < hh; i++) acc[i] += coef * b[i];
}

/* Section 12.5 for every patch in raster order. The AC streams are component-major and each in
   raster order, so patch n's q[n, j] is the next unread symbol of component j: cur[j] and
   ecur[j] are the read positions in the symbols and the escapes. */
MULTIVERSION
static void reconstruct(const Plane *pl, const int64_t *d, const double *quarters,
                        const double *mult, const Py_ssize_t *start,
                        const uint32_t *esc_start, int32_t *out) {
    const int hh = pl->half * pl->half, p = pl->p;
    const Py_ssize_t stride = pl->gw * p;
    Py_ssize_t cur[256];
    uint32_t ecur[256];
    double s[4 * MAX_HALF * MAX_HALF];
    const double offset = ldexp(1.0, pl->shift - 1) + ldexp(1.0, pl->shift + pl->bd - 1);
    const double scale = ldexp(1.0, -pl->shift), top = (double)((1u << pl->bd) - 1u);
    for (int j = 0; j < pl->r; j++) {
        cur[j] = start[j];
        ecur[j] = esc_start[j];
    }
    for (Py_ssize_t gy = 0; gy < pl->gh; gy++) {
        for (Py_ssize_t gx = 0; gx < pl->gw; gx++) {
            Py_ssize_t n = gy * pl->gw + gx;
            int c = pl->counts[n] < pl->r ? pl->counts[n] : pl->r;
            memset(s, 0, sizeof(double) * 4 * (size_t)hh);
            for (int j = 0; j < c; j++) {
                uint32_t u = pl->ac[cur[j]++];
                if (u == ESCAPE) u += read_u32(pl->esc + 4 * (size_t)ecur[j]++);
                if (u == 0) continue;
                /* |q m_j| max |b_j| is below the bound, so q m_j is exact in binary64 */
                double coef = (double)unzigzag(u) * mult[j];
                double *acc = s + pl->parity[j] * hh;
                if (hh == 16)
                    axpy16(acc, coef, quarters + (size_t)j * 16);
                else
                    axpy(acc, coef, quarters + (size_t)j * hh, hh);
            }
            double base = (double)d[n] * (double)pl->m_dc + offset;
            int32_t *dst = out + gy * p * stride + gx * p;
            if (hh == 16)
                store_patch(s, base, scale, top, 4, dst, stride);
            else
                store_patch(s, base, scale, top, pl->half, dst, stride);
        }
    }
}

/* --- payload parsing and validation (section 12.3) -------------------------------------- */
#define ERRBUF 200
static const char OUT_OF_MEMORY[] = "out of memory";  /* see decode_plane_impl */

/* Section 12.3: the counts (each <= k, summing to ac_symbols), multipliers, parities, basis
   entries and escape values of a payload whose length the caller checked; hist[c] receives
   how many patches store c coefficients. NULL, or the message of a CorruptError. */
static const char *validate_payload(const Plane *pl, uint32_t ac_symbols, Py_ssize_t *hist,
                                    char *errbuf) {
    const int k = pl->k, hh = pl->half * pl->half;
    const Py_ssize_t n_patches = pl->gh * pl->gw;
    uint64_t total = 0;
    for (Py_ssize_t n = 0; n < n_patches; n++) {
        if (pl->counts[n] > k) {
            snprintf(errbuf, ERRBUF, "PTCH counts must be <= components %d, got %u", k,
                     pl->counts[n]);
            return errbuf;
        }
        hist[pl->counts[n]]++;
        total += pl->counts[n];
    }
    if (total != ac_symbols) {
        snprintf(errbuf, ERRBUF, "PTCH ac_symbols: counts sum to %llu, header says %u",
                 (unsigned long long)total, ac_symbols);
        return errbuf;
    }
    for (int j = 0; j < k; j++) {
        if (read_u32(pl->mult + 4 * j) < 1) return "PTCH multipliers must be >= 1";
        if (pl->parity[j] > MAX_PARITY) {
            snprintf(errbuf, ERRBUF, "PTCH parities must be 0..%u, got %u", MAX_PARITY,
                     pl->parity[j]);
            return errbuf;
        }
        int nonzero = 0;
        for (int i = 0; i < hh; i++) {
            int8_t b = (int8_t)pl->basis[j * hh + i];
            if (b == -128) return "PTCH basis entries must lie in -127..127";
            nonzero |= b != 0;
        }
        if (!nonzero) return "PTCH basis vectors must not be zero";
    }
    uint32_t used = 0;
    for (Py_ssize_t n = 0; n < n_patches; n++) used += pl->dc[n] == ESCAPE;
    for (uint32_t m = 0; m < ac_symbols; m++) used += pl->ac[m] == ESCAPE;
    if (used != pl->n_esc) {
        snprintf(errbuf, ERRBUF, "PTCH escapes: symbols use %u, header says %u", used,
                 pl->n_esc);
        return errbuf;
    }
    for (uint32_t e = 0; e < pl->n_esc; e++) {
        if (read_u32(pl->esc + 4 * (size_t)e) > ESCAPE_MAX) {
            snprintf(errbuf, ERRBUF, "escape value %u exceeds %u",
                     read_u32(pl->esc + 4 * (size_t)e), ESCAPE_MAX);
            return errbuf;
        }
    }
    return NULL;
}

/* Section 12.4: the DC running sums d[n] (raster order, left neighbour else upper); returns
   max |d| and leaves *ecur after the DC escapes. */
static uint64_t dc_sums(const Plane *pl, int64_t *d, uint32_t *ecur) {
    uint64_t dmax = 0;
    for (Py_ssize_t gy = 0; gy < pl->gh; gy++) {
        for (Py_ssize_t gx = 0; gx < pl->gw; gx++) {
            Py_ssize_t n = gy * pl->gw + gx;
            uint32_t u = pl->dc[n];
            if (u == ESCAPE) u += read_u32(pl->esc + 4 * (size_t)(*ecur)++);
            int64_t prev = gx ? d[n - 1] : (gy ? d[n - pl->gw] : 0);
            d[n] = prev + unzigzag(u);  /* |d| < 2^31 (gh + gw) < 2^52 */
            uint64_t a = d[n] < 0 ? (uint64_t)(-d[n]) : (uint64_t)d[n];
            if (a > dmax) dmax = a;
        }
    }
    return dmax;
}

/* Section 12.3: where component j's stream starts (start[j]), the escapes it begins with
   (esc_start[j]) and its largest |q| (qmax[j]); the streams are component-major and hold one
   symbol per patch whose count exceeds j. */
static void component_streams(const Plane *pl, const Py_ssize_t *hist, uint32_t ecur,
                              Py_ssize_t *start, uint32_t *esc_start, uint64_t *qmax) {
    Py_ssize_t pos = 0, remaining = pl->gh * pl->gw;
    for (int j = 0; j < pl->k; j++) {
        remaining -= hist[j];  /* patches with count > j */
        start[j] = pos;
        esc_start[j] = ecur;
        uint64_t m = 0;
        for (Py_ssize_t i = 0; i < remaining; i++) {
            uint32_t u = pl->ac[pos + i];
            if (u == ESCAPE) u += read_u32(pl->esc + 4 * (size_t)ecur++);
            uint64_t a = (u + 1u) >> 1;  /* |unzigzag(u)| */
            if (a > m) m = a;
        }
        qmax[j] = m;
        pos += remaining;
    }
}

/* Section 12.5: 1 if the accumulator bound with the r components used reaches 2^53 (the
   plane is refused), else 0. */
static int exceeds_exact_bound(const Plane *pl, uint64_t dmax, const uint64_t *qmax) {
    const int hh = pl->half * pl->half;
    if (pl->shift + pl->bd >= 53) return 1;
    uint64_t bound = UINT64_C(1) << (pl->shift + pl->bd);
    if (bound_add(&bound, dmax, pl->m_dc)) return 1;
    for (int j = 0; j < pl->r; j++) {
        int bmax = 0;
        for (int i = 0; i < hh; i++) {
            int b = abs((int8_t)pl->basis[j * hh + i]);
            if (b > bmax) bmax = b;
        }
        /* qmax < 2^31 and m_j < 2^32: the product fits 64 bits */
        if (bound_add(&bound, qmax[j] * read_u32(pl->mult + 4 * j), (uint64_t)bmax)) return 1;
    }
    return 0;
}

/* decode_plane without the GIL: validate, sum the DC, find the streams, check the bound,
   reconstruct, deblock. It allocates with PyMem_RawMalloc only (the one Python allocator that
   needs no GIL) and reports running out of memory by returning OUT_OF_MEMORY, which the
   caller turns into MemoryError once it holds the GIL again. */
static const char *decode_plane_impl(Plane *pl, uint32_t ac_symbols, int32_t *out,
                                     int32_t alpha, int32_t beta, int32_t tc,
                                     char *errbuf) {
    const int k = pl->k, hh = pl->half * pl->half;
    const Py_ssize_t n_patches = pl->gh * pl->gw;
    Py_ssize_t hist[256] = {0};
    const char *err = validate_payload(pl, ac_symbols, hist, errbuf);
    if (err != NULL) return err;

    Py_ssize_t start[256];
    uint32_t esc_start[256];
    uint64_t qmax[256];
    /* d, and after reconstruction the deblocking's 4 gw int32 (see below) */
    int64_t *d = PyMem_RawMalloc(sizeof(int64_t) * (size_t)(n_patches + 2 * pl->gw));
    /* the r basis vectors as doubles, then the r multipliers */
    double *quarters = PyMem_RawMalloc(sizeof(double) * (size_t)(k ? k * (hh + 1) : 1));
    if (d == NULL || quarters == NULL) {
        PyMem_RawFree(d);
        PyMem_RawFree(quarters);
        return OUT_OF_MEMORY;
    }
    uint32_t ecur = 0;
    uint64_t dmax = dc_sums(pl, d, &ecur);
    component_streams(pl, hist, ecur, start, esc_start, qmax);
    if (exceeds_exact_bound(pl, dmax, qmax)) {
        err = "PTCH values too large: accumulator bound >= 2^53";
    } else {
        for (int j = 0; j < pl->r; j++) {
            for (int i = 0; i < hh; i++)
                quarters[j * hh + i] = (double)(int8_t)pl->basis[j * hh + i];
            quarters[(size_t)k * hh + j] = read_u32(pl->mult + 4 * j);
        }
        reconstruct(pl, d, quarters, quarters + (size_t)k * hh, start, esc_start, out);
        /* d is no longer needed: its 8 N + 16 gw bytes hold 4 (gw - 1) edge samples */
        deblock_plane(out, pl->gh * pl->p, pl->gw * pl->p, pl->p, alpha, beta, tc, pl->bd,
                      (int32_t *)d);
    }
    PyMem_RawFree(d);
    PyMem_RawFree(quarters);
    return err;
}

PyDoc_STRVAR(decode_plane_doc,
"decode_plane(raw, out, k, rank, p, gh, gw, ac_symbols, escapes, dc_multiplier, shift,\n"
"             bit_depth, alpha, beta, tc) -> str | None\n\n"
"Decode one decompressed PTCH payload into ``out``, a writable C-contiguous int32 buffer of\n"
"gh P x gw P samples: reconstruction with the first ``rank`` components, then deblocking.\n"
"Returns None, or the message of the CorruptError the payload deserves.");

static PyObject *decode_plane(PyObject *self, PyObject *args) {
    Py_buffer raw, out;
    int k, r, p, bd, shift, alpha, beta, tc;
    Py_ssize_t gh, gw;
    unsigned int ac_symbols, n_esc, m_dc;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*w*iiinnIIIiiiii", &raw, &out, &k, &r, &p, &gh, &gw,
                          &ac_symbols, &n_esc, &m_dc, &shift, &bd, &alpha, &beta, &tc))
        return NULL;
    PyObject *result = NULL;
    const char *err = NULL;
    char errbuf[ERRBUF];
    if (!(p == 4 || p == 8 || p == 16) || k < 0 || k > p * p - 1 || r < 0 || r > k ||
        gh < 1 || gw < 1 || gh > MAX_PATCHES / gw || (bd != 8 && bd != 16) ||
        shift < 1 || shift > 52 || m_dc < 1 || alpha < 0 || beta < 0 || tc < 0 ||
        alpha > 65535 || beta > 65535 || tc > 65535) {
        PyErr_SetString(PyExc_ValueError, "decode_plane: parameters out of range");
        goto done;
    }
    Py_ssize_t n_patches = gh * gw, hh = (p / 2) * (p / 2);
    if (out.len != n_patches * p * p * (Py_ssize_t)sizeof(int32_t) || out.itemsize != 4) {
        PyErr_SetString(PyExc_ValueError, "decode_plane: out must hold gh P x gw P int32");
        goto done;
    }
    /* section 12.3: raw_size = k (5 + (P/2)^2) + 2N + M + 4E, computed without overflow */
    uint64_t expected = (uint64_t)k * (5 + (uint64_t)hh) + 2 * (uint64_t)n_patches +
                        (uint64_t)ac_symbols + 4 * (uint64_t)n_esc;
    if ((uint64_t)raw.len != expected) {
        snprintf(errbuf, ERRBUF, "PTCH payload: expected %llu bytes, got %lld",
                 (unsigned long long)expected, (long long)raw.len);
        err = errbuf;
    } else {
        const uint8_t *b = raw.buf;
        Plane pl = {k, r, p, p / 2, bd, shift, gh, gw, m_dc, NULL, NULL, NULL, NULL, NULL, NULL,
                    NULL, n_esc};
        pl.mult = b;
        pl.parity = pl.mult + 4 * (size_t)k;
        pl.basis = pl.parity + k;
        pl.dc = pl.basis + (size_t)k * hh;
        pl.counts = pl.dc + n_patches;
        pl.ac = pl.counts + n_patches;
        pl.esc = pl.ac + ac_symbols;
        Py_BEGIN_ALLOW_THREADS
        err = decode_plane_impl(&pl, ac_symbols, out.buf, alpha, beta, tc, errbuf);
        Py_END_ALLOW_THREADS
    }
    if (err == NULL) {
        result = Py_NewRef(Py_None);
    } else if (err == OUT_OF_MEMORY) {
        PyErr_NoMemory();
    } else {
        result = PyUnicode_FromString(err);
    }
done:
    PyBuffer_Release(&raw);
    PyBuffer_Release(&out);
    return result;
}

/* --- upsampling and colour (section 12.7) ----------------------------------------------- */
typedef struct {
    Py_buffer buf;
    const int32_t *c;  /* the padded plane, `stride` samples per row */
    Py_ssize_t stride, rows, cols;
    int sx, sy;
} Source;

/* dst[x] = (3 v[x/2] + v[x/2 -+ 1] + round) >> shift for x < width <= 2 cols, neighbours clamped
   to the row: the inner loop has no branches, so the compiler can vectorize it */
static inline void double_row(const int32_t *restrict v, Py_ssize_t cols, Py_ssize_t width,
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

/* Image row y of a plane at full resolution into dst[0 .. width - 1]; tmp holds cols ints.
   Returns dst, or the plane's own row when it needs no work. */
static inline const int32_t *upsample_row(const Source *s, Py_ssize_t y, Py_ssize_t width,
                                   int32_t *restrict tmp, int32_t *restrict dst) {
    const int32_t *v;
    int shift = 2 * ((s->sx == 2) + (s->sy == 2));
    if (s->sy == 2) {
        Py_ssize_t i = y >> 1, i2 = (y & 1) ? i + 1 : i - 1;
        if (i2 < 0) i2 = 0;
        if (i2 > s->rows - 1) i2 = s->rows - 1;
        const int32_t *a = s->c + i * s->stride, *b = s->c + i2 * s->stride;
        for (Py_ssize_t j = 0; j < s->cols; j++) tmp[j] = 3 * a[j] + b[j];
        v = tmp;
    } else {
        v = s->c + y * s->stride;
    }
    int32_t round = shift ? 1 << (shift - 1) : 0;
    if (s->sx == 2) {
        double_row(v, s->cols, width, round, shift, dst);
    } else if (shift) {
        for (Py_ssize_t x = 0; x < width; x++) dst[x] = (v[x] + round) >> shift;
    } else {
        return v;
    }
    return dst;
}

/* Section 12.7's YCbCr -> RGB of one row into three int32 rows (written in place of y, cb, cr).
   +256 << 16 keeps every shifted value positive; the -256 after the shift removes it. */
static inline void ycbcr_row(int32_t *restrict y, int32_t *restrict cb, int32_t *restrict cr,
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

MULTIVERSION
static void compose_rows(const Source *src, int channels, int bd, int ycbcr, Py_ssize_t height,
                         Py_ssize_t width, int32_t *rows, int32_t *tmp, void *out) {
    const int32_t *row[4];
    for (Py_ssize_t y = 0; y < height; y++) {
        for (int c = 0; c < channels; c++) {
            int32_t *dst = rows + (size_t)c * width;
            row[c] = upsample_row(&src[c], y, width, tmp, dst);
            if (ycbcr && c < 3 && row[c] != dst) {  /* converted in place below */
                memcpy(dst, row[c], sizeof(int32_t) * (size_t)width);
                row[c] = dst;
            }
        }
        if (ycbcr) ycbcr_row(rows, rows + width, rows + 2 * width, width);
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
}

PyDoc_STRVAR(compose_doc,
"compose(out, height, width, bit_depth, ycbcr, planes) -> None\n\n"
"Upsample the decoded planes and convert colours into ``out``, a writable C-contiguous\n"
"height x width x C buffer of uint8 (bit_depth 8) or native uint16 (16). ``planes`` holds C\n"
"tuples (plane, stride, rows, cols, sx, sy): an int32 buffer of padded rows of ``stride``\n"
"samples whose first rows x cols are used. ycbcr: planes 0..2 are Y, Cb, Cr (8-bit only).");

static PyObject *compose(PyObject *self, PyObject *args) {
    Py_buffer out;
    Py_ssize_t height, width;
    int bd, ycbcr;
    PyObject *planes;
    (void)self;
    if (!PyArg_ParseTuple(args, "w*nniiO!", &out, &height, &width, &bd, &ycbcr, &PyTuple_Type,
                          &planes))
        return NULL;
    Source src[4];
    int channels = (int)PyTuple_GET_SIZE(planes), got = 0;
    PyObject *result = NULL;
    int32_t *rows = NULL;
    if (channels < 1 || channels > 4 || height < 1 || width < 1 || (bd != 8 && bd != 16) ||
        (ycbcr && (channels < 3 || bd != 8)) ||
        height > PY_SSIZE_T_MAX / 8 / width / channels ||
        out.len != height * width * channels * (bd / 8)) {
        PyErr_SetString(PyExc_ValueError, "compose: bad image geometry or out size");
        goto done;
    }
    for (; got < channels; got++) {
        Source *s = &src[got];
        if (!PyArg_ParseTuple(PyTuple_GET_ITEM(planes, got), "y*nnnii", &s->buf, &s->stride,
                              &s->rows, &s->cols, &s->sx, &s->sy))
            goto done;
        if (s->sx < 1 || s->sx > 2 || s->sy < 1 || s->sy > 2 ||
            s->rows != (height + s->sy - 1) / s->sy || s->cols != (width + s->sx - 1) / s->sx ||
            s->stride < s->cols || s->buf.len / 4 / s->stride < s->rows) {
            got++;
            PyErr_SetString(PyExc_ValueError, "compose: plane geometry does not fit the image");
            goto done;
        }
        s->c = s->buf.buf;
    }
    rows = PyMem_RawMalloc(sizeof(int32_t) * (size_t)width * (channels + 1));
    if (rows == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    compose_rows(src, channels, bd, ycbcr, height, width, rows, rows + (size_t)channels * width,
                 out.buf);
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    PyMem_RawFree(rows);
    for (int i = 0; i < got; i++) PyBuffer_Release(&src[i].buf);
    PyBuffer_Release(&out);
    return result;
}

PyDoc_STRVAR(deblock_doc,
"deblock(plane, p, alpha, beta, tc, bit_depth) -> None\n\n"
"Section 12.6's deblocking, in place, of ``plane``: a writable C-contiguous 2-D int32 array\n"
"of whole P x P patches whose samples lie in 0 .. 2^bit_depth - 1 (the encoder's search\n"
"for a strength calls it; the decoder's own calls are inside decode_plane).");

static PyObject *deblock(PyObject *self, PyObject *args) {
    PyObject *obj;
    Py_buffer buf;
    int p, alpha, beta, tc, bd;
    (void)self;
    if (!PyArg_ParseTuple(args, "Oiiiii", &obj, &p, &alpha, &beta, &tc, &bd) ||
        PyObject_GetBuffer(obj, &buf, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE |
                                          PyBUF_ND) < 0)
        return NULL;
    PyObject *result = NULL;
    int32_t *tmp = NULL;
    const char *f = buf.format ? buf.format : "B";
    if (buf.ndim != 2 || buf.itemsize != 4 || strcmp(f, "i") != 0 ||
        !(p == 4 || p == 8 || p == 16) || buf.shape[0] % p || buf.shape[1] % p ||
        (bd != 8 && bd != 16) || alpha < 0 || beta < 0 || tc < 0 || alpha > 65535 ||
        beta > 65535 || tc > 65535) {
        PyErr_SetString(PyExc_ValueError, "deblock: expected a 2-D int32 plane of whole patches");
        goto done;
    }
    tmp = PyMem_RawMalloc(sizeof(int32_t) * (size_t)(4 * (buf.shape[1] / p) + 1));
    if (tmp == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    deblock_plane(buf.buf, buf.shape[0], buf.shape[1], p, alpha, beta, tc, bd, tmp);
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    PyMem_RawFree(tmp);
    PyBuffer_Release(&buf);
    return result;
}

static PyMethodDef methods[] = {
    {"decode_plane", decode_plane, METH_VARARGS, decode_plane_doc},
    {"compose", compose, METH_VARARGS, compose_doc},
    {"deblock", deblock, METH_VARARGS, deblock_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "svdcodec._patchc",
    "The patch layout's decoder in C: bit-exact with svdcodec.patch (spec section 12).", -1,
    methods, NULL, NULL, NULL, NULL,
};

/* The constants this file shares with the Python reference, exported so that a test can check
   they agree (tests/test_patchc.py): a copy that drifted would otherwise be caught only by
   the bit-exactness tests, and only where a vector reaches it. */
PyMODINIT_FUNC PyInit__patchc(void) {
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    if (PyModule_AddIntConstant(m, "ESCAPE", ESCAPE) < 0 ||
        PyModule_AddIntConstant(m, "ESCAPE_MAX", ESCAPE_MAX) < 0 ||
        PyModule_AddObject(m, "EXACT_LIMIT", PyLong_FromUnsignedLongLong(EXACT_LIMIT)) < 0 ||
        PyModule_AddIntConstant(m, "MAX_PARITY", MAX_PARITY) < 0 ||
        PyModule_AddIntConstant(m, "FIX_CR_R", FIX_CR_R) < 0 ||
        PyModule_AddIntConstant(m, "FIX_CB_G", FIX_CB_G) < 0 ||
        PyModule_AddIntConstant(m, "FIX_CR_G", FIX_CR_G) < 0 ||
        PyModule_AddIntConstant(m, "FIX_CB_B", FIX_CB_B) < 0 ||
        PyModule_AddIntConstant(m, "FIX_HALF", FIX_HALF) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}

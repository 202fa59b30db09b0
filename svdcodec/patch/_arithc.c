/*
 * _arithc: the arithmetic-coded payload of the patch layout (spec/svdi.md section 13) in C.
 *
 * An optional accelerator of svdcodec/patch/arith.py, the reference, with which it MUST agree bit
 * for bit: encode() writes the same bytes, decode() accepts the same payloads and gives the
 * same coefficients (tests/test_arith.py compares both on random planes and mutated payloads).
 * decode() transcodes the plane into the byte layout of section 12.3 (multipliers, parities,
 * basis, DC symbols, counts, component-major AC symbols, escapes), so that _patchc's
 * reconstruction, already checked against the reference, does the rest.
 *
 * Both directions run without the GIL and allocate with PyMem_RawMalloc only. A malformed
 * payload gives an error message (a str) that the caller raises as CorruptError.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "_samples.h"

/* The strip decoder may entropy-decode plane 0 on a second thread (POSIX threads only; the
   decoder is serial elsewhere and gives the same samples and errors either way). */
#if !defined(_WIN32) && (defined(__unix__) || defined(__APPLE__))
#include <pthread.h>
#define HAVE_THREADS 1
#else
#define HAVE_THREADS 0
#endif

/* section 13.2: the range coder */
#define PROB_BITS 16
#define PROB_INIT (1u << (PROB_BITS - 1))
#define RATE_MAX 6
#define COUNT_MAX ((1 << RATE_MAX) - 2)
#define RANGE_TOP (1u << 24)
#define INIT_BYTES 4
/* section 13.3: binarization */
#define UINT_PREFIX 8
#define UINT_SUFFIX_G 6
#define UINT_SUFFIX_I 3
#define UINT_SET (UINT_PREFIX + UINT_SUFFIX_G * UINT_SUFFIX_I)
#define UINT_MAX_G 31
#define SIGNED_SET (2 + UINT_SET)
#define DC_MAX ((1 << 29) - 1)
#define COEFFICIENT_MAX ((1 << 30) - 1)
#define MULTIPLIER_MAX 4294967295LL
/* section 13.4: contexts */
#define DC_CLASSES 10
#define DC_NEIGHBOURS 2
#define COUNT_CLASSES 12
#define J_CLASSES 13
#define SIG_NEIGHBOURS 5
#define SIG_PREVIOUS 3
#define MAG_J 7
#define MAG_NEIGHBOURS 5
#define SIGN_J 4
#define SIGN_NEIGHBOURS 9
#define CTX_MULT_FIRST 0
#define CTX_MULT_DELTA (CTX_MULT_FIRST + UINT_SET)
#define CTX_PARITY (CTX_MULT_DELTA + SIGNED_SET)
#define CTX_BASIS (CTX_PARITY + 3)
#define CTX_DC (CTX_BASIS + SIGNED_SET)
#define CTX_COUNT (CTX_DC + DC_CLASSES * DC_NEIGHBOURS * SIGNED_SET)
#define CTX_SIG (CTX_COUNT + COUNT_CLASSES * UINT_SET)
#define CTX_MAG (CTX_SIG + J_CLASSES * SIG_NEIGHBOURS * SIG_PREVIOUS)
#define CTX_SIGN (CTX_MAG + MAG_J * MAG_NEIGHBOURS * UINT_SET)
#define CONTEXTS (CTX_SIGN + SIGN_J * SIGN_NEIGHBOURS)
/* section 12.3: the byte layout decode() transcodes to */
#define ESCAPE 255u
#define MAX_PATCHES ((Py_ssize_t)1 << 36)

#if defined(__GNUC__)
#define ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define ALWAYS_INLINE inline
#endif

static uint8_t RATE[COUNT_MAX + 1];
static const int32_t ZEROS[256];  /* the coefficients of a patch outside the grid */
static uint8_t J_CLASS[256];     /* min(bucket(j), J_CLASSES - 1) */
static uint8_t COUNT_CLASS[511]; /* min(bucket(t), COUNT_CLASSES - 1), t <= 2 * 255 */

static int bit_length(uint64_t x) {
#if defined(__GNUC__)
    return x ? 64 - __builtin_clzll(x) : 0;
#else
    int b = 0;
    while (x) {
        b++;
        x >>= 1;
    }
    return b;
#endif
}

static int bucket(int t) {
    if (t < 4) return t;
    int b = bit_length((uint64_t)t);
    return 2 * b - 2 + ((t >> (b - 2)) & 1);
}

static int64_t med(int64_t a, int64_t b, int64_t c) {
    int64_t mx = a > b ? a : b, mn = a < b ? a : b;
    if (c >= mx) return mn;
    if (c <= mn) return mx;
    return a + b - c;
}

static int imin(int a, int b) { return a < b ? a : b; }

/* --- the coder: one struct for both directions ------------------------------------------- */
/* per context: probability and count, both uint16_t: stores of a uint8_t (a char type) or a
   uint32_t may alias the range and code of a coder in memory, and the compiler would reload
   them after every bin (measured 10-20 % slower) */
typedef struct {
    uint16_t p, n;
} Ctx;

/* The contexts live outside the coder (CONTEXTS_BYTES after a Syntax, or in a StripPlane), so
   that code_row can keep a copy of the coder in registers (see there). */
typedef struct {
    Ctx *state;
    uint32_t range;
    /* decoder */
    uint32_t code;
    const uint8_t *in;
    size_t len, pos;
    int past_end;
    /* encoder */
    uint64_t low;
    uint8_t cache;
    uint64_t cache_size;
    uint8_t *out;
    size_t out_len, out_cap;
    int oom;
} Coder;

static void coder_init(Coder *c, Ctx *state) {
    c->state = state;
    for (int i = 0; i < CONTEXTS; i++) {
        c->state[i].p = PROB_INIT;
        c->state[i].n = 0;
    }
    c->range = 0xFFFFFFFFu;
}

static inline void adapt(Coder *c, int ctx, int bit) {
    uint32_t p = c->state[ctx].p, n = c->state[ctx].n;
    int s = RATE[n];
    c->state[ctx].n = (uint16_t)(n + (n < COUNT_MAX));
    c->state[ctx].p = (uint16_t)(bit ? p - (p >> s) : p + (((1u << PROB_BITS) - p) >> s));
}

/* Without branches on the bin's value (unpredictable for significance bins): the interval's
   update and the adaptation are selected with masks, the same arithmetic as adapt(). */
static inline int dec_bit(Coder *c, int ctx) {
    Ctx *st = &c->state[ctx];
    uint32_t p = st->p, n = st->n;
    uint32_t bound = (c->range >> PROB_BITS) * p;
    uint32_t bit = c->code >= bound, mask = 0u - bit;
    c->code -= bound & mask;
    c->range = (bound & ~mask) | ((c->range - bound) & mask);
    int sh = RATE[n];
    uint32_t p1 = p - (p >> sh), p0 = p + (((1u << PROB_BITS) - p) >> sh);
    st->n = (uint16_t)(n + (n < COUNT_MAX));
    st->p = (uint16_t)((p1 & mask) | (p0 & ~mask));
    while (c->range < RANGE_TOP) {
        uint8_t byte = 0;
        if (c->pos < c->len)
            byte = c->in[c->pos];
        else
            c->past_end = 1;
        c->pos++;
        c->range <<= 8;
        c->code = (c->code << 8) | byte;
    }
    return (int)bit;
}

static void put_byte(Coder *c, uint8_t b) {
    if (c->out_len == c->out_cap) {
        size_t cap = c->out_cap ? 2 * c->out_cap : 4096;
        uint8_t *o = PyMem_RawRealloc(c->out, cap);
        if (o == NULL) {
            c->oom = 1;
            return;
        }
        c->out = o;
        c->out_cap = cap;
    }
    c->out[c->out_len++] = b;
}

static void shift_low(Coder *c) {
    if (c->low < 0xFF000000u || c->low >= ((uint64_t)1 << 32)) {
        uint8_t carry = (uint8_t)(c->low >> 32), temp = c->cache;
        do {
            if (!c->oom) put_byte(c, (uint8_t)(temp + carry));
            temp = 0xFF;
        } while (--c->cache_size != 0);
        c->cache = (uint8_t)(c->low >> 24);
    }
    c->cache_size++;
    c->low = (c->low & 0x00FFFFFFu) << 8;
}

static inline int enc_bit(Coder *c, int ctx, int bit) {
    uint32_t bound = (c->range >> PROB_BITS) * c->state[ctx].p;
    if (bit) {
        c->low += bound;
        c->range -= bound;
    } else {
        c->range = bound;
    }
    adapt(c, ctx, bit);
    while (c->range < RANGE_TOP) {
        c->range <<= 8;
        shift_low(c);
    }
    return bit;
}

/* The syntax is written once: ENC selects whether bits are written (value known) or read. */
typedef struct {
    Coder c;
    int enc;
    const char *err;
} Syntax;
#define CONTEXTS_BYTES (sizeof(Ctx) * CONTEXTS)

/* Every syntax function takes ENC as a constant argument and is inlined into the two
   entry points, so that each direction is compiled without the other's branches. */
static ALWAYS_INLINE int code_bit(Syntax *s, const int enc, int ctx, int bit) {
    return enc ? enc_bit(&s->c, ctx, bit) : dec_bit(&s->c, ctx);
}

/* section 13.3: Exp-Golomb with adaptive bins; returns -1 (and sets err) on a prefix > 31 */
static ALWAYS_INLINE int64_t code_uint(Syntax *s, const int enc, uint64_t v, int base) {
    int t = enc ? bit_length(v + 1) - 1 : 0, g = 0;
    /* the first prefix bin apart: v = 0 is the most frequent value, and its branch is
       predicted apart from the loop's */
    if (!code_bit(s, enc, base, t > 0)) return 0;
    g = 1;
    while (code_bit(s, enc, base + imin(g, UINT_PREFIX - 1), g < t)) {
        if (++g > UINT_MAX_G) {
            s->err = "integer prefix longer than 31";
            return -1;
        }
    }
    /* g >= 1 suffix bins; the first apart (g = 1 is the most frequent length) */
    const int row = base + UINT_PREFIX + imin(g - 1, UINT_SUFFIX_G - 1) * UINT_SUFFIX_I;
    uint64_t x = 2 | (uint64_t)code_bit(s, enc, row, (int)(((v + 1) >> (g - 1)) & 1));
    for (int i = 1; i < g; i++)
        x = (x << 1) |
            (uint64_t)code_bit(s, enc, row + imin(i, UINT_SUFFIX_I - 1),
                               (int)(((v + 1) >> (g - 1 - i)) & 1));
    return (int64_t)(x - 1);
}

/* a zero flag, a sign, |v| - 1; *ok = 0 on error */
static ALWAYS_INLINE int64_t code_sint(Syntax *s, const int enc, int64_t v, int base,
                                      int *ok) {
    if (!code_bit(s, enc, base, v != 0)) return 0;
    int negative = code_bit(s, enc, base + 1, v < 0);
    int64_t m = code_uint(s, enc, (uint64_t)(v < 0 ? -v : v) - 1, base + 2);
    if (m < 0) {
        *ok = 0;
        return 0;
    }
    return negative ? -(m + 1) : m + 1;
}

/* The arrays of one plane. Encoding: inputs. Decoding: outputs, q patch-major and packed:
   patch n's counts[n] coefficients follow those of patch n - 1. */
typedef struct {
    int k, hh;
    Py_ssize_t gh, gw;
    int64_t *mult, *parity;
    int8_t *basis;
    int64_t *dc;
    uint8_t *counts;
    int32_t *q;        /* decoding: packed values; encoding: unused */
    const int64_t *qin; /* encoding: dense N x k */
    uint64_t ac_symbols; /* decoding: the header's M, a bound while decoding */
    uint64_t total;      /* decoding: the counts so far */
} PlaneData;

/* Section 13.5: the multipliers, parities and basis quarters that start a plane. */
static ALWAYS_INLINE const char *code_header(Syntax *s, const int enc, PlaneData *pd) {
    const int k = pd->k, hh = pd->hh;
    int ok = 1;
    int64_t prev = 0;
    for (int j = 0; j < k; j++) {
        int64_t m;
        if (j == 0) {
            int64_t v = code_uint(s, enc, enc ? (uint64_t)(pd->mult[0] - 1) : 0, CTX_MULT_FIRST);
            if (v < 0) return s->err;
            m = v + 1;
        } else {
            m = prev + code_sint(s, enc, enc ? pd->mult[j] - prev : 0, CTX_MULT_DELTA, &ok);
            if (!ok) return s->err;
        }
        if (m < 1 || m > MULTIPLIER_MAX) return "multiplier out of range";
        pd->mult[j] = prev = m;
        int par = enc ? (int)pd->parity[j] : 0;
        int b0 = code_bit(s, enc, CTX_PARITY, par & 1);
        int b1 = code_bit(s, enc, CTX_PARITY + 1 + b0, (par >> 1) & 1);
        pd->parity[j] = b0 | (b1 << 1);
        int nonzero = 0;
        for (int i = 0; i < hh; i++) {
            int64_t v = code_sint(s, enc, enc ? pd->basis[j * hh + i] : 0, CTX_BASIS, &ok);
            if (!ok) return s->err;
            if (v < -127 || v > 127) return "basis entries must lie in -127..127";
            nonzero |= v != 0;
            pd->basis[j * hh + i] = (int8_t)v;
        }
        if (!nonzero) return "basis vectors must not be zero";
        if (!enc && s->c.past_end) return "payload ends early";
    }
    return NULL;
}

/* The arrays of one patch row gy being coded: its DC terms and counts (row), those of the row
   above (up, unused when gy = 0), its coefficients (current: gw x k, zero beyond each count)
   and those above; src: the encoder's dense gw x k input. */
typedef struct {
    const int64_t *dc_up;
    int64_t *dc;
    const uint8_t *cnt_up;
    uint8_t *cnt;
    const int32_t *above;
    int32_t *current;
    const int64_t *src;
} RowData;

/* Section 13.5: the patches of patch row gy, in raster order. Decoding, pd->total counts the
   coefficients so far, and pd->q (when not NULL) receives them packed. */
static ALWAYS_INLINE const char *code_row_in(Syntax *s, const int enc, PlaneData *pd,
                                             Py_ssize_t gy, const RowData *rd) {
    const int k = pd->k;
    const Py_ssize_t gw = pd->gw;
    int ok = 1;
    for (Py_ssize_t gx = 0; gx < gw; gx++) {
        int cl = gx ? rd->cnt[gx - 1] : 0, cu = gy ? rd->cnt_up[gx] : 0;
        int t = gx && gy ? cl + cu : (gx ? 2 * cl : (gy ? 2 * cu : 0));
        /* 1. DC term (section 13.5) */
        int64_t pred, act = 0;
        if (gx && gy) {
            int64_t a = rd->dc[gx - 1], b = rd->dc_up[gx], c = rd->dc_up[gx - 1];
            pred = med(a, b, c);
            act = (a > c ? a - c : c - a) + (b > c ? b - c : c - b);
        } else {
            pred = gx ? rd->dc[gx - 1] : (gy ? rd->dc_up[gx] : 0);
        }
        int base = CTX_DC + (imin(bit_length((uint64_t)act), DC_CLASSES - 1) *
                             DC_NEIGHBOURS + (t > 0)) * SIGNED_SET;
        int64_t r = code_sint(s, enc, enc ? rd->dc[gx] - pred : 0, base, &ok);
        if (!ok) return s->err;
        int64_t d = pred + r;
        if (d > DC_MAX || d < -DC_MAX) return "DC term out of range";
        rd->dc[gx] = d;
        /* 2. count */
        int cls = COUNT_CLASS[t];
        int64_t cnt = code_uint(s, enc, enc ? rd->cnt[gx] : 0, CTX_COUNT + cls * UINT_SET);
        if (cnt < 0) return s->err;
        if (cnt > k) return "counts must be <= components";
        rd->cnt[gx] = (uint8_t)cnt;
        if (!enc) {
            pd->total += (uint64_t)cnt;
            if (pd->total > pd->ac_symbols) return "ac_symbols: counts sum to more than it";
        }
        /* 3. coefficients */
        int32_t *row = rd->current + gx * (Py_ssize_t)k;
        /* a missing neighbour reads as zeros (its count, cl or cu, is 0 too) */
        const int32_t *ql = gx ? row - k : ZEROS, *qu = gy ? rd->above + gx * (Py_ssize_t)k : ZEROS;
        const int64_t *src = enc ? rd->src + gx * (Py_ssize_t)k : NULL;
        int pv = 0;  /* whether components j - 1 and j - 2 are non-zero, as a count */
        int nz1 = 0; /* whether component j - 1 is non-zero */
        for (int j = 0; j < (int)cnt; j++) {
            int32_t vl = ql[j], vu = qu[j], v = 0;
            int jb = J_CLASS[j], significant = 1;
            if (j < cnt - 1) {
                /* 0 beyond the neighbour's count, 1 for a zero, 2 otherwise (a non-zero q lies
                   within its count) */
                int sl = (j < cl) + (vl != 0), su = (j < cu) + (vu != 0);
                int ctx = CTX_SIG + (jb * SIG_NEIGHBOURS + sl + su) * SIG_PREVIOUS + pv;
                significant = code_bit(s, enc, ctx, src ? src[j] != 0 : 0);
            }
            if (significant) {
                int64_t mn = (int64_t)abs(vl) + abs(vu);
                /* mn < 3: mn; 3 or 4: 3; else 4 (without branches: mn is unpredictable) */
                int mcls = (int)(mn < 3 ? mn : 3) + (mn >= 5);
                int mbase = CTX_MAG + (imin(jb, MAG_J - 1) * MAG_NEIGHBOURS + mcls) * UINT_SET;
                int64_t m = code_uint(s, enc,
                                      src ? (uint64_t)(src[j] < 0 ? -src[j] : src[j]) - 1 : 0,
                                      mbase);
                if (m < 0) return s->err;
                m += 1;
                if (m > COEFFICIENT_MAX) return "coefficient magnitude out of range";
                /* sigma = 0 (zero), 1 (positive), 2 (negative), without branches */
                int sgn = ((vl > 0) + 2 * (vl < 0)) * 3 + (vu > 0) + 2 * (vu < 0);
                if (code_bit(s, enc, CTX_SIGN + imin(j, SIGN_J - 1) * SIGN_NEIGHBOURS + sgn,
                             src ? src[j] < 0 : 0))
                    m = -m;
                v = (int32_t)m;
            }
            row[j] = v;
            /* row[j - 1] != 0 + row[j - 2] != 0 for the next component */
            pv = (v != 0) + nz1;
            nz1 = v != 0;
        }
        /* components beyond the count are zero for the neighbours' contexts */
        for (int j = (int)cnt; j < k; j++) row[j] = 0;
        if (!enc) {
            if (pd->q != NULL)
                memcpy(pd->q + (pd->total - (uint64_t)cnt), row, sizeof(int32_t) * (size_t)cnt);
            if (s->c.past_end) return "payload ends early";
        }
    }
    return NULL;
}

/* code_row_in on a local copy of the coder: its address does not escape (everything it is
   passed to is inlined), so the compiler keeps range, code and the read position in registers,
   whereas stores of coefficients (int32) or counts (uint8) may alias a coder in memory and
   force a reload after each. */
static ALWAYS_INLINE const char *code_row(Syntax *s, const int enc, PlaneData *pd,
                                          Py_ssize_t gy, const RowData *rd) {
    Syntax local = *s;
    const char *err = code_row_in(&local, enc, pd, gy, rd);
    *s = local;
    return err;
}

/* A whole plane: the header, then every patch row (dc and counts: N entries, raster order). */
static ALWAYS_INLINE const char *code_plane(Syntax *s, const int enc, PlaneData *pd,
                                            int32_t *above, int32_t *current) {
    const char *err = code_header(s, enc, pd);
    if (err != NULL) return err;
    const Py_ssize_t gw = pd->gw;
    for (Py_ssize_t gy = 0; gy < pd->gh; gy++) {
        RowData rd = {gy ? pd->dc + (gy - 1) * gw : NULL, pd->dc + gy * gw,
                      gy ? pd->counts + (gy - 1) * gw : NULL, pd->counts + gy * gw, above,
                      current, enc ? pd->qin + gy * gw * (Py_ssize_t)pd->k : NULL};
        err = code_row(s, enc, pd, gy, &rd);
        if (err != NULL) return err;
        int32_t *tmp = above;
        above = current;
        current = tmp;
    }
    if (!enc && pd->total != pd->ac_symbols) return "ac_symbols: counts sum to less than it";
    return NULL;
}

static const char *decode_plane_syntax(Syntax *s, PlaneData *pd, int32_t *above,
                                       int32_t *current) {
    return code_plane(s, 0, pd, above, current);
}

static const char *encode_plane_syntax(Syntax *s, PlaneData *pd, int32_t *above,
                                       int32_t *current) {
    return code_plane(s, 1, pd, above, current);
}

/* --- decode -------------------------------------------------------------------------------- */
static const char OUT_OF_MEMORY[] = "out of memory";
static const char BOUND_EXCEEDED[] = "accumulator bound >= 2^53";

static void put_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t zigzag(int64_t v) { return v >= 0 ? (uint32_t)(2 * v) : (uint32_t)(-2 * v - 1); }

typedef struct {
    uint8_t *raw;
    size_t raw_len;
    uint32_t escapes;
} Transcoded;

/* Section 12.3's byte layout of a decoded plane (the escapes are counted, then written). */
static const char *transcode(const PlaneData *pd, Transcoded *t) {
    const int k = pd->k, hh = pd->hh;
    const Py_ssize_t n_patches = pd->gh * pd->gw, gw = pd->gw;
    const uint64_t m_total = pd->ac_symbols;
    uint64_t n_esc = 0;
    for (Py_ssize_t n = 0; n < n_patches; n++) {
        Py_ssize_t gx = n % gw;
        int64_t left = gx ? pd->dc[n - 1] : (n >= gw ? pd->dc[n - gw] : 0);
        n_esc += zigzag(pd->dc[n] - left) >= ESCAPE;
    }
    for (uint64_t i = 0; i < m_total; i++) n_esc += zigzag(pd->q[i]) >= ESCAPE;
    size_t len = (size_t)k * (5 + (size_t)hh) + 2 * (size_t)n_patches + (size_t)m_total +
                 4 * (size_t)n_esc;
    uint8_t *raw = PyMem_RawMalloc(len ? len : 1);
    Py_ssize_t *start = PyMem_RawMalloc(sizeof(Py_ssize_t) * (size_t)(k + 1));
    int32_t *cm = PyMem_RawMalloc(sizeof(int32_t) * (size_t)(m_total ? m_total : 1));
    if (raw == NULL || start == NULL || cm == NULL) {
        PyMem_RawFree(raw);
        PyMem_RawFree(start);
        PyMem_RawFree(cm);
        return OUT_OF_MEMORY;
    }
    uint8_t *mult = raw, *par = mult + 4 * (size_t)k, *basis = par + k,
            *dcs = basis + (size_t)k * hh, *counts = dcs + n_patches, *ac = counts + n_patches,
            *esc = ac + m_total;
    for (int j = 0; j < k; j++) {
        put_u32(mult + 4 * j, (uint32_t)pd->mult[j]);
        par[j] = (uint8_t)pd->parity[j];
    }
    memcpy(basis, pd->basis, (size_t)k * hh);
    memcpy(counts, pd->counts, (size_t)n_patches);
    size_t e = 0;
    for (Py_ssize_t n = 0; n < n_patches; n++) {  /* section 12.4: left (first column: up) */
        Py_ssize_t gx = n % gw;
        int64_t left = gx ? pd->dc[n - 1] : (n >= gw ? pd->dc[n - gw] : 0);
        uint32_t u = zigzag(pd->dc[n] - left);
        dcs[n] = u >= ESCAPE ? ESCAPE : (uint8_t)u;
        if (u >= ESCAPE) put_u32(esc + 4 * e++, u - ESCAPE);
    }
    /* component-major order: start[j] = the patches with count > j, summed over j' < j */
    Py_ssize_t hist[257] = {0};
    for (Py_ssize_t n = 0; n < n_patches; n++) hist[pd->counts[n]]++;
    Py_ssize_t remaining = n_patches, pos = 0;
    for (int j = 0; j < k; j++) {
        remaining -= hist[j];
        start[j] = pos;
        pos += remaining;
    }
    const int32_t *qv = pd->q;
    for (Py_ssize_t n = 0; n < n_patches; n++)
        for (int j = 0; j < pd->counts[n]; j++) cm[start[j]++] = *qv++;
    for (uint64_t i = 0; i < m_total; i++) {
        uint32_t u = zigzag(cm[i]);
        ac[i] = u >= ESCAPE ? ESCAPE : (uint8_t)u;
        if (u >= ESCAPE) put_u32(esc + 4 * e++, u - ESCAPE);
    }
    PyMem_RawFree(start);
    PyMem_RawFree(cm);
    t->raw = raw;
    t->raw_len = len;
    t->escapes = (uint32_t)n_esc;
    return NULL;
}

static const char *decode_impl(const uint8_t *in, size_t len, PlaneData *pd, Transcoded *t) {
    const Py_ssize_t n_patches = pd->gh * pd->gw;
    const int k = pd->k;
    Syntax *s = PyMem_RawMalloc(sizeof(Syntax) + CONTEXTS_BYTES);
    pd->mult = PyMem_RawMalloc(sizeof(int64_t) * (size_t)(2 * k + 1));
    pd->basis = PyMem_RawMalloc((size_t)k * pd->hh + 1);
    pd->dc = PyMem_RawMalloc(sizeof(int64_t) * (size_t)n_patches);
    pd->counts = PyMem_RawMalloc((size_t)n_patches);
    pd->q = PyMem_RawMalloc(sizeof(int32_t) * (size_t)(pd->ac_symbols ? pd->ac_symbols : 1));
    int32_t *rows = PyMem_RawMalloc(sizeof(int32_t) * (size_t)(2 * pd->gw * k + 1));
    const char *err = NULL;
    if (s == NULL || pd->mult == NULL || pd->basis == NULL || pd->dc == NULL ||
        pd->counts == NULL || pd->q == NULL || rows == NULL) {
        err = OUT_OF_MEMORY;
    } else {
        pd->parity = pd->mult + k;
        coder_init(&s->c, (Ctx *)(s + 1));
        s->enc = 0;
        s->err = NULL;
        s->c.in = in;
        s->c.len = len;
        s->c.pos = INIT_BYTES;
        s->c.past_end = 0;
        s->c.code = (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 | (uint32_t)in[2] << 8 | in[3];
        err = decode_plane_syntax(s, pd, rows, rows + pd->gw * k);
        if (err == NULL && s->c.past_end) err = "payload ends early";
        if (err == NULL && s->c.pos != len) err = "bytes after the last symbol";
        if (err == NULL) err = transcode(pd, t);
    }
    PyMem_RawFree(s);
    PyMem_RawFree(pd->mult);
    PyMem_RawFree(pd->basis);
    PyMem_RawFree(pd->dc);
    PyMem_RawFree(pd->counts);
    PyMem_RawFree(pd->q);
    PyMem_RawFree(rows);
    return err;
}

PyDoc_STRVAR(decode_doc,
"decode(payload, k, half, gh, gw, ac_symbols) -> (raw, escapes) | str\n\n"
"Decode one arithmetic-coded PTCH payload (spec section 13) and return it transcoded to the\n"
"byte layout of section 12.3 with its number of escapes, or the message of the\n"
"CorruptError the payload deserves.");

static PyObject *decode(PyObject *self, PyObject *args) {
    Py_buffer in;
    int k, half;
    Py_ssize_t gh, gw;
    unsigned long long ac_symbols;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*iinnK", &in, &k, &half, &gh, &gw, &ac_symbols)) return NULL;
    PyObject *result = NULL;
    if (!(half == 2 || half == 4 || half == 8) || k < 0 || k > 4 * half * half - 1 || gh < 1 ||
        gw < 1 || gh > MAX_PATCHES / gw || ac_symbols > (unsigned long long)(gh * gw) * k) {
        PyErr_SetString(PyExc_ValueError, "decode: parameters out of range");
        goto done;
    }
    if ((size_t)in.len < INIT_BYTES) {
        result = PyUnicode_FromFormat("arith payload: expected at least %d bytes, got %zd",
                                      INIT_BYTES, in.len);
        goto done;
    }
    PlaneData pd = {k, half * half, gh, gw, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                    ac_symbols, 0};
    Transcoded t = {NULL, 0, 0};
    const char *err;
    Py_BEGIN_ALLOW_THREADS
    err = decode_impl(in.buf, (size_t)in.len, &pd, &t);
    Py_END_ALLOW_THREADS
    if (err == OUT_OF_MEMORY) {
        PyErr_NoMemory();
    } else if (err != NULL) {
        result = PyUnicode_FromFormat("arith payload: %s", err);
    } else {
        PyObject *raw = PyBytes_FromStringAndSize((const char *)t.raw, (Py_ssize_t)t.raw_len);
        if (raw != NULL) result = Py_BuildValue("(NI)", raw, (unsigned int)t.escapes);
    }
    PyMem_RawFree(t.raw);
done:
    PyBuffer_Release(&in);
    return result;
}

/* --- encode -------------------------------------------------------------------------------- */
/* the coder of an encoder: empty output, contexts at their initial state */
static void encoder_coder_init(Syntax *s, Ctx *states) {
    coder_init(&s->c, states);
    s->enc = 1;
    s->err = NULL;
    s->c.low = 0;
    s->c.cache = 0;
    s->c.cache_size = 1;
    s->c.out = NULL;
    s->c.out_len = s->c.out_cap = 0;
    s->c.oom = 0;
}

/* Each patch's count (1 + its last non-zero component) of n dense patches of k coefficients;
   returns their sum, the payload's M. */
static uint64_t patch_counts(const int64_t *q, int k, Py_ssize_t n, uint8_t *counts) {
    uint64_t total = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        int c = k;
        while (c > 0 && q[i * (Py_ssize_t)k + c - 1] == 0) c--;
        counts[i] = (uint8_t)c;
        total += (uint64_t)c;
    }
    return total;
}

static const char *encode_impl(PlaneData *pd, Coder **out_coder, uint64_t *m_total) {
    const Py_ssize_t n_patches = pd->gh * pd->gw;
    const int k = pd->k;
    Syntax *s = PyMem_RawMalloc(sizeof(Syntax) + CONTEXTS_BYTES);
    int32_t *rows = PyMem_RawMalloc(sizeof(int32_t) * (size_t)(2 * pd->gw * k + 1));
    pd->counts = PyMem_RawMalloc((size_t)n_patches + 1);
    if (s == NULL || rows == NULL || pd->counts == NULL) {
        PyMem_RawFree(s);
        PyMem_RawFree(rows);
        PyMem_RawFree(pd->counts);
        return OUT_OF_MEMORY;
    }
    uint64_t total = patch_counts(pd->qin, k, n_patches, pd->counts);
    encoder_coder_init(s, (Ctx *)(s + 1));
    const char *err = encode_plane_syntax(s, pd, rows, rows + pd->gw * k);
    if (err == NULL)
        for (int i = 0; i < 5; i++) shift_low(&s->c);
    if (err == NULL && s->c.oom) err = OUT_OF_MEMORY;
    PyMem_RawFree(rows);
    PyMem_RawFree(pd->counts);
    if (err != NULL) {
        PyMem_RawFree(s->c.out);
        PyMem_RawFree(s);
        return err;
    }
    *out_coder = &s->c;  /* s->c is the first member: freeing it frees s */
    *m_total = total;
    return NULL;
}

static int check_array(Py_buffer *b, Py_ssize_t itemsize, Py_ssize_t count, const char *name) {
    if (b->itemsize != itemsize || b->len != itemsize * count) {
        PyErr_Format(PyExc_ValueError, "encode: %s must hold %zd items of %zd bytes", name,
                     count, itemsize);
        return -1;
    }
    return 0;
}

/* The ranges the decoder enforces, so that an encoder error is a ValueError; -1 if not */
static int check_header_values(const int64_t *mult, const int64_t *par, int k) {
    for (int j = 0; j < k; j++)
        if (mult[j] < 1 || mult[j] > MULTIPLIER_MAX || par[j] < 0 || par[j] > 3) {
            PyErr_SetString(PyExc_ValueError, "encode: multiplier or parity out of range");
            return -1;
        }
    return 0;
}

static int check_row_values(const int64_t *dcv, const int64_t *qv, Py_ssize_t n, int k) {
    for (Py_ssize_t i = 0; i < n; i++)
        if (dcv[i] > DC_MAX || dcv[i] < -DC_MAX) {
            PyErr_SetString(PyExc_ValueError, "encode: DC term out of range");
            return -1;
        }
    for (Py_ssize_t i = 0; i < n * k; i++)
        if (qv[i] > COEFFICIENT_MAX || qv[i] < -COEFFICIENT_MAX) {
            PyErr_SetString(PyExc_ValueError, "encode: coefficient out of range");
            return -1;
        }
    return 0;
}

PyDoc_STRVAR(encode_doc,
"encode(multipliers, parities, basis, dc, q, k, half, gh, gw) -> (payload, ac_symbols)\n\n"
"The arithmetic-coded PTCH payload (spec section 13) of a plane: int64 multipliers and\n"
"parities (k), int8 basis quarters (k x half x half), int64 DC terms (gh x gw) and int64\n"
"coefficients (gh gw x k), all C-contiguous. Values out of the section's ranges raise\n"
"ValueError.");

static PyObject *encode(PyObject *self, PyObject *args) {
    Py_buffer mb, pb, bb, db, qb;
    int k, half;
    Py_ssize_t gh, gw;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*iinn", &mb, &pb, &bb, &db, &qb, &k, &half, &gh, &gw))
        return NULL;
    PyObject *result = NULL;
    if (!(half == 0 || half == 2 || half == 4 || half == 8) || k < 0 || k > 255 ||
        (k > 0 && k > 4 * half * half - 1) || gh < 1 || gw < 1 || gh > MAX_PATCHES / gw) {
        PyErr_SetString(PyExc_ValueError, "encode: parameters out of range");
        goto done;
    }
    Py_ssize_t n_patches = gh * gw, hh = (Py_ssize_t)half * half;
    if (check_array(&mb, 8, k, "multipliers") || check_array(&pb, 8, k, "parities") ||
        check_array(&bb, 1, k * hh, "basis") || check_array(&db, 8, n_patches, "dc") ||
        check_array(&qb, 8, n_patches * k, "q"))
        goto done;
    /* the ranges the decoder enforces, so that an encoder error is a ValueError */
    const int64_t *mult = mb.buf, *par = pb.buf, *dcv = db.buf, *qv = qb.buf;
    if (check_header_values(mult, par, k) || check_row_values(dcv, qv, n_patches, k)) goto done;
    int64_t *mcopy = PyMem_RawMalloc(sizeof(int64_t) * (size_t)(2 * k + 1));
    int8_t *bcopy = PyMem_RawMalloc((size_t)(k * hh + 1));
    int64_t *dcopy = PyMem_RawMalloc(sizeof(int64_t) * (size_t)n_patches);
    if (mcopy == NULL || bcopy == NULL || dcopy == NULL) {
        PyMem_RawFree(mcopy);
        PyMem_RawFree(bcopy);
        PyMem_RawFree(dcopy);
        PyErr_NoMemory();
        goto done;
    }
    /* code_plane writes back what it codes: work on copies of the caller's arrays */
    memcpy(mcopy, mult, sizeof(int64_t) * (size_t)k);
    memcpy(mcopy + k, par, sizeof(int64_t) * (size_t)k);
    memcpy(bcopy, bb.buf, (size_t)(k * hh));
    memcpy(dcopy, dcv, sizeof(int64_t) * (size_t)n_patches);
    PlaneData pd = {k, (int)hh, gh, gw, mcopy, mcopy + k, bcopy, dcopy, NULL, NULL, qv, 0, 0};
    Coder *c = NULL;
    uint64_t m_total = 0;
    const char *err;
    Py_BEGIN_ALLOW_THREADS
    err = encode_impl(&pd, &c, &m_total);
    Py_END_ALLOW_THREADS
    PyMem_RawFree(mcopy);
    PyMem_RawFree(bcopy);
    PyMem_RawFree(dcopy);
    if (err == OUT_OF_MEMORY) {
        PyErr_NoMemory();
    } else if (err != NULL) {
        PyErr_Format(PyExc_ValueError, "encode: %s", err);
    } else {
        /* the first byte is always 0 and never read (section 13.2) */
        PyObject *payload = PyBytes_FromStringAndSize((const char *)c->out + 1,
                                                      (Py_ssize_t)c->out_len - 1);
        if (payload != NULL) result = Py_BuildValue("(NK)", payload, (unsigned long long)m_total);
        PyMem_RawFree(c->out);
        PyMem_RawFree(c);
    }
done:
    PyBuffer_Release(&mb);
    PyBuffer_Release(&pb);
    PyBuffer_Release(&bb);
    PyBuffer_Release(&db);
    PyBuffer_Release(&qb);
    return result;
}

/* --- encode in strips: a coder that keeps its state between calls --------------------------- */
/* The encoder of a plane too large for its coefficients to be held at once (issue 13): the
   header (code_header), then patch rows as they are quantized (code_row, as encode() and the
   decoders code them), then the flush. It keeps what the next row's contexts read: the DC
   terms, counts and coefficients of the last row coded (two-row buffers, as a StripPlane's), so
   the bits are those of encode() on the whole plane. */
typedef struct {
    PlaneData pd;       /* k, hh, gh, gw (the header's arrays only while encoder_start runs) */
    Syntax s;
    Ctx states[CONTEXTS];
    Py_ssize_t next_gy; /* the next patch row to code */
    int64_t *dc;        /* 2 gw: the DC terms of patch rows gy - 1 and gy (by parity of gy) */
    uint8_t *cnt;       /* 2 gw: their counts */
    int32_t *q;         /* 2 gw k: their coefficients */
    uint64_t m_total;
    int failed, busy;
} StripEncoder;

static const char STRIP_ENCODER[] = "svdcodec.patch._arithc.StripEncoder";

static void strip_encoder_free(StripEncoder *e) {
    if (e == NULL) return;
    PyMem_RawFree(e->s.c.out);
    PyMem_RawFree(e->dc);
    PyMem_RawFree(e->cnt);
    PyMem_RawFree(e->q);
    PyMem_RawFree(e);
}

static void strip_encoder_capsule_free(PyObject *capsule) {
    strip_encoder_free(PyCapsule_GetPointer(capsule, STRIP_ENCODER));
}

PyDoc_STRVAR(encoder_start_doc,
"encoder_start(multipliers, parities, basis, k, half, gh, gw) -> encoder\n\n"
"Start the arithmetic-coded payload of a plane coded in strips: its header (int64 multipliers\n"
"and parities, int8 basis quarters) is coded now, the patch rows by encoder_rows, in order.");

static PyObject *encoder_start(PyObject *self, PyObject *args) {
    Py_buffer mb, pb, bb;
    int k, half;
    Py_ssize_t gh, gw;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*y*y*iinn", &mb, &pb, &bb, &k, &half, &gh, &gw)) return NULL;
    PyObject *result = NULL;
    if (!(half == 0 || half == 2 || half == 4 || half == 8) || k < 0 || k > 255 ||
        (k > 0 && k > 4 * half * half - 1) || gh < 1 || gw < 1 || gh > MAX_PATCHES / gw) {
        PyErr_SetString(PyExc_ValueError, "encoder_start: parameters out of range");
        goto done;
    }
    Py_ssize_t hh = (Py_ssize_t)half * half;
    if (check_array(&mb, 8, k, "multipliers") || check_array(&pb, 8, k, "parities") ||
        check_array(&bb, 1, k * hh, "basis") || check_header_values(mb.buf, pb.buf, k))
        goto done;
    StripEncoder *e = PyMem_RawCalloc(1, sizeof(StripEncoder));
    int64_t *mcopy = PyMem_RawMalloc(sizeof(int64_t) * (size_t)(2 * k + 1));
    int8_t *bcopy = PyMem_RawMalloc((size_t)(k * hh + 1));
    if (e != NULL) {
        e->dc = PyMem_RawMalloc(sizeof(int64_t) * (size_t)(2 * gw));
        e->cnt = PyMem_RawMalloc((size_t)(2 * gw));
        e->q = PyMem_RawMalloc(sizeof(int32_t) * (size_t)(2 * gw * k + 1));
    }
    if (e == NULL || mcopy == NULL || bcopy == NULL || e->dc == NULL || e->cnt == NULL ||
        e->q == NULL) {
        PyMem_RawFree(mcopy);
        PyMem_RawFree(bcopy);
        strip_encoder_free(e);
        PyErr_NoMemory();
        goto done;
    }
    /* code_header writes back what it codes: it works on copies of the caller's arrays */
    memcpy(mcopy, mb.buf, sizeof(int64_t) * (size_t)k);
    memcpy(mcopy + k, pb.buf, sizeof(int64_t) * (size_t)k);
    memcpy(bcopy, bb.buf, (size_t)(k * hh));
    PlaneData pd = {k, (int)hh, gh, gw, mcopy, mcopy + k, bcopy, NULL, NULL, NULL, NULL, 0, 0};
    e->pd = pd;
    encoder_coder_init(&e->s, e->states);
    const char *err = code_header(&e->s, 1, &e->pd);
    if (err == NULL && e->s.c.oom) err = OUT_OF_MEMORY;
    e->pd.mult = e->pd.parity = NULL;
    e->pd.basis = NULL;
    PyMem_RawFree(mcopy);
    PyMem_RawFree(bcopy);
    if (err != NULL) {
        strip_encoder_free(e);
        if (err == OUT_OF_MEMORY) PyErr_NoMemory();
        else PyErr_Format(PyExc_ValueError, "encode: %s", err);
        goto done;
    }
    result = PyCapsule_New(e, STRIP_ENCODER, strip_encoder_capsule_free);
    if (result == NULL) strip_encoder_free(e);
done:
    PyBuffer_Release(&mb);
    PyBuffer_Release(&pb);
    PyBuffer_Release(&bb);
    return result;
}

/* Code `rows` patch rows (DC terms rows x gw, dense coefficients rows gw x k), each with
   code_row on the two-row buffers; NULL or an error message. */
static const char *strip_encode_rows(StripEncoder *e, const int64_t *dcv, const int64_t *qv,
                                     Py_ssize_t rows) {
    const Py_ssize_t gw = e->pd.gw, k = e->pd.k;
    for (Py_ssize_t i = 0; i < rows; i++) {
        const Py_ssize_t gy = e->next_gy;
        const int cur = (int)(gy & 1), up = cur ^ 1;
        const int64_t *src = qv + i * gw * k;
        memcpy(e->dc + cur * gw, dcv + i * gw, sizeof(int64_t) * (size_t)gw);
        e->m_total += patch_counts(src, (int)k, gw, e->cnt + cur * gw);
        RowData rd = {e->dc + up * gw, e->dc + cur * gw, e->cnt + up * gw, e->cnt + cur * gw,
                      e->q + up * gw * k, e->q + cur * gw * k, src};
        const char *err = code_row(&e->s, 1, &e->pd, gy, &rd);
        if (err == NULL && e->s.c.oom) err = OUT_OF_MEMORY;
        if (err != NULL) return err;
        e->next_gy = gy + 1;
    }
    return NULL;
}

PyDoc_STRVAR(encoder_rows_doc,
"encoder_rows(encoder, dc, q, rows)\n\n"
"Code the next `rows` patch rows: int64 DC terms (rows x gw) and int64 coefficients\n"
"(rows gw x k), C-contiguous.");

static PyObject *encoder_rows(PyObject *self, PyObject *args) {
    PyObject *capsule;
    Py_buffer db, qb;
    Py_ssize_t rows;
    (void)self;
    if (!PyArg_ParseTuple(args, "Oy*y*n", &capsule, &db, &qb, &rows)) return NULL;
    PyObject *result = NULL;
    StripEncoder *e = PyCapsule_GetPointer(capsule, STRIP_ENCODER);
    if (e == NULL) goto done;
    if (e->failed || e->busy || rows < 1 || rows > e->pd.gh - e->next_gy) {
        PyErr_SetString(PyExc_ValueError,
                        "encoder_rows: rows out of range, or the encoder failed or is in use");
        goto done;
    }
    const Py_ssize_t n = rows * e->pd.gw;
    if (check_array(&db, 8, n, "dc") || check_array(&qb, 8, n * e->pd.k, "q") ||
        check_row_values(db.buf, qb.buf, n, e->pd.k))
        goto done;
    const char *err;
    e->busy = 1;  /* another thread may call while this one runs without the GIL */
    Py_BEGIN_ALLOW_THREADS
    err = strip_encode_rows(e, db.buf, qb.buf, rows);
    Py_END_ALLOW_THREADS
    e->busy = 0;
    if (err != NULL) {
        e->failed = 1;
        if (err == OUT_OF_MEMORY) PyErr_NoMemory();
        else PyErr_Format(PyExc_ValueError, "encode: %s", err);
        goto done;
    }
    result = Py_NewRef(Py_None);
done:
    PyBuffer_Release(&db);
    PyBuffer_Release(&qb);
    return result;
}

PyDoc_STRVAR(encoder_finish_doc,
"encoder_finish(encoder) -> (payload, ac_symbols)\n\n"
"Flush the coder once every patch row is coded; the payload is encode()'s for the plane.");

static PyObject *encoder_finish(PyObject *self, PyObject *args) {
    PyObject *capsule;
    (void)self;
    if (!PyArg_ParseTuple(args, "O", &capsule)) return NULL;
    StripEncoder *e = PyCapsule_GetPointer(capsule, STRIP_ENCODER);
    if (e == NULL) return NULL;
    if (e->failed || e->busy || e->next_gy != e->pd.gh) {
        PyErr_SetString(PyExc_ValueError, "encoder_finish: not every patch row was coded");
        return NULL;
    }
    for (int i = 0; i < 5; i++) shift_low(&e->s.c);
    e->failed = 1; /* finished: no more rows */
    if (e->s.c.oom) return PyErr_NoMemory();
    /* the first byte is always 0 and never read (section 13.2) */
    PyObject *payload = PyBytes_FromStringAndSize((const char *)e->s.c.out + 1,
                                                  (Py_ssize_t)e->s.c.out_len - 1);
    if (payload == NULL) return NULL;
    return Py_BuildValue("(NK)", payload, (unsigned long long)e->m_total);
}

/* --- strip decoding (sections 12.4-12.7 on arith planes, one patch row at a time) ----------- */
/* Section 13.5 codes a plane's patches in raster order with contexts from the left and upper
   patches only, so a plane decodes one patch row at a time; deblocking (12.6) changes at most
   two rows on each side of an edge and upsampling (12.7) reads one plane row above and below.
   Each plane keeps the samples of two patch rows (a ring of 2 P rows of the padded width), the
   coefficients, DC terms and counts of the patch row above, and its coder: O(width) memory.
   The accumulator bound of section 12.5 is kept over the patch rows decoded so far and checked
   before each one is reconstructed: it only grows, so a plane whose bound reaches 2^53 is
   refused as the whole-plane decoders refuse it, and every patch reconstructed before is exact. */
typedef struct {
    PlaneData pd;        /* k, hh, gh, gw; mult, parity (2k), basis; ac_symbols, total */
    Syntax s;
    Ctx states[CONTEXTS];
    int index, r, p, bd, shift, sx, sy;
    Py_ssize_t rows, cols, stride; /* the plane before padding; stride = gw P */
    uint32_t m_dc;
    int32_t alpha, beta, tc;
    const uint8_t *payload;
    size_t len;
    int64_t *dc;         /* slots gw: the DC terms of patch row gy in slot gy mod slots */
    uint8_t *cnt;        /* slots gw: their counts */
    int32_t *q;          /* slots gw k: their coefficients */
    int32_t *ring;       /* 2 P rows of stride samples: plane row y in row y mod 2P */
    int32_t *edge;       /* 4 gw: the vertical deblocking's gathered samples */
    double *quarters;    /* r (P/2)^2 basis quarters, then r multipliers */
    uint64_t bmax[256], dmax;
    uint32_t qmax[256];  /* |q| < 2^30 (section 13.3) */
    Py_ssize_t next_gy, final; /* the next patch row to decode; rows < final are final */
    int slots;           /* patch rows of dc, cnt and q kept: 2, or AHEAD_SLOTS when threaded */
    struct Ahead *ahead; /* the thread entropy-decoding this plane ahead, or NULL */
} StripPlane;

static const char *strip_plane_init(StripPlane *sp) {
    const int k = sp->pd.k, hh = sp->pd.hh;
    const Py_ssize_t gw = sp->pd.gw;
    sp->pd.mult = PyMem_RawMalloc(sizeof(int64_t) * (size_t)(2 * k + 1));
    sp->pd.basis = PyMem_RawMalloc((size_t)k * hh + 1);
    const size_t slots = (size_t)sp->slots;
    sp->dc = PyMem_RawMalloc(sizeof(int64_t) * slots * (size_t)gw);
    sp->cnt = PyMem_RawMalloc(slots * (size_t)gw);
    sp->q = PyMem_RawMalloc(sizeof(int32_t) * (slots * (size_t)gw * (size_t)k + 1));
    sp->ring = PyMem_RawMalloc(sizeof(int32_t) * (size_t)(2 * sp->p) * (size_t)sp->stride);
    sp->edge = PyMem_RawMalloc(sizeof(int32_t) * (size_t)(4 * gw));
    sp->quarters = PyMem_RawMalloc(sizeof(double) * (size_t)(k * (hh + 1) + 1));
    if (sp->pd.mult == NULL || sp->pd.basis == NULL || sp->dc == NULL || sp->cnt == NULL ||
        sp->q == NULL || sp->ring == NULL || sp->edge == NULL || sp->quarters == NULL)
        return OUT_OF_MEMORY;
    sp->pd.parity = sp->pd.mult + k;
    if (sp->len < INIT_BYTES) return "expected at least 4 bytes";
    coder_init(&sp->s.c, sp->states);
    sp->s.enc = 0;
    sp->s.err = NULL;
    sp->s.c.in = sp->payload;
    sp->s.c.len = sp->len;
    sp->s.c.pos = INIT_BYTES;
    sp->s.c.past_end = 0;
    const uint8_t *in = sp->payload;
    sp->s.c.code = (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 | (uint32_t)in[2] << 8 | in[3];
    const char *err = code_header(&sp->s, 0, &sp->pd);
    if (err != NULL) return err;
    for (int j = 0; j < sp->r; j++) {
        uint64_t b = 0;
        for (int i = 0; i < hh; i++) {
            int8_t v = sp->pd.basis[j * hh + i];
            sp->quarters[j * hh + i] = (double)v;
            if ((uint64_t)abs(v) > b) b = (uint64_t)abs(v);
        }
        sp->bmax[j] = b;
        sp->qmax[j] = 0;
        sp->quarters[(size_t)k * hh + j] = (double)sp->pd.mult[j];
    }
    sp->dmax = 0;
    return NULL;
}

static void strip_plane_free(StripPlane *sp) {
    PyMem_RawFree(sp->pd.mult);
    PyMem_RawFree(sp->pd.basis);
    PyMem_RawFree(sp->dc);
    PyMem_RawFree(sp->cnt);
    PyMem_RawFree(sp->q);
    PyMem_RawFree(sp->ring);
    PyMem_RawFree(sp->edge);
    PyMem_RawFree(sp->quarters);
}

/* Section 12.5's bound over the patch rows so far, with this row's DC terms and coefficients:
   1 if it reaches 2^53. */
MULTIVERSION
static int strip_bound_exceeded(StripPlane *sp, const RowData *rd, Py_ssize_t gy) {
    const int k = sp->pd.k;
    const int r = sp->r;
    int grew = 0;
    uint32_t *qmax = sp->qmax;
    for (Py_ssize_t gx = 0; gx < sp->pd.gw; gx++) {
        uint64_t a = (uint64_t)(rd->dc[gx] < 0 ? -rd->dc[gx] : rd->dc[gx]);
        if (a > sp->dmax) {
            sp->dmax = a;
            grew = 1;
        }
        const int32_t *qv = rd->current + gx * (Py_ssize_t)k;
        /* over all r components, not the patch's count: those beyond it are 0 (code_row_in),
           and a fixed trip count vectorizes and predicts; |q| <= 2^30 - 1 */
        for (int j = 0; j < r; j++) {
            uint32_t m = (uint32_t)(qv[j] < 0 ? -qv[j] : qv[j]), old = qmax[j];
            grew |= m > old;
            qmax[j] = m > old ? m : old;
        }
    }
    if (!grew && gy > 0) return 0;
    if (sp->shift + sp->bd >= 53) return 1;
    uint64_t bound = UINT64_C(1) << (sp->shift + sp->bd);
    if (bound_add(&bound, sp->dmax, sp->m_dc)) return 1;
    for (int j = 0; j < sp->r; j++)  /* qmax < 2^30 and m_j < 2^32: the product fits */
        if (bound_add(&bound, (uint64_t)sp->qmax[j] * (uint64_t)sp->pd.mult[j], sp->bmax[j]))
            return 1;
    return 0;
}

/* Section 12.5 for one patch row into dst (P rows of stride samples), as _patchc's reconstruct */
MULTIVERSION
static void strip_reconstruct(const StripPlane *sp, const RowData *rd, int32_t *dst) {
    const int k = sp->pd.k, hh = sp->pd.hh, p = sp->p, half = p / 2;
    const double *quarters = sp->quarters, *mult = sp->quarters + (size_t)k * hh;
    const int64_t *parity = sp->pd.parity;
    double s[4 * MAX_HALF * MAX_HALF];
    const double offset = ldexp(1.0, sp->shift - 1) + ldexp(1.0, sp->shift + sp->bd - 1);
    const double scale = ldexp(1.0, -sp->shift), top = (double)((1u << sp->bd) - 1u);
    for (Py_ssize_t gx = 0; gx < sp->pd.gw; gx++) {
        int c = rd->cnt[gx] < sp->r ? rd->cnt[gx] : sp->r;
        const int32_t *qv = rd->current + gx * (Py_ssize_t)k;
        double base = (double)rd->dc[gx] * (double)sp->m_dc + offset;
        int32_t *patch = dst + gx * p;
        if (c == 0) {  /* a flat patch: store_patch's value of every sample, (0 + base) scale */
            double x = base * scale;
            x = x < 0.0 ? 0.0 : x;
            int32_t v = (int32_t)(x > top ? top : x);
            for (int y = 0; y < p; y++)
                for (int i = 0; i < p; i++) patch[y * sp->stride + i] = v;
            continue;
        }
        memset(s, 0, sizeof(double) * 4 * (size_t)hh);
        /* zero coefficients too: a test of q = 0 here is unpredictable (at 1 bpp it cost more
           mispredicted branches than a 16-sample axpy of zeros costs) */
        for (int j = 0; j < c; j++) {
            double coef = (double)qv[j] * mult[j];
            double *acc = s + parity[j] * hh;
            if (hh == 16)
                axpy16(acc, coef, quarters + (size_t)j * 16);
            else
                axpy(acc, coef, quarters + (size_t)j * hh, hh);
        }
        if (hh == 16)
            store_patch(s, base, scale, top, 4, patch, sp->stride);
        else
            store_patch(s, base, scale, top, half, patch, sp->stride);
    }
}

static inline int32_t *ring_row(const StripPlane *sp, Py_ssize_t y) {
    return sp->ring + (y % (2 * sp->p)) * sp->stride;
}

/* Section 12.6 on patch row gy (P rows at dst): its vertical edges, then the horizontal edge
   above it; compiled for AVX2 too (the filter vectorizes). */
MULTIVERSION
static void strip_deblock(StripPlane *sp, Py_ssize_t gy, int32_t *dst) {
    const int p = sp->p;
    const int32_t top = (int32_t)((1u << sp->bd) - 1u);
    for (int y = 0; y < p; y++)
        deblock_row_vertical(dst + y * sp->stride, sp->stride, p, sp->alpha, sp->beta, sp->tc,
                             top, sp->edge);
    if (gy > 0)
        filter_rows(ring_row(sp, gy * p - 2), ring_row(sp, gy * p - 1), dst, dst + sp->stride,
                    sp->stride, sp->alpha, sp->beta, sp->tc, top);
}

/* The coefficient arrays of patch row gy (and of the row above) in their slots */
static RowData strip_row_data(const StripPlane *sp, Py_ssize_t gy) {
    const Py_ssize_t gw = sp->pd.gw, k = sp->pd.k, n = sp->slots;
    const Py_ssize_t cur = gy % n, up = (gy + n - 1) % n;
    RowData rd = {sp->dc + up * gw, sp->dc + cur * gw, sp->cnt + up * gw, sp->cnt + cur * gw,
                  sp->q + up * gw * k, sp->q + cur * gw * k, NULL};
    return rd;
}

/* Entropy-decode and check patch row gy into its slot (the coder and the plane's totals: the
   producer's state); NULL or an error message */
static const char *strip_entropy_row(StripPlane *sp, Py_ssize_t gy) {
    RowData rd = strip_row_data(sp, gy);
    const char *err = code_row(&sp->s, 0, &sp->pd, gy, &rd);
    if (err != NULL) return err;
    if (gy == sp->pd.gh - 1) {  /* the plane's end, checked as decode() checks it */
        if (sp->pd.total != sp->pd.ac_symbols) return "ac_symbols: counts sum to less than it";
        if (sp->s.c.past_end) return "payload ends early";
        if (sp->s.c.pos != sp->len) return "bytes after the last symbol";
    }
    return NULL;
}

/* Check the accumulator bound with the decoded patch row gy, reconstruct and deblock it (the
   consumer's state: the bound's maxima, the ring, final); NULL or BOUND_EXCEEDED */
static const char *strip_pixel_row(StripPlane *sp, Py_ssize_t gy) {
    RowData rd = strip_row_data(sp, gy);
    if (strip_bound_exceeded(sp, &rd, gy)) return BOUND_EXCEEDED;
    const int p = sp->p;
    int32_t *dst = ring_row(sp, gy * p);
    strip_reconstruct(sp, &rd, dst);
    if (sp->alpha) strip_deblock(sp, gy, dst);
    sp->next_gy = gy + 1;
    sp->final = sp->next_gy == sp->pd.gh || !sp->alpha ? sp->next_gy * p : sp->next_gy * p - 2;
    return NULL;
}

/* --- plane 0 ahead on a second thread ---------------------------------------------------------
   The producer entropy-decodes patch rows 0, 1, ... of one plane into slots gy mod AHEAD_SLOTS,
   at most AHEAD_SLOTS rows ahead of the consumer (the decoding thread), which reconstructs row
   gy once it is published. A row is decoded by whichever thread claims it first (`busy`, under
   the mutex): the consumer decodes the row it needs itself when the producer is not on it, so a
   producer that gets no CPU (a loaded machine) costs a row's wait at most, not a stall. Rows are
   claimed, published and released under one mutex, so each slot is written only after the
   consumer is done with it, and the coder's state passes between threads with it. Decoding
   stops at the first error, which the consumer returns when it reaches that row: the same rows
   succeed and the same error is reported as when decoding serially. No Python API and no
   allocation on the producer. */
#define AHEAD_SLOTS 4
typedef struct Ahead {
    StripPlane *sp;
#if HAVE_THREADS
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
#endif
    Py_ssize_t decoded;  /* rows published */
    Py_ssize_t consumed; /* rows the consumer is done with */
    int busy;            /* a thread is decoding row `decoded` */
    const char *err;     /* the error at row `decoded`, or NULL */
    int stop;            /* set by the consumer: end now */
    unsigned gen;        /* bumped (atomically, under the mutex) at every broadcast */
} Ahead;

#if HAVE_THREADS
/* A thread that would sleep on the condition first spins this many pauses (some tens of
   microseconds, about a patch row's entropy decoding) watching `gen`: with both threads on a
   CPU the awaited row or slot usually comes within that, and a wake-up through the kernel,
   once per patch row, is saved. */
#define SPIN_PAUSES 2048
#if defined(__x86_64__) || defined(__i386__)
#define SPIN_PAUSE() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define SPIN_PAUSE() __asm__ __volatile__("yield")
#else
#define SPIN_PAUSE() ((void)0)
#endif

/* Wake the other thread (the lock is held) */
static void ahead_signal(Ahead *a) {
    __atomic_fetch_add(&a->gen, 1u, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&a->cond);
}

/* Wait for the next ahead_signal (the lock is held on entry and on return); the caller then
   tests its condition again */
static void ahead_sleep(Ahead *a) {
    const unsigned gen = __atomic_load_n(&a->gen, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&a->lock);
    for (int i = 0; i < SPIN_PAUSES && __atomic_load_n(&a->gen, __ATOMIC_ACQUIRE) == gen; i++)
        SPIN_PAUSE();
    pthread_mutex_lock(&a->lock);
    while (__atomic_load_n(&a->gen, __ATOMIC_RELAXED) == gen)
        pthread_cond_wait(&a->cond, &a->lock);
}

/* Claim, decode and publish row `decoded`; the lock is held on entry and on return, released
   while decoding */
static void ahead_decode_one(Ahead *a) {
    const Py_ssize_t gy = a->decoded;
    a->busy = 1;
    pthread_mutex_unlock(&a->lock);
    const char *err = strip_entropy_row(a->sp, gy);
    pthread_mutex_lock(&a->lock);
    a->busy = 0;
    if (err != NULL)
        a->err = err;
    else
        a->decoded = gy + 1;
    ahead_signal(a);
}

static void *ahead_main(void *arg) {
    Ahead *a = arg;
    const Py_ssize_t gh = a->sp->pd.gh, slots = a->sp->slots;
    pthread_mutex_lock(&a->lock);
    for (;;) {
        while (!a->stop && a->err == NULL && a->decoded < gh &&
               (a->busy || a->decoded - a->consumed >= slots))
            ahead_sleep(a);
        if (a->stop || a->err != NULL || a->decoded >= gh) break;
        ahead_decode_one(a);
    }
    pthread_mutex_unlock(&a->lock);
    return NULL;
}

/* Start a producer for sp (after strip_plane_init with sp->slots = AHEAD_SLOTS); 0 on failure,
   and the plane is then decoded serially */
static int ahead_start(StripPlane *sp) {
    Ahead *a = PyMem_RawCalloc(1, sizeof(Ahead));
    if (a == NULL) return 0;
    a->sp = sp;
    if (pthread_mutex_init(&a->lock, NULL) != 0) {
        PyMem_RawFree(a);
        return 0;
    }
    if (pthread_cond_init(&a->cond, NULL) != 0) {
        pthread_mutex_destroy(&a->lock);
        PyMem_RawFree(a);
        return 0;
    }
    if (pthread_create(&a->thread, NULL, ahead_main, a) != 0) {
        pthread_cond_destroy(&a->cond);
        pthread_mutex_destroy(&a->lock);
        PyMem_RawFree(a);
        return 0;
    }
    sp->ahead = a;
    return 1;
}

/* Stop and join the producer (it finishes at most the row it is decoding) and free it */
static void ahead_end(StripPlane *sp) {
    Ahead *a = sp->ahead;
    if (a == NULL) return;
    pthread_mutex_lock(&a->lock);
    a->stop = 1;
    ahead_signal(a);
    pthread_mutex_unlock(&a->lock);
    pthread_join(a->thread, NULL);
    pthread_cond_destroy(&a->cond);
    pthread_mutex_destroy(&a->lock);
    PyMem_RawFree(a);
    sp->ahead = NULL;
}

/* The consumer: row gy once published (NULL), decoding it here if the producer is not on it,
   or the error at it. Rows before gy are consumed, so row gy's slot is free. */
static const char *ahead_wait(Ahead *a, Py_ssize_t gy) {
    pthread_mutex_lock(&a->lock);
    while (a->decoded <= gy && a->err == NULL) {
        if (a->busy)
            ahead_sleep(a);
        else
            ahead_decode_one(a);
    }
    const char *err = a->decoded > gy ? NULL : a->err;
    pthread_mutex_unlock(&a->lock);
    return err;
}

/* The consumer is done with rows < n: their slots may be reused */
static void ahead_release(Ahead *a, Py_ssize_t n) {
    pthread_mutex_lock(&a->lock);
    a->consumed = n;
    ahead_signal(a);
    pthread_mutex_unlock(&a->lock);
}
#else
static int ahead_start(StripPlane *sp) {
    (void)sp;
    return 0;
}
static void ahead_end(StripPlane *sp) { (void)sp; }
static const char *ahead_wait(Ahead *a, Py_ssize_t gy) {
    (void)a;
    (void)gy;
    return "no threads";
}
static void ahead_release(Ahead *a, Py_ssize_t n) {
    (void)a;
    (void)n;
}
#endif

/* Decode (or take from the producer), check, reconstruct and deblock patch row next_gy; NULL
   or an error message */
static const char *strip_next_row(StripPlane *sp) {
    const Py_ssize_t gy = sp->next_gy;
    const char *err = sp->ahead != NULL ? ahead_wait(sp->ahead, gy) : strip_entropy_row(sp, gy);
    if (err == NULL) err = strip_pixel_row(sp, gy);
    if (err == NULL && sp->ahead != NULL) ahead_release(sp->ahead, gy + 1);
    return err;
}

/* plane row y once final (decoding patch rows as needed), or NULL with *err set */
static const int32_t *strip_row(StripPlane *sp, Py_ssize_t y, const char **err) {
    while (sp->final <= y) {
        *err = strip_next_row(sp);
        if (*err != NULL) return NULL;
    }
    return ring_row(sp, y);
}

typedef struct {
    StripPlane *planes[4];
    int channels, bd, ycbcr;
    Py_ssize_t height, width, buf_rows;
    int32_t *rows;  /* (channels + 1) x max(width, cols) */
    void *out;
    int failed;     /* the plane whose error is reported */
} Strips;

/* Image rows y0 .. y1 - 1 into out's rows y mod buf_rows; NULL or an error message */
MULTIVERSION
static const char *strips_decode(Strips *st, Py_ssize_t y0, Py_ssize_t y1) {
    PlaneRow pr[4];
    const char *err = NULL;
    for (Py_ssize_t y = y0; y < y1; y++) {
        for (int c = 0; c < st->channels; c++) {
            StripPlane *sp = st->planes[c];
            Py_ssize_t i = sp->sy == 2 ? y >> 1 : y;
            Py_ssize_t i2 = sp->sy == 2 ? neighbour_row(y, sp->rows) : i;
            if (strip_row(sp, i > i2 ? i : i2, &err) == NULL) {
                st->failed = sp->index;
                return err;
            }
            pr[c].a = ring_row(sp, i);
            pr[c].b = ring_row(sp, i2);
            pr[c].cols = sp->cols;
            pr[c].sx = sp->sx;
            pr[c].sy = sp->sy;
        }
        compose_row(pr, st->channels, st->bd, st->ycbcr, st->width, st->rows,
                    st->rows + (size_t)st->channels * st->width, st->out, y % st->buf_rows);
    }
    return NULL;
}

/* Parse one plane tuple of decode_strips (GIL held); -1 with an exception set */
static int strip_plane_parse(PyObject *t, StripPlane *sp, Py_buffer *buf, Py_ssize_t height,
                             Py_ssize_t width, int bd) {
    int k, r, p, sx, sy, shift, alpha, beta, tc;
    Py_ssize_t gh, gw;
    unsigned long long ac_symbols;
    unsigned int m_dc;
    if (!PyTuple_Check(t) ||
        !PyArg_ParseTuple(t, "y*iiiiinnKIiiii", buf, &k, &r, &p, &sx, &sy, &gh, &gw, &ac_symbols,
                          &m_dc, &shift, &alpha, &beta, &tc)) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "decode_strips: planes");
        return -1;
    }
    Py_ssize_t rows = (height + sy - 1) / sy, cols = (width + sx - 1) / sx;
    if (!(p == 4 || p == 8 || p == 16) || k < 0 || k > p * p - 1 || r < 0 || r > k ||
        sx < 1 || sx > 2 || sy < 1 || sy > 2 || gh != (rows + p - 1) / p ||
        gw != (cols + p - 1) / p || gh > MAX_PATCHES / gw ||
        ac_symbols > (unsigned long long)(gh * gw) * k || shift < 1 || shift > 52 || m_dc < 1 ||
        alpha < 0 || beta < 0 || tc < 0 || alpha > 65535 || beta > 65535 || tc > 65535) {
        PyBuffer_Release(buf);
        PyErr_SetString(PyExc_ValueError, "decode_strips: plane parameters out of range");
        return -1;
    }
    memset(sp, 0, sizeof(*sp));
    PlaneData pd = {k, (p / 2) * (p / 2), gh, gw, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                    ac_symbols, 0};
    sp->pd = pd;
    sp->r = r;
    sp->p = p;
    sp->bd = bd;
    sp->shift = shift;
    sp->sx = sx;
    sp->sy = sy;
    sp->rows = rows;
    sp->cols = cols;
    sp->stride = gw * p;
    sp->m_dc = m_dc;
    sp->alpha = alpha;
    sp->beta = beta;
    sp->tc = tc;
    sp->payload = buf->buf;
    sp->len = (size_t)buf->len;
    sp->slots = 2;
    return 0;
}

PyDoc_STRVAR(decode_strips_doc,
"decode_strips(planes, height, width, bit_depth, ycbcr, out, step, sink, threads=1)\n"
"    -> str | None\n\n"
"Decode a patch-layout image of arith planes (spec sections 12.4-12.7, 13) in strips into\n"
"``out``, a writable C-contiguous buffer of S rows of width x C samples (uint8 for bit_depth\n"
"8, native uint16 for 16): image row y goes to out's row y mod S; S >= height or a multiple\n"
"of ``step``. ``planes`` holds C tuples (payload, k, rank, P, sx, sy, gh, gw, ac_symbols,\n"
"dc_multiplier, shift, alpha, beta, tc). After each ``step`` rows, ``sink(y0, y1)`` (if not\n"
"None) is called with the GIL held; an exception it raises stops the decode. With threads=2\n"
"plane 0 is entropy-decoded on a second thread, a few patch rows ahead (the same samples and\n"
"errors; serial where threads are not available). Returns None, or the message of the\n"
"CorruptError the file deserves.");

static PyObject *decode_strips(PyObject *self, PyObject *args) {
    PyObject *planes, *sink;
    Py_ssize_t height, width, step;
    int bd, ycbcr;
    Py_buffer out, bufs[4];
    StripPlane *sps[4] = {NULL, NULL, NULL, NULL};
    int got = 0, channels, threads = 1;
    (void)self;
    if (!PyArg_ParseTuple(args, "O!nniiw*nO|i", &PyTuple_Type, &planes, &height, &width, &bd,
                          &ycbcr, &out, &step, &sink, &threads))
        return NULL;
    PyObject *result = NULL;
    Strips st;
    memset(&st, 0, sizeof(st));
    channels = (int)PyTuple_GET_SIZE(planes);
    Py_ssize_t row_bytes = 0;  /* computed once width and channels are known to be sane */
    if (channels < 1 || channels > 4 || height < 1 || width < 1 || (bd != 8 && bd != 16) ||
        (ycbcr && (channels < 3 || bd != 8)) || width > PY_SSIZE_T_MAX / 8 / channels ||
        (row_bytes = width * channels * (bd / 8), out.len % row_bytes != 0) || out.len == 0 ||
        step < 1 ||
        (out.len / row_bytes < height && (out.len / row_bytes) % step != 0) ||
        (sink != Py_None && !PyCallable_Check(sink)) || threads < 1 || threads > 2) {
        PyErr_SetString(PyExc_ValueError,
                        "decode_strips: bad image geometry, out, step or threads");
        goto done;
    }
    Py_ssize_t widest = width;
    for (; got < channels; got++) {
        sps[got] = PyMem_RawMalloc(sizeof(StripPlane));
        if (sps[got] == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        if (strip_plane_parse(PyTuple_GET_ITEM(planes, got), sps[got], &bufs[got], height, width,
                              bd) < 0) {
            PyMem_RawFree(sps[got]);
            sps[got] = NULL;
            goto done;
        }
        sps[got]->index = got;
        if (got == 0 && threads == 2 && HAVE_THREADS) sps[got]->slots = AHEAD_SLOTS;
        if (sps[got]->cols > widest) widest = sps[got]->cols;
    }
    st.channels = channels;
    st.bd = bd;
    st.ycbcr = ycbcr;
    st.height = height;
    st.width = width;
    st.buf_rows = out.len / row_bytes;
    st.out = out.buf;
    const char *err = NULL;
    Py_BEGIN_ALLOW_THREADS
    st.rows = PyMem_RawMalloc(sizeof(int32_t) * (size_t)widest * (size_t)(channels + 1));
    if (st.rows == NULL) err = OUT_OF_MEMORY;
    for (int c = 0; c < channels && err == NULL; c++) {
        st.planes[c] = sps[c];
        err = strip_plane_init(sps[c]);
        st.failed = c;
    }
    if (err == NULL && sps[0]->slots == AHEAD_SLOTS) ahead_start(sps[0]);
    Py_END_ALLOW_THREADS
    for (Py_ssize_t y0 = 0; y0 < height && err == NULL; y0 += step) {
        Py_ssize_t y1 = y0 + step < height ? y0 + step : height;
        Py_BEGIN_ALLOW_THREADS
        err = strips_decode(&st, y0, y1);
        Py_END_ALLOW_THREADS
        if (err == NULL && sink != Py_None) {
            PyObject *r = PyObject_CallFunction(sink, "nn", y0, y1);
            if (r == NULL) goto done;
            Py_DECREF(r);
        }
    }
    if (err == OUT_OF_MEMORY)
        PyErr_NoMemory();
    else if (err == BOUND_EXCEEDED)
        result = PyUnicode_FromFormat("PTCH %d: values too large: accumulator bound >= 2^53",
                                      st.failed);
    else if (err != NULL)
        result = PyUnicode_FromFormat("PTCH %d: arith payload: %s", st.failed, err);
    else
        result = Py_NewRef(Py_None);
done:
    if (got > 0 && sps[0] != NULL && sps[0]->ahead != NULL) {
        Py_BEGIN_ALLOW_THREADS
        ahead_end(sps[0]);
        Py_END_ALLOW_THREADS
    }
    PyMem_RawFree(st.rows);
    for (int c = 0; c < got; c++) {
        strip_plane_free(sps[c]);
        PyMem_RawFree(sps[c]);
        PyBuffer_Release(&bufs[c]);
    }
    PyBuffer_Release(&out);
    return result;
}

static PyMethodDef methods[] = {
    {"decode", decode, METH_VARARGS, decode_doc},
    {"encode", encode, METH_VARARGS, encode_doc},
    {"decode_strips", decode_strips, METH_VARARGS, decode_strips_doc},
    {"encoder_start", encoder_start, METH_VARARGS, encoder_start_doc},
    {"encoder_rows", encoder_rows, METH_VARARGS, encoder_rows_doc},
    {"encoder_finish", encoder_finish, METH_VARARGS, encoder_finish_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "svdcodec.patch._arithc",
    "The patch layout's arithmetic-coded payload in C: bit-exact with svdcodec.patch.arith "
    "(spec section 13).", -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__arithc(void) {
    for (int n = 0; n <= COUNT_MAX; n++) {
        int s = bit_length((uint64_t)(n + 2)) - 1;
        RATE[n] = (uint8_t)(s < RATE_MAX ? s : RATE_MAX);
    }
    for (int j = 0; j < 256; j++) J_CLASS[j] = (uint8_t)imin(bucket(j), J_CLASSES - 1);
    for (int t = 0; t < 511; t++) COUNT_CLASS[t] = (uint8_t)imin(bucket(t), COUNT_CLASSES - 1);
    PyObject *m = PyModule_Create(&module);
    /* the strip decoder's patch rows of coefficients per threaded plane, which
       svdcodec.patch.decode counts against section 12.8's allocation */
    if (m != NULL && PyModule_AddIntConstant(m, "AHEAD_SLOTS", AHEAD_SLOTS) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}

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

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
typedef struct {
    /* per context: probability and count, both uint16_t: stores of a uint8_t (a char type) or a
       uint32_t may alias the range and code below, and the compiler would reload them after
       every bin (measured 10-20 % slower) */
    struct {
        uint16_t p, n;
    } state[CONTEXTS];
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

static void coder_init(Coder *c) {
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

static inline int dec_bit(Coder *c, int ctx) {
    uint32_t bound = (c->range >> PROB_BITS) * c->state[ctx].p;
    int bit;
    if (c->code < bound) {
        c->range = bound;
        bit = 0;
    } else {
        c->code -= bound;
        c->range -= bound;
        bit = 1;
    }
    adapt(c, ctx, bit);
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
    return bit;
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

/* Every syntax function takes ENC as a constant argument and is inlined into the two
   entry points, so that each direction is compiled without the other's branches. */
static ALWAYS_INLINE int code_bit(Syntax *s, const int enc, int ctx, int bit) {
    return enc ? enc_bit(&s->c, ctx, bit) : dec_bit(&s->c, ctx);
}

/* section 13.3: Exp-Golomb with adaptive bins; returns -1 (and sets err) on a prefix > 31 */
static ALWAYS_INLINE int64_t code_uint(Syntax *s, const int enc, uint64_t v, int base) {
    int t = enc ? bit_length(v + 1) - 1 : 0, g = 0;
    while (code_bit(s, enc, base + imin(g, UINT_PREFIX - 1), g < t)) {
        if (++g > UINT_MAX_G) {
            s->err = "integer prefix longer than 31";
            return -1;
        }
    }
    uint64_t x = 1;
    if (g) {
        int row = base + UINT_PREFIX + imin(g - 1, UINT_SUFFIX_G - 1) * UINT_SUFFIX_I;
        for (int i = 0; i < g; i++)
            x = (x << 1) |
                (uint64_t)code_bit(s, enc, row + imin(i, UINT_SUFFIX_I - 1),
                                   (int)(((v + 1) >> (g - 1 - i)) & 1));
    }
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
    const int64_t *qin; /* encoding: dense N x k, patch n at row n - qin_offset */
    uint64_t ac_symbols; /* decoding: the header's M, a bound while decoding */
    Py_ssize_t qin_offset;
} PlaneData;

/* Rows gy0 .. gh - 1 of the plane (after the header if `header`). The encoder in strips
   (StripEncoder) passes arrays whose row gy0 - 1 is the previous strip's last row; *above
   holds that row's coefficients and holds the last coded row's on return. */
static ALWAYS_INLINE const char *code_plane(Syntax *s, const int enc, PlaneData *pd,
                                            int32_t **above_io, int32_t **current_io,
                                            const Py_ssize_t gy0, const int header) {
    const int k = pd->k, hh = pd->hh;
    int32_t *above = *above_io, *current = *current_io;
    int ok = 1;
    int64_t prev = 0;
    for (int j = 0; header && j < k; j++) {
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
    const Py_ssize_t gw = pd->gw;
    uint64_t total = 0;
    for (Py_ssize_t gy = gy0; gy < pd->gh; gy++) {
        for (Py_ssize_t gx = 0; gx < gw; gx++) {
            Py_ssize_t n = gy * gw + gx;
            int cl = gx ? pd->counts[n - 1] : 0, cu = gy ? pd->counts[n - gw] : 0;
            int t = gx && gy ? cl + cu : (gx ? 2 * cl : (gy ? 2 * cu : 0));
            /* 1. DC term (section 13.5) */
            int64_t pred, act = 0;
            if (gx && gy) {
                int64_t a = pd->dc[n - 1], b = pd->dc[n - gw], c = pd->dc[n - gw - 1];
                pred = med(a, b, c);
                act = (a > c ? a - c : c - a) + (b > c ? b - c : c - b);
            } else {
                pred = gx ? pd->dc[n - 1] : (gy ? pd->dc[n - gw] : 0);
            }
            int base = CTX_DC + (imin(bit_length((uint64_t)act), DC_CLASSES - 1) *
                                 DC_NEIGHBOURS + (t > 0)) * SIGNED_SET;
            int64_t r = code_sint(s, enc, enc ? pd->dc[n] - pred : 0, base, &ok);
            if (!ok) return s->err;
            int64_t d = pred + r;
            if (d > DC_MAX || d < -DC_MAX) return "DC term out of range";
            pd->dc[n] = d;
            /* 2. count */
            int cls = COUNT_CLASS[t];
            int64_t cnt = code_uint(s, enc, enc ? pd->counts[n] : 0, CTX_COUNT + cls * UINT_SET);
            if (cnt < 0) return s->err;
            if (cnt > k) return "counts must be <= components";
            pd->counts[n] = (uint8_t)cnt;
            if (!enc) {
                total += (uint64_t)cnt;
                if (total > pd->ac_symbols) return "ac_symbols: counts sum to more than it";
            }
            /* 3. coefficients */
            int32_t *row = current + gx * (Py_ssize_t)k;
            const int32_t *ql = gx ? row - k : NULL, *qu = gy ? above + gx * (Py_ssize_t)k : NULL;
            const int64_t *src = enc ? pd->qin + (n - pd->qin_offset) * (Py_ssize_t)k : NULL;
            for (int j = 0; j < (int)cnt; j++) {
                int32_t vl = ql ? ql[j] : 0, vu = qu ? qu[j] : 0;
                int jb = J_CLASS[j];
                row[j] = 0;
                if (j < cnt - 1) {
                    int sl = j >= cl ? 0 : (vl ? 2 : 1), su = j >= cu ? 0 : (vu ? 2 : 1);
                    int pv = (j >= 1 && row[j - 1] != 0) + (j >= 2 && row[j - 2] != 0);
                    int ctx = CTX_SIG + (jb * SIG_NEIGHBOURS + sl + su) * SIG_PREVIOUS + pv;
                    if (!code_bit(s, enc, ctx, src ? src[j] != 0 : 0)) continue;
                }
                int64_t mn = (int64_t)abs(vl) + abs(vu);
                int mcls = mn < 3 ? (int)mn : (mn < 5 ? 3 : 4);
                int mbase = CTX_MAG + (imin(jb, MAG_J - 1) * MAG_NEIGHBOURS + mcls) * UINT_SET;
                int64_t m = code_uint(s, enc, src ? (uint64_t)(src[j] < 0 ? -src[j] : src[j]) - 1 : 0,
                                      mbase);
                if (m < 0) return s->err;
                m += 1;
                if (m > COEFFICIENT_MAX) return "coefficient magnitude out of range";
                int sgn = (vl == 0 ? 0 : (vl > 0 ? 1 : 2)) * 3 + (vu == 0 ? 0 : (vu > 0 ? 1 : 2));
                if (code_bit(s, enc, CTX_SIGN + imin(j, SIGN_J - 1) * SIGN_NEIGHBOURS + sgn,
                             src ? src[j] < 0 : 0))
                    m = -m;
                row[j] = (int32_t)m;
            }
            /* components beyond the count are zero for the neighbours' contexts */
            for (int j = (int)cnt; j < k; j++) row[j] = 0;
            if (!enc) {
                memcpy(pd->q + (total - (uint64_t)cnt), row, sizeof(int32_t) * (size_t)cnt);
                if (s->c.past_end) return "payload ends early";
            }
        }
        int32_t *tmp = above;
        above = current;
        current = tmp;
    }
    *above_io = above;
    *current_io = current;
    if (!enc && total != pd->ac_symbols) return "ac_symbols: counts sum to less than it";
    return NULL;
}

static const char *decode_plane_syntax(Syntax *s, PlaneData *pd, int32_t *above,
                                       int32_t *current) {
    return code_plane(s, 0, pd, &above, &current, 0, 1);
}

static const char *encode_plane_syntax(Syntax *s, PlaneData *pd, int32_t *above,
                                       int32_t *current) {
    return code_plane(s, 1, pd, &above, &current, 0, 1);
}

static const char *encode_rows_syntax(Syntax *s, PlaneData *pd, int32_t **above,
                                      int32_t **current, Py_ssize_t gy0, int header) {
    return code_plane(s, 1, pd, above, current, gy0, header);
}

/* --- decode -------------------------------------------------------------------------------- */
static const char OUT_OF_MEMORY[] = "out of memory";

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
    Syntax *s = PyMem_RawMalloc(sizeof(Syntax));
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
        coder_init(&s->c);
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
static const char *encode_impl(PlaneData *pd, Coder **out_coder, uint64_t *m_total) {
    const Py_ssize_t n_patches = pd->gh * pd->gw;
    const int k = pd->k;
    Syntax *s = PyMem_RawMalloc(sizeof(Syntax));
    int32_t *rows = PyMem_RawMalloc(sizeof(int32_t) * (size_t)(2 * pd->gw * k + 1));
    pd->counts = PyMem_RawMalloc((size_t)n_patches + 1);
    if (s == NULL || rows == NULL || pd->counts == NULL) {
        PyMem_RawFree(s);
        PyMem_RawFree(rows);
        PyMem_RawFree(pd->counts);
        return OUT_OF_MEMORY;
    }
    uint64_t total = 0;
    for (Py_ssize_t n = 0; n < n_patches; n++) {  /* 1 + the last non-zero component */
        int c = k;
        while (c > 0 && pd->qin[n * (Py_ssize_t)k + c - 1] == 0) c--;
        pd->counts[n] = (uint8_t)c;
        total += (uint64_t)c;
    }
    coder_init(&s->c);
    s->enc = 1;
    s->err = NULL;
    s->c.low = 0;
    s->c.cache = 0;
    s->c.cache_size = 1;
    s->c.out = NULL;
    s->c.out_len = s->c.out_cap = 0;
    s->c.oom = 0;
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
    for (int j = 0; j < k; j++)
        if (mult[j] < 1 || mult[j] > MULTIPLIER_MAX || par[j] < 0 || par[j] > 3) {
            PyErr_SetString(PyExc_ValueError, "encode: multiplier or parity out of range");
            goto done;
        }
    for (Py_ssize_t i = 0; i < n_patches; i++)
        if (dcv[i] > DC_MAX || dcv[i] < -DC_MAX) {
            PyErr_SetString(PyExc_ValueError, "encode: DC term out of range");
            goto done;
        }
    for (Py_ssize_t i = 0; i < n_patches * k; i++)
        if (qv[i] > COEFFICIENT_MAX || qv[i] < -COEFFICIENT_MAX) {
            PyErr_SetString(PyExc_ValueError, "encode: coefficient out of range");
            goto done;
        }
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
   header, then rows of patches as they are quantized, then the flush. The bits are those of
   encode() on the whole plane. */
typedef struct {
    Syntax s; /* first member: the coder */
    int k, hh;
    Py_ssize_t gh, gw, next_row;
    int64_t *prev_dc;   /* the last coded row's DC terms (gw) */
    uint8_t *prev_counts;
    int32_t *above, *current; /* the row buffers of code_plane */
    uint64_t m_total;
    int failed;
} StripEncoder;

static const char STRIP_CAPSULE[] = "svdcodec.patch._arithc.StripEncoder";

static void strip_free(StripEncoder *e) {
    if (e == NULL) return;
    PyMem_RawFree(e->s.c.out);
    PyMem_RawFree(e->prev_dc);
    PyMem_RawFree(e->prev_counts);
    PyMem_RawFree(e->above < e->current ? e->above : e->current);
    PyMem_RawFree(e);
}

static void strip_capsule_free(PyObject *capsule) {
    strip_free(PyCapsule_GetPointer(capsule, STRIP_CAPSULE));
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
    StripEncoder *e = NULL;
    if (!(half == 0 || half == 2 || half == 4 || half == 8) || k < 0 || k > 255 ||
        (k > 0 && k > 4 * half * half - 1) || gh < 1 || gw < 1 || gh > MAX_PATCHES / gw) {
        PyErr_SetString(PyExc_ValueError, "encoder_start: parameters out of range");
        goto done;
    }
    Py_ssize_t hh = (Py_ssize_t)half * half;
    if (check_array(&mb, 8, k, "multipliers") || check_array(&pb, 8, k, "parities") ||
        check_array(&bb, 1, k * hh, "basis"))
        goto done;
    const int64_t *mult = mb.buf, *par = pb.buf;
    for (int j = 0; j < k; j++)
        if (mult[j] < 1 || mult[j] > MULTIPLIER_MAX || par[j] < 0 || par[j] > 3) {
            PyErr_SetString(PyExc_ValueError, "encode: multiplier or parity out of range");
            goto done;
        }
    e = PyMem_RawCalloc(1, sizeof(StripEncoder));
    int64_t *mcopy = PyMem_RawMalloc(sizeof(int64_t) * (size_t)(2 * k + 1));
    int8_t *bcopy = PyMem_RawMalloc((size_t)(k * hh + 1));
    int32_t *rows = PyMem_RawMalloc(sizeof(int32_t) * (size_t)(2 * gw * k + 1));
    if (e != NULL) {
        e->prev_dc = PyMem_RawMalloc(sizeof(int64_t) * (size_t)gw);
        e->prev_counts = PyMem_RawMalloc((size_t)gw);
        e->above = rows;
        e->current = rows == NULL ? NULL : rows + gw * k;
    }
    if (e == NULL || mcopy == NULL || bcopy == NULL || rows == NULL || e->prev_dc == NULL ||
        e->prev_counts == NULL) {
        PyMem_RawFree(mcopy);
        PyMem_RawFree(bcopy);
        if (e == NULL) PyMem_RawFree(rows);
        strip_free(e);
        PyErr_NoMemory();
        goto done;
    }
    memcpy(mcopy, mult, sizeof(int64_t) * (size_t)k);
    memcpy(mcopy + k, par, sizeof(int64_t) * (size_t)k);
    memcpy(bcopy, bb.buf, (size_t)(k * hh));
    e->k = k;
    e->hh = (int)hh;
    e->gh = gh;
    e->gw = gw;
    coder_init(&e->s.c);
    e->s.enc = 1;
    e->s.c.cache_size = 1;
    /* the header alone: no rows (gy0 = gh = 0) */
    PlaneData pd = {k, (int)hh, 0, gw, mcopy, mcopy + k, bcopy, NULL, NULL, NULL, NULL, 0, 0};
    const char *err = encode_rows_syntax(&e->s, &pd, &e->above, &e->current, 0, 1);
    PyMem_RawFree(mcopy);
    PyMem_RawFree(bcopy);
    if (err == NULL && e->s.c.oom) err = OUT_OF_MEMORY;
    if (err != NULL) {
        strip_free(e);
        if (err == OUT_OF_MEMORY) PyErr_NoMemory();
        else PyErr_Format(PyExc_ValueError, "encode: %s", err);
        goto done;
    }
    result = PyCapsule_New(e, STRIP_CAPSULE, strip_capsule_free);
    if (result == NULL) strip_free(e);
done:
    PyBuffer_Release(&mb);
    PyBuffer_Release(&pb);
    PyBuffer_Release(&bb);
    return result;
}

static const char *strip_rows_impl(StripEncoder *e, const int64_t *dcv, const int64_t *qv,
                                   Py_ssize_t rows) {
    const Py_ssize_t gw = e->gw, n = rows * gw;
    const int k = e->k;
    const Py_ssize_t first = e->next_row > 0; /* a row above, from the previous call */
    int64_t *dc = PyMem_RawMalloc(sizeof(int64_t) * (size_t)((rows + first) * gw));
    uint8_t *counts = PyMem_RawMalloc((size_t)((rows + first) * gw));
    if (dc == NULL || counts == NULL) {
        PyMem_RawFree(dc);
        PyMem_RawFree(counts);
        return OUT_OF_MEMORY;
    }
    if (first) {
        memcpy(dc, e->prev_dc, sizeof(int64_t) * (size_t)gw);
        memcpy(counts, e->prev_counts, (size_t)gw);
    }
    memcpy(dc + first * gw, dcv, sizeof(int64_t) * (size_t)n);
    for (Py_ssize_t i = 0; i < n; i++) { /* 1 + the last non-zero component */
        int c = k;
        while (c > 0 && qv[i * (Py_ssize_t)k + c - 1] == 0) c--;
        counts[first * gw + i] = (uint8_t)c;
        e->m_total += (uint64_t)c;
    }
    PlaneData pd = {k, e->hh, rows + first, gw, NULL, NULL, NULL, dc, counts, NULL, qv, 0,
                    first * gw};
    const char *err = encode_rows_syntax(&e->s, &pd, &e->above, &e->current, first, 0);
    if (err == NULL && e->s.c.oom) err = OUT_OF_MEMORY;
    memcpy(e->prev_dc, dc + (rows + first - 1) * gw, sizeof(int64_t) * (size_t)gw);
    memcpy(e->prev_counts, counts + (rows + first - 1) * gw, (size_t)gw);
    PyMem_RawFree(dc);
    PyMem_RawFree(counts);
    return err;
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
    StripEncoder *e = PyCapsule_GetPointer(capsule, STRIP_CAPSULE);
    if (e == NULL) goto done;
    if (e->failed || rows < 1 || rows > e->gh - e->next_row) {
        PyErr_SetString(PyExc_ValueError, "encoder_rows: rows out of range or encoder failed");
        goto done;
    }
    Py_ssize_t n = rows * e->gw;
    if (check_array(&db, 8, n, "dc") || check_array(&qb, 8, n * e->k, "q")) goto done;
    const int64_t *dcv = db.buf, *qv = qb.buf;
    for (Py_ssize_t i = 0; i < n; i++)
        if (dcv[i] > DC_MAX || dcv[i] < -DC_MAX) {
            PyErr_SetString(PyExc_ValueError, "encode: DC term out of range");
            goto done;
        }
    for (Py_ssize_t i = 0; i < n * e->k; i++)
        if (qv[i] > COEFFICIENT_MAX || qv[i] < -COEFFICIENT_MAX) {
            PyErr_SetString(PyExc_ValueError, "encode: coefficient out of range");
            goto done;
        }
    const char *err;
    Py_BEGIN_ALLOW_THREADS
    err = strip_rows_impl(e, dcv, qv, rows);
    Py_END_ALLOW_THREADS
    e->next_row += rows;
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
    StripEncoder *e = PyCapsule_GetPointer(capsule, STRIP_CAPSULE);
    if (e == NULL) return NULL;
    if (e->failed || e->next_row != e->gh) {
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

static PyMethodDef methods[] = {
    {"decode", decode, METH_VARARGS, decode_doc},
    {"encode", encode, METH_VARARGS, encode_doc},
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
    return PyModule_Create(&module);
}

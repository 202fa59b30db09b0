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

#include "_samples.h"

#define ESCAPE 255u                      /* section 12.3: symbol byte taken from the escapes */
#define ESCAPE_MAX (2147483647u - 255u)  /* section 12.3: 255 + e < 2^31 */
#define MAX_PARITY 3u
#define MAX_PATCHES ((Py_ssize_t)1 << 36)  /* far above the limits; keeps sizes from overflowing */

static uint32_t read_u32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

/* zigzag: 0, 1, 2, 3, ... -> 0, -1, 1, -2, ... */
static int64_t unzigzag(uint32_t u) {
    return (u & 1u) ? -(int64_t)((u >> 1) + 1) : (int64_t)(u >> 1);
}

/* --- deblocking (section 12.6) ---------------------------------------------------------- */
/* Pass 1 (vertical edges) row by row, then pass 2 (horizontal edges), as filter_rows. */
MULTIVERSION
static void deblock_plane(int32_t *plane, Py_ssize_t rows, Py_ssize_t cols, int p, int32_t alpha,
                          int32_t beta, int32_t tc, int bd, int32_t *tmp) {
    const int32_t top = (int32_t)((1u << bd) - 1u);
    if (alpha == 0) return;
    for (Py_ssize_t y = 0; y < rows; y++)
        deblock_row_vertical(plane + y * cols, cols, p, alpha, beta, tc, top, tmp);
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

MULTIVERSION
static void compose_rows(const Source *src, int channels, int bd, int ycbcr, Py_ssize_t height,
                         Py_ssize_t width, int32_t *rows, int32_t *tmp, void *out) {
    PlaneRow pr[4];
    for (Py_ssize_t y = 0; y < height; y++) {
        for (int c = 0; c < channels; c++) {
            const Source *s = &src[c];
            pr[c].a = s->c + (s->sy == 2 ? y >> 1 : y) * s->stride;
            pr[c].b = s->sy == 2 ? s->c + neighbour_row(y, s->rows) * s->stride : pr[c].a;
            pr[c].cols = s->cols;
            pr[c].sx = s->sx;
            pr[c].sy = s->sy;
        }
        compose_row(pr, channels, bd, ycbcr, width, rows, tmp, out, y);
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

/*
 * _storec: the last step of the whole-image decoders in C (spec/svdi.md sections 6 and 7).
 *
 * Reconstructed rows X-hat become samples, clip(round_half_to_even(x), 0, 2^bd - 1), stored
 * interleaved in the H x W x C image. svdcodec/layout.py's write_rows_reference is the
 * reference (numpy): a clip pass, a rounding pass and a strided cast per channel, a quarter of a
 * 1080p decode. Here each source row is clipped and rounded in one vectorized pass, and when
 * every channel of the image is given at once the samples are interleaved with contiguous
 * stores. An optional accelerator, like _patchc: the same samples bit for bit.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define MULTIVERSION __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define MULTIVERSION
#endif

/* x + 2^23 - 2^23 (2^52 for double) rounds a float in 0 .. 2^23 to an integer half to even in
   the default rounding mode, as rint (and numpy's rint) does, with no libm call; clipping first
   keeps x in that range, and the comparisons also turn NaN, which a valid file cannot produce,
   into 0. No branch: the loops vectorize. */
#define DEFINE_SAMPLES(name, src_t, magic)                                                    \
    MULTIVERSION static void name(const src_t *restrict src, int32_t *restrict dst,            \
                                  Py_ssize_t n, src_t top) {                                   \
        for (Py_ssize_t j = 0; j < n; j++) {                                                   \
            src_t x = src[j];                                                                  \
            x = x > 0 ? x : 0;                                                                 \
            x = x < top ? x : top;                                                             \
            dst[j] = (int32_t)((x + magic) - magic);                                           \
        }                                                                                      \
    }
DEFINE_SAMPLES(samples_f4, float, 8388608.0f)          /* 2^23 */
DEFINE_SAMPLES(samples_f8, double, 4503599627370496.0) /* 2^52 */

/* o[x C + c] = rows[c][x]: every channel, contiguous stores (C a constant once inlined) */
#define DEFINE_INTERLEAVE(name, dst_t)                                                         \
    static inline void name##_c(dst_t *restrict o, const int32_t *restrict t, Py_ssize_t w,   \
                                int channels) {                                                \
        for (Py_ssize_t x = 0; x < w; x++)                                                     \
            for (int c = 0; c < channels; c++) o[x * channels + c] = (dst_t)t[c * w + x];     \
    }                                                                                          \
    MULTIVERSION static void name(dst_t *restrict o, const int32_t *restrict t, Py_ssize_t w,  \
                                  int channels) {                                              \
        switch (channels) {                                                                    \
        case 1: memcpy_or_narrow_##dst_t(o, t, w); break;                                      \
        case 2: name##_c(o, t, w, 2); break;                                                   \
        case 3: name##_c(o, t, w, 3); break;                                                   \
        default: name##_c(o, t, w, 4); break;                                                  \
        }                                                                                      \
    }

static inline void memcpy_or_narrow_uint8_t(uint8_t *restrict o, const int32_t *restrict t,
                                            Py_ssize_t w) {
    for (Py_ssize_t x = 0; x < w; x++) o[x] = (uint8_t)t[x];
}

static inline void memcpy_or_narrow_uint16_t(uint16_t *restrict o, const int32_t *restrict t,
                                             Py_ssize_t w) {
    for (Py_ssize_t x = 0; x < w; x++) o[x] = (uint16_t)t[x];
}

DEFINE_INTERLEAVE(interleave_u1, uint8_t)
DEFINE_INTERLEAVE(interleave_u2, uint16_t)

/* o[x C + c] = t[x]: one channel among several, strided stores */
static void scatter(char *o, int out_size, const int32_t *t, Py_ssize_t w, int channels) {
    if (out_size == 1) {
        uint8_t *d = (uint8_t *)o;
        for (Py_ssize_t x = 0; x < w; x++) d[x * channels] = (uint8_t)t[x];
    } else {
        uint16_t *d = (uint16_t *)o;
        for (Py_ssize_t x = 0; x < w; x++) d[x * channels] = (uint16_t)t[x];
    }
}

typedef struct {
    Py_buffer buf;
    int channel;
    Py_ssize_t offset, stride; /* in elements: value(i, x) = buf[offset + i stride + x] */
} Source;

PyDoc_STRVAR(store_doc,
"store(out, height, width, channels, y0, n, sources) -> None\n\n"
"Store image rows y0 .. y0 + n - 1 of ``out`` (C-contiguous uint8 or uint16, height x\n"
"width x channels) from ``sources``: tuples (channel, block, offset, stride), where block is a\n"
"C-contiguous float32 or float64 buffer and row i, column x of the channel is\n"
"block[offset + i * stride + x]. Each sample is clip(round_half_to_even(value)); channels\n"
"that no source names are left as they are. At most one source per channel.");

static PyObject *store(PyObject *self, PyObject *args) {
    Py_buffer out;
    Py_ssize_t height, width, y0, n;
    int channels;
    PyObject *sources;
    (void)self;
    PyObject *out_obj;
    if (!PyArg_ParseTuple(args, "OnninnO!", &out_obj, &height, &width, &channels, &y0, &n,
                          &PyTuple_Type, &sources) ||
        PyObject_GetBuffer(out_obj, &out, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE) < 0)
        return NULL;
    Source src[4];
    int count = (int)PyTuple_GET_SIZE(sources), got = 0, seen = 0;
    int out_size = (int)out.itemsize;
    const char *out_format = out.format ? out.format : "B";
    PyObject *result = NULL;
    int32_t *rows = NULL;
    if (channels < 1 || channels > 4 || height < 1 || width < 1 || count < 1 ||
        count > channels || !((out_size == 1 && strcmp(out_format, "B") == 0) ||
                              (out_size == 2 && strcmp(out_format, "H") == 0)) ||
        height > PY_SSIZE_T_MAX / 16 / width / channels ||
        out.len != height * width * channels * out_size || y0 < 0 || n < 0 ||
        y0 > height - n) {
        PyErr_SetString(PyExc_ValueError, "store: out does not fit the image, or bad rows");
        goto done;
    }
    for (; got < count; got++) {
        Source *s = &src[got];
        PyObject *block;
        if (!PyArg_ParseTuple(PyTuple_GET_ITEM(sources, got), "iOnn", &s->channel, &block,
                              &s->offset, &s->stride) ||
            PyObject_GetBuffer(block, &s->buf, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
            goto done;
        Py_ssize_t size = s->buf.itemsize, len = s->buf.len / (size ? size : 1);
        const char *f = s->buf.format ? s->buf.format : "B";
        int ok = ((size == 4 && strcmp(f, "f") == 0) || (size == 8 && strcmp(f, "d") == 0)) &&
                 s->channel >= 0 && s->channel < channels &&
                 !(seen & (1 << s->channel)) && s->offset >= 0 && s->stride >= 0 &&
                 (n == 0 || (s->stride <= (PY_SSIZE_T_MAX - s->offset - width) / (n ? n : 1) &&
                             s->offset + (n - 1) * s->stride + width <= len));
        if (!ok) {
            got++;
            PyErr_SetString(PyExc_ValueError, "store: a source does not fit its block");
            goto done;
        }
        seen |= 1 << s->channel;
    }
    rows = PyMem_RawMalloc(sizeof(int32_t) * (size_t)width * channels);
    if (rows == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        for (int k = 0; k < count; k++) {
            const Source *s = &src[k];
            int32_t *t = rows + (size_t)s->channel * width;
            if (s->buf.itemsize == 4)
                samples_f4((const float *)s->buf.buf + s->offset + i * s->stride, t, width,
                           out_size == 1 ? 255.0f : 65535.0f);
            else
                samples_f8((const double *)s->buf.buf + s->offset + i * s->stride, t, width,
                           out_size == 1 ? 255.0 : 65535.0);
        }
        Py_ssize_t at = (y0 + i) * width * channels;
        if (count == channels) {
            if (out_size == 1)
                interleave_u1((uint8_t *)out.buf + at, rows, width, channels);
            else
                interleave_u2((uint16_t *)out.buf + at, rows, width, channels);
        } else {
            for (int k = 0; k < count; k++)
                scatter((char *)out.buf + (at + src[k].channel) * out_size, out_size,
                        rows + (size_t)src[k].channel * width, width, channels);
        }
    }
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    PyMem_RawFree(rows);
    for (int k = 0; k < got; k++) PyBuffer_Release(&src[k].buf);
    PyBuffer_Release(&out);
    return result;
}

static PyMethodDef methods[] = {
    {"store", store, METH_VARARGS, store_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "svdcodec._storec",
    "Whole-image samples from reconstructed rows in C: bit-exact with layout.write_rows.", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__storec(void) { return PyModule_Create(&module); }

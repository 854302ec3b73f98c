/*
 * Running scans over contiguous segments of sorted arrays, without the GIL: the inner loops
 * of the sessionizer (controller/ingest/sessions.py), which numpy can only express as several
 * passes each (a loop over type bits, a groupby, a hash of pairs).
 *
 * Every function writes into arrays the caller allocated (int64 / uint64 / uint8, C order)
 * and checks their sizes. `starts[i]` (uint8) is 1 where a new segment begins at row i; row 0
 * always begins one. The numpy versions in sessions.py are the reference; the tests compare.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

static int sized(Py_buffer *b, Py_ssize_t bytes, const char *name) {
    if (b->len != bytes) {
        PyErr_Format(PyExc_ValueError, "%s: expected %zd bytes, got %zd", name, bytes, b->len);
        return -1;
    }
    return 0;
}

#define RELEASE(...)                                                                          \
    do {                                                                                      \
        Py_buffer *all_[] = {__VA_ARGS__};                                                    \
        for (size_t i_ = 0; i_ < sizeof(all_) / sizeof(all_[0]); i_++) PyBuffer_Release(all_[i_]); \
    } while (0)

PyDoc_STRVAR(running_max_doc,
             "running_max(values, starts, out): out[i] = max of values over row i's segment up "
             "to row i (int64).");

static PyObject *running_max(PyObject *self, PyObject *args) {
    Py_buffer v = {0}, s = {0}, o = {0};
    if (!PyArg_ParseTuple(args, "y*y*w*", &v, &s, &o)) return NULL;
    Py_ssize_t n = s.len;
    if (sized(&v, n * 8, "values") || sized(&o, n * 8, "out")) {
        RELEASE(&v, &s, &o);
        return NULL;
    }
    const int64_t *values = v.buf;
    const uint8_t *starts = s.buf;
    int64_t *out = o.buf;
    Py_BEGIN_ALLOW_THREADS
    int64_t cur = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        cur = (starts[i] || i == 0 || values[i] > cur) ? values[i] : cur;
        out[i] = cur;
    }
    Py_END_ALLOW_THREADS
    RELEASE(&v, &s, &o);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(running_or_doc,
             "running_or(bits, starts, initial, out): out[i] = initial[segment of i] | OR of "
             "(1 << bits[j]) over row i's segment up to row i. bits int64 in 0..63; initial "
             "uint64, one per segment; out uint64.");

static PyObject *running_or(PyObject *self, PyObject *args) {
    Py_buffer b = {0}, s = {0}, init = {0}, o = {0};
    if (!PyArg_ParseTuple(args, "y*y*y*w*", &b, &s, &init, &o)) return NULL;
    Py_ssize_t n = s.len, segments = init.len / 8;
    if (sized(&b, n * 8, "bits") || sized(&o, n * 8, "out") || sized(&init, segments * 8, "initial")) {
        RELEASE(&b, &s, &init, &o);
        return NULL;
    }
    const int64_t *bits = b.buf;
    const uint8_t *starts = s.buf;
    const uint64_t *initial = init.buf;
    uint64_t *out = o.buf;
    int bad = 0;
    Py_BEGIN_ALLOW_THREADS
    uint64_t cur = 0;
    Py_ssize_t segment = -1;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (starts[i] || i == 0) {
            segment++;
            if (segment >= segments) {
                bad = 1;
                break;
            }
            cur = initial[segment];
        }
        if (bits[i] < 0 || bits[i] > 63) {
            bad = 2;
            break;
        }
        cur |= (uint64_t)1 << bits[i];
        out[i] = cur;
    }
    if (!bad && segment + 1 != segments && n > 0) bad = 1;
    Py_END_ALLOW_THREADS
    RELEASE(&b, &s, &init, &o);
    if (bad) {
        PyErr_SetString(PyExc_ValueError, bad == 1 ? "initial: one value per segment expected"
                                                   : "bits: each must be in 0..63");
        return NULL;
    }
    Py_RETURN_NONE;
}

PyDoc_STRVAR(running_sum_doc,
             "running_sum(values, starts, width, out): per column of the (n, width) int64 "
             "values, the sum over row i's segment up to row i.");

static PyObject *running_sum(PyObject *self, PyObject *args) {
    Py_buffer v = {0}, s = {0}, o = {0};
    Py_ssize_t width;
    if (!PyArg_ParseTuple(args, "y*y*nw*", &v, &s, &width, &o)) return NULL;
    Py_ssize_t n = s.len;
    if (width < 1 || width > 16 || sized(&v, n * width * 8, "values") ||
        sized(&o, n * width * 8, "out")) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "width must be 1..16");
        RELEASE(&v, &s, &o);
        return NULL;
    }
    const int64_t *values = v.buf;
    const uint8_t *starts = s.buf;
    int64_t *out = o.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        const int64_t *row = values + i * width;
        int64_t *dst = out + i * width;
        if (starts[i] || i == 0) {
            memcpy(dst, row, (size_t)width * 8);
        } else {
            const int64_t *prev = dst - width;
            for (Py_ssize_t j = 0; j < width; j++) dst[j] = prev[j] + row[j];
        }
    }
    Py_END_ALLOW_THREADS
    RELEASE(&v, &s, &o);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(first_of_pairs_doc,
             "first_of_pairs(a, b, out): out[i] = 1 if (a[i], b[i]) did not occur at any row "
             "before i, else 0 (int64 a and b; out uint8).");

static inline uint64_t mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

static PyObject *first_of_pairs(PyObject *self, PyObject *args) {
    Py_buffer a = {0}, b = {0}, o = {0};
    if (!PyArg_ParseTuple(args, "y*y*w*", &a, &b, &o)) return NULL;
    Py_ssize_t n = o.len;
    if (sized(&a, n * 8, "a") || sized(&b, n * 8, "b")) {
        RELEASE(&a, &b, &o);
        return NULL;
    }
    uint64_t size = 16;
    while (size < (uint64_t)n * 2 + 2) size <<= 1;
    int64_t *slots = PyMem_RawMalloc(size * sizeof(int64_t)); /* row of the pair, -1 empty */
    if (slots == NULL) {
        RELEASE(&a, &b, &o);
        return PyErr_NoMemory();
    }
    const int64_t *x = a.buf, *y = b.buf;
    uint8_t *out = o.buf;
    Py_BEGIN_ALLOW_THREADS
    memset(slots, 0xff, size * sizeof(int64_t));
    uint64_t mask = size - 1;
    for (Py_ssize_t i = 0; i < n; i++) {
        uint64_t h = mix((uint64_t)x[i] * 0x9e3779b97f4a7c15ULL ^ mix((uint64_t)y[i])) & mask;
        out[i] = 1;
        for (;;) {
            int64_t at = slots[h];
            if (at < 0) {
                slots[h] = i;
                break;
            }
            if (x[at] == x[i] && y[at] == y[i]) {
                out[i] = 0;
                break;
            }
            h = (h + 1) & mask;
        }
    }
    Py_END_ALLOW_THREADS
    PyMem_RawFree(slots);
    RELEASE(&a, &b, &o);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"running_max", running_max, METH_VARARGS, running_max_doc},
    {"running_or", running_or, METH_VARARGS, running_or_doc},
    {"running_sum", running_sum, METH_VARARGS, running_sum_doc},
    {"first_of_pairs", first_of_pairs, METH_VARARGS, first_of_pairs_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_segments",
    "Running scans over contiguous segments, without the GIL (the sessionizer's inner loops).",
    -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__segments(void) { return PyModule_Create(&module); }

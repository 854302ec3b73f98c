/*
 * The sessionizer's per-event pass (controller/ingest/sessions.py: sessionize) in C, without
 * the GIL. The caller allocates every array (int64 / uint64 / uint8, C order); sizes and every
 * index read from an input are checked. The numpy version in sessions.py is the reference and
 * the fallback; tests/ingest/test_sessions_compiled.py holds the two to the same result.
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

static inline uint64_t mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

/* ---------------------------------------------------------------------------------------- */
/* sessionize: the whole per-event pass of controller/ingest/sessions.py:sessionize in arrival
 * order, one running state per key (key codes are dense 0..K-1, so no sort). The numpy version
 * there is the reference; the comments name the numpy variables each value reproduces. */

#define NO_TIME (INT64_MIN / 4)
#define HISTORY_BUCKETS 64

enum {
    IN_TS, IN_KEY, IN_BITS, IN_RES, IN_REGION,   /* per event */
    IN_KEY_ROW, IN_KEY_REGION,                   /* per key code */
    IN_S_LAST_TS, IN_S_MASK, IN_S_LAST_BUCKET, IN_S_COUNTED, IN_S_START, IN_S_EVENTS, IN_S_RES,
    N_IN
};
enum {
    OUT_MASK, OUT_COUNTED, OUT_EVENTS, OUT_RES, OUT_START, OUT_REGION, /* per event */
    OUT_SEG_EVENT, OUT_SEG_KEY, OUT_SEG_END, OUT_SEG_CLOSED, OUT_SEG_MASK, OUT_SEG_EVENTS,
    OUT_SEG_RES, OUT_SEG_START, OUT_SEG_REGION,                         /* per session, <= n */
    OUT_KEY, OUT_K_LAST_TS, OUT_K_MASK, OUT_K_LAST_BUCKET, OUT_K_HISTORY, OUT_K_START,
    OUT_K_EVENTS, OUT_K_RES, OUT_K_REGION,                              /* per present key */
    OUT_KEEP,                                                           /* per state row */
    OUT_REPLACED,                                                       /* <= one per key */
    OUT_EXTRA,                                                          /* per extra region */
    N_OUT
};
enum { DIM_N, DIM_K, DIM_R, DIM_E };
typedef struct {
    const char *name;
    int dim, width, item;
} Spec;
static const Spec in_spec[N_IN] = {
    {"ts", DIM_N, 1, 8},          {"key_codes", DIM_N, 1, 8},    {"type_bits", DIM_N, 1, 8},
    {"resources", DIM_N, 4, 8},   {"region_codes", DIM_N, 1, 8}, {"key_rows", DIM_K, 1, 8},
    {"key_regions", DIM_K, 1, 8}, {"state.last_ts", DIM_R, 1, 8}, {"state.mask", DIM_R, 1, 8},
    {"state.last_bucket", DIM_R, 1, 8}, {"state.counted", DIM_R, 1, 8},
    {"state.start_ts", DIM_R, 1, 8}, {"state.events", DIM_R, 1, 8},
    {"state.resources", DIM_R, 4, 8},
};
static const Spec out_spec[N_OUT] = {
    {"mask", DIM_N, 1, 8},          {"counted", DIM_N, 1, 1},      {"events", DIM_N, 1, 8},
    {"resources", DIM_N, 4, 8},     {"start", DIM_N, 1, 8},        {"region", DIM_N, 1, 8},
    {"session_event", DIM_N, 1, 8}, {"session_key", DIM_N, 1, 8},  {"session_end", DIM_N, 1, 8},
    {"session_closed", DIM_N, 1, 1}, {"session_mask", DIM_N, 1, 8},
    {"session_events", DIM_N, 1, 8}, {"session_resources", DIM_N, 4, 8},
    {"session_start", DIM_N, 1, 8}, {"session_region", DIM_N, 1, 8}, {"key", DIM_K, 1, 8},
    {"key_last_ts", DIM_K, 1, 8},   {"key_mask", DIM_K, 1, 8},     {"key_last_bucket", DIM_K, 1, 8},
    {"key_history", DIM_K, 1, 8},   {"key_start", DIM_K, 1, 8},    {"key_events", DIM_K, 1, 8},
    {"key_resources", DIM_K, 4, 8}, {"key_region", DIM_K, 1, 8},   {"keep", DIM_R, 1, 1},
    {"replaced", DIM_K, 1, 8},      {"extra_order", DIM_E, 1, 8},
};

typedef struct {
    int64_t row;     /* state row, -1 if the key is not carried */
    int64_t seed;    /* carried last_ts, else NO_TIME */
    int64_t newest;  /* largest time of the key's events so far */
    int64_t nseg;    /* pass 1: segments of the key in this batch */
    int64_t seen;    /* pass 2: segments started so far */
    int64_t offset;  /* per-session row of the key's first segment */
    int64_t last_ts, last_bucket, carried_region;
    uint64_t history;
    uint8_t first_new, continues, cur_continues;
    /* the current segment, as of its latest event */
    int64_t cur_last, cur_bucket, start, region;
    uint64_t mask, events, res[4];
} KeyRun;

/* int64 arithmetic as numpy does it: wrapping, never undefined */
static inline int64_t wsub(int64_t a, int64_t b) { return (int64_t)((uint64_t)a - (uint64_t)b); }
static inline int64_t floor_div(int64_t a, int64_t b) { /* b > 0 */
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

typedef struct {
    const int64_t *ts, *key, *bits, *res, *region, *key_row, *key_region;
    const int64_t *s_last_ts, *s_last_bucket, *s_start, *s_events, *s_res;
    const uint64_t *s_mask, *s_counted;
    uint64_t *mask, *seg_mask, *k_mask, *k_history;
    uint8_t *counted, *seg_closed, *keep;
    int64_t *events, *out_res, *start, *out_region, *seg_event, *seg_key, *seg_end, *seg_events,
        *seg_res, *seg_start, *seg_region, *k_key, *k_last_ts, *k_last_bucket, *k_start, *k_events,
        *k_res, *k_region, *replaced, *extra_order;
} Arrays;

static void close_segment(const Arrays *a, KeyRun *kr, int64_t key, int closed) {
    int64_t at = kr->offset + kr->seen - 1;
    a->seg_event[at] = kr->cur_last;
    a->seg_key[at] = key;
    a->seg_end[at] = kr->cur_continues && kr->seed > kr->newest ? kr->seed : kr->newest;
    a->seg_closed[at] = (uint8_t)closed;
    a->seg_mask[at] = kr->mask;
    a->seg_events[at] = (int64_t)kr->events;
    for (int j = 0; j < 4; j++) a->seg_res[at * 4 + j] = (int64_t)kr->res[j];
    a->seg_start[at] = kr->start;
    a->seg_region[at] = kr->region;
}

PyDoc_STRVAR(sessionize_doc,
             "sessionize(inputs, outputs, gap_ms, bucket_ms, regions, extras) -> (sessions, "
             "keys, replaced, extras_used): controller.ingest.sessions.sessionize's per-event "
             "pass in arrival order without the GIL; see _sessionize_compiled there for the "
             "arrays. Raises ValueError on any size or index out of range.");

static PyObject *sessionize(PyObject *self, PyObject *args) {
    PyObject *ins, *outs;
    long long gap, bucket_ms;
    Py_ssize_t nregions, nextra;
    if (!PyArg_ParseTuple(args, "O!O!LLnn", &PyTuple_Type, &ins, &PyTuple_Type, &outs, &gap,
                          &bucket_ms, &nregions, &nextra))
        return NULL;
    if (PyTuple_GET_SIZE(ins) != N_IN || PyTuple_GET_SIZE(outs) != N_OUT) {
        PyErr_Format(PyExc_ValueError, "expected %d inputs and %d outputs", N_IN, N_OUT);
        return NULL;
    }
    if (bucket_ms <= 0 || nregions < 0 || nextra < 0) {
        PyErr_SetString(PyExc_ValueError, "bucket_ms must be positive, counts non-negative");
        return NULL;
    }
    Py_buffer in[N_IN], out[N_OUT];
    int got_in = 0, got_out = 0;
    PyObject *result = NULL;
    KeyRun *keys = NULL;
    uint8_t *fresh = NULL;
    int64_t *slots = NULL, *extra_map = NULL;
    for (; got_in < N_IN; got_in++)
        if (PyObject_GetBuffer(PyTuple_GET_ITEM(ins, got_in), &in[got_in], PyBUF_SIMPLE) < 0)
            goto done;
    for (; got_out < N_OUT; got_out++)
        if (PyObject_GetBuffer(PyTuple_GET_ITEM(outs, got_out), &out[got_out], PyBUF_WRITABLE) < 0)
            goto done;
    Py_ssize_t dims[4] = {in[IN_TS].len / 8, in[IN_KEY_ROW].len / 8, in[IN_S_LAST_TS].len / 8, nextra};
    for (int i = 0; i < N_IN; i++) {
        const Spec *s = &in_spec[i];
        if (sized(&in[i], dims[s->dim] * s->width * s->item, s->name)) goto done;
    }
    for (int i = 0; i < N_OUT; i++) {
        const Spec *s = &out_spec[i];
        if (sized(&out[i], dims[s->dim] * s->width * s->item, s->name)) goto done;
    }
    const Py_ssize_t n = dims[DIM_N], nkeys = dims[DIM_K], nrows = dims[DIM_R];
    Arrays a = {
        .ts = in[IN_TS].buf, .key = in[IN_KEY].buf, .bits = in[IN_BITS].buf, .res = in[IN_RES].buf,
        .region = in[IN_REGION].buf, .key_row = in[IN_KEY_ROW].buf,
        .key_region = in[IN_KEY_REGION].buf, .s_last_ts = in[IN_S_LAST_TS].buf,
        .s_last_bucket = in[IN_S_LAST_BUCKET].buf, .s_start = in[IN_S_START].buf,
        .s_events = in[IN_S_EVENTS].buf, .s_res = in[IN_S_RES].buf, .s_mask = in[IN_S_MASK].buf,
        .s_counted = in[IN_S_COUNTED].buf, .mask = out[OUT_MASK].buf,
        .seg_mask = out[OUT_SEG_MASK].buf, .k_mask = out[OUT_K_MASK].buf,
        .k_history = out[OUT_K_HISTORY].buf, .counted = out[OUT_COUNTED].buf,
        .seg_closed = out[OUT_SEG_CLOSED].buf, .keep = out[OUT_KEEP].buf,
        .events = out[OUT_EVENTS].buf, .out_res = out[OUT_RES].buf, .start = out[OUT_START].buf,
        .out_region = out[OUT_REGION].buf, .seg_event = out[OUT_SEG_EVENT].buf,
        .seg_key = out[OUT_SEG_KEY].buf, .seg_end = out[OUT_SEG_END].buf,
        .seg_events = out[OUT_SEG_EVENTS].buf, .seg_res = out[OUT_SEG_RES].buf,
        .seg_start = out[OUT_SEG_START].buf, .seg_region = out[OUT_SEG_REGION].buf,
        .k_key = out[OUT_KEY].buf, .k_last_ts = out[OUT_K_LAST_TS].buf,
        .k_last_bucket = out[OUT_K_LAST_BUCKET].buf, .k_start = out[OUT_K_START].buf,
        .k_events = out[OUT_K_EVENTS].buf, .k_res = out[OUT_K_RES].buf,
        .k_region = out[OUT_K_REGION].buf, .replaced = out[OUT_REPLACED].buf,
        .extra_order = out[OUT_EXTRA].buf,
    };
    /* the (segment, bucket) pairs seen: open addressing, at most n of them */
    uint64_t size = 16;
    while (size < (uint64_t)n * 2 + 2) size <<= 1;
    keys = PyMem_RawCalloc((size_t)nkeys + 1, sizeof(KeyRun));
    fresh = PyMem_RawMalloc((size_t)n + 1);
    slots = PyMem_RawMalloc(size * 2 * sizeof(int64_t));
    extra_map = PyMem_RawMalloc(((size_t)nextra + 1) * sizeof(int64_t));
    if (!keys || !fresh || !slots || !extra_map) {
        PyErr_NoMemory();
        goto done;
    }
    const char *bad = NULL;
    Py_ssize_t sessions = 0, present = 0, nreplaced = 0, used = 0;
    Py_BEGIN_ALLOW_THREADS
    memset(a.keep, 1, (size_t)nrows);
    for (Py_ssize_t k = 0; k < nkeys; k++)
        if (a.key_row[k] < -1 || a.key_row[k] >= nrows) bad = "key_rows: each must be -1 or a state row";
    /* pass 1: check every index; where sessions start (new_session) and how many per key */
    for (Py_ssize_t i = 0; i < n && !bad; i++) {
        int64_t k = a.key[i], t = a.ts[i];
        if (k < 0 || k >= nkeys) { bad = "key_codes: each must be in 0..len(keys)-1"; break; }
        if (a.bits[i] < 0 || a.bits[i] > 63) { bad = "type_bits: each must be in 0..63"; break; }
        if (a.region[i] < 0 || a.region[i] >= nregions) {
            bad = "region_codes: each must be in 0..len(regions)-1";
            break;
        }
        KeyRun *kr = &keys[k];
        if (kr->nseg == 0) {
            int64_t row = a.key_row[k]; /* checked above */
            kr->row = row;
            kr->seed = row >= 0 ? a.s_last_ts[row] : NO_TIME;
            kr->first_new = fresh[i] = wsub(t, kr->seed) > gap;
            kr->nseg = 1;
            kr->newest = t;
        } else {
            int64_t before = kr->newest > kr->seed ? kr->newest : kr->seed;
            fresh[i] = wsub(t, before) > gap;
            kr->nseg += fresh[i];
            if (t > kr->newest) kr->newest = t;
        }
    }
    /* per present key, in key order: where its sessions go, whether it continues the carried
     * session, the carried region's code, its state row's fate */
    for (Py_ssize_t i = 0; i < nextra; i++) extra_map[i] = -1;
    for (Py_ssize_t k = 0; k < nkeys && !bad; k++) {
        KeyRun *kr = &keys[k];
        if (kr->nseg == 0) continue;
        kr->offset = sessions;
        sessions += kr->nseg;
        a.k_key[present++] = k;
        kr->continues = kr->row >= 0 && !kr->first_new;
        if (kr->row >= 0) {
            a.keep[kr->row] = 0;
            if (!kr->continues) a.replaced[nreplaced++] = kr->row;
        }
        int carried = kr->nseg == 1 && kr->continues;
        kr->last_ts = carried && kr->seed > kr->newest ? kr->seed : kr->newest;
        kr->last_bucket = floor_div(kr->last_ts, bucket_ms);
        if (carried) {
            int64_t shift = wsub(kr->last_bucket, a.s_last_bucket[kr->row]);
            kr->history = shift < HISTORY_BUCKETS
                              ? a.s_counted[kr->row] << (shift < 0 ? 0 : shift) : 0;
        }
        if (kr->continues) {
            int64_t code = a.key_region[k];
            if (code < 0 || code >= (int64_t)nregions + nextra) {
                bad = "key_regions: each carried one must be in 0..regions+extras-1";
                break;
            }
            if (code >= nregions) { /* a region the batch's table lacks: appended in key order */
                int64_t *to = &extra_map[code - nregions];
                if (*to < 0) {
                    a.extra_order[used] = code - nregions;
                    *to = nregions + used++;
                }
                code = *to;
            }
            kr->carried_region = code;
        }
        kr->newest = 0; /* pass 2 runs it again */
    }
    if (!bad) {
        memset(slots, 0xff, size * 2 * sizeof(int64_t));
        const uint64_t hmask = size - 1;
        /* pass 2: every event as of itself; each session as of its last event */
        for (Py_ssize_t i = 0; i < n; i++) {
            int64_t k = a.key[i], t = a.ts[i], bucket = floor_div(t, bucket_ms);
            KeyRun *kr = &keys[k];
            int first_pair;
            if (kr->seen == 0 || fresh[i]) {
                if (kr->seen > 0) close_segment(&a, kr, k, 1);
                kr->seen++;
                kr->cur_continues = kr->seen == 1 && kr->continues;
                if (kr->cur_continues) {
                    int64_t row = kr->row;
                    kr->mask = a.s_mask[row];
                    kr->events = (uint64_t)a.s_events[row];
                    for (int j = 0; j < 4; j++) kr->res[j] = (uint64_t)a.s_res[row * 4 + j];
                    kr->start = a.s_start[row];
                    kr->region = kr->carried_region;
                } else {
                    kr->mask = 0;
                    kr->events = 0;
                    memset(kr->res, 0, sizeof(kr->res));
                    kr->start = INT64_MAX;
                    kr->region = a.region[i];
                }
                kr->newest = kr->seen == 1 || t > kr->newest ? t : kr->newest;
                first_pair = 2; /* a new segment's first bucket: new, insert without looking */
            } else {
                if (t > kr->newest) kr->newest = t;
                first_pair = bucket != kr->cur_bucket;
            }
            if (first_pair) {
                int64_t seg = kr->offset + kr->seen - 1;
                uint64_t h = mix((uint64_t)seg * 0x9e3779b97f4a7c15ULL ^ mix((uint64_t)bucket)) & hmask;
                for (;;) {
                    int64_t *slot = &slots[h * 2];
                    if (slot[0] < 0) {
                        slot[0] = seg;
                        slot[1] = bucket;
                        first_pair = 1;
                        break;
                    }
                    if (first_pair == 1 && slot[0] == seg && slot[1] == bucket) {
                        first_pair = 0;
                        break;
                    }
                    h = (h + 1) & hmask;
                }
            }
            kr->cur_bucket = bucket;
            kr->cur_last = i;
            kr->mask |= (uint64_t)1 << a.bits[i];
            kr->events += 1;
            for (int j = 0; j < 4; j++) {
                kr->res[j] += (uint64_t)a.res[i * 4 + j];
                a.out_res[i * 4 + j] = (int64_t)kr->res[j];
            }
            if (t < kr->start) kr->start = t;
            a.mask[i] = kr->mask;
            a.events[i] = (int64_t)kr->events;
            a.start[i] = kr->start;
            a.out_region[i] = kr->region;
            int counted = first_pair;
            if (first_pair && kr->cur_continues) { /* already counted before this batch? */
                int64_t behind = wsub(a.s_last_bucket[kr->row], bucket);
                if (behind >= HISTORY_BUCKETS ||
                    (behind >= 0 && (a.s_counted[kr->row] >> behind) & 1))
                    counted = 0;
            }
            a.counted[i] = (uint8_t)counted;
            if (first_pair && kr->seen == kr->nseg) { /* the key's last session: its buckets */
                int64_t behind = wsub(kr->last_bucket, bucket);
                if (behind >= 0 && behind < HISTORY_BUCKETS) kr->history |= (uint64_t)1 << behind;
            }
        }
        /* the last session of each key: closes nothing here, and is the key's new state */
        for (Py_ssize_t p = 0; p < present; p++) {
            int64_t k = a.k_key[p];
            KeyRun *kr = &keys[k];
            close_segment(&a, kr, k, 0);
            a.k_last_ts[p] = kr->last_ts;
            a.k_mask[p] = kr->mask;
            a.k_last_bucket[p] = kr->last_bucket;
            a.k_history[p] = kr->history;
            a.k_start[p] = kr->start;
            a.k_events[p] = (int64_t)kr->events;
            for (int j = 0; j < 4; j++) a.k_res[p * 4 + j] = (int64_t)kr->res[j];
            a.k_region[p] = kr->region;
        }
    }
    Py_END_ALLOW_THREADS
    if (bad) {
        PyErr_SetString(PyExc_ValueError, bad);
        goto done;
    }
    result = Py_BuildValue("nnnn", sessions, present, nreplaced, used);
done:
    PyMem_RawFree(keys);
    PyMem_RawFree(fresh);
    PyMem_RawFree(slots);
    PyMem_RawFree(extra_map);
    for (int i = 0; i < got_in; i++) PyBuffer_Release(&in[i]);
    for (int i = 0; i < got_out; i++) PyBuffer_Release(&out[i]);
    return result;
}

static PyMethodDef methods[] = {
    {"sessionize", sessionize, METH_VARARGS, sessionize_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_segments",
    "The sessionizer's per-event pass, without the GIL.",
    -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__segments(void) { return PyModule_Create(&module); }

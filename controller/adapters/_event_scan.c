/*
 * Event records (NDJSON lines, Kafka messages) -> event columns, in C, without the GIL.
 *
 * This is the fast path of controller/adapters/event_decode.py. It accepts a narrow, exactly
 * defined subset of what the msgspec path accepts, and hands everything else back:
 *
 *   - records of plain ASCII without backslashes (no escapes, no UTF-8 to validate);
 *   - a JSON object with the required fields user_id, timestamp, event_type (strings) and
 *     resource_consumption (an object of exactly cpu_ms, memory_mb, network_kb, io_ops, each a
 *     JSON number in 0..1e12), and the optional session_id and region (string or null);
 *     other top-level fields are skipped after checking that they are valid JSON;
 *   - string lengths within the msgspec constraints (user_id 1..200, session_id 0..200,
 *     timestamp, event_type and region 1..64);
 *   - timestamps YYYY-MM-DD(T|t| )HH:MM:SS[.f{1,6}](Z|+HH:MM|-HH:MM), in range.
 *
 * A record outside that subset gets status SLOW and is decoded by the msgspec path, which
 * also says what is wrong with a bad one. So the C path never has to explain an error, and
 * for the records it accepts it computes exactly what the Python path computes (the tests
 * compare the two on generated records, valid and broken).
 *
 * Strings are factorized here too: session ids, user ids (of events without a session id),
 * event types and regions get codes in order of first appearance, and the distinct values are
 * returned as str. Every read is bounds-checked against the record's end.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { ST_OK = 0, ST_SLOW = 1, ST_BLANK = 2 };

#define MAX_DEPTH 64
#define MAX_VALUE 1e12

typedef struct {
    const char *p;
    Py_ssize_t n;
} Span;

/* ---- a hash table of byte strings -> codes in order of first appearance ------------------- */

typedef struct {
    int64_t *slots; /* index into spans, -1 empty */
    uint64_t mask;
    Span *spans;
    int64_t count;
} Table;

static int table_init(Table *t, Py_ssize_t capacity_hint) {
    uint64_t size = 16;
    while (size < (uint64_t)capacity_hint * 2 + 2) size <<= 1;
    t->slots = (int64_t *)PyMem_RawMalloc(size * sizeof(int64_t));
    t->spans = (Span *)PyMem_RawMalloc(((size_t)capacity_hint + 1) * sizeof(Span));
    if (t->slots == NULL || t->spans == NULL) return -1;
    memset(t->slots, 0xff, size * sizeof(int64_t));
    t->mask = size - 1;
    t->count = 0;
    return 0;
}

static void table_free(Table *t) {
    PyMem_RawFree(t->slots);
    PyMem_RawFree(t->spans);
    t->slots = NULL;
    t->spans = NULL;
}

static inline uint64_t hash_bytes(const char *p, Py_ssize_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ULL;
    }
    return h ^ (h >> 29);
}

/* The code of `s`, inserting it if new. The table never holds more than `capacity_hint`
 * entries because each record inserts at most once per table. */
static int64_t table_code(Table *t, Span s) {
    uint64_t i = hash_bytes(s.p, s.n) & t->mask;
    for (;;) {
        int64_t at = t->slots[i];
        if (at < 0) {
            t->slots[i] = t->count;
            t->spans[t->count] = s;
            return t->count++;
        }
        Span o = t->spans[at];
        if (o.n == s.n && memcmp(o.p, s.p, (size_t)s.n) == 0) return at;
        i = (i + 1) & t->mask;
    }
}

/* ---- JSON pieces ---------------------------------------------------------------------------- */

static inline const char *ws(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    return p;
}

/* A string starting at the quote p; its content in *out; the position after the closing
 * quote, or NULL. Backslashes and control characters were excluded before (plain()). */
static const char *string_at(const char *p, const char *end, Span *out) {
    if (p >= end || *p != '"') return NULL;
    const char *q = memchr(p + 1, '"', (size_t)(end - (p + 1)));
    if (q == NULL) return NULL;
    out->p = p + 1;
    out->n = q - (p + 1);
    return q + 1;
}

static inline int is_digit(char c) { return c >= '0' && c <= '9'; }

/* JSON number grammar; the position after it or NULL. */
static const char *number_at(const char *p, const char *end) {
    const char *q = p;
    if (q < end && *q == '-') q++;
    if (q >= end) return NULL;
    if (*q == '0') {
        q++;
    } else if (*q >= '1' && *q <= '9') {
        while (q < end && is_digit(*q)) q++;
    } else {
        return NULL;
    }
    if (q < end && *q == '.') {
        q++;
        if (q >= end || !is_digit(*q)) return NULL;
        while (q < end && is_digit(*q)) q++;
    }
    if (q < end && (*q == 'e' || *q == 'E')) {
        q++;
        if (q < end && (*q == '+' || *q == '-')) q++;
        if (q >= end || !is_digit(*q)) return NULL;
        while (q < end && is_digit(*q)) q++;
    }
    return q;
}

static const char *literal_at(const char *p, const char *end, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(end - p) < n || memcmp(p, word, n) != 0) return NULL;
    return p + n;
}

/* Any JSON value, checked and skipped; the position after it or NULL. */
static const char *skip_value(const char *p, const char *end, int depth) {
    Span ignored;
    if (p >= end || depth > MAX_DEPTH) return NULL;
    switch (*p) {
    case '"':
        return string_at(p, end, &ignored);
    case '{':
        p = ws(p + 1, end);
        if (p < end && *p == '}') return p + 1;
        for (;;) {
            p = string_at(p, end, &ignored);
            if (p == NULL) return NULL;
            p = ws(p, end);
            if (p >= end || *p != ':') return NULL;
            p = skip_value(ws(p + 1, end), end, depth + 1);
            if (p == NULL) return NULL;
            p = ws(p, end);
            if (p < end && *p == ',') {
                p = ws(p + 1, end);
                continue;
            }
            if (p < end && *p == '}') return p + 1;
            return NULL;
        }
    case '[':
        p = ws(p + 1, end);
        if (p < end && *p == ']') return p + 1;
        for (;;) {
            p = skip_value(p, end, depth + 1);
            if (p == NULL) return NULL;
            p = ws(p, end);
            if (p < end && *p == ',') {
                p = ws(p + 1, end);
                continue;
            }
            if (p < end && *p == ']') return p + 1;
            return NULL;
        }
    case 't':
        return literal_at(p, end, "true");
    case 'f':
        return literal_at(p, end, "false");
    case 'n':
        return literal_at(p, end, "null");
    default:
        return number_at(p, end);
    }
}

/* Clinger's fast path: a decimal of at most 15 significant digits and at most 22 fraction
 * digits, without exponent, is m / 10^k with m and 10^k exact doubles, so one division is
 * correctly rounded (the same double strtod gives). 0 if the text is not of that form. */
static int exact_decimal(const char *p, const char *end, double *out) {
    static const double powers[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                      1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                      1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    uint64_t m = 0;
    int significant = 0, fraction = -1;
    for (; p < end; p++) {
        if (*p == '.') {
            if (fraction >= 0) return 0;
            fraction = 0;
            continue;
        }
        if (!is_digit(*p)) return 0; /* an exponent: leave it to strtod */
        m = m * 10 + (uint64_t)(*p - '0');
        if (m) significant++;
        if (fraction >= 0) fraction++;
        if (significant > 15 || fraction > 22) return 0;
    }
    *out = (double)m / powers[fraction < 0 ? 0 : fraction];
    return 1;
}

/* A resource figure: a non-negative JSON number up to MAX_VALUE, in thousandths, rounded
 * half to even like numpy's rint. The position after it, or NULL. */
static const char *amount_at(const char *p, const char *end, int64_t *milli) {
    char text[64];
    if (p >= end || *p == '-') return NULL; /* negative (or -0): the msgspec path decides */
    const char *q = number_at(p, end);
    if (q == NULL || q - p >= (Py_ssize_t)sizeof(text)) return NULL;
    double value;
    if (!exact_decimal(p, q, &value)) {
        memcpy(text, p, (size_t)(q - p));
        text[q - p] = '\0';
        char *stop = NULL;
        value = strtod(text, &stop);
        if (stop != text + (q - p)) return NULL;
    }
    if (!isfinite(value) || value < 0 || value > MAX_VALUE) return NULL;
    *milli = (int64_t)nearbyint(value * 1000.0);
    return q;
}

/* ---- timestamps ----------------------------------------------------------------------------- */

static int digits(const char *p, int n, int *out) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!is_digit(p[i])) return -1;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return 0;
}

static int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;
    const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m) {
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
    return days[m - 1];
}

/* Unix milliseconds of an ISO 8601 time in the accepted shapes; -1 if outside them. */
static int timestamp_ms(Span s, int64_t *out) {
    const char *p = s.p;
    Py_ssize_t n = s.n;
    int year, month, day, hour, minute, second;
    if (n < 20) return -1;
    if (digits(p, 4, &year) || p[4] != '-' || digits(p + 5, 2, &month) || p[7] != '-' ||
        digits(p + 8, 2, &day) || !(p[10] == 'T' || p[10] == 't' || p[10] == ' ') ||
        digits(p + 11, 2, &hour) || p[13] != ':' || digits(p + 14, 2, &minute) ||
        p[16] != ':' || digits(p + 17, 2, &second))
        return -1;
    if (year < 1 || month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) ||
        hour > 23 || minute > 59 || second > 59)
        return -1;
    Py_ssize_t i = 19;
    int64_t micros = 0;
    if (p[i] == '.') {
        int count = 0;
        i++;
        while (i < n && is_digit(p[i]) && count < 6) {
            micros = micros * 10 + (p[i] - '0');
            i++;
            count++;
        }
        if (count == 0 || (i < n && is_digit(p[i]))) return -1;
        for (; count < 6; count++) micros *= 10;
    }
    int64_t offset_minutes = 0;
    if (i < n && p[i] == 'Z') {
        i++;
    } else if (i < n && (p[i] == '+' || p[i] == '-')) {
        int oh, om;
        if (n - i != 6 || digits(p + i + 1, 2, &oh) || p[i + 3] != ':' ||
            digits(p + i + 4, 2, &om) || oh > 23 || om > 59)
            return -1;
        offset_minutes = (p[i] == '-' ? -1 : 1) * (int64_t)(oh * 60 + om);
        i += 6;
    } else {
        return -1;
    }
    if (i != n) return -1;
    int64_t days = days_from_civil(year, month, day);
    int64_t seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
    *out = seconds * 1000 + micros / 1000;
    return 0;
}

/* ---- one record ----------------------------------------------------------------------------- */

enum {
    F_USER = 1,
    F_TIME = 2,
    F_TYPE = 4,
    F_USE = 8,
    F_SESSION = 16,
    F_REGION = 32,
};
#define REQUIRED (F_USER | F_TIME | F_TYPE | F_USE)

typedef struct {
    Span user, session, type, region;
    int has_session, has_region;
    int64_t ts_ms;
    int64_t use[4];
} Event;

static inline int key_is_n(Span k, const char *name, size_t n) {
    return (size_t)k.n == n && memcmp(k.p, name, n) == 0;
}
#define key_is(k, literal) key_is_n((k), (literal), sizeof(literal) - 1)

static const char *usage_at(const char *p, const char *end, int64_t use[4]) {
    static const char *names[4] = {"cpu_ms", "memory_mb", "network_kb", "io_ops"};
    static const size_t lengths[4] = {6, 9, 10, 6};
    int seen = 0;
    if (p >= end || *p != '{') return NULL;
    p = ws(p + 1, end);
    for (;;) {
        Span key;
        p = string_at(p, end, &key);
        if (p == NULL) return NULL;
        int which = -1;
        for (int j = 0; j < 4; j++)
            if (key_is_n(key, names[j], lengths[j])) which = j;
        if (which < 0 || (seen & (1 << which))) return NULL; /* unknown or repeated */
        seen |= 1 << which;
        p = ws(p, end);
        if (p >= end || *p != ':') return NULL;
        p = amount_at(ws(p + 1, end), end, &use[which]);
        if (p == NULL) return NULL;
        p = ws(p, end);
        if (p < end && *p == ',') {
            p = ws(p + 1, end);
            continue;
        }
        if (p < end && *p == '}') return seen == 15 ? p + 1 : NULL;
        return NULL;
    }
}

static const char *text_at(const char *p, const char *end, Span *out, Py_ssize_t lo,
                           Py_ssize_t hi) {
    p = string_at(p, end, out);
    if (p == NULL || out->n < lo || out->n > hi) return NULL;
    return p;
}

static const char *optional_text_at(const char *p, const char *end, Span *out, int *present,
                                    Py_ssize_t lo, Py_ssize_t hi) {
    if (p < end && *p == 'n') {
        *present = 0;
        return literal_at(p, end, "null");
    }
    *present = 1;
    return text_at(p, end, out, lo, hi);
}

/* Word-at-a-time tests (Hacker's Delight / Bit Twiddling Hacks): a byte below n (n <= 128),
 * a zero byte, a byte with the high bit set. Exact as yes/no answers. */
#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL
#define HAS_LESS(x, n) (((x) - ONES * (n)) & ~(x) & HIGHS)
#define HAS_ZERO(x) (((x) - ONES) & ~(x) & HIGHS)

/* 1 if every byte is printable ASCII other than a backslash: no escapes, no UTF-8 to check,
 * no control characters (so no tab or newline inside a string), and strings end at the next
 * quote. */
static int plain(const char *p, const char *end) {
    while (end - p >= 8) {
        uint64_t x;
        memcpy(&x, p, 8);
        if ((x & HIGHS) || HAS_LESS(x, 0x20) || HAS_ZERO(x ^ (ONES * '\\')) ||
            HAS_ZERO(x ^ (ONES * 0x7f)))
            return 0;
        p += 8;
    }
    for (; p < end; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c >= 0x7f || c == '\\') return 0;
    }
    return 1;
}

static int parse_record(const char *p, const char *end, Event *e) {
    const char *start = p;
    if (end > p && end[-1] == '\r') end--; /* CRLF files */
    if (!plain(p, end)) return ST_SLOW;
    p = ws(p, end);
    if (p == end) return start == end ? ST_BLANK : ST_SLOW;
    if (*p != '{') return ST_SLOW;
    p = ws(p + 1, end);
    int seen = 0;
    e->has_session = e->has_region = 0;
    if (p < end && *p == '}') return ST_SLOW;
    for (;;) {
        Span key;
        int bit = 0;
        p = string_at(p, end, &key);
        if (p == NULL) return ST_SLOW;
        p = ws(p, end);
        if (p >= end || *p != ':') return ST_SLOW;
        p = ws(p + 1, end);
        if (key_is(key, "user_id")) {
            bit = F_USER;
            p = text_at(p, end, &e->user, 1, 200);
        } else if (key_is(key, "timestamp")) {
            Span t;
            bit = F_TIME;
            p = text_at(p, end, &t, 1, 64);
            if (p != NULL && timestamp_ms(t, &e->ts_ms) != 0) return ST_SLOW;
        } else if (key_is(key, "event_type")) {
            bit = F_TYPE;
            p = text_at(p, end, &e->type, 1, 64);
        } else if (key_is(key, "resource_consumption")) {
            bit = F_USE;
            p = usage_at(p, end, e->use);
        } else if (key_is(key, "session_id")) {
            bit = F_SESSION;
            p = optional_text_at(p, end, &e->session, &e->has_session, 0, 200);
        } else if (key_is(key, "region")) {
            bit = F_REGION;
            p = optional_text_at(p, end, &e->region, &e->has_region, 1, 64);
        } else {
            p = skip_value(p, end, 1);
        }
        if (p == NULL || (seen & bit)) return ST_SLOW;
        seen |= bit;
        p = ws(p, end);
        if (p < end && *p == ',') {
            p = ws(p + 1, end);
            continue;
        }
        if (p < end && *p == '}') break;
        return ST_SLOW;
    }
    p = ws(p + 1, end);
    if (p != end || (seen & REQUIRED) != REQUIRED) return ST_SLOW;
    return ST_OK;
}

/* ---- the module ----------------------------------------------------------------------------- */

static int check_buffer(Py_buffer *b, Py_ssize_t itemsize, Py_ssize_t n, const char *name) {
    if (b->len != itemsize * n) {
        PyErr_Format(PyExc_ValueError, "%s: expected %zd bytes, got %zd", name, itemsize * n,
                     b->len);
        return -1;
    }
    return 0;
}

static PyObject *names_of(Table *t) {
    PyObject *list = PyList_New(t->count);
    if (list == NULL) return NULL;
    for (int64_t i = 0; i < t->count; i++) {
        PyObject *s = PyUnicode_DecodeASCII(t->spans[i].p, t->spans[i].n, "strict");
        if (s == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, s);
    }
    return list;
}

PyDoc_STRVAR(scan_doc,
             "scan(buffer, starts, ends, status, ts_ms, resources, key_codes, type_codes, "
             "region_codes) -> (slow, sessions, users, types, regions)\n\n"
             "Records buffer[starts[i]:ends[i]] (int64 arrays) into the writable output arrays "
             "(status uint8; ts_ms, key_codes, type_codes, region_codes int64 per record; "
             "resources int64 4 per record). Returns the number of SLOW records and the "
             "distinct session ids, user ids (of events without one), event types and "
             "regions in order of first appearance. Key codes of user keys follow the session "
             "keys; region -1 means none given. Runs without the GIL.");

static PyObject *scan(PyObject *self, PyObject *args) {
    Py_buffer buf = {0}, starts = {0}, ends = {0}, status = {0}, ts = {0}, res = {0},
              keys = {0}, types = {0}, regions = {0};
    PyObject *result = NULL;
    Table sessions = {0}, users = {0}, type_table = {0}, region_table = {0};
    if (!PyArg_ParseTuple(args, "y*y*y*w*w*w*w*w*w*", &buf, &starts, &ends, &status, &ts, &res,
                          &keys, &types, &regions))
        return NULL;
    Py_ssize_t n = starts.len / (Py_ssize_t)sizeof(int64_t);
    if (check_buffer(&starts, sizeof(int64_t), n, "starts") ||
        check_buffer(&ends, sizeof(int64_t), n, "ends") ||
        check_buffer(&status, 1, n, "status") ||
        check_buffer(&ts, sizeof(int64_t), n, "ts_ms") ||
        check_buffer(&res, 4 * sizeof(int64_t), n, "resources") ||
        check_buffer(&keys, sizeof(int64_t), n, "key_codes") ||
        check_buffer(&types, sizeof(int64_t), n, "type_codes") ||
        check_buffer(&regions, sizeof(int64_t), n, "region_codes"))
        goto done;
    const int64_t *s = (const int64_t *)starts.buf, *e = (const int64_t *)ends.buf;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (s[i] < 0 || s[i] > e[i] || e[i] > buf.len) {
            PyErr_Format(PyExc_ValueError, "record %zd: span %lld..%lld outside the buffer", i,
                         (long long)s[i], (long long)e[i]);
            goto done;
        }
    }
    if (table_init(&sessions, n) || table_init(&users, n) || table_init(&type_table, n) ||
        table_init(&region_table, n)) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t slow = 0;
    uint8_t *st = (uint8_t *)status.buf;
    int64_t *out_ts = (int64_t *)ts.buf, *out_res = (int64_t *)res.buf;
    int64_t *out_key = (int64_t *)keys.buf, *out_type = (int64_t *)types.buf;
    int64_t *out_region = (int64_t *)regions.buf;
    const char *base = (const char *)buf.buf;

    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        Event ev;
        int code = parse_record(base + s[i], base + e[i], &ev);
        st[i] = (uint8_t)code;
        out_ts[i] = 0;
        out_key[i] = out_type[i] = out_region[i] = -1;
        memset(out_res + 4 * i, 0, 4 * sizeof(int64_t));
        if (code == ST_SLOW) slow++;
        if (code != ST_OK) continue;
        out_ts[i] = ev.ts_ms;
        memcpy(out_res + 4 * i, ev.use, 4 * sizeof(int64_t));
        if (ev.has_session && ev.session.n > 0)
            out_key[i] = table_code(&sessions, ev.session);
        else
            out_key[i] = -2 - table_code(&users, ev.user); /* fixed up below */
        out_type[i] = table_code(&type_table, ev.type);
        out_region[i] = ev.has_region ? table_code(&region_table, ev.region) : -1;
    }
    for (Py_ssize_t i = 0; i < n; i++)
        if (st[i] == ST_OK && out_key[i] <= -2) out_key[i] = sessions.count + (-2 - out_key[i]);
    Py_END_ALLOW_THREADS

    PyObject *a = names_of(&sessions), *b = a ? names_of(&users) : NULL,
             *c = b ? names_of(&type_table) : NULL, *d = c ? names_of(&region_table) : NULL;
    if (d != NULL) result = Py_BuildValue("nNNNN", slow, a, b, c, d);
    else {
        Py_XDECREF(a);
        Py_XDECREF(b);
        Py_XDECREF(c);
    }
done:
    table_free(&sessions);
    table_free(&users);
    table_free(&type_table);
    table_free(&region_table);
    PyBuffer_Release(&buf);
    PyBuffer_Release(&starts);
    PyBuffer_Release(&ends);
    PyBuffer_Release(&status);
    PyBuffer_Release(&ts);
    PyBuffer_Release(&res);
    PyBuffer_Release(&keys);
    PyBuffer_Release(&types);
    PyBuffer_Release(&regions);
    return result;
}

PyDoc_STRVAR(newlines_doc,
             "newlines(buffer, start, end, out) -> count\n\n"
             "Offsets (from start) of the first len(out) newlines in buffer[start:end], written "
             "to the int64 array out; returns how many were found (if out is empty: counts them "
             "all). Runs without the GIL.");

static PyObject *newlines(PyObject *self, PyObject *args) {
    Py_buffer buf = {0}, out = {0};
    Py_ssize_t start, end;
    if (!PyArg_ParseTuple(args, "y*nnw*", &buf, &start, &end, &out)) return NULL;
    if (start < 0 || start > end || end > buf.len) {
        PyBuffer_Release(&buf);
        PyBuffer_Release(&out);
        PyErr_SetString(PyExc_ValueError, "newlines: start..end outside the buffer");
        return NULL;
    }
    Py_ssize_t limit = out.len / (Py_ssize_t)sizeof(int64_t), found = 0;
    int64_t *positions = (int64_t *)out.buf;
    const char *base = (const char *)buf.buf;
    Py_BEGIN_ALLOW_THREADS
    const char *p = base + start, *stop = base + end;
    while (p < stop && (limit == 0 || found < limit)) {
        const char *q = memchr(p, '\n', (size_t)(stop - p));
        if (q == NULL) break;
        if (limit) positions[found] = q - (base + start);
        found++;
        p = q + 1;
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&buf);
    PyBuffer_Release(&out);
    return PyLong_FromSsize_t(found);
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS, scan_doc},
    {"newlines", newlines, METH_VARARGS, newlines_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_event_scan",
    "Event records -> columns without the GIL (the fast path of event_decode).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__event_scan(void) { return PyModule_Create(&module); }

/* intbench: an integer benchmark guest in the style of the industry's embedded CPU benchmarks
 * (written for this project, no code taken from any of them). Each iteration runs three
 * kernels over a small working set, and CRC-16s fold their results:
 *   - a linked list of (value, index) records: find values, reverse, merge-sort by value and
 *     by index (pointer chasing, unpredictable branches);
 *   - 16-bit matrices: add a constant, multiply by a constant, by a vector and by a matrix,
 *     extract bit fields of the products (multiply-accumulate, 16-bit loads);
 *   - a state machine that classifies the tokens of a text buffer (integers, decimals,
 *     exponents, invalid) and then corrupts and re-scans it (byte loads, switch dispatch).
 * Prints each kernel's CRC and a final CRC; the final one must equal the constant compiled in.
 * Built twice: intbench.elf (4000 iterations, about 780 million instructions, for timing) and
 * intbench-short.elf (-DBENCH_SHORT: 6 iterations, about 1.2 million, for tests).
 * -DHOST_CHECK builds it as a host program that prints the same lines, to derive the
 * constants without any emulator:  gcc -O2 -DHOST_CHECK [-DBENCH_SHORT] intbench.c && ./a.out */
#ifdef HOST_CHECK
#include <stdint.h>
#include <stdio.h>
#else
#include "runtime.h"
#endif

#ifdef BENCH_SHORT
#define ITERATIONS 6u
#define EXPECT 0x3F49u
#define NAME "intbench-short"
#else
#define ITERATIONS 4000u
#define EXPECT 0xA4E7u
#define NAME "intbench"
#endif

/* ---- CRC-16 (reflected polynomial 0xA001), bit at a time ---------------------------------- */
static uint16_t crc8(uint8_t data, uint16_t crc) {
  for (int i = 0; i < 8; i++) {
    uint8_t x = (uint8_t)((data & 1) ^ (crc & 1));
    data >>= 1;
    crc >>= 1;
    if (x) crc ^= 0xA001;
  }
  return crc;
}
static uint16_t crc16(uint16_t v, uint16_t crc) { return crc8((uint8_t)(v >> 8), crc8((uint8_t)v, crc)); }
static uint16_t crc32w(uint32_t v, uint16_t crc) { return crc16((uint16_t)(v >> 16), crc16((uint16_t)v, crc)); }

static uint32_t seed_state;
static uint32_t lcg(void) {
  seed_state = seed_state * 1103515245u + 12345u;
  return seed_state >> 8;
}

/* ---- linked list ---------------------------------------------------------------------------- */
#define LIST_N 96
struct item {
  struct item *next;
  int16_t value;
  int16_t index;
};
static struct item items[LIST_N];

static struct item *list_build(void) {
  for (int i = 0; i < LIST_N; i++) {
    items[i].next = i + 1 < LIST_N ? &items[i + 1] : 0;
    items[i].index = (int16_t)i;
    items[i].value = (int16_t)(lcg() & 0x7fff);
  }
  return &items[0];
}

static struct item *list_find(struct item *l, int16_t value, int16_t index) {
  if (index >= 0) {
    while (l && l->index != index) l = l->next;
  } else {
    while (l && (l->value & 0xff) != (value & 0xff)) l = l->next;
  }
  return l;
}

static struct item *list_reverse(struct item *l) {
  struct item *prev = 0;
  while (l) {
    struct item *n = l->next;
    l->next = prev;
    prev = l;
    l = n;
  }
  return prev;
}

static int cmp_value(const struct item *a, const struct item *b) { return a->value - b->value; }
static int cmp_index(const struct item *a, const struct item *b) { return a->index - b->index; }

/* Bottom-up merge sort of a singly linked list (no recursion, no extra memory). */
static struct item *list_sort(struct item *l, int (*cmp)(const struct item *, const struct item *)) {
  for (int width = 1;; width *= 2) {
    struct item *p = l, *tail = 0;
    l = 0;
    int merges = 0;
    while (p) {
      merges++;
      struct item *q = p;
      int psize = 0;
      for (int i = 0; i < width && q; i++) {
        psize++;
        q = q->next;
      }
      int qsize = width;
      while (psize > 0 || (qsize > 0 && q)) {
        struct item *e;
        if (psize == 0) {
          e = q;
          q = q->next;
          qsize--;
        } else if (qsize == 0 || !q || cmp(p, q) <= 0) {
          e = p;
          p = p->next;
          psize--;
        } else {
          e = q;
          q = q->next;
          qsize--;
        }
        if (tail) tail->next = e;
        else l = e;
        tail = e;
      }
      p = q;
    }
    tail->next = 0;
    if (merges <= 1) return l;
  }
}

static uint16_t bench_list(uint16_t crc) {
  struct item *l = list_build();
  int found = 0, missing = 0;
  for (int i = 0; i < 24; i++) {
    struct item *f = list_find(l, (int16_t)lcg(), (int16_t)((i & 1) ? -1 : (i * 7) % (LIST_N + 8)));
    if (f) {
      found++;
      crc = crc16((uint16_t)f->value, crc);
    } else missing++;
  }
  l = list_reverse(l);
  l = list_sort(l, cmp_value);
  int16_t prev = -1;
  int ordered = 1;
  for (struct item *p = l; p; p = p->next) {
    if (p->value < prev) ordered = 0;
    prev = p->value;
    crc = crc16((uint16_t)p->index, crc);
  }
  l = list_sort(l, cmp_index);
  for (struct item *p = l; p; p = p->next) crc = crc16((uint16_t)(p->value ^ p->index), crc);
  return crc16((uint16_t)(found * 256 + missing + ordered * 4096), crc);
}

/* ---- matrices ---------------------------------------------------------------------------------- */
#define MAT_N 12
static int16_t mA[MAT_N * MAT_N], mB[MAT_N * MAT_N];
static int32_t mC[MAT_N * MAT_N];

static int32_t mat_sum(const int32_t *c, int32_t clip) {
  int32_t tmp = 0, prev = 0, ret = 0;
  for (int i = 0; i < MAT_N; i++)
    for (int j = 0; j < MAT_N; j++) {
      int32_t cur = c[i * MAT_N + j];
      tmp += cur;
      if (tmp > clip) {
        ret += 10;
        tmp = 0;
      } else ret += cur > prev ? 1 : 0;
      prev = cur;
    }
  return ret;
}

static uint16_t bench_matrix(uint16_t crc) {
  for (int i = 0; i < MAT_N * MAT_N; i++) {
    mA[i] = (int16_t)((lcg() % 2001) - 1000);
    mB[i] = (int16_t)((lcg() % 2001) - 1000);
  }
  int16_t k = (int16_t)(lcg() & 0xff) | 1;
  int32_t clip = (int32_t)k << 12;
  for (int i = 0; i < MAT_N * MAT_N; i++) mA[i] += k; /* add constant */
  for (int i = 0; i < MAT_N * MAT_N; i++) mC[i] = (int32_t)mA[i] * k; /* multiply by constant */
  crc = crc16((uint16_t)mat_sum(mC, clip), crc);
  for (int i = 0; i < MAT_N; i++) { /* matrix times vector (first column of B) */
    int32_t s = 0;
    for (int j = 0; j < MAT_N; j++) s += (int32_t)mA[i * MAT_N + j] * mB[j * MAT_N];
    mC[i] = s;
  }
  crc = crc32w((uint32_t)mC[0] ^ (uint32_t)mC[MAT_N - 1], crc);
  for (int i = 0; i < MAT_N; i++) /* matrix times matrix */
    for (int j = 0; j < MAT_N; j++) {
      int32_t s = 0;
      for (int x = 0; x < MAT_N; x++) s += (int32_t)mA[i * MAT_N + x] * mB[x * MAT_N + j];
      mC[i * MAT_N + j] = s;
    }
  crc = crc16((uint16_t)mat_sum(mC, clip), crc);
  for (int i = 0; i < MAT_N; i++) /* matrix times matrix, bit fields of the products */
    for (int j = 0; j < MAT_N; j++) {
      int32_t s = 0;
      for (int x = 0; x < MAT_N; x++) {
        int32_t p = (int32_t)mA[i * MAT_N + x] * mB[x * MAT_N + j];
        s += ((p >> 2) & 0xf) * ((p >> 5) & 0x7f);
      }
      mC[i * MAT_N + j] = s;
    }
  crc = crc16((uint16_t)mat_sum(mC, clip), crc);
  for (int i = 0; i < MAT_N * MAT_N; i++) mA[i] -= k; /* undo: the matrix must be as built */
  int32_t h = 0;
  for (int i = 0; i < MAT_N * MAT_N; i++) h = h * 33 + mA[i];
  return crc32w((uint32_t)h, crc);
}

/* ---- state machine ------------------------------------------------------------------------------ */
#define TEXT_N 480
static uint8_t text[TEXT_N];
enum { ST_START, ST_INVALID, ST_S1, ST_S2, ST_INT, ST_FLOAT, ST_EXP, ST_SCI, ST_COUNT };

static int is_digit(uint8_t c) { return c >= '0' && c <= '9'; }

/* Classify the token at *p (up to a comma); returns the final state and advances *p. */
static int scan(const uint8_t **p, const uint8_t *end, uint32_t *transitions) {
  int st = ST_START;
  const uint8_t *s = *p;
  while (s < end && *s != ',') {
    uint8_t c = *s++;
    int next = st;
    switch (st) {
      case ST_START:
        if (is_digit(c)) next = ST_INT;
        else if (c == '+' || c == '-') next = ST_S1;
        else if (c == '.') next = ST_FLOAT;
        else next = ST_INVALID;
        break;
      case ST_S1:
        if (is_digit(c)) next = ST_INT;
        else if (c == '.') next = ST_FLOAT;
        else next = ST_INVALID;
        break;
      case ST_INT:
        if (c == '.') next = ST_FLOAT;
        else if (!is_digit(c)) next = ST_INVALID;
        break;
      case ST_FLOAT:
        if (c == 'e' || c == 'E') next = ST_S2;
        else if (!is_digit(c)) next = ST_INVALID;
        break;
      case ST_S2:
        if (c == '+' || c == '-') next = ST_EXP;
        else next = ST_INVALID;
        break;
      case ST_EXP:
        if (is_digit(c)) next = ST_SCI;
        else next = ST_INVALID;
        break;
      case ST_SCI:
        if (!is_digit(c)) next = ST_INVALID;
        break;
      default:
        break;
    }
    if (next != st) transitions[next]++;
    st = next;
  }
  *p = s < end ? s + 1 : s;
  return st;
}

static uint16_t bench_state(uint16_t crc) {
  static const char *const pieces[] = {"5012", "1234", "-874", "+122", "35.54", "0.3", "-110.7", "-.5",
                                       "5.5e+3", "-3.2e-12", "T0.3e-1", "-T.T++Tq", "1T3.4e4z", "34.0e-T", "+.e", "7"};
  int n = 0;
  while (n < TEXT_N - 16) {
    const char *s = pieces[lcg() & 15];
    while (*s && n < TEXT_N - 2) text[n++] = (uint8_t)*s++;
    text[n++] = ',';
  }
  while (n < TEXT_N) text[n++] = ',';
  uint32_t finals[ST_COUNT] = {0}, transitions[ST_COUNT] = {0};
  for (int pass = 0; pass < 2; pass++) {
    const uint8_t *p = text, *end = text + TEXT_N;
    while (p < end) finals[scan(&p, end, transitions)]++;
    for (int i = 0; i < ST_COUNT; i++) crc = crc32w(finals[i] * 65536 + transitions[i], crc);
    for (int i = (int)(lcg() % 7); i < TEXT_N; i += 7) /* corrupt every 7th character */
      if (text[i] != ',') text[i] ^= (uint8_t)(pass + 1);
  }
  return crc;
}

static uint16_t run_bench(uint16_t *clist, uint16_t *cmat, uint16_t *cstate) {
  uint16_t crc = 0;
  for (uint32_t it = 0; it < ITERATIONS; it++) {
    seed_state = 0x3415u + it * 0x10001u;
    *clist = bench_list(*clist);
    *cmat = bench_matrix(*cmat);
    *cstate = bench_state(*cstate);
    crc = crc16(*clist, crc16(*cmat, crc16(*cstate, crc)));
  }
  return crc;
}

#ifdef HOST_CHECK
int main(void) {
  uint16_t a = 0, b = 0, c = 0;
  uint16_t f = run_bench(&a, &b, &c);
  printf("%s iterations=%u crclist=%04x crcmatrix=%04x crcstate=%04x crcfinal=%04x\n", NAME, ITERATIONS, a, b, c, f);
  return 0;
}
#else
int kmain(uint32_t magic, struct multiboot_info *mbi) {
  (void)magic;
  (void)mbi;
  printf(NAME ": start\n");
  uint16_t a = 0, b = 0, c = 0;
  uint16_t f = run_bench(&a, &b, &c);
  printf(NAME ": iterations=%u crclist=%04x crcmatrix=%04x crcstate=%04x crcfinal=%04x\n", ITERATIONS, a, b, c, f);
  if (f == EXPECT) {
    printf(NAME ": OK\n");
    return 0;
  }
  printf(NAME ": FAIL crcfinal=%04x expected=%04x\n", f, EXPECT);
  return 1;
}
#endif

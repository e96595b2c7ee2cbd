/* cpubench: a self-validating CPU benchmark guest. Fixed inputs drive five kernels typical of
 * integer code (linked-list processing, matrix arithmetic, a lexer state machine, CRC32 and a
 * sort); their results fold into one checksum that must equal the constant compiled in.
 * Built twice: cpubench.elf (long, for timing) and cpubench-short.elf (-DBENCH_SHORT, for
 * tests). -DHOST_CHECK builds the same code as a host program that prints the checksums, to
 * derive the constants independently of any emulator:
 *   gcc -O2 -DHOST_CHECK [-DBENCH_SHORT] cpubench.c && ./a.out
 * Each round is about 3 million guest instructions (measured with QEMU -icount shift=0 and
 * -DBENCH_TSC): cpubench (250 rounds) about 756 million, cpubench-short (10 rounds) about 30 million. */
#ifdef HOST_CHECK
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#else
#include "runtime.h"
#endif

#ifdef BENCH_SHORT
#define ROUNDS 10u
#define EXPECT 0x5F8336E6u
#define NAME "cpubench-short"
#else
#define ROUNDS 250u
#define EXPECT 0x83B4AE58u
#define NAME "cpubench"
#endif

static uint32_t rng_state;
static uint32_t rng(void) {
  uint32_t x = rng_state; /* xorshift32 */
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  rng_state = x;
  return x;
}

static uint32_t mix(uint32_t h, uint32_t v) {
  h ^= v + 0x9E3779B9u + (h << 6) + (h >> 2);
  return h;
}

/* ---- linked lists ------------------------------------------------------------------- */
#define LIST_N 4096
struct node {
  struct node *next;
  uint32_t value;
};
static struct node pool[LIST_N];
static uint32_t perm[LIST_N];

static uint32_t bench_list(void) {
  for (uint32_t i = 0; i < LIST_N; i++) perm[i] = i;
  for (uint32_t i = LIST_N - 1; i > 0; i--) { /* Fisher-Yates: a random link order */
    uint32_t j = rng() % (i + 1), t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
  for (uint32_t i = 0; i < LIST_N; i++) {
    pool[perm[i]].value = rng() & 0xFFFF;
    pool[perm[i]].next = i + 1 < LIST_N ? &pool[perm[i + 1]] : 0;
  }
  struct node *head = &pool[perm[0]];
  uint32_t h = 0;
  for (int pass = 0; pass < 4; pass++) {
    uint32_t sum = 0, n = 0;
    for (struct node *p = head; p; p = p->next) sum += p->value ^ n++;
    h = mix(h, sum);
    struct node *prev = 0; /* reverse in place */
    while (head) {
      struct node *nx = head->next;
      head->next = prev;
      prev = head;
      head = nx;
    }
    head = prev;
  }
  /* unlink every node whose value is divisible by 3 */
  struct node **pp = &head;
  uint32_t removed = 0;
  while (*pp) {
    if ((*pp)->value % 3 == 0) { *pp = (*pp)->next; removed++; }
    else pp = &(*pp)->next;
  }
  uint32_t count = 0, acc = 0;
  for (struct node *p = head; p; p = p->next) { count++; acc = acc * 31 + p->value; }
  return mix(mix(h, removed), mix(count, acc));
}

/* ---- matrix arithmetic ---------------------------------------------------------------- */
#define MAT_N 24
static int32_t ma[MAT_N][MAT_N], mb[MAT_N][MAT_N], mc[MAT_N][MAT_N];

static uint32_t bench_matrix(void) {
  for (int i = 0; i < MAT_N; i++)
    for (int j = 0; j < MAT_N; j++) {
      ma[i][j] = (int32_t)(rng() % 201) - 100;
      mb[i][j] = (int32_t)(rng() % 201) - 100;
    }
  uint32_t h = 0;
  for (int rep = 0; rep < 3; rep++) {
    for (int i = 0; i < MAT_N; i++)
      for (int j = 0; j < MAT_N; j++) {
        int32_t s = 0;
        for (int k = 0; k < MAT_N; k++) s += ma[i][k] * mb[k][j];
        mc[i][j] = s;
      }
    /* feed the product back (scaled down) so repetitions differ */
    for (int i = 0; i < MAT_N; i++)
      for (int j = 0; j < MAT_N; j++) {
        h = mix(h, (uint32_t)mc[i][j]);
        ma[i][j] = (mc[i][j] >> 7) % 101;
      }
  }
  return h;
}

/* ---- a lexer state machine ------------------------------------------------------------ */
#define TEXT_N 16384
static uint8_t text[TEXT_N];

static uint32_t bench_lexer(void) {
  static const char alphabet[] = "abcxyz0123456789 +-*/()=;\n_";
  for (uint32_t i = 0; i < TEXT_N; i++) text[i] = (uint8_t)alphabet[rng() % (sizeof alphabet - 1)];
  enum { S_START, S_IDENT, S_NUMBER, S_OP, S_COMMENT } st = S_START;
  uint32_t idents = 0, numbers = 0, ops = 0, lines = 0, value = 0, h = 0, slashes = 0;
  for (uint32_t i = 0; i < TEXT_N; i++) {
    uint8_t c = text[i];
    int alpha = (c >= 'a' && c <= 'z') || c == '_', digit = c >= '0' && c <= '9';
    switch (st) {
      case S_COMMENT:
        if (c == '\n') { st = S_START; lines++; }
        continue;
      case S_IDENT:
        if (alpha || digit) { h = h * 33 + c; continue; }
        idents++;
        break;
      case S_NUMBER:
        if (digit) { value = value * 10 + (uint32_t)(c - '0'); continue; }
        numbers++;
        h = mix(h, value);
        break;
      case S_OP:
      case S_START:
        break;
    }
    if (c == '/' && slashes) { st = S_COMMENT; slashes = 0; continue; }
    slashes = c == '/';
    if (alpha) { st = S_IDENT; h = h * 33 + c; }
    else if (digit) { st = S_NUMBER; value = (uint32_t)(c - '0'); }
    else if (c == '\n') { st = S_START; lines++; }
    else if (c == ' ') st = S_START;
    else { st = S_OP; ops++; h ^= (uint32_t)c << (ops & 15); }
  }
  return mix(mix(h, idents), mix(numbers * 65536 + ops, lines));
}

/* ---- CRC32 (table-driven and bitwise) -------------------------------------------------- */
static uint32_t crc_table[256];

static uint32_t bench_crc(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    crc_table[i] = c;
  }
  uint32_t crc = 0xFFFFFFFFu;
  for (int rep = 0; rep < 2; rep++)
    for (uint32_t i = 0; i < TEXT_N; i++) crc = crc_table[(crc ^ text[i]) & 0xFF] ^ (crc >> 8);
  uint32_t bcrc = 0xFFFFFFFFu;
  for (uint32_t i = 0; i < 2048; i++) {
    bcrc ^= text[i];
    for (int k = 0; k < 8; k++) bcrc = (bcrc >> 1) ^ (0xEDB88320u & (0u - (bcrc & 1)));
  }
  return mix(~crc, ~bcrc);
}

/* ---- sort ------------------------------------------------------------------------------- */
#define SORT_N 4096
static uint32_t arr[SORT_N];

static void quicksort(uint32_t *a, int lo, int hi) {
  while (hi - lo > 16) {
    uint32_t p = a[lo + (hi - lo) / 2];
    int i = lo, j = hi;
    while (i <= j) {
      while (a[i] < p) i++;
      while (a[j] > p) j--;
      if (i <= j) { uint32_t t = a[i]; a[i] = a[j]; a[j] = t; i++; j--; }
    }
    if (j - lo < hi - i) { quicksort(a, lo, j); lo = i; }
    else { quicksort(a, i, hi); hi = j; }
  }
  for (int i = lo + 1; i <= hi; i++) { /* insertion sort for the small rest */
    uint32_t v = a[i];
    int j = i - 1;
    while (j >= lo && a[j] > v) { a[j + 1] = a[j]; j--; }
    a[j + 1] = v;
  }
}

static uint32_t bench_sort(void) {
  for (uint32_t i = 0; i < SORT_N; i++) arr[i] = rng();
  quicksort(arr, 0, SORT_N - 1);
  uint32_t h = 0, sorted = 1;
  for (uint32_t i = 0; i < SORT_N; i++) {
    if (i && arr[i - 1] > arr[i]) sorted = 0;
    h = mix(h, arr[i] * (i + 1));
  }
  return mix(h, sorted);
}

static uint32_t run_bench(void) {
  uint32_t h = 0;
  for (uint32_t round = 0; round < ROUNDS; round++) {
    rng_state = 0x2545F491u ^ (round * 0x9E3779B9u);
    h = mix(h, bench_list());
    h = mix(h, bench_matrix());
    h = mix(h, bench_lexer());
    h = mix(h, bench_crc());
    h = mix(h, bench_sort());
  }
  return h;
}

#ifdef HOST_CHECK
int main(void) {
  printf("%s rounds=%u checksum=%08x\n", NAME, ROUNDS, run_bench());
  return 0;
}
#else
int kmain(uint32_t magic, struct multiboot_info *mbi) {
  (void)magic;
  (void)mbi;
  printf(NAME ": start\n");
#ifdef BENCH_TSC
  uint64_t t0 = rdtsc();
#endif
  uint32_t h = run_bench();
#ifdef BENCH_TSC
  uint64_t t1 = rdtsc();
  printf("tsc delta: %u k\n", (uint32_t)((t1 - t0) >> 10));
#endif
  if (h == EXPECT) {
    printf(NAME ": OK checksum=%08x\n", h);
    return 0;
  }
  printf(NAME ": FAIL checksum=%08x expected=%08x\n", h, EXPECT);
  return 1;
}
#endif

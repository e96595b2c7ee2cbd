/* csmith guests: the string functions a csmith program may call (guest-images/lib/string.c
 * and csmith-main.c define them). */
#ifndef CSMITH_GUEST_STRING_H
#define CSMITH_GUEST_STRING_H
typedef unsigned int size_t;
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int strcmp(const char *a, const char *b);
#endif

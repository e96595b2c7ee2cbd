/* csmith guests (bench csmith): the only stdio a csmith program uses is printf, for its
 * checksums; csmith-main.c provides it with the formats csmith prints (%X, %lX, %d, %s). */
#ifndef CSMITH_GUEST_STDIO_H
#define CSMITH_GUEST_STDIO_H
int csmith_printf(const char *fmt, ...);
#define printf csmith_printf
#endif

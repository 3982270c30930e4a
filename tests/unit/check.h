/* A minimal assertion kit for table-driven unit tests: a failed CHECK prints
 * where and why and makes the test exit non-zero. */
#ifndef HOOKD_CHECK_H
#define HOOKD_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failures;

#define CHECK(cond, ...) do { \
    if (!(cond)) { \
        check_failures++; \
        fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond); \
        fprintf(stderr, __VA_ARGS__); \
        fputc('\n', stderr); \
    } \
} while (0)

#define CHECK_STR(a, b) CHECK(strcmp((a), (b)) == 0, "'%s' != '%s'", (a), (b))
#define CHECK_DONE() (check_failures ? (fprintf(stderr, "%d failure(s)\n", check_failures), 1) : 0)

#endif

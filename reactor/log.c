#include "reactor/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

enum log_level log_min_level = LOG_INFO_;

int log_set_level(const char *name)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++)
        if (strcmp(name, names[i]) == 0) {
            log_min_level = (enum log_level)i;
            return 0;
        }
    return -1;
}

static size_t esc(char *out, size_t cap, const char *s)
{
    size_t n = 0;
    for (; *s && n + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[n++] = '\\';
            out[n++] = (char)c;
        } else if (c < 0x20) {
            n += (size_t)snprintf(out + n, cap - n, "\\u%04x", c);
        } else {
            out[n++] = (char)c;
        }
    }
    return n;
}

void log_emit(enum log_level lvl, const char *msg, ...)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    char line[2048];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(line, sizeof(line), "{\"ts\":\"%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03dZ\",\"level\":\"%s\",\"msg\":\"",
                          (int)(tv.tv_usec / 1000), names[lvl]);
    n += esc(line + n, sizeof(line) - n - 64, msg);
    line[n++] = '"';
    va_list ap;
    va_start(ap, msg);
    for (;;) {
        const char *k = va_arg(ap, const char *);
        if (!k)
            break;
        const char *v = va_arg(ap, const char *);
        if (n + 16 >= sizeof(line))
            continue;
        line[n++] = ',';
        line[n++] = '"';
        n += esc(line + n, sizeof(line) - n - 16, k);
        n += (size_t)snprintf(line + n, sizeof(line) - n, "\":\"");
        n += esc(line + n, sizeof(line) - n - 8, v ? v : "");
        line[n++] = '"';
    }
    va_end(ap);
    line[n++] = '}';
    line[n++] = '\n';
    fwrite(line, 1, n, stderr);
}

#include "conf/log.h"

#include <event2/event.h>
#include <stdarg.h>
#include <stdint.h>
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

/* Repeats of one message (by its text's address: every call site passes a
 * literal) are limited to LOG_BURST lines per LOG_WINDOW_MS; the first line
 * after a window that suppressed some says how many. */
#define LOG_BURST 10
#define LOG_WINDOW_MS 10000
#define LOG_SLOTS 128

static struct {
    const char *msg;
    int64_t window_start;
    unsigned count;
    unsigned long suppressed;
} limits[LOG_SLOTS];
static unsigned long long suppressed_total;

unsigned long long log_suppressed_total(void) { return suppressed_total; }

/* 1 when this line may be written at `now` (ms); *was_suppressed gets the
 * count to report. */
static int log_admit(const char *msg, int64_t now, unsigned long *was_suppressed)
{
    size_t slot = ((uintptr_t)msg >> 3) % LOG_SLOTS;
    *was_suppressed = 0;
    if (limits[slot].msg != msg || now - limits[slot].window_start >= LOG_WINDOW_MS) {
        if (limits[slot].msg == msg)
            *was_suppressed = limits[slot].suppressed;
        limits[slot].msg = msg;
        limits[slot].window_start = now;
        limits[slot].count = 0;
        limits[slot].suppressed = 0;
    }
    if (++limits[slot].count <= LOG_BURST)
        return 1;
    limits[slot].suppressed++;
    suppressed_total++;
    return 0;
}

void log_emit(enum log_level lvl, const char *msg, ...)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    char line[2048];
    unsigned long was_suppressed;
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    if (!log_admit(msg, (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000, &was_suppressed))
        return;
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
    if (was_suppressed && n + 64 < sizeof(line))
        n += (size_t)snprintf(line + n, sizeof(line) - n, ",\"repeats_suppressed\":\"%lu\"", was_suppressed);
    line[n++] = '}';
    line[n++] = '\n';
    fwrite(line, 1, n, stderr);
}

/* libevent's own messages (accept errors, bufferevent warnings) as JSON
 * lines, rate-limited like every other: they share one message text. */
static void on_libevent_log(int severity, const char *text)
{
    enum log_level lvl = severity == EVENT_LOG_DEBUG ? LOG_DEBUG
                         : severity == EVENT_LOG_MSG ? LOG_INFO_
                         : severity == EVENT_LOG_WARN ? LOG_WARN : LOG_ERROR;
    LOG_AT(lvl, "libevent", "detail", text, NULL);
}

void log_capture_libevent(void)
{
    event_set_log_callback(on_libevent_log);
}

/*
 * log: one JSON object per line on stderr: {"ts","level","msg",...}.
 * It sits in conf/, the base layer, because every layer logs (the store
 * its connection, the reactor its work) and no layer includes one above it.
 *
 * Extra fields come as key/value string pairs ended by NULL:
 *   LOG_INFO("delivery sent", "delivery_id", id, "status", "200", NULL);
 * Values are escaped; never pass a secret or token. `msg` must be a string
 * literal: repeats are recognised by its address.
 */
#ifndef HOOKD_LOG_H
#define HOOKD_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO_, LOG_WARN, LOG_ERROR };

extern enum log_level log_min_level;

int log_set_level(const char *name);
/* Lines of one message past 10 per 10 s are dropped and counted; the next
 * line written says how many ("repeats_suppressed"). */
void log_emit(enum log_level lvl, const char *msg, ...);
unsigned long long log_suppressed_total(void);
/* Route libevent's log through log_emit. */
void log_capture_libevent(void);

#define LOG_AT(lvl, ...) do { if ((lvl) >= log_min_level) log_emit((lvl), __VA_ARGS__); } while (0)
#define LOG_DBG(...) LOG_AT(LOG_DEBUG, __VA_ARGS__)
#define LOG_INFO(...) LOG_AT(LOG_INFO_, __VA_ARGS__)
#define LOG_WARNING(...) LOG_AT(LOG_WARN, __VA_ARGS__)
#define LOG_ERR(...) LOG_AT(LOG_ERROR, __VA_ARGS__)

#endif

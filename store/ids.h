/*
 * ids: UUIDv7 identifiers and random credentials.
 *
 * Ids are UUIDv7 (RFC 9562): 48 bits of Unix milliseconds first, so their
 * text sorts in creation order. hookd's Redis indexes rely on that: a
 * lexicographic range of ids is a time range (see store/keys.h).
 */
#ifndef HOOKD_IDS_H
#define HOOKD_IDS_H

#include <stddef.h>
#include <stdint.h>

#define ID_LEN 36 /* text form without the NUL */

int64_t now_ms(void);
/* Fill out[37] with a new UUIDv7 for time `ms`. Monotonic within a process. */
void id_new(char out[ID_LEN + 1], int64_t ms);
/* An event id: a UUIDv7 whose low 16 bits are zero, so that its deliveries
 * can be named by setting them to 1, 2, ... (store/lua/lib/delivery.lua);
 * 46 random bits and the 12-bit counter remain. */
void id_new_event(char out[ID_LEN + 1], int64_t ms);
/* The smallest id text at or after time `ms` (for range bounds). */
void id_floor(char out[ID_LEN + 1], int64_t ms);
/* 1 when s is a canonical lowercase UUID of any version. */
int id_valid(const char *s);
/* Milliseconds encoded in a UUIDv7. */
int64_t id_time(const char *id);
/* `nbytes` random bytes from OpenSSL as lowercase hex, with a prefix. */
int random_token(char *out, size_t outlen, const char *prefix, size_t nbytes);

#endif

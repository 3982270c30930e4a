/*
 * payload: how an event's payload bytes are kept in Redis.
 *
 * A payload of PAYLOAD_PACK_MIN bytes or more is stored as one zstd frame
 * (level 1: about half the size of realistic JSON, a few microseconds a
 * kilobyte) when that saves at least an eighth; anything else is stored as
 * it came. A stored value is a frame exactly when it starts with zstd's
 * magic number 28 b5 2f fd: no JSON text starts with '(' (0x28), so the two
 * forms cannot be confused and no flag is needed. Values written before
 * compression existed read as they always did.
 */
#ifndef HOOKD_PAYLOAD_H
#define HOOKD_PAYLOAD_H

#include <stddef.h>

#define PAYLOAD_PACK_MIN 256

/* The stored form of a JSON payload: 1 with *out a malloc'd frame the
 * caller frees, 0 when the JSON is stored as is (*out NULL), -1 out of memory. */
int payload_pack(const void *json, size_t n, void **out, size_t *outlen);
/* The JSON of a stored value: 1 with *out malloc'd (NUL-terminated, the
 * caller frees), 0 when the stored bytes are the JSON (*out NULL), -1 for a
 * corrupt frame or one that would decode to more than `max` bytes. */
int payload_unpack(const void *stored, size_t n, size_t max, void **out, size_t *outlen);

#endif

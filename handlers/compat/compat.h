/*
 * compat: the five public redelivery contracts of shared/contracts/, each at
 * its own path with its own shapes, all on the core of store/redeliver.h and
 * reactor/delivery/jobs.h. Error bodies follow each contract (errors.c: struct
 * err_style of reactor/http/server.h), chosen by the route table.
 */
#ifndef HOOKD_COMPAT_H
#define HOOKD_COMPAT_H

#include "reactor/http/server.h"

void h_c000_resend(struct req *r);
void h_c001_bulk_redeliver(struct req *r);
void h_c002_replay(struct req *r);
void h_c003_retrigger(struct req *r);
void h_c004_redeliver(struct req *r);

extern const struct err_style err_c000, err_c001, err_c002, err_c003, err_c004;
extern const struct err_style err_oauth; /* RFC 6749's, for POST /oauth/token */

#endif

/*
 * routes: the one route table of hookd (handlers/routes.c). Every path the
 * server answers is a row there, with its auth rule and error style.
 */
#ifndef HOOKD_ROUTES_H
#define HOOKD_ROUTES_H

#include <stddef.h>

#include "reactor/server.h"

extern const struct route routes[];
extern const size_t routes_len;

#endif

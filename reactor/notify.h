/*
 * notify: systemd's service notification protocol (sd_notify(3)), written
 * out instead of linking libsystemd: one datagram to the socket named by
 * $NOTIFY_SOCKET, which systemd sets for a Type=notify unit. Without the
 * variable every call does nothing.
 */
#ifndef HOOKD_NOTIFY_H
#define HOOKD_NOTIFY_H

/* Send `state` ("READY=1", "STOPPING=1", ...: newline-separated
 * assignments). 0 when sent or not asked for, -1 when the socket refused
 * it. Never blocks. */
int notify_systemd(const char *state);

#endif

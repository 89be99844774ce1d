/* SPDX-License-Identifier: Apache-2.0 */
/*
 * notify.h — readiness and stop notices to the service manager (systemd's Type=notify
 * protocol): one datagram with "READY=1" or "STOPPING=1" to the Unix socket named by
 * $NOTIFY_SOCKET ("@name" for an abstract socket). Without that variable it does nothing,
 * so the daemons call it unconditionally.
 */
#ifndef SLUICE_NOTIFY_H
#define SLUICE_NOTIFY_H

/* Sends state (e.g. "READY=1\nSTATUS=serving") to $NOTIFY_SOCKET. 0 (also when the
 * variable is unset), or -errno. */
int notify__send(const char *state);

#endif

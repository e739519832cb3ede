/*
 * NAME
 *	control 3 - sesverify-milter's ControlSocket server
 * SYNOPSIS
 *	#include "control.h"
 *
 *	int control_open(const char *spec, char *err, size_t errlen)
 *	int control_start(int fd, sv_engine *engine)
 *	void control_stop(void)
 *	int control_execute(sv_engine *engine, const char *line, sv_buf *out)
 * DESCRIPTION
 *	One thread serves a Unix stream socket (mode 0660), up to
 *	CONTROL_CLIENTS_MAX clients at once, each with its own deadlines
 *	(CONTROL_LINE_MS to send its line, CONTROL_SEND_MS to read the
 *	answer).  refresh and forget are run only for root and the milter's
 *	own user (SO_PEERCRED); forced refreshes are bounded
 *	(CONTROL_REFRESH_MAX per CONTROL_REFRESH_WINDOW_S seconds).
 *	The protocol (verbs, answer prefixes, line and answer limits) is
 *	ctlproto.h's, shared with the sesverify client; see sesverify-milter(8)
 *	for the body formats.  metrics is the Prometheus text of metrics.c.
 *
 *	grant hands one grant of the daemon's API budget to a program of this
 *	host that sends an API request itself (sesverify check and list), so
 *	that the host has one budget: the server waits for a grant without
 *	blocking its other clients (at most CONTROL_GRANT_WAIT_MS, then "ERR
 *	grant: ..."), answers OK and keeps the connection open; the request
 *	counts as in flight until the client closes it (or sends anything),
 *	CONTROL_GRANT_HOLD_MS at the latest.  At most CONTROL_GRANTS_MAX
 *	clients wait for or hold grants at once.
 *
 *	control_execute() is the protocol without the socket, as root: it
 *	parses one line and appends the whole answer to out.
 * DIAGNOSTICS
 *	control_open returns a listening descriptor or -1 with err.
 */
#ifndef SV_CONTROL_H
#define SV_CONTROL_H

#include <stddef.h>

#include "buf.h"
#include "sesverify.h"

#define CONTROL_CLIENTS_MAX      64    /* served at once; more: "ERR busy" */
#define CONTROL_LINE_MS          2000  /* to send the command line */
#define CONTROL_SEND_MS          10000 /* to read the answer */
#define CONTROL_REFRESH_MAX      10    /* forced refreshes per window */
#define CONTROL_REFRESH_WINDOW_S 60
#define CONTROL_GRANT_WAIT_MS    10000 /* "grant": the longest wait for one */
#define CONTROL_GRANT_HOLD_MS    60000 /* a held grant ends by then at the latest */
#define CONTROL_GRANTS_MAX       8     /* clients waiting for or holding grants */

int control_open(const char *spec, char *err, size_t errlen);
int control_start(int fd, sv_engine *engine);
void control_stop(void);
int control_execute(sv_engine *engine, const char *line, sv_buf *out);

#endif

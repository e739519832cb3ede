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
 *	One thread serves a Unix stream socket (mode 0660), one client at a
 *	time.  The client sends one line, at most CONTROL_LINE_MAX octets:
 *
 *		VERB [ARG] [json]
 *
 *	with VERB list, show DOMAIN, refresh DOMAIN, forget DOMAIN, stats or
 *	metrics (the Prometheus text of metrics.c; no json form).
 *	The server answers and closes.  The first answer line is "OK",
 *	"NOTFOUND <domain>" or "ERR <message>"; then zero or more body lines
 *	(a plain-text table, or one JSON document when "json" was given).
 *	See sesverify-milter(8) for the body formats.
 *
 *	control_execute() is the protocol without the socket: it parses one
 *	line and appends the whole answer to out.
 * DIAGNOSTICS
 *	control_open returns a listening descriptor or -1 with err.
 */
#ifndef SV_CONTROL_H
#define SV_CONTROL_H

#include <stddef.h>

#include "buf.h"
#include "sesverify.h"

#define CONTROL_LINE_MAX 512

int control_open(const char *spec, char *err, size_t errlen);
int control_start(int fd, sv_engine *engine);
void control_stop(void);
int control_execute(sv_engine *engine, const char *line, sv_buf *out);

#endif

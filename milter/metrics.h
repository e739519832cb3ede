/*
 * NAME
 *	metrics 3 - sesverify-milter's Prometheus metrics (MetricsSocket)
 * SYNOPSIS
 *	#include "metrics.h"
 *
 *	void metrics_render(sv_engine *engine, sv_buf *out)
 *	int metrics_open(const char *spec, char *err, size_t errlen)
 *	int metrics_start(int fd, sv_engine *engine, char *err, size_t errlen)
 *	void metrics_stop(void)
 * DESCRIPTION
 *	metrics_render() appends every metric in the Prometheus text format
 *	0.0.4 to out.  It is the one renderer: the HTTP server and the
 *	control socket's "metrics" verb ("sesverify stats --prometheus")
 *	both print what it writes.  Safe to call from several threads.
 *
 *	metrics_open() binds MetricsSocket ("inet:PORT@IPv4" or
 *	"inet6:PORT@IPv6") before privileges are dropped; metrics_start()
 *	serves GET /metrics on it with libmicrohttpd (one polling thread,
 *	bounded connections, per-connection timeout and memory);
 *	metrics_stop() ends the server and closes the socket.
 * DIAGNOSTICS
 *	metrics_open and metrics_start return -1 with err.
 */
#ifndef SV_METRICS_H
#define SV_METRICS_H

#include <stddef.h>

#include "buf.h"
#include "sesverify.h"

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

void metrics_render(sv_engine *engine, sv_buf *out);
int metrics_open(const char *spec, char *err, size_t errlen);
int metrics_start(int fd, sv_engine *engine, char *err, size_t errlen);
void metrics_stop(void);

#endif

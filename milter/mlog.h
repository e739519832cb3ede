/*
 * NAME
 *	mlog 3 - sesverify-milter's logging
 * SYNOPSIS
 *	#include "mlog.h"
 *
 *	void mlog_open(const sv_config *cfg, bool foreground)
 *	void mlog(int level, const char *fmt, ...)
 *	void mlog_library(int level, const char *message, void *arg)
 *	int mlog_facility(const char *name)
 * DESCRIPTION
 *	mlog_open() (re)opens syslog with cfg's SyslogFacility and LogLevel,
 *	and copies to stderr when foreground.  mlog() logs one line at a
 *	syslog level.  mlog_library() is the sv_log_set_handler() bridge for
 *	libsesverify's diagnostics.  mlog_facility() maps a SyslogFacility
 *	name to its LOG_* value, -1 when unknown.
 */
#ifndef SV_MLOG_H
#define SV_MLOG_H

#include <stdbool.h>

#include "compat.h"
#include "sesverify.h"

void mlog_open(const sv_config *cfg, bool foreground);
void mlog(int level, const char *fmt, ...) SV_PRINTF(2, 3);
void mlog_library(int level, const char *message, void *arg);
int mlog_facility(const char *name);

#endif

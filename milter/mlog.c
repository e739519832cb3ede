/*
 * mlog.c - sesverify-milter's logging: syslog(3), plus stderr with -f.
 *	Owns the syslog connection (SyslogFacility, LogLevel) and the bridge
 *	for libsesverify's diagnostics (sv_log_set_handler).  Does not decide
 *	what is logged: callers do, and never pass secrets.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <unistd.h>

#include "milter.h"

static int log_max = SV_LOG_INFO;
static bool log_syslog;
static bool log_stderr = true;

static const struct {
	const char *name;
	int facility;
} facilities[] = {
    {"mail", LOG_MAIL},     {"daemon", LOG_DAEMON}, {"user", LOG_USER},     {"local0", LOG_LOCAL0},
    {"local1", LOG_LOCAL1}, {"local2", LOG_LOCAL2}, {"local3", LOG_LOCAL3}, {"local4", LOG_LOCAL4},
    {"local5", LOG_LOCAL5}, {"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7},
};

/* mlog_facility - syslog facility by name, -1 when unknown */
int mlog_facility(const char *name)
{
	for (size_t i = 0; name && i < SV_ARRAY_LEN(facilities); i++)
		if (strcasecmp(name, facilities[i].name) == 0)
			return facilities[i].facility;
	return -1;
}

/* mlog_open - (re)open syslog with the config's facility and level */
void mlog_open(const sv_config *cfg, bool foreground)
{
	int facility = mlog_facility(cfg->syslog_facility);
	int level = cfg->log_level > 0 ? cfg->log_level : SV_LOG_INFO;

	if (facility < 0)
		facility = LOG_MAIL;
	if (log_syslog)
		closelog();
	openlog(MILTER_NAME, LOG_PID | LOG_NDELAY, facility);
	log_syslog = true;
	log_stderr = foreground;
	__atomic_store_n(&log_max, level, __ATOMIC_RELAXED);
	sv_log_set_handler(mlog_library, NULL, level);
}

static const char *level_name(int level)
{
	switch (level) {
	case SV_LOG_ERR:
		return "error";
	case SV_LOG_WARNING:
		return "warning";
	case SV_LOG_NOTICE:
		return "notice";
	case SV_LOG_DEBUG:
		return "debug";
	default:
		return "info";
	}
}

/* emit - one finished line to syslog and/or stderr */
static void emit(int level, const char *msg)
{
	if (log_syslog)
		syslog(level, "%s", msg);
	if (log_stderr || !log_syslog)
		fprintf(stderr, "%s[%ld]: %s: %s\n", MILTER_NAME, (long)getpid(), level_name(level),
		        msg);
}

/* mlog - printf-like logging at a syslog level */
void mlog(int level, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	if (level > __atomic_load_n(&log_max, __ATOMIC_RELAXED))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	emit(level, msg);
}

/* mlog_library - sv_log_fn for libsesverify's diagnostics */
void mlog_library(int level, const char *message, void *arg)
{
	(void)arg;
	if (level > __atomic_load_n(&log_max, __ATOMIC_RELAXED))
		return;
	emit(level, message);
}

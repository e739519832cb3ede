/*
 * mlog.c - sesverify-milter's logging: syslog(3), plus stderr with -f.
 *	Owns the syslog connection (SyslogFacility, LogLevel) and the bridge
 *	for libsesverify's diagnostics (sv_log_set_handler).  Does not decide
 *	what is logged: callers do, and never pass secrets.
 *
 *	The milter logs one line per decision at LogLevel info, so a line
 *	must be cheap: it is formatted once (vsnprintf into a buffer that
 *	already holds the "name[pid]: level: " prefix for stderr), the pid
 *	is cached (reset in a forked child), and syslog(3) is only called
 *	while /dev/log exists: glibc's syslog() retries socket+connect on
 *	every call when it is missing, three wasted syscalls per message.
 *	Its presence is re-checked at most every LOG_RECHECK_S seconds
 *	(coarse monotonic clock: no syscall on the fast path).
 */
#include "config.h"

#include <errno.h>
#include <paths.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "mlog.h"
#include "sesverify-milter.h"

static int log_max = SV_LOG_INFO;
static bool log_syslog;
static bool log_stderr = true;

#define LOG_RECHECK_S 10
static int have_devlog = -1;  /* -1 unknown, 0 absent, 1 a socket */
static time_t devlog_checked; /* coarse monotonic seconds */
static long cached_pid;       /* 0: not yet (or reset after fork) */
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* forget_pid - pthread_atfork child handler: the child has a new pid */
static void forget_pid(void)
{
	sv_atomic_store(&cached_pid, 0);
}

/* register_atfork - once per process */
static void register_atfork(void)
{
	pthread_atfork(NULL, NULL, forget_pid);
}

/* my_pid - getpid() once per process */
static long my_pid(void)
{
	long pid = sv_atomic_load(&cached_pid);

	if (pid == 0) {
		pid = (long)getpid();
		sv_atomic_store(&cached_pid, pid);
	}
	return pid;
}

/* devlog_present - whether syslog(3) has a socket to talk to (cached) */
static bool devlog_present(void)
{
	struct timespec ts;
	struct stat st;
	int have = sv_atomic_load(&have_devlog);

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	if (have >= 0 && ts.tv_sec - sv_atomic_load(&devlog_checked) < LOG_RECHECK_S)
		return have == 1;
	have = stat(_PATH_LOG, &st) == 0 && S_ISSOCK(st.st_mode);
	sv_atomic_store(&devlog_checked, ts.tv_sec);
	sv_atomic_store(&have_devlog, have);
	return have == 1;
}

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
	pthread_once(&atfork_once, register_atfork);
	forget_pid();
	sv_atomic_store(&have_devlog, -1);
	if (log_syslog)
		closelog();
	openlog(MILTER_NAME, LOG_PID | (devlog_present() ? LOG_NDELAY : 0), facility);
	log_syslog = true;
	log_stderr = foreground;
	sv_atomic_store(&log_max, level);
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

/*
 * emit - one line to syslog and/or stderr
 *	buf holds room for the stderr prefix before msg (msg == buf + room)
 *	and len bytes of message; the stderr copy is one write(2).
 */
static void emit(int level, char *buf, size_t room, size_t len)
{
	char *msg = buf + room;
	bool to_syslog = log_syslog && devlog_present();
	char pre[64];
	int n;

	if (to_syslog)
		syslog(level, "%s", msg);
	if (!log_stderr && log_syslog)
		return; /* daemonised: stderr is /dev/null */
	n = snprintf(pre, sizeof(pre), "%s[%ld]: %s: ", MILTER_NAME, my_pid(), level_name(level));
	if (n < 0 || (size_t)n > room)
		return;
	memcpy(msg - n, pre, (size_t)n);
	msg[len] = '\n';
	while (write(STDERR_FILENO, msg - n, (size_t)n + len + 1) < 0 && errno == EINTR)
		;
	msg[len] = 0;
}

#define PREFIX_ROOM 64

/* mlog - printf-like logging at a syslog level */
void mlog(int level, const char *fmt, ...)
{
	char buf[PREFIX_ROOM + 2048 + 1];
	size_t max = sizeof(buf) - PREFIX_ROOM - 1;
	va_list ap;
	int n;

	if (level > sv_atomic_load(&log_max))
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + PREFIX_ROOM, max, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	emit(level, buf, PREFIX_ROOM, (size_t)n < max ? (size_t)n : max - 1);
}

/* mlog_library - sv_log_fn for libsesverify's diagnostics */
void mlog_library(int level, const char *message, void *arg)
{
	(void)arg;
	char buf[PREFIX_ROOM + 2048 + 1];
	size_t len = strnlen(message, 2047);

	if (level > sv_atomic_load(&log_max))
		return;
	memcpy(buf + PREFIX_ROOM, message, len);
	buf[PREFIX_ROOM + len] = 0;
	emit(level, buf, PREFIX_ROOM, len);
}

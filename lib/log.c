/*
 * log.c - route library diagnostics to the application.
 *	Owns the process-wide handler (default: stderr at INFO).  Does not
 *	own syslog: the daemon installs a handler that calls syslog(3).
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <pthread.h>

#include "log.h"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static sv_log_fn log_fn;
static void *log_arg;
static int log_max = SV_LOG_INFO;

/* sv_log_set_handler - install a handler (NULL: stderr) and a level ceiling */
void sv_log_set_handler(sv_log_fn fn, void *arg, int max_level)
{
	pthread_mutex_lock(&log_lock);
	log_fn = fn;
	log_arg = arg;
	log_max = max_level;
	pthread_mutex_unlock(&log_lock);
}

/* sv_log_enabled - cheap test before formatting expensive messages */
int sv_log_enabled(int level)
{
	return level <= sv_atomic_load(&log_max);
}

/* sv_log - format one message and deliver it */
void sv_log(int level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	sv_log_fn fn;
	void *arg;

	if (!sv_log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&log_lock);
	fn = log_fn;
	arg = log_arg;
	pthread_mutex_unlock(&log_lock);
	if (fn)
		fn(level, msg, arg);
	else
		fprintf(stderr, "sesverify: %s\n", msg);
}

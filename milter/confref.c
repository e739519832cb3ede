/*
 * confref.c - the worker's current configuration, reference counted.
 *	Owns loading (with the -p override and the reply-table check; from
 *	the file, or from its text handed over by the supervisor),
 *	the atomic swap on reload, and keeping a config alive while any
 *	message or the engine still uses it.  Does not parse: lib/config.c
 *	does.  A broken new file is reported and the old config kept.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "confref.h"
#include "mlog.h"
#include "sesverify-milter.h"
#include "policy.h"

const char *conf_path;
const char *conf_socket_arg;

static pthread_mutex_t conf_lock = PTHREAD_MUTEX_INITIALIZER;
static conf_ref *current;    /* what new messages get */
static conf_ref *engine_ref; /* what the engine was last given */

/* report_stderr - sv_config_report_fn for -n and start-up */
static void report_stderr(const char *message, void *arg)
{
	(void)arg;
	fprintf(stderr, "%s\n", message);
}

/* report_log - sv_config_report_fn for reloads (the daemon has no terminal) */
static void report_log(const char *message, void *arg)
{
	(void)arg;
	mlog(SV_LOG_ERR, "%s", message);
}

/* report_quiet - the supervisor's check: the worker reports the same errors */
static void report_quiet(const char *message, void *arg)
{
	(void)message;
	(void)arg;
}

/* report_for - the sv_config_report_fn of a CONF_* value */
static sv_config_report_fn report_for(int how)
{
	return how == CONF_STDERR ? report_stderr : how == CONF_LOG ? report_log : report_quiet;
}

/* finish - check the replies and the facility, apply -p; number of errors */
static int finish(const char *path, sv_config *cfg, sv_config **out, int how)
{
	sv_config_report_fn report = report_for(how);
	char err[256], msg[512];

	if (policy_check_replies(err, sizeof(err)) < 0) {
		snprintf(msg, sizeof(msg), "%s:0: %s", path, err);
		report(msg, NULL);
		sv_config_free(cfg);
		return 1;
	}
	if (mlog_facility(cfg->syslog_facility ? cfg->syslog_facility : "mail") < 0) {
		snprintf(msg, sizeof(msg), "%s:0: SyslogFacility %s is not supported", path,
		         cfg->syslog_facility);
		report(msg, NULL);
		sv_config_free(cfg);
		return 1;
	}
	if (conf_socket_arg) {
		char *s = strdup(conf_socket_arg);
		if (s == NULL) {
			sv_config_free(cfg);
			return 1;
		}
		free(cfg->socket);
		cfg->socket = s;
	}
	*out = cfg;
	return 0;
}

/* conf_load - parse path, apply -p, check the replies; number of errors */
int conf_load(const char *path, sv_config **out, int how)
{
	sv_config *cfg = NULL;
	int errors;

	*out = NULL;
	errors = sv_config_load(path, &cfg, report_for(how), NULL);
	if (errors > 0 || cfg == NULL)
		return errors > 0 ? errors : 1;
	return finish(path, cfg, out, how);
}

/* conf_read - the text and mode of the file at path; number of errors (reported) */
int conf_read(const char *path, char **text, size_t *len, mode_t *mode, int how)
{
	return sv_config_read_text(path, text, len, mode, report_for(how), NULL);
}

/* conf_load_text - conf_load of the text read from path (mode: its mode) */
int conf_load_text(const char *path, const char *text, size_t len, mode_t mode, sv_config **out,
                   int how)
{
	sv_config *cfg = NULL;
	int errors;

	*out = NULL;
	errors = sv_config_load_text(path, text, len, mode, &cfg, report_for(how), NULL);
	if (errors > 0 || cfg == NULL)
		return errors > 0 ? errors : 1;
	return finish(path, cfg, out, how);
}

/* conf_install - make cfg the current config (takes ownership) */
void conf_install(sv_config *cfg)
{
	conf_ref *ref = calloc(1, sizeof(*ref)), *old;

	if (ref == NULL) {
		mlog(SV_LOG_ERR, "out of memory installing the configuration");
		sv_config_free(cfg);
		return;
	}
	ref->cfg = cfg;
	ref->refs = 1;
	pthread_mutex_lock(&conf_lock);
	old = current;
	current = ref;
	pthread_mutex_unlock(&conf_lock);
	if (old)
		conf_release(old);
}

/* conf_current - pin the current config; pair with conf_release */
conf_ref *conf_current(void)
{
	conf_ref *ref;

	pthread_mutex_lock(&conf_lock);
	ref = current;
	if (ref)
		ref->refs++;
	pthread_mutex_unlock(&conf_lock);
	return ref;
}

/* conf_release - drop one pin; the last one frees the config */
void conf_release(conf_ref *ref)
{
	bool last;

	if (ref == NULL)
		return;
	pthread_mutex_lock(&conf_lock);
	last = --ref->refs == 0;
	pthread_mutex_unlock(&conf_lock);
	if (last) {
		sv_config_free(ref->cfg);
		free(ref);
	}
}

/* same - NULL-safe string equality */
static bool same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* warn_fixed - keys that only a restart applies */
static void warn_fixed(const sv_config *old, const sv_config *cfg)
{
	if (!same(old->socket, cfg->socket))
		mlog(SV_LOG_WARNING, "reload: Socket changed; restart to apply it");
	if (!same(old->control_socket, cfg->control_socket))
		mlog(SV_LOG_WARNING, "reload: ControlSocket changed; restart to apply it");
	if (!same(old->metrics_socket, cfg->metrics_socket))
		mlog(SV_LOG_WARNING, "reload: MetricsSocket changed; restart to apply it");
	if (!same(old->pid_file, cfg->pid_file))
		mlog(SV_LOG_WARNING, "reload: PidFile changed; restart to apply it");
	if (!same(old->user_id, cfg->user_id))
		mlog(SV_LOG_WARNING, "reload: UserID changed; restart to apply it");
}

/* conf_pin_engine - remember the config the engine was created with */
static void pin_engine(void)
{
	conf_ref *old = engine_ref;

	engine_ref = conf_current();
	if (old)
		conf_release(old);
}

/*
 * conf_reload - apply cfg, which the caller loaded: swap, reconfigure the
 *	engine (takes ownership of cfg)
 */
void conf_reload(sv_config *cfg)
{
	conf_ref *old;

	old = conf_current();
	if (old)
		warn_fixed(old->cfg, cfg);
	conf_install(cfg);
	mlog_open(cfg, milter_foreground);
	/*
	 * The engine may keep pointers into the config it was given, so the
	 * previous one stays pinned until the engine has switched.
	 */
	if (milter_engine) {
		conf_ref *prev = engine_ref;
		engine_ref = conf_current();
		if (sv_engine_reconfigure(milter_engine, engine_ref->cfg) < 0)
			mlog(SV_LOG_WARNING, "reload: the cache engine refused part of the new "
			                     "configuration");
		conf_release(prev);
	}
	conf_release(old);
	mlog(SV_LOG_NOTICE, "configuration reloaded from %s", conf_path);
}

/* conf_reload_failed - the log line of a reload that keeps the old configuration */
void conf_reload_failed(int errors)
{
	mlog(SV_LOG_ERR, "reload: %d error%s in %s; keeping the old configuration", errors,
	     errors == 1 ? "" : "s", conf_path);
}

/* conf_engine_pin - called once the engine was created from the current config */
void conf_engine_pin(void)
{
	pin_engine();
}

/* conf_shutdown - drop every pin this module holds */
void conf_shutdown(void)
{
	conf_ref *ref;

	conf_release(engine_ref);
	engine_ref = NULL;
	pthread_mutex_lock(&conf_lock);
	ref = current;
	current = NULL;
	pthread_mutex_unlock(&conf_lock);
	conf_release(ref);
}

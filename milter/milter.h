/*
 * NAME
 *	milter.h - internal interface between the parts of sesverify-milter
 * SYNOPSIS
 *	Logging (mlog.c):
 *		void mlog_open(const sv_config *cfg, bool foreground)
 *		void mlog(int level, const char *fmt, ...)
 *		void mlog_library(int level, const char *message, void *arg)
 *	Configuration (confref.c):
 *		conf_ref *conf_current(void)	pin the current config
 *		void conf_release(conf_ref *ref)
 *		int conf_load(const char *path, sv_config **out, bool quiet)
 *		void conf_install(sv_config *cfg)
 *		int conf_load_text(path, text, len, mode, &cfg, how)
 *		void conf_reload(sv_config *cfg)	apply a loaded config
 *	libmilter glue (milterfuncs.c):
 *		struct smfiDesc *milter_desc(void)
 *		bool milter_enter(void) / void milter_leave(void)
 *		void milter_drain(int64_t timeout_ms)
 *	Daemon helpers (daemon.c):
 *		int daemon_detach(void), int daemon_pidfile(path), ...
 *	Configuration hand-over (handover.c):
 *		int handover_init(void), void handover_reload(pid, &boot), ...
 *	Supervisor (supervisor.c):
 *		int supervise(int (*worker)(void *), void *arg)
 * DESCRIPTION
 *	Process-wide state of the worker (the engine, the current config,
 *	the -p override) lives here; the supervisor process never touches it
 *	beyond keeping a validated config to hand to a restarted worker.
 */
#ifndef SV_MILTER_H
#define SV_MILTER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "compat.h"
#include "sesverify.h"

#define MILTER_NAME "sesverify-milter"

/* Exit status of a worker that must not be restarted (bad socket etc.). */
#define WORKER_EXIT_FATAL 78

/* mlog.c */
void mlog_open(const sv_config *cfg, bool foreground);
void mlog(int level, const char *fmt, ...) SV_PRINTF(2, 3);
void mlog_library(int level, const char *message, void *arg);
int mlog_facility(const char *name);

/* confref.c */
typedef struct conf_ref conf_ref;
struct conf_ref {
	sv_config *cfg;
	int refs; /* guarded by confref.c's lock */
};
extern const char *conf_path;       /* -c */
extern const char *conf_socket_arg; /* -p, or NULL */
conf_ref *conf_current(void);
void conf_release(conf_ref *ref);
enum { CONF_STDERR, CONF_LOG, CONF_QUIET };
int conf_load(const char *path, sv_config **out, int how);
int conf_read(const char *path, char **text, size_t *len, mode_t *mode, int how);
int conf_load_text(const char *path, const char *text, size_t len, mode_t mode, sv_config **out,
                   int how);
void conf_install(sv_config *cfg);
void conf_reload(sv_config *cfg);
void conf_reload_failed(int errors);
void conf_shutdown(void);
void conf_engine_pin(void);

/* worker globals (sesverify-milter.c) */
extern sv_engine *milter_engine;
extern bool milter_foreground;

/* milterfuncs.c */
struct smfiDesc;
struct smfiDesc *milter_desc(void);
bool milter_enter(void);
void milter_leave(void);
void milter_drain(int64_t timeout_ms);

/* daemon.c */
int daemon_detach(void);
int daemon_pidfile_write(const char *path);
void daemon_pidfile_remove(const char *path);
int daemon_user_lookup(const char *spec, uid_t *uid, gid_t *gid, char *name, size_t namelen);
int daemon_drop(const char *spec);
int daemon_unix_path(const char *spec, char *path, size_t len);

/* supervisor.c */
extern struct timespec supervisor_last_death; /* CLOCK_MONOTONIC; 0: none yet */
int supervise(int (*worker)(void *), void *arg, void (*reload)(pid_t worker), void (*poke)(void));

/* handover.c: the supervisor hands the files it read to the worker */
int handover_init(void);
void handover_boot(const sv_config *cfg);
void handover_reload(pid_t worker, sv_config **boot);
int handover_worker_fd(void);
void handover_take(void);
int handover_check(const char *text, size_t len, mode_t mode, sv_config **out, int how);

/* control.c (see control.h for the protocol) */

#endif

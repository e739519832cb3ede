/*
 * NAME
 *	confref 3 - the worker's current configuration, reference counted
 * SYNOPSIS
 *	#include "confref.h"
 *
 *	extern const char *conf_path, *conf_socket_arg;
 *	conf_ref *conf_current(void)
 *	void conf_release(conf_ref *ref)
 *	int conf_load(const char *path, sv_config **out, int how)
 *	int conf_read(const char *path, char **text, size_t *len, mode_t *mode, int how)
 *	int conf_load_text(const char *path, const char *text, size_t len, mode_t mode,
 *	                   sv_config **out, int how)
 *	void conf_install(sv_config *cfg)
 *	void conf_reload(sv_config *cfg)
 *	void conf_reload_failed(int errors)
 *	void conf_shutdown(void)
 *	void conf_engine_pin(void)
 * DESCRIPTION
 *	conf_path is -c, conf_socket_arg -p (or NULL).  conf_current() pins
 *	the current configuration until conf_release().  how is one of
 *	CONF_STDERR, CONF_LOG or CONF_QUIET: where load errors are reported.
 *	conf_install() makes cfg current at start-up, conf_reload() after a
 *	reload (conf_reload_failed() reports one that was refused).
 *	conf_engine_pin() keeps the engine's configuration alive;
 *	conf_shutdown() drops the references at exit.
 */
#ifndef SV_CONFREF_H
#define SV_CONFREF_H

#include <stddef.h>
#include <sys/types.h>

#include "sesverify.h"

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

#endif

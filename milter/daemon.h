/*
 * NAME
 *	daemon 3 - the Unix daemon chores of sesverify-milter
 * SYNOPSIS
 *	#include "daemon.h"
 *
 *	int daemon_detach(void)
 *	int daemon_pidfile_write(const char *path)
 *	void daemon_pidfile_remove(const char *path)
 *	int daemon_user_lookup(const char *spec, uid_t *uid, gid_t *gid, char *name,
 *	                       size_t namelen)
 *	int daemon_drop(const char *spec)
 * DESCRIPTION
 *	daemon_detach() forks into the background; the PidFile functions
 *	write and remove it; daemon_user_lookup() resolves UserID
 *	(user[:group]) and daemon_drop() switches to it.  All return -1
 *	(logged) on failure.  Unix socket specs: sesverify.h's
 *	sv_unix_socket_path().
 */
#ifndef SV_DAEMON_H
#define SV_DAEMON_H

#include <stddef.h>
#include <sys/types.h>

int daemon_detach(void);
int daemon_pidfile_write(const char *path);
void daemon_pidfile_remove(const char *path);
int daemon_user_lookup(const char *spec, uid_t *uid, gid_t *gid, char *name, size_t namelen);
int daemon_drop(const char *spec);

#endif

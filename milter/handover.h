/*
 * NAME
 *	handover 3 - the supervisor hands the files it read to the worker
 * SYNOPSIS
 *	#include "handover.h"
 *
 *	int handover_init(void)
 *	void handover_boot(const sv_config *cfg)
 *	void handover_reload(pid_t worker, sv_config **boot)
 *	int handover_worker_fd(void)
 *	void handover_take(void)
 *	int handover_check(const char *text, size_t len, mode_t mode, sv_config **out, int how)
 * DESCRIPTION
 *	handover_init() makes the socketpair; handover_boot() reads the
 *	CredentialsFile once at start, for every worker; handover_reload() (supervisor) reads the
 *	files, sends them to the worker and replaces *boot once it applied
 *	them.  handover_worker_fd() is the worker's end, handover_take()
 *	reads and applies one frame from it.  handover_check() parses a
 *	configuration text as the worker's user would.
 */
#ifndef SV_HANDOVER_H
#define SV_HANDOVER_H

#include <stddef.h>
#include <sys/types.h>

#include "sesverify.h"

int handover_init(void);
void handover_boot(const sv_config *cfg);
void handover_reload(pid_t worker, sv_config **boot);
int handover_worker_fd(void);
void handover_take(void);
int handover_check(const char *text, size_t len, mode_t mode, sv_config **out, int how);

#endif

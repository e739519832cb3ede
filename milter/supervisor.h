/*
 * NAME
 *	supervisor 3 - the parent process of sesverify-milter
 * SYNOPSIS
 *	#include "supervisor.h"
 *
 *	extern struct timespec supervisor_last_death;
 *	int supervise(int (*worker)(void *), void *arg, void (*reload)(pid_t worker),
 *	              void (*poke)(void))
 * DESCRIPTION
 *	supervise() forks worker(arg), calls reload(worker) on SIGHUP and
 *	SIGUSR1, poke() on every tick while a stopping worker still runs, and restarts a worker that
 *	died (not one that exited WORKER_EXIT_FATAL).  It returns the exit
 *	status of the daemon.  supervisor_last_death is when the last worker
 *	died (CLOCK_MONOTONIC; zero: none yet), seen by the next worker.
 */
#ifndef SV_SUPERVISOR_H
#define SV_SUPERVISOR_H

#include <sys/types.h>
#include <time.h>

/* Exit status of a worker that must not be restarted (bad socket etc.). */
#define WORKER_EXIT_FATAL 78

extern struct timespec supervisor_last_death; /* CLOCK_MONOTONIC; 0: none yet */
int supervise(int (*worker)(void *), void *arg, void (*reload)(pid_t worker), void (*poke)(void));

#endif

/*
 * supervisor.c - the parent process of sesverify-milter.
 *	libmilter's own signal thread treats SIGHUP as "stop", yet log
 *	rotation sends SIGHUP.  So the process the administrator signals
 *	(the one in PidFile) holds no libmilter state at all: it forks the
 *	worker, turns SIGHUP and SIGUSR1 into a reload (reload() reads the
 *	files and hands them to the worker), turns
 *	SIGTERM and SIGINT into SIGTERM (graceful stop), and restarts a
 *	worker that died, at most RESTART_MAX times per RESTART_WINDOW.
 *	Owns only that; the worker owns the sockets, the engine and libmilter.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mlog.h"
#include "supervisor.h"

#define RESTART_MAX    10
#define RESTART_WINDOW 60 /* seconds */
#define STOP_GRACE     30 /* seconds before SIGKILL */

/* when the last worker died (CLOCK_MONOTONIC); zero before any death */
struct timespec supervisor_last_death;

/* now_mono - monotonic seconds */
static double now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* start_worker - fork and run worker in the child */
static pid_t start_worker(int (*worker)(void *), void *arg)
{
	pid_t pid = fork();

	if (pid < 0) {
		mlog(SV_LOG_ERR, "supervisor: fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		/* exit(), not _exit(): the worker's own atexit work (and leak checks) runs */
		fflush(NULL);
		exit(worker(arg));
	}
	mlog(SV_LOG_INFO, "supervisor: worker %ld started", (long)pid);
	return pid;
}

/* describe - "exit status N" or "signal N (NAME)" */
static void describe(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exit status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "status 0x%x", (unsigned)status);
}

/*
 * supervise - run workers until told to stop; the exit status
 *	reload(worker) is called on SIGHUP/SIGUSR1 (worker: its pid, 0 while
 *	none runs); it hands the new configuration to the worker itself and
 *	keeps it for restarted workers only once the worker has applied it.
 *	poke() is called on every tick while a stopping worker still runs:
 *	libmilter's listener notices a stop request only when its select()
 *	times out (5 s) or a connection arrives, so poke() connects once.
 */
int supervise(int (*worker)(void *), void *arg, void (*reload)(pid_t worker), void (*poke)(void))
{
	double restarts[RESTART_MAX] = {0}, restart_at = 0, stop_deadline = 0;
	int nrestarts = 0, pokes = 0, status;
	bool stopping = false;
	sigset_t set;
	siginfo_t info;
	struct timespec tick = {.tv_sec = 0, .tv_nsec = 200 * 1000 * 1000};
	pid_t child, pid;
	char how[64];

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	child = start_worker(worker, arg);
	if (child < 0)
		return 1;
	for (;;) {
		int sig = sigtimedwait(&set, &info, &tick);
		double now = now_mono();

		if (sig == SIGHUP || sig == SIGUSR1) {
			mlog(SV_LOG_INFO, "supervisor: %s: reloading the worker's configuration",
			     sig == SIGHUP ? "SIGHUP" : "SIGUSR1");
			if (reload)
				reload(child);
		} else if (sig == SIGTERM || sig == SIGINT) {
			if (!stopping)
				mlog(SV_LOG_INFO, "supervisor: %s: stopping",
				     sig == SIGTERM ? "SIGTERM" : "SIGINT");
			stopping = true;
			stop_deadline = now + STOP_GRACE;
			if (child > 0)
				kill(child, SIGTERM);
			else
				return 0;
		}
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			if (pid != child)
				continue;
			child = 0;
			/* its last API request was sent before now: the next
			 * worker counts this second's budget as spent */
			clock_gettime(CLOCK_MONOTONIC, &supervisor_last_death);
			describe(status, how, sizeof(how));
			/* the pid lets a test tell a deliberate kill from a crash */
			snprintf(how + strlen(how), sizeof(how) - strlen(how), ", pid %ld",
			         (long)pid);
			if (stopping) {
				mlog(SV_LOG_INFO, "supervisor: worker stopped (%s)", how);
				return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
			}
			if (WIFEXITED(status) && WEXITSTATUS(status) == WORKER_EXIT_FATAL) {
				mlog(SV_LOG_ERR, "supervisor: worker cannot run (%s); giving up",
				     how);
				return 1;
			}
			/* rate limit: the oldest of the last RESTART_MAX restarts */
			if (nrestarts == RESTART_MAX && now - restarts[0] < RESTART_WINDOW) {
				mlog(SV_LOG_ERR,
				     "supervisor: worker died (%s); %d restarts within %d s, "
				     "giving up",
				     how, RESTART_MAX, RESTART_WINDOW);
				return 1;
			}
			if (nrestarts == RESTART_MAX) {
				memmove(restarts, restarts + 1,
				        sizeof(restarts[0]) * (RESTART_MAX - 1));
				nrestarts--;
			}
			restarts[nrestarts++] = now;
			/* back off a little when it keeps dying */
			restart_at = now + 0.1 * (nrestarts - 1);
			mlog(SV_LOG_ERR,
			     "supervisor: worker died (%s); restarting (%d in the last %d s)", how,
			     nrestarts, RESTART_WINDOW);
		}
		if (stopping && child > 0 && poke && pokes < 10) {
			pokes++;
			poke();
		}
		if (stopping && child > 0 && now > stop_deadline) {
			mlog(SV_LOG_ERR, "supervisor: worker did not stop within %d s; killing it",
			     STOP_GRACE);
			kill(child, SIGKILL);
			stop_deadline = now + STOP_GRACE;
		}
		if (!stopping && child == 0 && now >= restart_at) {
			child = start_worker(worker, arg);
			if (child < 0)
				return 1;
		}
	}
}

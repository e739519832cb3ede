/*
 * test_rqueue.c - the refresher's job queue on its own (refresh_queue.c):
 *	priority order, single-flight (coalescing, priority raise, one
 *	rerun when asked while in flight, none for a waiter's request),
 *	flags handed to the run that asked for them, the job limit, chores,
 *	"mail waits" queries and stop.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "refresh_int.h"
#include "stats.h"
#include "tap.h"

static int chore_flag;

/* chore - the test's chore predicate */
static int chore(void *arg)
{
	(void)arg;
	return chore_flag;
}

/* next - the domain of the next job (NULL: none, or a chore/stop) */
static const char *next(sv_rqueue *q, sv_job **j)
{
	return sv_rqueue_wait(q, chore, NULL, j) == 1 ? sv_job_domain(*j) : NULL;
}

int main(void)
{
	sv_refresh_stats st;
	sv_rqueue *q;
	sv_job *j, *k;
	int64_t since;
	uint64_t coalesced0;

	memset(&st, 0, sizeof(st));
	st.coalesced = sv_stat_counter("refresh.coalesced");
	coalesced0 = *st.coalesced;
	q = sv_rqueue_new(3, &st);
	ok(q != NULL, "queue created");

	/* priority order, FIFO within a priority */
	is_int(sv_rqueue_push(q, "ahead.test", SV_PRIO_AHEAD, 0), 1, "new job: 1");
	is_int(sv_rqueue_push(q, "expired.test", SV_PRIO_EXPIRED, 0), 1, "second job: 1");
	is_int(sv_rqueue_push(q, "mail.test", SV_PRIO_UNKNOWN, 0), 1, "third job: 1");
	is_int(sv_rqueue_push(q, "full.test", SV_PRIO_UNKNOWN, 0), -1, "past max_jobs: -1");
	is_int(sv_rqueue_push(q, "ahead.test", SV_PRIO_AHEAD, 0), 0,
	       "queued domain: coalesced (0)");
	is_int(*st.coalesced - coalesced0, 1, "refresh.coalesced counted it");
	is_int(sv_rqueue_pending(q), 3, "three jobs pending");
	is_int(sv_rqueue_urgent(q, NULL, 0), 1, "no job: urgent");
	is_str(next(q, &j), "mail.test", "SV_PRIO_UNKNOWN first");
	is_int(sv_rqueue_urgent(q, j, 0), 1, "mail waits for the job taken");
	is_int(sv_rqueue_finish(q, j), 0, "finished: gone");
	is_str(next(q, &j), "expired.test", "then SV_PRIO_EXPIRED");
	is_int(sv_rqueue_urgent(q, j, 0), 0, "no mail waits for it");
	is_int(sv_rqueue_urgent(q, j, 1), 0, "... and none is queued");
	is_int(sv_rqueue_finish(q, j), 0, "finished: gone");

	/* a waiter raises a queued job's priority */
	is_int(sv_rqueue_push(q, "other.test", SV_PRIO_AHEAD, 0), 1, "second SV_PRIO_AHEAD job");
	is_int(sv_rqueue_push(q, "other.test", SV_PRIO_UNKNOWN, 0), 0,
	       "mail waits for it: coalesced");
	is_int(sv_rqueue_urgent(q, NULL, 1), 1, "a job mail waits for is queued");
	is_str(next(q, &j), "other.test", "raised ahead of the older SV_PRIO_AHEAD job");
	is_int(sv_rqueue_finish(q, j), 0, "finished: gone");
	is_str(next(q, &j), "ahead.test", "then the SV_PRIO_AHEAD job");

	/* in flight: a waiter's request is answered by the run in flight */
	is_int(sv_rqueue_push(q, "ahead.test", SV_PRIO_UNKNOWN, 0), 0,
	       "waiter on a job in flight: 0");
	is_int(sv_rqueue_urgent(q, j, 0), 1, "mail now waits for the job in flight");
	is_int(sv_rqueue_finish(q, j), 0, "no rerun for a waiter's request");
	is_int(sv_rqueue_pending(q), 0, "nothing pending");

	/* in flight: a forced request runs once more, with its flags */
	is_int(sv_rqueue_push(q, "force.test", SV_PRIO_EXPIRED, SV_JOB_FORCE), 1, "forced job");
	is_str(next(q, &j), "force.test", "taken");
	is_int(sv_rqueue_begin(q, j, &since), SV_JOB_FORCE, "its run gets SV_JOB_FORCE");
	ok(since > 0, "and its arrival time");
	is_int(sv_rqueue_begin(q, j, &since), 0, "flags are handed over once");
	is_int(sv_rqueue_push(q, "force.test", SV_PRIO_AHEAD, SV_JOB_FORCE), 0,
	       "forced again in flight");
	is_int(sv_rqueue_pending(q), 1, "still one job for the domain");
	is_int(sv_rqueue_finish(q, j), 1, "finish queues the rerun");
	is_str(next(q, &k), "force.test", "the rerun is taken");
	ok(j == k, "the same job");
	is_int(sv_rqueue_begin(q, k, &since), SV_JOB_FORCE,
	       "the rerun gets the later SV_JOB_FORCE");
	is_int(sv_rqueue_finish(q, k), 0, "then it is gone");

	/* chores come before jobs */
	is_int(sv_rqueue_push(q, "chore.test", SV_PRIO_UNKNOWN, 0), 1, "a job queued");
	chore_flag = 1;
	j = (sv_job *)1;
	is_int(sv_rqueue_wait(q, chore, NULL, &j), 0, "a chore first (0)");
	ok(j == NULL, "no job handed out with it");
	chore_flag = 0;
	is_str(next(q, &j), "chore.test", "then the job");

	/* stop: no new job, no rerun, waiters return -1 */
	is_int(sv_rqueue_push(q, "queued.test", SV_PRIO_AHEAD, 0), 1, "one more queued");
	is_int(sv_rqueue_push(q, "chore.test", SV_PRIO_EXPIRED, SV_JOB_FORCE), 0, "rerun asked");
	sv_rqueue_stop(q);
	is_int(sv_rqueue_push(q, "late.test", SV_PRIO_UNKNOWN, 0), -1, "stopped: push -1");
	is_int(sv_rqueue_finish(q, j), 0, "stopped: no rerun");
	is_int(sv_rqueue_wait(q, chore, NULL, &j), -1, "stopped: wait -1");
	ok(sv_rqueue_take_urgent(q) == NULL, "stopped: no urgent job");
	is_int(sv_rqueue_pending(q), 1, "the queued job is left for free");
	sv_rqueue_free(q);
	return tap_done();
}

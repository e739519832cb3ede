/*
 * refresh_queue.c - the refresher's jobs: three FIFOs by priority and
 *	single-flight per domain (see refresh_int.h).
 *	Owns struct sv_job, the FIFOs, the domain table and the lock and
 *	condition that guard them.  It makes no network call, does not
 *	touch the cache (the refreshing bit is refresher.c's) and does not
 *	know what a job does (refresh_rules.c).
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "refresh_int.h"
#include "stats.h"

#define NBUCKET 65536

struct sv_job {
	struct sv_job *qnext, *qprev, *hnext;
	int prio;
	unsigned flags;
	int inflight, again;
	int64_t queued_at; /* arrival: an identity list fetched after it is fresh enough */
	uint32_t hash;
	char domain[];
};

struct sv_rqueue {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct sv_job *head[SV_PRIO_N], *tail[SV_PRIO_N];
	struct sv_job **tab;
	size_t njobs, max_jobs;
	int stop;
	const sv_refresh_stats *st;
};

/* fnv - FNV-1a 32 */
static uint32_t fnv(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

/* q_push - append job to its priority's FIFO (lock held) */
static void q_push(sv_rqueue *q, struct sv_job *j)
{
	j->qnext = NULL;
	j->qprev = q->tail[j->prio];
	if (q->tail[j->prio])
		q->tail[j->prio]->qnext = j;
	else
		q->head[j->prio] = j;
	q->tail[j->prio] = j;
}

/* q_remove - take a queued job out of its FIFO (lock held) */
static void q_remove(sv_rqueue *q, struct sv_job *j)
{
	if (j->qprev)
		j->qprev->qnext = j->qnext;
	else
		q->head[j->prio] = j->qnext;
	if (j->qnext)
		j->qnext->qprev = j->qprev;
	else
		q->tail[j->prio] = j->qprev;
	j->qnext = j->qprev = NULL;
}

/* t_find - the job of domain (lock held) */
static struct sv_job **t_find(sv_rqueue *q, const char *domain, uint32_t h)
{
	struct sv_job **pp = &q->tab[h % NBUCKET];

	for (; *pp; pp = &(*pp)->hnext)
		if ((*pp)->hash == h && strcmp((*pp)->domain, domain) == 0)
			break;
	return pp;
}

/* take - the head of FIFO p, now in flight, or NULL (lock held) */
static struct sv_job *take(sv_rqueue *q, int p)
{
	struct sv_job *j;

	if ((j = q->head[p]) != NULL) {
		q_remove(q, j);
		j->inflight = 1;
	}
	return j;
}

/* sv_rqueue_new - an empty queue of at most max_jobs jobs */
sv_rqueue *sv_rqueue_new(size_t max_jobs, const sv_refresh_stats *st)
{
	sv_rqueue *q;

	if ((q = calloc(1, sizeof(*q))) == NULL ||
	    (q->tab = calloc(NBUCKET, sizeof(*q->tab))) == NULL) {
		free(q);
		return NULL;
	}
	pthread_mutex_init(&q->lock, NULL);
	sv_cond_init_mono(&q->cond);
	q->max_jobs = max_jobs;
	q->st = st;
	return q;
}

/* sv_rqueue_push - add or coalesce; 1 new, 0 coalesced, -1 full or stopped */
int sv_rqueue_push(sv_rqueue *q, const char *domain, int prio, unsigned flags)
{
	uint32_t h = fnv(domain);
	struct sv_job **pp, *j;
	size_t dl = strlen(domain);
	int rc = 0;

	if (prio < 0 || prio >= SV_PRIO_N)
		prio = SV_PRIO_EXPIRED;
	pthread_mutex_lock(&q->lock);
	if (q->stop) {
		rc = -1;
		goto out;
	}
	pp = t_find(q, domain, h);
	if ((j = *pp) != NULL) {
		sv_stat_inc(q->st->coalesced, 1);
		j->flags |= flags;
		if (j->inflight) {
			/* the run in flight answers a waiter; a forced or lower-priority
			 * request (a change since it started) needs one more run */
			if ((flags & SV_JOB_FORCE) || prio != SV_PRIO_UNKNOWN)
				j->again = 1;
			if (prio < j->prio)
				j->prio = prio;
		} else if (prio < j->prio) {
			q_remove(q, j);
			j->prio = prio;
			q_push(q, j);
		}
		goto out;
	}
	if (q->njobs >= q->max_jobs || (j = calloc(1, sizeof(*j) + dl + 1)) == NULL) {
		sv_stat_inc(q->st->dropped, 1);
		rc = -1;
		goto out;
	}
	memcpy(j->domain, domain, dl + 1);
	j->hash = h;
	j->queued_at = sv_cache_now_ms();
	j->prio = prio;
	j->flags = flags;
	*pp = j;
	q->njobs++;
	q_push(q, j);
	sv_stat_inc(q->st->queued, 1);
	pthread_cond_signal(&q->cond);
	rc = 1;
out:
	pthread_mutex_unlock(&q->lock);
	return rc;
}

/*
 * sv_rqueue_wait - next job (1), a chore (0) or stop (-1)
 *	The chore predicate runs with the queue's lock held, before the
 *	queues are looked at; whoever makes it true calls sv_rqueue_wake
 *	afterwards.
 */
int sv_rqueue_wait(sv_rqueue *q, int (*chore)(void *), void *arg, sv_job **out)
{
	int rc;

	*out = NULL;
	pthread_mutex_lock(&q->lock);
	for (;;) {
		if (q->stop) {
			rc = -1;
			break;
		}
		if (chore(arg)) {
			rc = 0;
			break;
		}
		for (int p = 0; p < SV_PRIO_N && !*out; p++)
			*out = take(q, p);
		if (*out) {
			rc = 1;
			break;
		}
		pthread_cond_wait(&q->cond, &q->lock);
	}
	pthread_mutex_unlock(&q->lock);
	return rc;
}

/* sv_rqueue_take_urgent - a queued job mail waits for, now in flight, or NULL */
sv_job *sv_rqueue_take_urgent(sv_rqueue *q)
{
	struct sv_job *j = NULL;

	pthread_mutex_lock(&q->lock);
	if (!q->stop)
		j = take(q, SV_PRIO_UNKNOWN);
	pthread_mutex_unlock(&q->lock);
	return j;
}

/* sv_job_domain - the job's domain (constant while the job lives) */
const char *sv_job_domain(const sv_job *j)
{
	return j->domain;
}

/* sv_rqueue_begin - flags asked so far (later ones belong to the rerun) and arrival */
unsigned sv_rqueue_begin(sv_rqueue *q, sv_job *j, int64_t *since)
{
	unsigned flags;

	pthread_mutex_lock(&q->lock);
	flags = j->flags;
	if (j->prio == SV_PRIO_UNKNOWN)
		flags |= SV_JOB_WAITER;
	*since = j->queued_at;
	j->flags = 0;
	pthread_mutex_unlock(&q->lock);
	return flags;
}

/* sv_rqueue_finish - queue j again when asked meanwhile (1), else free it (0) */
int sv_rqueue_finish(sv_rqueue *q, sv_job *j)
{
	int again;

	pthread_mutex_lock(&q->lock);
	j->inflight = 0;
	if ((again = j->again && !q->stop) != 0) {
		j->again = 0;
		j->queued_at = sv_cache_now_ms();
		q_push(q, j);
		pthread_cond_signal(&q->cond);
	} else {
		struct sv_job **pp = t_find(q, j->domain, j->hash);
		*pp = j->hnext;
		q->njobs--;
		free(j);
	}
	pthread_mutex_unlock(&q->lock);
	return again;
}

/*
 * sv_rqueue_urgent - does mail wait for job j (or is there no job)?  With
 *	queued_too, also: is a job mail waits for queued (no worker took it)?
 */
int sv_rqueue_urgent(sv_rqueue *q, const sv_job *j, int queued_too)
{
	int u;

	pthread_mutex_lock(&q->lock);
	u = (queued_too && q->head[SV_PRIO_UNKNOWN] != NULL) || !j || j->prio == SV_PRIO_UNKNOWN;
	pthread_mutex_unlock(&q->lock);
	return u;
}

/* sv_rqueue_pending - jobs queued or in flight */
size_t sv_rqueue_pending(sv_rqueue *q)
{
	size_t n;

	pthread_mutex_lock(&q->lock);
	n = q->njobs;
	pthread_mutex_unlock(&q->lock);
	return n;
}

/* sv_rqueue_wake - waiters run their chore predicate again */
void sv_rqueue_wake(sv_rqueue *q)
{
	pthread_mutex_lock(&q->lock);
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
}

/* sv_rqueue_stop - no new job, no rerun; waiters return -1 */
void sv_rqueue_stop(sv_rqueue *q)
{
	pthread_mutex_lock(&q->lock);
	q->stop = 1;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
}

/* sv_rqueue_free - release the queue; queued jobs are dropped */
void sv_rqueue_free(sv_rqueue *q)
{
	if (!q)
		return;
	for (size_t i = 0; i < NBUCKET; i++) {
		struct sv_job *j, *n;
		for (j = q->tab[i]; j; j = n) {
			n = j->hnext;
			free(j);
		}
	}
	free(q->tab);
	pthread_cond_destroy(&q->cond);
	pthread_mutex_destroy(&q->lock);
	free(q);
}

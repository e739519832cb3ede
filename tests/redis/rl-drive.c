/*
 * rl-drive.c - drives the shared rate limit (lib/redis_rl.c) against a
 *	real redis-server, for tests/redis/test-redis-rl.sh.
 *
 *	rl-drive URL RATE LEASE_MS burst THREADS SECONDS
 *		THREADS threads take ticketed grants for SECONDS; each holds its
 *		grant 0-40 ms (the "request"), prints "A US" with the wall-clock
 *		time of a random moment inside the hold (where the server may
 *		count the request), then calls done.  At the end "N COUNT".
 *	rl-drive URL RATE LEASE_MS hold
 *		takes RATE tickets, prints "held US" and sleeps (to be killed -9).
 *	rl-drive URL RATE LEASE_MS one
 *		waits for one ticket; prints "granted US", calls done.
 *	rl-drive URL RATE LEASE_MS down
 *		one try; prints "try W" (-1: Redis unreachable) and the state.
 *	rl-drive URL RATE LEASE_MS penalize
 *		penalizes, then takes grants for 1 s; prints "N COUNT".
 *	Environment: RL_KEY names the budget (default "acct"), RL_TIMEOUT_MS
 *	the RedisTimeout (default 2000).
 *	Times are CLOCK_REALTIME microseconds, the clock of Redis's TIME on
 *	this host.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "redis.h"

static sv_redis_rl *rl;
static int64_t stop_at;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static long total;

/* wall_us - CLOCK_REALTIME in microseconds */
static int64_t wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* take - wait for a grant (ticket NULL: unticketed); 0, or -1 when Redis is down */
static int take(uint64_t *ticket)
{
	for (;;) {
		int64_t w = sv_redis_rl_try(rl, ticket);
		if (w == 0)
			return 0;
		if (w < 0)
			return -1;
		usleep((useconds_t)(w > 100000 ? 100000 : w));
	}
}

/* worker - burst mode thread */
static void *worker(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg ^ (unsigned)getpid();
	uint64_t ticket;

	while (wall_us() < stop_at) {
		int hold, at;
		if (take(&ticket) < 0) {
			fprintf(stderr, "rl-drive: redis down\n");
			exit(3);
		}
		hold = rand_r(&seed) % 40001;
		at = hold ? rand_r(&seed) % hold : 0;
		usleep((useconds_t)at);
		pthread_mutex_lock(&out_lock);
		printf("A %lld\n", (long long)wall_us());
		total++;
		pthread_mutex_unlock(&out_lock);
		usleep((useconds_t)(hold - at));
		if (sv_redis_rl_done(rl, ticket) < 0) {
			fprintf(stderr, "rl-drive: done failed\n");
			exit(3);
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	sv_redis_url url;
	sv_redis *r;
	char err[300];
	int rate;
	long lease;
	uint64_t ticket;

	if (argc < 5) {
		fprintf(stderr, "usage: rl-drive URL RATE LEASE_MS MODE ...\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (sv_redis_url_parse(argv[1], &url, err, sizeof(err)) < 0) {
		fprintf(stderr, "rl-drive: %s\n", err);
		return 2;
	}
	rate = atoi(argv[2]);
	lease = atol(argv[3]);
	r = sv_redis_new(&url, getenv("RL_TIMEOUT_MS") ? atol(getenv("RL_TIMEOUT_MS")) : 2000);
	sv_redis_url_clear(&url);
	rl = sv_redis_rl_new(r, "test:", getenv("RL_KEY") ? getenv("RL_KEY") : "acct", rate, lease);
	if (strcmp(argv[4], "burst") == 0 && argc == 7) {
		int n = atoi(argv[5]);
		pthread_t th[64];
		stop_at = wall_us() + (int64_t)atoi(argv[6]) * 1000000;
		for (int i = 0; i < n && i < 64; i++)
			pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)i);
		for (int i = 0; i < n && i < 64; i++)
			pthread_join(th[i], NULL);
		printf("N %ld\n", total);
	} else if (strcmp(argv[4], "hold") == 0) {
		for (int i = 0; i < rate; i++)
			if (take(&ticket) < 0)
				return 3;
		printf("held %lld\n", (long long)wall_us());
		for (;;)
			pause();
	} else if (strcmp(argv[4], "one") == 0) {
		if (take(&ticket) < 0)
			return 3;
		printf("granted %lld\n", (long long)wall_us());
		sv_redis_rl_done(rl, ticket);
	} else if (strcmp(argv[4], "down") == 0) {
		printf("try %lld\n", (long long)sv_redis_rl_try(rl, &ticket));
		printf("up %d\n", sv_redis_up(r));
	} else if (strcmp(argv[4], "penalize") == 0) {
		int64_t end;
		if (sv_redis_rl_penalize(rl) < 0)
			return 3;
		end = wall_us() + 1000000;
		while (wall_us() < end) {
			if (take(NULL) < 0)
				return 3;
			if (wall_us() < end)
				total++;
		}
		printf("N %ld\n", total);
	} else {
		fprintf(stderr, "rl-drive: bad mode\n");
		return 2;
	}
	sv_redis_rl_free(rl);
	sv_redis_free(r);
	return 0;
}

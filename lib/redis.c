/*
 * redis.c - one Redis connection shared by the threads of a process, with
 *	timeouts, AUTH/SELECT, reconnect back-off, up/down state and scripts
 *	run by EVALSHA (see redis.h).  Built only with hiredis.
 */
#include "config.h"

#include <hiredis/hiredis.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "redis.h"
#include "stats.h"

#define BACKOFF_MIN_US 100000
#define BACKOFF_MAX_US 5000000

struct sv_redis {
	pthread_mutex_t lock;
	sv_redis_url url;
	struct timeval tv;
	redisContext *c; /* NULL: not connected */
	int up;          /* state last logged: 1 up, 0 down, -1 never tried */
	int lost;        /* was up once, then went down */
	int64_t retry_at, backoff;
	const char *name; /* in the up/down log lines: "redis" or "redis pub/sub" */
	uint64_t *st_commands, *st_errors, *st_connects, *st_disconnects, *st_loads;
};

/* now_us - monotonic microseconds */
static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* where - "HOST:PORT/DB" or "unix:PATH?db=N" for logs (no password) */
static void where(const sv_redis *r, char *buf, size_t len)
{
	if (r->url.path)
		snprintf(buf, len, "unix:%s?db=%d", r->url.path, r->url.db);
	else
		snprintf(buf, len, "%s:%d/%d", r->url.host, r->url.port, r->url.db);
}

/* go_down - drop the connection after an error; log the change once */
static void go_down(sv_redis *r, const char *reason)
{
	char w[300], why[300];

	/* reason may point into r->c (errstr), which is freed below */
	snprintf(why, sizeof(why), "%s", reason);
	if (r->c) {
		redisFree(r->c);
		r->c = NULL;
		sv_stat_inc(r->st_disconnects, 1);
	}
	sv_stat_inc(r->st_errors, 1);
	r->backoff = r->backoff ? r->backoff * 2 : BACKOFF_MIN_US;
	if (r->backoff > BACKOFF_MAX_US)
		r->backoff = BACKOFF_MAX_US;
	r->retry_at = now_us() + r->backoff;
	if (r->up == 1)
		r->lost = 1;
	if (r->up != 0) {
		where(r, w, sizeof(w));
		sv_log(SV_LOG_WARNING, "%s: down (%s: %s); next try in %lld ms", r->name, w, why,
		       (long long)(r->backoff / 1000));
		r->up = 0;
	}
}

/* simple - run a set-up command on r->c; 0 when it answered OK */
static int simple(sv_redis *r, int argc, const char **argv, char *why, size_t len)
{
	redisReply *rep = redisCommandArgv(r->c, argc, argv, NULL);
	int rc = 0;

	if (rep == NULL) {
		snprintf(why, len, "%s", r->c->errstr[0] ? r->c->errstr : "no answer");
		return -1;
	}
	if (rep->type == REDIS_REPLY_ERROR) {
		/* Redis's own text (WRONGPASS ..., NOAUTH ...): never holds the password */
		snprintf(why, len, "%s refused: %.*s", argv[0], (int)rep->len, rep->str);
		rc = -1;
	}
	freeReplyObject(rep);
	return rc;
}

/* connect_locked - connect, AUTH, SELECT; 0 or -1 (state down) */
static int connect_locked(sv_redis *r)
{
	char why[300], db[16], w[300];
	const char *argv[3];

	if (r->c)
		return 0;
	if (r->up == 0 && now_us() < r->retry_at)
		return -1; /* backing off: no I/O */
	if (r->url.path)
		r->c = redisConnectUnixWithTimeout(r->url.path, r->tv);
	else
		r->c = redisConnectWithTimeout(r->url.host, r->url.port, r->tv);
	if (r->c == NULL) {
		go_down(r, "out of memory");
		return -1;
	}
	if (r->c->err) {
		snprintf(why, sizeof(why), "connect: %s", r->c->errstr);
		goto fail;
	}
	if (redisSetTimeout(r->c, r->tv) != REDIS_OK) {
		snprintf(why, sizeof(why), "cannot set the timeout");
		goto fail;
	}
	if (r->url.password) {
		int n = 0;
		argv[n++] = "AUTH";
		if (r->url.user)
			argv[n++] = r->url.user;
		argv[n++] = r->url.password;
		if (simple(r, n, argv, why, sizeof(why)) < 0)
			goto fail;
	}
	if (r->url.db) {
		snprintf(db, sizeof(db), "%d", r->url.db);
		argv[0] = "SELECT";
		argv[1] = db;
		if (simple(r, 2, argv, why, sizeof(why)) < 0)
			goto fail;
	}
	sv_stat_inc(r->st_connects, 1);
	r->backoff = 0;
	if (r->up != 1) {
		where(r, w, sizeof(w));
		sv_log(SV_LOG_NOTICE, "%s: up (%s)", r->name, w);
		r->up = 1;
	}
	return 0;
fail:
	go_down(r, why);
	return -1;
}

/* sv_redis_new - a connection (not yet made) to url; the url is copied */
sv_redis *sv_redis_new(const sv_redis_url *url, int64_t timeout_ms)
{
	sv_redis *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	pthread_mutex_init(&r->lock, NULL);
	r->url.port = url->port;
	r->url.db = url->db;
	if ((url->host && !(r->url.host = strdup(url->host))) ||
	    (url->path && !(r->url.path = strdup(url->path))) ||
	    (url->user && !(r->url.user = strdup(url->user))) ||
	    (url->password && !(r->url.password = strdup(url->password)))) {
		sv_redis_free(r);
		return NULL;
	}
	if (timeout_ms < 1)
		timeout_ms = 1;
	r->tv.tv_sec = (time_t)(timeout_ms / 1000);
	r->tv.tv_usec = (suseconds_t)(timeout_ms % 1000) * 1000;
	r->up = -1;
	r->name = "redis";
	r->st_commands = sv_stat_counter("redis.commands");
	r->st_errors = sv_stat_counter("redis.errors");
	r->st_connects = sv_stat_counter("redis.connects");
	r->st_disconnects = sv_stat_counter("redis.disconnects");
	r->st_loads = sv_stat_counter("redis.script.loads");
	return r;
}

/* sv_redis_free - close and release (no thread may be inside) */
void sv_redis_free(sv_redis *r)
{
	if (r == NULL)
		return;
	if (r->c)
		redisFree(r->c);
	sv_redis_url_clear(&r->url);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

/* command_locked - one command; NULL (and down) when Redis could not answer */
static redisReply *command_locked(sv_redis *r, int argc, const char **argv, const size_t *len)
{
	redisReply *rep;

	if (connect_locked(r) < 0)
		return NULL;
	sv_stat_inc(r->st_commands, 1);
	rep = redisCommandArgv(r->c, argc, argv, len);
	if (rep == NULL)
		go_down(r, r->c->errstr[0] ? r->c->errstr : "no answer");
	return rep;
}

/* sv_redis_command - see redis.h */
redisReply *sv_redis_command(sv_redis *r, int argc, const char **argv, const size_t *argvlen)
{
	redisReply *rep;

	pthread_mutex_lock(&r->lock);
	rep = command_locked(r, argc, argv, argvlen);
	pthread_mutex_unlock(&r->lock);
	return rep;
}

/* load_locked - SCRIPT LOAD s; 0 or -1 */
static int load_locked(sv_redis *r, sv_redis_script *s)
{
	const char *argv[3] = {"SCRIPT", "LOAD", s->text};
	redisReply *rep = command_locked(r, 3, argv, NULL);
	int rc = -1;

	if (rep && rep->type == REDIS_REPLY_STRING && rep->len == 40) {
		memcpy(s->sha, rep->str, 40);
		s->sha[40] = 0;
		sv_stat_inc(r->st_loads, 1);
		rc = 0;
	} else if (rep) {
		sv_log(SV_LOG_ERR, "redis: SCRIPT LOAD refused: %.*s", (int)rep->len,
		       rep->str ? rep->str : "");
	}
	freeReplyObject(rep);
	return rc;
}

/* sv_redis_eval - EVALSHA s with nkeys keys then the other args; NOSCRIPT: load, retry */
redisReply *sv_redis_eval(sv_redis *r, sv_redis_script *s, int nkeys, int argc, const char **argv,
                          const size_t *argvlen)
{
	const char *av[128];
	size_t al[128];
	char nk[12];
	redisReply *rep = NULL;

	if (argc + 3 > (int)(sizeof(av) / sizeof(av[0])))
		return NULL;
	snprintf(nk, sizeof(nk), "%d", nkeys);
	av[0] = "EVALSHA";
	av[2] = nk;
	al[0] = 7;
	al[2] = strlen(nk);
	for (int i = 0; i < argc; i++) {
		av[3 + i] = argv[i];
		al[3 + i] = argvlen ? argvlen[i] : strlen(argv[i]);
	}
	pthread_mutex_lock(&r->lock);
	for (int attempt = 0; attempt < 2; attempt++) {
		if (s->sha[0] == 0 && load_locked(r, s) < 0)
			break;
		av[1] = s->sha;
		al[1] = 40;
		rep = command_locked(r, argc + 3, av, al);
		if (rep && rep->type == REDIS_REPLY_ERROR &&
		    strncmp(rep->str, "NOSCRIPT", 8) == 0) {
			freeReplyObject(rep);
			rep = NULL;
			s->sha[0] = 0; /* Redis restarted or flushed: load again */
			continue;
		}
		break;
	}
	pthread_mutex_unlock(&r->lock);
	return rep;
}

/* sv_redis_up - 1 when the last contact worked, 0 when down or never tried */
int sv_redis_up(sv_redis *r)
{
	int up;

	pthread_mutex_lock(&r->lock);
	up = r->up == 1 && r->c != NULL;
	pthread_mutex_unlock(&r->lock);
	return up;
}

/* sv_redis_lost - 1 when the connection was up once and went down since */
int sv_redis_lost(sv_redis *r)
{
	int lost;

	pthread_mutex_lock(&r->lock);
	lost = r->lost;
	pthread_mutex_unlock(&r->lock);
	return lost;
}

/* sv_redis_set_name - the name in this connection's up/down log lines (a literal) */
void sv_redis_set_name(sv_redis *r, const char *name)
{
	r->name = name;
}

/* sv_redis_subscribe - connect (with the back-off) and SUBSCRIBE channel: 0 or -1 */
int sv_redis_subscribe(sv_redis *r, const char *channel)
{
	const char *argv[2] = {"SUBSCRIBE", channel};
	redisReply *rep;
	int rc = -1;

	pthread_mutex_lock(&r->lock);
	if (r->c) { /* subscribe on a fresh connection only */
		redisFree(r->c);
		r->c = NULL;
	}
	if ((rep = command_locked(r, 2, argv, NULL)) != NULL) {
		if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 3 &&
		    rep->element[0]->type == REDIS_REPLY_STRING &&
		    strcmp(rep->element[0]->str, "subscribe") == 0)
			rc = 0;
		else
			go_down(r, rep->type == REDIS_REPLY_ERROR ? rep->str
			                                          : "unexpected SUBSCRIBE answer");
		freeReplyObject(rep);
	}
	pthread_mutex_unlock(&r->lock);
	return rc;
}

/* sv_redis_retry_in - ms until the next connect attempt (0: now) */
int64_t sv_redis_retry_in(sv_redis *r)
{
	int64_t left;

	pthread_mutex_lock(&r->lock);
	left = r->c || r->up != 0 ? 0 : (r->retry_at - now_us()) / 1000;
	pthread_mutex_unlock(&r->lock);
	return left > 0 ? left : 0;
}

/*
 * sv_redis_next - the next message on a subscribed connection, waiting
 *	up to ms or until stop_fd is readable: 1 (*reply to free), 0 none,
 *	-1 the connection is lost (down; subscribe again).
 */
int sv_redis_next(sv_redis *r, int stop_fd, int ms, struct redisReply **reply)
{
	struct pollfd pf[2];
	void *rep = NULL;
	int rc = 0;

	*reply = NULL;
	pthread_mutex_lock(&r->lock);
	if (r->c == NULL) {
		pthread_mutex_unlock(&r->lock);
		return -1;
	}
	if (redisGetReplyFromReader(r->c, &rep) != REDIS_OK)
		goto lost;
	if (rep == NULL) {
		pf[0] = (struct pollfd){.fd = r->c->fd, .events = POLLIN};
		pf[1] = (struct pollfd){.fd = stop_fd, .events = POLLIN};
		pthread_mutex_unlock(&r->lock); /* only this thread uses a subscribed connection */
		rc = poll(pf, stop_fd >= 0 ? 2 : 1, ms);
		pthread_mutex_lock(&r->lock);
		if (rc < 0 && errno != EINTR) {
			go_down(r, "poll failed");
			pthread_mutex_unlock(&r->lock);
			return -1;
		}
		rc = 0;
		if (!(pf[0].revents & (POLLIN | POLLHUP | POLLERR)))
			goto out;
		if (redisBufferRead(r->c) != REDIS_OK ||
		    redisGetReplyFromReader(r->c, &rep) != REDIS_OK)
			goto lost;
	}
	if (rep) {
		*reply = rep;
		rc = 1;
	}
out:
	pthread_mutex_unlock(&r->lock);
	return rc;
lost:
	go_down(r, r->c->errstr[0] ? r->c->errstr : "connection lost");
	pthread_mutex_unlock(&r->lock);
	return -1;
}

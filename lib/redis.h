/*
 * NAME
 *	redis 3h - the shared state of several processes and hosts (internal)
 * SYNOPSIS
 *	#include "redis.h"
 *
 *	int sv_redis_url_parse(const char *text, sv_redis_url *url, char *err, size_t errlen);
 *	void sv_redis_url_clear(sv_redis_url *url);
 *	int sv_redis_url_has_password(const char *text);
 *	void sv_redis_url_redact(const char *text, char *out, size_t len);
 *
 *	sv_redis *sv_redis_new(const sv_redis_url *url, int64_t timeout_ms);
 *	struct redisReply *sv_redis_command(sv_redis *r, int argc, const char **argv,
 *	                                    const size_t *argvlen);
 *	struct redisReply *sv_redis_eval(sv_redis *r, sv_redis_script *s, int nkeys, int argc,
 *	                                 const char **argv, const size_t *argvlen);
 *	int sv_redis_up(sv_redis *r);
 *	int sv_redis_lost(sv_redis *r);
 *	void sv_redis_free(sv_redis *r);
 *
 *	sv_redis_rl *sv_redis_rl_new(sv_redis *r, const char *prefix, const char *key,
 *	                             int rate, int64_t lease_ms);
 *	int64_t sv_redis_rl_try(sv_redis_rl *rl, uint64_t *ticket);
 *	int sv_redis_rl_done(sv_redis_rl *rl, uint64_t ticket);
 *	int sv_redis_rl_penalize(sv_redis_rl *rl);
 *	void sv_redis_rl_free(sv_redis_rl *rl);
 *	int sv_redis_rl_key(const char *region, const char *secret_id, char *out, size_t len);
 *
 *	sv_shared *sv_shared_new(const sv_config *cfg, sv_ratelimit *rl, char *err, size_t errlen);
 *	int sv_shared_up(sv_shared *sh);
#ifdef HAVE_HIREDIS
int sv_shared_answer_get(void *arg, const char *domain, const struct sv_cache_rec *local,
                         struct sv_cache_rec *out);
void sv_shared_answer_put(void *arg, const char *domain, const struct sv_cache_rec *rec);
#endif
 *	void sv_shared_free(sv_shared *sh);
 * DESCRIPTION
 *	The URL parser is always built (the configuration checks the Redis
 *	key with it); the rest exists only in a build with hiredis
 *	(HAVE_HIREDIS).
 *
 *	URL forms (the Redis key of sesverify-milter.conf(5)):
 *	"redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]" -- HOST a name, an IPv4
 *	address or a [bracketed] IPv6 address, PORT 1-65535 (6379), DB
 *	0-1000000 (0); USER and PASSWORD may hold %XX escapes (a '@', ':' or
 *	'/' in a password must be written %40, %3A, %2F).
 *	"unix:/PATH[?db=N]" -- an absolute socket path.  Errors never quote
 *	the password.  sv_redis_url_redact() writes the URL with the password
 *	replaced by "(set)", for logs and "sesverify-milter -n"-style dumps.
 *
 *	sv_redis is one connection behind a mutex, so any thread may use it.
 *	Each command is bounded by timeout_ms (RedisTimeout), the connect
 *	too.  After any error the connection is dropped and the state goes
 *	"down"; the next connect attempt waits a back-off (100 ms doubling to
 *	5 s), commands in between fail at once without I/O.  A connect sends
 *	AUTH (password, or ACL user and password) and SELECT.  Each change of
 *	state is logged once ("redis: up ...", "redis: down: REASON").
 *	sv_redis_command() and sv_redis_eval() return a reply to free with
 *	freeReplyObject(), or NULL when Redis could not be asked (down, timed
 *	out, protocol error).  An error reply (type REDIS_REPLY_ERROR) is
 *	returned as it is: Redis answered, the connection stays up.
 *	sv_redis_eval() runs a script by EVALSHA, loading it (SCRIPT LOAD)
 *	the first time and again after NOSCRIPT (Redis restarted or flushed).
 *
 *	sv_redis_rl is the account's rate limit in Redis, one Lua script on
 *	Redis's clock (TIME) keeping ratelimit.c's invariant: requests in
 *	flight plus requests answered in the last second (plus
 *	SV_RL_MARGIN_US) stay below rate, with the same adaptive token bucket
 *	(halved at most once a second by sv_redis_rl_penalize, recovering
 *	rate/10 per second), shared by every process using the same key.
 *	Each ticketed grant is a lease: if its holder never calls done (it
 *	died), it stops counting lease_ms after the grant (ApiTimeout + 1 s).
 *	sv_redis_rl_try(): 0 granted (*ticket set when ticket is not NULL),
 *	> 0 microseconds to wait, -1 Redis unreachable (the caller falls back
 *	to its local limiter).  Keys: PREFIX "rl:" KEY ":inflight", ":answered"
 *	and ":bucket"; all expire by themselves when the budget is idle (the
 *	bucket after a day).  sv_redis_rl_set_settle(rate, ms): a bucket
 *	Redis does not hold (restarted, flushed, first start) grants at most
 *	rate a second for ms, while hosts that have not reconnected yet still
 *	spend their own RedisDownApiRate budgets that Redis does not see; a
 *	process asks for this only once its connection was lost
 *	(sv_redis_lost), so the fleet's first start is not slowed.
 *	sv_redis_rl_key() forms the default key: REGION ":" and the first 16
 *	hex digits of SHA-256(SecretId).
 *
 *	sv_shared is what an engine with Redis set holds: the connection and
 *	the shared budget, plugged into its limiter with
 *	sv_ratelimit_set_shared() (local fallback at RedisDownApiRate).  The
 *	budget is named ApiRateKey, or by sv_redis_rl_key() from the region
 *	and the resolved SecretId (config, CredentialsFile or environment).
 *	Leases last ApiTimeout + 1 s.  sv_shared_up(): 1 when Redis answered
 *	last time, 0 otherwise.  Free it after the limiter's last use.
 *	In a build without hiredis sv_shared_new() fails with a reason.
 *	sv_shared_answer_get/_put are the refresher's shared_get/shared_put
 *	hooks (refresher.h): before an API call the worker takes another
 *	host's newer answer that is still fresh from Redis (counter
 *	"redis.answers.used"), and every fresh API answer is stored there
 *	("redis.answers.stored"), kept until it expired plus MaxStale.
 *	sv_shared_start() runs the pub/sub thread on a second connection
 *	(sv_redis_subscribe, sv_redis_next): each domain published on PREFIX
 *	"answers" is read back and put into cache when it is a fresh answer
 *	newer than the local record, then done(domain) wakes the waiters;
 *	after each (re)subscribe the expired or error records of cache (at
 *	most 1000) are read again.  sv_shared_stop() ends it and every lease
 *	wait (before the refresher stops).  sv_shared_lease/_unlease and
 *	sv_shared_list/_list_put are the refresher's per-domain lease and
 *	identity-list hooks (refresher.h).
 *
 *	The answers (lib/redis_answers.c):
 *	sv_redis_answer_put() stores a cache record as the hash PREFIX "d:"
 *	DOMAIN (times as wall-clock ms, the persistent flags, request id,
 *	error, attributes, the host that asked), kept keep_ms, unless Redis
 *	holds a newer one (0), and publishes DOMAIN on PREFIX "answers" (1;
 *	-1 Redis unreachable or refused).  sv_redis_answer_get(): 1 and rec
 *	filled (times on this host's sv_cache_now_ms clock), 0 absent, -1
 *	unreachable or an unusable record (logged with the reason, rec
 *	empty).  sv_redis_lease_take(): the per-domain refresh lease PREFIX
 *	"lease:" DOMAIN by SET NX PX: 1 taken, 0 another owner holds it, -1
 *	unreachable; sv_redis_lease_release() deletes it only if owner still
 *	holds it (1; 0 not held by owner); sv_redis_lease_renew() makes it
 *	live ms from now only if owner still holds it (1; 0 not held).  A
 *	host renews the leases it holds every lease time / 3 (a thread of
 *	sv_shared_start), so a refresh that waits long for the shared
 *	budget keeps its lease, and the lease of a host that died ends one
 *	lease time after its last renewal.
 *
 *	Counters: "redis.commands", "redis.errors", "redis.connects",
 *	"redis.disconnects", "redis.script.loads".
 */
#ifndef SV_REDIS_H
#define SV_REDIS_H

#include <stddef.h>
#include <stdint.h>

typedef struct sv_redis_url {
	char *host; /* NULL for a unix socket */
	int port;
	char *path; /* unix socket, NULL for TCP */
	int db;
	char *user;     /* ACL user or NULL */
	char *password; /* NULL: no AUTH; wiped by sv_redis_url_clear */
} sv_redis_url;

#define SV_REDIS_DB_MAX 1000000

int sv_redis_url_parse(const char *text, sv_redis_url *url, char *err, size_t errlen);
void sv_redis_url_clear(sv_redis_url *url);
int sv_redis_url_has_password(const char *text);
void sv_redis_url_redact(const char *text, char *out, size_t len);

#ifdef HAVE_HIREDIS
struct redisReply;
typedef struct sv_redis sv_redis;
typedef struct sv_redis_script {
	const char *text;
	char sha[41]; /* "" until loaded */
} sv_redis_script;

sv_redis *sv_redis_new(const sv_redis_url *url, int64_t timeout_ms);
void sv_redis_free(sv_redis *r);
struct redisReply *sv_redis_command(sv_redis *r, int argc, const char **argv,
                                    const size_t *argvlen);
struct redisReply *sv_redis_eval(sv_redis *r, sv_redis_script *s, int nkeys, int argc,
                                 const char **argv, const size_t *argvlen);
int sv_redis_up(sv_redis *r);
int sv_redis_lost(sv_redis *r);
void sv_redis_set_name(sv_redis *r, const char *name);
int sv_redis_subscribe(sv_redis *r, const char *channel);
int sv_redis_next(sv_redis *r, int stop_fd, int ms, struct redisReply **reply);
int64_t sv_redis_retry_in(sv_redis *r);

typedef struct sv_redis_rl sv_redis_rl;
sv_redis_rl *sv_redis_rl_new(sv_redis *r, const char *prefix, const char *key, int rate,
                             int64_t lease_ms);
void sv_redis_rl_free(sv_redis_rl *rl);
int64_t sv_redis_rl_try(sv_redis_rl *rl, uint64_t *ticket);
int sv_redis_rl_done(sv_redis_rl *rl, uint64_t ticket);
int sv_redis_rl_penalize(sv_redis_rl *rl);
void sv_redis_rl_set_rate(sv_redis_rl *rl, int rate);
void sv_redis_rl_set_settle(sv_redis_rl *rl, int rate, int64_t ms);

struct sv_cache_rec;
int sv_redis_answer_put(sv_redis *r, const char *prefix, const char *domain,
                        const struct sv_cache_rec *rec, int64_t keep_ms, const char *host);
int sv_redis_answer_get(sv_redis *r, const char *prefix, const char *domain,
                        struct sv_cache_rec *rec);
int sv_redis_answer_read(sv_redis *r, const char *prefix, const char *domain,
                         struct sv_cache_rec *rec, char *why, size_t whylen);
int sv_redis_lease_take(sv_redis *r, const char *prefix, const char *domain, const char *owner,
                        int64_t ms);
int sv_redis_lease_release(sv_redis *r, const char *prefix, const char *domain, const char *owner);
int sv_redis_lease_renew(sv_redis *r, const char *prefix, const char *domain, const char *owner,
                         int64_t ms);
#endif

/* The engine's side (lib/redis_share.c, built with or without hiredis). */
struct sv_config;
struct sv_ratelimit;
typedef struct sv_shared sv_shared;
sv_shared *sv_shared_new(const struct sv_config *cfg, struct sv_ratelimit *rl, char *err,
                         size_t errlen);
void sv_shared_free(sv_shared *sh);
int sv_shared_up(sv_shared *sh);
struct sv_cache;
int sv_shared_start(sv_shared *sh, struct sv_cache *cache, void (*done)(const char *, void *),
                    void *arg);
void sv_shared_stop(sv_shared *sh);
#ifdef HAVE_HIREDIS
struct sv_listed;
int sv_shared_lease(void *arg, const char *domain, const struct sv_cache_rec *local,
                    struct sv_cache_rec *out);
void sv_shared_unlease(void *arg, const char *domain);
int sv_shared_list(void *arg, struct sv_listed **items, size_t *n, int64_t *fetched_at);
void sv_shared_list_put(void *arg, const struct sv_listed *items, size_t n);
int sv_shared_answer_get(void *arg, const char *domain, const struct sv_cache_rec *local,
                         struct sv_cache_rec *out);
void sv_shared_answer_put(void *arg, const char *domain, const struct sv_cache_rec *rec);
#endif
int sv_redis_rl_key(const char *region, const char *secret_id, char *out, size_t len);
/* sv_redis_settings_equal - 1 when the Redis keys of two configs agree (reload) */
int sv_redis_settings_equal(const struct sv_config *a, const struct sv_config *b);

#endif

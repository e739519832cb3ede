/*
 * redis_rl.c - the account's API budget in Redis: one Lua script on
 *	Redis's clock keeps ratelimit.c's invariant for every process that
 *	shares the key (see redis.h).  Built only with hiredis.
 */
#include "config.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "log.h"
#include "ratelimit.h"
#include "redis.h"

/*
 * KEYS[1] in flight: member -> lease end (us); KEYS[2] answered: member ->
 * answer time (us); KEYS[3] bucket: cur, tokens, last, pen (last penalty),
 * born (when Redis first held it).  ARGV: op ("grant", "ticket", "done",
 * "penalize"), rate, lease (us), member, margin (us), settle rate, settle
 * (us).  Answers: 0 granted/done, N > 0 microseconds to wait.
 *
 * A bucket Redis does not hold (a Redis restarted or flushed, or the
 * fleet's first start) is born settling: for "settle" us no more than
 * "settle rate" grants count in a second, since hosts that have not
 * reconnected yet still grant from their own RedisDownApiRate budgets,
 * which Redis does not see.  The bucket lives a day without use, so an
 * idle night is not taken for a restart.
 * Times are whole microseconds of TIME, formatted with %.0f because Lua's
 * tostring keeps only 14 digits.
 */
static const char script_text[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
    "local op, rate, lease, id = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]\n"
    "local window = 1000000 + tonumber(ARGV[5])\n"
    "local ttl = math.floor((window + lease) / 1000) + 1000\n"
    "local function f(x) return string.format('%.0f', x) end\n"
    "if op == 'done' then\n"
    "  redis.call('ZREM', KEYS[1], id)\n"
    "  redis.call('ZADD', KEYS[2], f(now), id)\n"
    "  redis.call('PEXPIRE', KEYS[2], ttl)\n"
    "  return 0\n"
    "end\n"
    "local b = redis.call('HMGET', KEYS[3], 'cur', 'tokens', 'last', 'pen', 'born')\n"
    "local cur = tonumber(b[1]) or rate\n"
    "local tokens = tonumber(b[2]) or rate\n"
    "local last = tonumber(b[3]) or now\n"
    "local pen = tonumber(b[4]) or 0\n"
    "local born = tonumber(b[5]) or (b[1] and 0 or now)\n"
    "local lim = rate\n"
    "local srate = tonumber(ARGV[6]) or 0\n"
    "if srate > 0 and now - born < tonumber(ARGV[7]) then lim = math.min(rate, srate) end\n"
    "if born == now then tokens = math.min(tokens, lim) end\n"
    "if cur > rate then cur = rate end\n"
    "if now > last then\n"
    "  local secs = (now - last) / 1e6\n"
    "  if cur < rate then\n"
    "    local up = rate / 10\n"
    "    if up < 0.5 then up = 0.5 end\n"
    "    cur = math.min(rate, cur + secs * up)\n"
    "  end\n"
    "  tokens = math.min(tokens + secs * cur, math.max(math.min(cur, lim), 1))\n"
    "  last = now\n"
    "end\n"
    "local function save()\n"
    "  redis.call('HSET', KEYS[3], 'cur', string.format('%.6f', cur), 'tokens',\n"
    "             string.format('%.6f', tokens), 'last', f(last), 'pen', f(pen), 'born',\n"
    "             f(born))\n"
    "  redis.call('PEXPIRE', KEYS[3], 86400000)\n"
    "end\n"
    "if op == 'penalize' then\n"
    "  if now - pen >= 1000000 then\n"
    "    pen = now\n"
    "    cur = math.max(1, cur / 2)\n"
    "    tokens = 0\n"
    "  end\n"
    "  save()\n"
    "  return 0\n"
    "end\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', f(now))\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', f(now - window))\n"
    "local inflight = redis.call('ZCARD', KEYS[1])\n"
    "local recent = redis.call('ZCARD', KEYS[2])\n"
    "if inflight + recent >= lim then\n"
    "  save()\n"
    "  if recent == 0 then return 10000 end\n"
    "  local o = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')\n"
    "  return math.max(1, tonumber(o[2]) + window - now)\n"
    "end\n"
    "if tokens < 1 then\n"
    "  save()\n"
    "  return math.max(1, math.floor((1 - tokens) / cur * 1e6) + 1)\n"
    "end\n"
    "tokens = tokens - 1\n"
    "save()\n"
    "if op == 'ticket' then\n"
    "  redis.call('ZADD', KEYS[1], f(now + lease), id)\n"
    "  redis.call('PEXPIRE', KEYS[1], ttl)\n"
    "else\n"
    "  redis.call('ZADD', KEYS[2], f(now), id)\n"
    "  redis.call('PEXPIRE', KEYS[2], ttl)\n"
    "end\n"
    "return 0\n";

struct sv_redis_rl {
	sv_redis *r;
	sv_redis_script script;
	char *keys[3];
	int rate; /* atomic: sv_redis_rl_set_rate */
	char lease[24], margin[16];
	int settle_rate; /* atomic: sv_redis_rl_set_settle */
	int64_t settle_us;
	char instance[17]; /* random: names this limiter's grants */
	uint64_t seq;
	int failing; /* atomic: the script's last answer was not a number */
};

/* sv_redis_rl_new - the budget named key under prefix, at rate per second */
sv_redis_rl *sv_redis_rl_new(sv_redis *r, const char *prefix, const char *key, int rate,
                             int64_t lease_ms)
{
	static const char *const suffix[3] = {"inflight", "answered", "bucket"};
	sv_redis_rl *rl = calloc(1, sizeof(*rl));
	unsigned char rnd[8];

	if (rl == NULL)
		return NULL;
	rl->r = r;
	rl->script.text = script_text;
	for (int i = 0; i < 3; i++)
		if (asprintf(&rl->keys[i], "%srl:%s:%s", prefix, key, suffix[i]) < 0) {
			rl->keys[i] = NULL;
			sv_redis_rl_free(rl);
			return NULL;
		}
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		sv_redis_rl_free(rl);
		return NULL;
	}
	for (int i = 0; i < 8; i++)
		snprintf(rl->instance + 2 * i, 3, "%02x", rnd[i]);
	rl->rate = rate < 1 ? 1 : rate;
	snprintf(rl->lease, sizeof(rl->lease), "%lld", (long long)lease_ms * 1000);
	snprintf(rl->margin, sizeof(rl->margin), "%d", SV_RL_MARGIN_US);
	return rl;
}

/* sv_redis_rl_set_rate - a new ApiRate for the shared budget (from the next grant) */
void sv_redis_rl_set_rate(sv_redis_rl *rl, int rate)
{
	sv_atomic_store(&rl->rate, rate < 1 ? 1 : rate);
}

/* sv_redis_rl_set_settle - a bucket Redis lost settles ms at rate (0: not at all) */
void sv_redis_rl_set_settle(sv_redis_rl *rl, int rate, int64_t ms)
{
	rl->settle_us = ms * 1000;
	sv_atomic_store(&rl->settle_rate, rate < 0 ? 0 : rate);
}

/* sv_redis_rl_free - release (leases in Redis expire by themselves) */
void sv_redis_rl_free(sv_redis_rl *rl)
{
	if (rl == NULL)
		return;
	for (int i = 0; i < 3; i++)
		free(rl->keys[i]);
	free(rl);
}

/* run - the script for op on grant seq; its integer answer, or -1 */
static int64_t run(sv_redis_rl *rl, const char *op, uint64_t seq)
{
	char member[48], rate[16], srate[16], settle[24];
	const char *argv[10];
	redisReply *rep;
	int64_t v = -1;

	snprintf(member, sizeof(member), "%s:%llu", rl->instance, (unsigned long long)seq);
	argv[0] = rl->keys[0];
	argv[1] = rl->keys[1];
	argv[2] = rl->keys[2];
	argv[3] = op;
	snprintf(rate, sizeof(rate), "%d", sv_atomic_load(&rl->rate));
	argv[4] = rate;
	argv[5] = rl->lease;
	argv[6] = member;
	argv[7] = rl->margin;
	/* a budget Redis lost settles; one never lost here is a first start */
	snprintf(srate, sizeof(srate), "%d",
	         sv_redis_lost(rl->r) ? sv_atomic_load(&rl->settle_rate) : 0);
	argv[8] = srate;
	snprintf(settle, sizeof(settle), "%lld", (long long)rl->settle_us);
	argv[9] = settle;
	rep = sv_redis_eval(rl->r, &rl->script, 3, 10, argv, NULL);
	if (rep && rep->type == REDIS_REPLY_INTEGER && rep->integer >= 0) {
		v = rep->integer;
		sv_atomic_store(&rl->failing, 0);
	} else if (rep && !sv_atomic_exchange(&rl->failing, 1)) {
		/* Redis answered, but not as the script does: a key of another type
		 * or a script error; logged once until the script works again */
		sv_log(SV_LOG_ERR,
		       "redis: the shared budget %s failed: %.*s; using the local budget",
		       rl->keys[2], rep->type == REDIS_REPLY_ERROR ? (int)rep->len : 14,
		       rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
	}
	freeReplyObject(rep);
	return v;
}

/* sv_redis_rl_try - 0 granted, > 0 us to wait, -1 Redis unreachable */
int64_t sv_redis_rl_try(sv_redis_rl *rl, uint64_t *ticket)
{
	uint64_t seq = sv_atomic_add_fetch(&rl->seq, 1);
	int64_t w = run(rl, ticket ? "ticket" : "grant", seq);

	if (w == 0 && ticket)
		*ticket = seq;
	return w;
}

/* sv_redis_rl_done - the answer of ticket arrived; 0 or -1 */
int sv_redis_rl_done(sv_redis_rl *rl, uint64_t ticket)
{
	return run(rl, "done", ticket) == 0 ? 0 : -1;
}

/* sv_redis_rl_penalize - RequestLimitExceeded: slow the shared bucket down */
int sv_redis_rl_penalize(sv_redis_rl *rl)
{
	return run(rl, "penalize", 0) == 0 ? 0 : -1;
}

/*
 * test_snapshot_clock.c - CacheFile and the clocks (issue 12 items 6, 9):
 *	the cache runs on a monotonic clock and CacheFile holds wall time,
 *	converted at save and load with sane bounds after a step of the wall
 *	clock; a file of another account is refused.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot.h"
#include "tap.h"

#define HOUR_MS (3600LL * 1000)

static const int64_t MONO = 1600000000000LL;   /* cache-clock "now" (ms) */
static const int64_t WALL = 1700000000000LL;   /* wall clock at that moment (Unix ms) */
static const int64_t VTTL = 3600LL * 1000 * 2; /* VerifiedTTL 2h of this test */
static sv_cache_ttl T;

struct got {
	int n;
	sv_cache_rec rec;
};

/* keep - remember the last loaded record */
static int keep(const char *domain, const sv_cache_rec *rec, void *arg)
{
	struct got *g = arg;

	(void)domain;
	g->n++;
	sv_cache_rec_clear(&g->rec);
	return sv_cache_rec_copy(&g->rec, rec);
}

/* one - a cache holding ok.test, verified, answered 10 s ago for VerifiedTTL */
static sv_cache *one(void)
{
	char err[64];
	sv_cache *c = sv_cache_open(NULL, 10, err, sizeof(err));
	sv_cache_rec r = {0};

	r.state = SV_STATE_VERIFIED;
	r.fetched_at = r.api_checked_at = MONO - 10000;
	r.expires_at = MONO - 10000 + VTTL;
	sv_cache_put(c, "ok.test", &r);
	return c;
}

/* d_field - the n-th TAB field (0-based) of the D line, as a number */
static int64_t d_field(const char *img, int n)
{
	const char *p = strstr(img, "\nD\t");
	int64_t v = -1;

	if (!p)
		return -1;
	p++;
	for (int i = 0; i < n && p; i++)
		if ((p = strchr(p, '\t')) != NULL)
			p++;
	if (p)
		sscanf(p, "%" SCNd64, &v);
	return v;
}

/* load - the image loaded at cache-clock MONO with the wall clock at wall */
static int load(const sv_buf *b, int64_t wall, const char *account, struct got *g, char *err,
                size_t errlen)
{
	sv_snapshot_ctx x = {wall - MONO, account};
	sv_snapshot_stats st;

	sv_cache_rec_clear(&g->rec);
	memset(g, 0, sizeof(*g));
	return sv_snapshot_load_buffer_ex(b->data, b->len, MONO, &x, &T, keep, g, &st, err, errlen);
}

static void test_wall_in_file(void)
{
	sv_cache *c = one();
	sv_snapshot_ctx x = {WALL - MONO, "acct-A"};
	struct got g = {0};
	char err[256];
	sv_buf b;

	sv_buf_init(&b, 0);
	ok(sv_snapshot_format_ex(c, &b, MONO, &x, NULL) == 0, "format with the wall clock");
	is_int(d_field(b.data, 4), WALL - 10000, "fetched_at is written as wall time");
	is_int(d_field(b.data, 5), WALL - 10000 + VTTL, "expires_at is written as wall time");
	ok(strncmp(b.data, "sesverify-cache\t1\t1700000000000\tacct-A\n", 38) == 0,
	   "header: written at the wall time, account identity");

	/* loaded by the next process, whose cache clock differs: same wall time */
	ok(load(&b, WALL, "acct-A", &g, err, sizeof(err)) == 0 && g.n == 1, "loaded (%s)", err);
	is_int(g.rec.fetched_at, MONO - 10000, "no step: fetched 10 s ago on the cache clock");
	is_int(g.rec.expires_at, MONO - 10000 + VTTL, "no step: expires VerifiedTTL after that");

	/* the wall clock was 8 h behind when it was written (now correct): the
	 * record must not seem fetched in the future nor live past its TTL */
	ok(load(&b, WALL - 8 * HOUR_MS, "acct-A", &g, err, sizeof(err)) == 0 && g.n == 1,
	   "loaded after a -8h step");
	is_int(g.rec.fetched_at, MONO, "-8h: fetched_at bounded to now");
	is_int(g.rec.api_checked_at, MONO, "-8h: api_checked_at bounded to now");
	is_int(g.rec.expires_at, MONO + VTTL, "-8h: expires at most VerifiedTTL from now");

	/* +8 h: the answer is 8 h old, stale (served while refreshed, MaxStale 24h) */
	ok(load(&b, WALL + 8 * HOUR_MS, "acct-A", &g, err, sizeof(err)) == 0 && g.n == 1,
	   "loaded after a +8h step");
	is_int(g.rec.expires_at, MONO - 10000 + VTTL - 8 * HOUR_MS,
	       "+8h: expired 8 h earlier on the cache clock");

	/* item 9: another account's file is not used */
	ok(load(&b, WALL, "acct-B", &g, err, sizeof(err)) < 0 && g.n == 0,
	   "a file of another account is refused: %s", err);
	ok(strstr(err, "another account") != NULL, "the reason names the account change");
	ok(load(&b, WALL, NULL, &g, err, sizeof(err)) == 0 && g.n == 1,
	   "without an account to check, the file loads");
	sv_buf_free(&b);

	/* a file without an account field (older version, tools) under an account */
	sv_buf_init(&b, 0);
	x.account = NULL;
	ok(sv_snapshot_format_ex(c, &b, MONO, &x, NULL) == 0, "format without account");
	ok(load(&b, WALL, "acct-A", &g, err, sizeof(err)) == 0 && g.n == 1,
	   "a file that names no account (an older version) is taken as this account's");
	ok(strstr(b.data, "acct") == NULL, "no account written when none is given");
	sv_buf_free(&b);
	sv_cache_rec_clear(&g.rec);
	sv_cache_close(c);
}

int main(void)
{
	sv_config *cfg = sv_config_defaults();

	cfg->verified_ttl = VTTL;
	sv_cache_ttl_init(&T, cfg);
	sv_config_free(cfg);
	test_wall_in_file();
	return tap_done();
}

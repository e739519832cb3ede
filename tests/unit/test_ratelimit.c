/*
 * test_ratelimit.c - the limiter's rules with a fake clock: never more
 *	than N grants in any sliding second whatever the burst pattern,
 *	throughput close to N/s under load, halving and additive recovery,
 *	a shared budget that goes away and comes back (no local grant within
 *	a second of the shared ones), and (real clock) blocking acquire and
 *	shutdown.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "compat.h"
#include "ratelimit.h"
#include "tap.h"

static int64_t fake_now;

/* fake_clock - the test's clock */
static int64_t fake_clock(void *arg)
{
	(void)arg;
	return fake_now;
}

/* max_in_window - most grants in any window of len us */
static int max_in_window(const int64_t *t, int n, int64_t len)
{
	int best = 0, lo = 0;

	for (int hi = 0; hi < n; hi++) {
		while (t[hi] - t[lo] >= len)
			lo++;
		if (hi - lo + 1 > best)
			best = hi - lo + 1;
	}
	return best;
}

/* bursts - random bursts against rate; checks window and throughput */
static void bursts(int rate, unsigned seed)
{
	sv_ratelimit *rl;
	int64_t *t = malloc(sizeof(*t) * 200000);
	int n = 0, max;
	int64_t start;

	srand(seed);
	fake_now = 1000000000;
	start = fake_now;
	rl = sv_ratelimit_new(rate, fake_clock, NULL);
	while (fake_now - start < 60 * 1000000LL && n < 200000) {
		int burst = rand() % (3 * rate + 1);
		for (int i = 0; i < burst; i++) {
			if (sv_ratelimit_try(rl) == 0)
				t[n++] = fake_now;
		}
		/* jumps from 0 (same instant) to 300 ms */
		fake_now += (rand() % 4 == 0) ? 0 : rand() % 300000;
	}
	max = max_in_window(t, n, 1000000);
	ok(max <= rate, "rate %d seed %u: at most %d grants in any 1-s window (got %d)", rate, seed,
	   rate, max);
	max = max_in_window(t, n, 1000000 + SV_RL_MARGIN_US);
	ok(max <= rate, "rate %d: the margin holds too (got %d in 1 s + margin)", rate, max);
	ok(n >= (int)(0.85 * rate * 60),
	   "rate %d: %d grants in 60 s of heavy demand (>= 85%% of budget)", rate, n);
	sv_ratelimit_free(rl);
	free(t);
}

/* sustained - always asking, advancing by the advised wait */
static void sustained(void)
{
	sv_ratelimit *rl;
	int n = 0;
	int64_t w, start;

	fake_now = 5000000;
	start = fake_now;
	rl = sv_ratelimit_new(20, fake_clock, NULL);
	while (fake_now - start < 100 * 1000000LL) {
		if ((w = sv_ratelimit_try(rl)) == 0)
			n++;
		else
			fake_now += w;
	}
	ok(n >= 1900 && n <= 2001,
	   "sustained demand for 100 s at 20/s: %d grants (>= 1900, i.e. <= 105 s per 2000)", n);
	sv_ratelimit_free(rl);
}

/* adaptive - halving on penalty, one halving per second, recovery */
static void adaptive(void)
{
	sv_ratelimit *rl;
	int n = 0;
	int64_t start;

	fake_now = 1000000;
	rl = sv_ratelimit_new(20, fake_clock, NULL);
	ok(sv_ratelimit_current(rl) == 20, "starts at the configured rate");
	sv_ratelimit_penalize(rl);
	ok(sv_ratelimit_current(rl) <= 10.01, "penalty halves the rate (%.2f)",
	   sv_ratelimit_current(rl));
	sv_ratelimit_penalize(rl);
	sv_ratelimit_penalize(rl);
	ok(sv_ratelimit_current(rl) >= 9.9,
	   "a burst of penalties within one second counts once (%.2f)", sv_ratelimit_current(rl));
	fake_now += 1000000;
	sv_ratelimit_penalize(rl);
	ok(sv_ratelimit_current(rl) < 10, "a second later it halves again (%.2f)",
	   sv_ratelimit_current(rl));
	for (int i = 0; i < 10; i++) {
		fake_now += 1000001;
		sv_ratelimit_penalize(rl);
	}
	ok(sv_ratelimit_current(rl) >= 1.0 && sv_ratelimit_current(rl) < 3.5,
	   "rate never drops below 1/s (%.2f)", sv_ratelimit_current(rl));
	/* slowed: count grants in the next second */
	start = fake_now;
	while (fake_now - start < 1000000) {
		if (sv_ratelimit_try(rl) == 0)
			n++;
		fake_now += 1000;
	}
	ok(n <= 5, "while slowed, few grants per second (%d)", n);
	fake_now += 4 * 1000000;
	ok(sv_ratelimit_current(rl) > 8 && sv_ratelimit_current(rl) < 20,
	   "recovers additively (%.2f after 4 s)", sv_ratelimit_current(rl));
	fake_now += 10 * 1000000;
	ok(sv_ratelimit_current(rl) == 20, "back to the configured rate after ~10 s");
	sv_ratelimit_set_rate(rl, 5);
	n = 0;
	start = fake_now;
	while (fake_now - start < 3000000) {
		if (sv_ratelimit_try(rl) == 0)
			n++;
		fake_now += 1000;
	}
	ok(n <= 15 && n >= 12, "set_rate 5: %d grants in 3 s", n);
	sv_ratelimit_free(rl);
}

/* done_stamp - a grant answered late counts from its answer */
static void done_stamp(void)
{
	sv_ratelimit *rl;
	uint64_t first = 0, t;
	int64_t w;

	fake_now = 50000000;
	rl = sv_ratelimit_new(3, fake_clock, NULL);
	/* acquire_ticket never blocks here: tokens and window are free */
	ok(sv_ratelimit_acquire_ticket(rl, &first) == 0 && first != 0, "ticket issued");
	sv_ratelimit_acquire_ticket(rl, &t);
	sv_ratelimit_acquire_ticket(rl, &t);
	fake_now += 200000;
	sv_ratelimit_done(rl, first); /* its answer came 200 ms later */
	fake_now += 900000;
	w = sv_ratelimit_try(rl);
	ok(w > 0 && w <= 200000 + SV_RL_MARGIN_US, "window counts from the answer: wait %lld us",
	   (long long)w);
	fake_now += w;
	ok(sv_ratelimit_try(rl) == 0, "granted once the answered request is 1 s + margin old");
	sv_ratelimit_free(rl);
}

/*
 * spent - a limiter that replaces another (restarted worker) counts the
 *	old one's second as used: the union of both processes' grants never
 *	has more than rate in any second
 */
static void spent(void)
{
	sv_ratelimit *old, *rl;
	int64_t t[64], death, w;
	uint64_t tk;
	int n = 0, i;

	fake_now = 70000000;
	old = sv_ratelimit_new(20, fake_clock, NULL);
	for (i = 0; i < 20; i++) {
		ok(sv_ratelimit_try(old) == 0, "old process: grant %d of its second", i + 1);
		t[n++] = fake_now;
		fake_now += 10000;
	}
	sv_ratelimit_free(old); /* killed 10 ms after its 20th grant */
	death = fake_now;
	fake_now += 150000; /* the new process is up 150 ms later */
	rl = sv_ratelimit_new(20, fake_clock, NULL);
	sv_ratelimit_spent_at(rl, death);
	w = sv_ratelimit_try(rl);
	ok(w > 0, "new process: no grant before a second after the death (wait %lld us)",
	   (long long)w);
	ok(w >= 1000000 - 150000 && w <= 1000000 - 150000 + SV_RL_MARGIN_US,
	   "... exactly until death + 1 s + margin");
	while (n < 64 && fake_now - death < 3000000) {
		if ((w = sv_ratelimit_try(rl)) == 0)
			t[n++] = fake_now;
		else
			fake_now += w < 1000 ? w : 1000;
	}
	ok(max_in_window(t, n, 1000000) <= 20,
	   "old and new process together: at most 20 grants in any second (%d grants)", n);
	ok(n > 40, "the new process then runs at the full rate (%d grants in all)", n);
	sv_ratelimit_free(rl);

	/* a death long ago holds nothing back */
	fake_now = 90000000;
	rl = sv_ratelimit_new(20, fake_clock, NULL);
	sv_ratelimit_spent_at(rl, fake_now - 5000000);
	ok(sv_ratelimit_try(rl) == 0, "spent 5 s ago: granted at once");
	sv_ratelimit_free(rl);

	/* grants recorded before the call keep their (later) times */
	fake_now = 95000000;
	rl = sv_ratelimit_new(3, fake_clock, NULL);
	ok(sv_ratelimit_acquire_ticket(rl, &tk) == 0, "own grant before spent_at");
	sv_ratelimit_spent_at(rl, fake_now - 500000);
	fake_now += 500000 + SV_RL_MARGIN_US + 1;
	ok(sv_ratelimit_try(rl) == 0, "the spent grants expired after their second");
	ok(sv_ratelimit_try(rl) == 0, "... a second one");
	ok(sv_ratelimit_try(rl) > 0, "... but not the own grant's slot, still in its second");
	sv_ratelimit_free(rl);
}

/*
 * in_flight - a request without its answer may reach the server at any
 *	moment: it holds its place in the window however old its grant
 */
static void in_flight(void)
{
	sv_ratelimit *rl;
	uint64_t tk[3];
	int64_t w;

	fake_now = 110000000;
	rl = sv_ratelimit_new(3, fake_clock, NULL);
	for (int i = 0; i < 3; i++)
		sv_ratelimit_acquire_ticket(rl, &tk[i]);
	fake_now += 5000000; /* 5 s later, none answered (slow TLS, a hang) */
	ok(sv_ratelimit_try(rl) > 0, "3 requests in flight for 5 s: no fourth");
	sv_ratelimit_done(rl, tk[0]);
	w = sv_ratelimit_try(rl);
	ok(w > 0 && w <= 1000000 + SV_RL_MARGIN_US,
	   "one answered now: still none, it counts for a second from its answer (wait %lld us)",
	   (long long)w);
	fake_now += w;
	ok(sv_ratelimit_try(rl) == 0, "a second after that answer: granted");
	ok(sv_ratelimit_try(rl) > 0, "... only one: two are still in flight");
	sv_ratelimit_done(rl, tk[1]);
	sv_ratelimit_done(rl, tk[2]);
	fake_now += 1000000 + SV_RL_MARGIN_US;
	ok(sv_ratelimit_try(rl) == 0 && sv_ratelimit_try(rl) == 0 && sv_ratelimit_try(rl) == 0 &&
	       sv_ratelimit_try(rl) > 0,
	   "all answered a second ago: the full rate again, and no more");
	sv_ratelimit_free(rl);
}

static sv_ratelimit *shared;
static int acquired;

/* acq_thread - take tokens until told otherwise */
static void *acq_thread(void *arg)
{
	int want = *(int *)arg;

	for (int i = 0; i < want; i++)
		if (sv_ratelimit_acquire(shared) == 0)
			sv_atomic_fetch_add(&acquired, 1);
	return NULL;
}

/* mono - seconds, monotonic */
static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* real_clock - blocking acquire and shutdown */
static void real_clock(void)
{
	pthread_t a, b;
	int want = 8;
	double t0 = mono(), el;

	shared = sv_ratelimit_new(10, NULL, NULL);
	pthread_create(&a, NULL, acq_thread, &want);
	pthread_create(&b, NULL, acq_thread, &want);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	el = mono() - t0;
	is_int(acquired, 16, "two threads acquired 16 tokens at 10/s");
	ok(el >= 1.0 && el < 3.0, "... which took one window plus margin (%.2f s)", el);
	ok(sv_ratelimit_waits(shared) > 0, "waits were counted (%llu)",
	   (unsigned long long)sv_ratelimit_waits(shared));
	want = 1000;
	acquired = 0;
	pthread_create(&a, NULL, acq_thread, &want);
	t0 = mono();
	while (sv_atomic_load(&acquired) < 3)
		nanosleep(&(struct timespec){0, 10000000}, NULL);
	sv_ratelimit_shutdown(shared);
	pthread_join(a, NULL);
	el = mono() - t0;
	ok(el < 2.0, "shutdown interrupts a blocked acquire (%.2f s)", el);
	ok(sv_ratelimit_acquire(shared) == -1, "acquire after shutdown fails");
	sv_ratelimit_free(shared);
}

static int order[2], norder, yield_now;

struct prio_arg {
	int urgent, id;
	int rc;
	double at;
};

/* prio_thread - one acquire_prio; note when and in which order it was granted */
static void *prio_thread(void *arg)
{
	struct prio_arg *a = arg;

	a->rc = sv_ratelimit_acquire_prio(shared, NULL, a->urgent, NULL, NULL);
	a->at = mono();
	order[sv_atomic_fetch_add(&norder, 1)] = a->id;
	return NULL;
}

static int yield_flag(void *arg)
{
	(void)arg;
	return sv_atomic_load(&yield_now);
}

/* yield_thread - a plain caller that gives way when yield_now is set */
static void *yield_thread(void *arg)
{
	*(int *)arg = sv_ratelimit_acquire_prio(shared, NULL, 0, yield_flag, NULL);
	return NULL;
}

/* urgent_first - an urgent caller takes the next grant; a yielding one gives up */
static void urgent_first(void)
{
	pthread_t n, u;
	struct prio_arg an = {0, 1, -9, 0}, au = {1, 2, -9, 0};
	double t0;
	int rc;

	shared = sv_ratelimit_new(1, NULL, NULL);
	ok(sv_ratelimit_acquire(shared) == 0, "rate 1: the one grant of this second taken");
	pthread_create(&n, NULL, prio_thread, &an);
	nanosleep(&(struct timespec){0, 100000000}, NULL); /* the plain caller waits first */
	pthread_create(&u, NULL, prio_thread, &au);
	pthread_join(n, NULL);
	pthread_join(u, NULL);
	ok(an.rc == 0 && au.rc == 0, "both granted (%d, %d)", an.rc, au.rc);
	ok(norder == 2 && order[0] == 2 && order[1] == 1,
	   "the urgent caller, which came second, was granted first (order %d, %d)", order[0],
	   order[1]);
	ok(an.at - au.at >= 0.9, "... and the plain one a window later (%.2f s)", an.at - au.at);
	/* the plain caller's grant was just taken: the next is a window away */
	pthread_create(&n, NULL, yield_thread, &rc);
	nanosleep(&(struct timespec){0, 100000000}, NULL);
	t0 = mono();
	sv_atomic_store(&yield_now, 1);
	sv_ratelimit_kick(shared);
	pthread_join(n, NULL);
	ok(rc == 1 && mono() - t0 < 0.5,
	   "a waiting caller whose yield turns true gives up at the kick, without a grant (%d, "
	   "%.2f s)",
	   rc, mono() - t0);
	ok(sv_ratelimit_try(shared) > 0, "... and the window still holds only the plain grant");
	sv_ratelimit_free(shared);
}

/* a fake shared budget: up (grants everything) or down (-1) */
static int fake_shared_up = 1;
static int64_t fake_try(void *arg, uint64_t *ticket)
{
	(void)arg;
	if (!fake_shared_up)
		return -1;
	if (ticket)
		*ticket = 1;
	return 0;
}
static void fake_done(void *arg, uint64_t ticket)
{
	(void)arg;
	(void)ticket;
}
static void fake_penalize(void *arg)
{
	(void)arg;
}
static void fake_set_rate(void *arg, int rate)
{
	(void)arg;
	(void)rate;
}

/*
 * shared_outage - the shared budget's grants of the last second are not in
 *	the local ring: when it becomes unreachable, no local grant comes
 *	before a second (plus margin) has passed; when it is back, no shared
 *	grant is used while local grants still count
 */
static void shared_outage(void)
{
	sv_rl_shared sh = {fake_try, fake_done, fake_penalize, fake_set_rate, NULL};
	sv_ratelimit *rl;
	uint64_t t;
	int64_t w;

	fake_now = 5000000000;
	rl = sv_ratelimit_new(20, fake_clock, NULL);
	sv_ratelimit_set_shared(rl, &sh, 5);
	for (int i = 0; i < 20; i++)
		if (sv_ratelimit_try_ticket(rl, &t) != 0 || !(t & SV_RL_SHARED_TICKET))
			break;
	ok((t & SV_RL_SHARED_TICKET) != 0, "shared grants while the shared budget answers");
	fake_shared_up = 0;
	fake_now += 100000;
	w = sv_ratelimit_try_ticket(rl, &t);
	ok(w >= 1000000 && w <= 1000000 + SV_RL_MARGIN_US,
	   "shared budget lost: the first local grant waits a second (%lld us)", (long long)w);
	fake_now += w;
	ok(sv_ratelimit_try_ticket(rl, &t) == 0 && !(t & SV_RL_SHARED_TICKET),
	   "a second later: local grants (RedisDownApiRate)");
	sv_ratelimit_done(rl, t);
	fake_shared_up = 1;
	fake_now += 200000;
	w = sv_ratelimit_try_ticket(rl, &t);
	ok(w > 0 && w <= 1000000 + SV_RL_MARGIN_US,
	   "shared budget back: not used while a local grant counts (%lld us)", (long long)w);
	fake_now += w;
	ok(sv_ratelimit_try_ticket(rl, &t) == 0 && (t & SV_RL_SHARED_TICKET),
	   "then shared grants again");
	sv_ratelimit_free(rl);
}

int main(void)
{
	bursts(20, 1);
	bursts(20, 2);
	bursts(20, 3);
	bursts(5, 4);
	bursts(1, 5);
	bursts(100, 6);
	sustained();
	adaptive();
	done_stamp();
	spent();
	in_flight();
	shared_outage();
	real_clock();
	urgent_first();
	return tap_done();
}

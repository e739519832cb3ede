/*
 * compat.h - the one place for compiler- and platform-specific helpers.
 *	Internal; not installed.
 */
#ifndef SV_COMPAT_H
#define SV_COMPAT_H

#if defined(__GNUC__) || defined(__clang__)
#define SV_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define SV_UNUSED       __attribute__((unused))
#define SV_EXPORT       __attribute__((visibility("default")))
#define SV_LIKELY(x)    __builtin_expect(!!(x), 1)
#define SV_UNLIKELY(x)  __builtin_expect(!!(x), 0)
#else
#define SV_PRINTF(f, a)
#define SV_UNUSED
#define SV_EXPORT
#define SV_LIKELY(x)   (x)
#define SV_UNLIKELY(x) (x)
#endif

#define SV_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#include <pthread.h>
#include <stdint.h>
#include <time.h>

/*
 * Intervals are measured on CLOCK_MONOTONIC, which a step of the wall
 * clock (NTP, an RTC in local time, a resumed VM) does not move.
 * sv_cond_init_mono makes a condition variable whose timed waits take
 * CLOCK_MONOTONIC deadlines; sv_mono_deadline is such a deadline ms from now.
 */
static inline int sv_cond_init_mono(pthread_cond_t *c)
{
	pthread_condattr_t ca;
	int rc;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	rc = pthread_cond_init(c, &ca);
	pthread_condattr_destroy(&ca);
	return rc;
}

static inline struct timespec sv_mono_deadline(int64_t ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

/*
 * sv_mono_passed - has the CLOCK_MONOTONIC deadline passed?  A timed wait
 *	trusts this, not ETIMEDOUT alone: a preloaded clock library
 *	(libfaketime in the tests) may end a wait early.
 */
static inline int sv_mono_passed(const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > deadline->tv_sec ||
	       (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec);
}

#endif

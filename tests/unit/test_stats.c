/*
 * test_stats.c - the counter registry keeps every counter: far more names
 *	than any fixed table would hold, and long names, each get a stable
 *	counter, and sv_stat_walk (what the control socket's "stats" lists)
 *	reports every one of them with its value.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sesverify.h"
#include "stats.h"
#include "tap.h"

#define N 3000 /* counters registered here */

struct seen {
	unsigned char hit[N];
	size_t total, wrong_value, dup;
	bool long_seen;
};

static char long_name[301];

/* walk_one - tick each test counter off (value must be its index + 1) */
static void walk_one(const char *name, uint64_t value, void *arg)
{
	struct seen *s = arg;
	unsigned i;

	s->total++;
	if (strcmp(name, long_name) == 0) {
		s->long_seen = value == 7;
		return;
	}
	if (sscanf(name, "test.many.%u", &i) != 1 || i >= N)
		return;
	if (s->hit[i]++)
		s->dup++;
	if (value != (uint64_t)i + 1)
		s->wrong_value++;
}

int main(void)
{
	static uint64_t *ptr[N];
	struct seen s;
	char name[64];
	size_t null = 0, moved = 0, missing = 0;
	long first_null = -1;

	for (unsigned i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "test.many.%u", i);
		if ((ptr[i] = sv_stat_counter(name)) == NULL) {
			if (null++ == 0)
				first_null = (long)i;
		} else
			sv_stat_inc(ptr[i], (uint64_t)i + 1);
	}
	is_int((long)null, 0, "sv_stat_counter gives a counter to each of %d names", N);
	if (null) {
		diag("the first NULL: test.many.%ld", first_null);
		return tap_done();
	}
	for (unsigned i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "test.many.%u", i);
		if (sv_stat_counter(name) != ptr[i])
			moved++;
	}
	is_int((long)moved, 0, "a counter's address is stable while the registry grows");
	is_int((long)sv_stat_get("test.many.2999"), 3000, "sv_stat_get reads the last one");

	memset(long_name, 'x', sizeof(long_name) - 1);
	memcpy(long_name, "test.long.", 10);
	sv_stat_add(long_name, 7);
	is_int((long)sv_stat_get(long_name), 7, "a %zu-octet name is counted too",
	       strlen(long_name));

	memset(&s, 0, sizeof(s));
	sv_stat_walk(walk_one, &s);
	for (unsigned i = 0; i < N; i++)
		missing += !s.hit[i];
	is_int((long)missing, 0, "sv_stat_walk lists every one of the %d counters", N);
	is_int((long)s.dup, 0, "sv_stat_walk lists each once");
	is_int((long)s.wrong_value, 0, "sv_stat_walk gives each its value");
	ok(s.long_seen, "sv_stat_walk lists the long name with its value");
	ok(s.total >= N + 1, "sv_stat_walk reports %zu counters", s.total);
	return tap_done();
}

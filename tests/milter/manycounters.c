/*
 * manycounters.c - LD_PRELOAD helper of test-milter-stats.sh: in a process
 *	that has libsesverify loaded, registers SV_MANY_COUNTERS counters
 *	"test.many.N" (N from 0) through the public sv_stat_add, counter N
 *	with the value N + 1.  In any other process (grep, sleep) it does
 *	nothing.
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

typedef void (*stat_add_fn)(const char *name, uint64_t delta);

__attribute__((constructor)) static void many_counters(void)
{
	const char *env = getenv("SV_MANY_COUNTERS");
	void *sym = dlsym(RTLD_DEFAULT, "sv_stat_add");
	stat_add_fn add;
	char name[32];
	long n;

	if (env == NULL || sym == NULL)
		return;
	*(void **)&add = sym;
	n = strtol(env, NULL, 10);
	for (long i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "test.many.%ld", i);
		add(name, (uint64_t)i + 1);
	}
}

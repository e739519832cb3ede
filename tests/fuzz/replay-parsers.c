/*
 * replay-parsers.c - run a libFuzzer harness over its committed seed corpus.
 *	Linked with one of fuzz_addr.c, fuzz_config.c, fuzz_domain.c; CORPUS
 *	names the directory under tests/fuzz/corpus/.  Each seed is fed
 *	whole and cut at every length (so reads past the end of short
 *	inputs show up under ASan), one TAP line per seed.  A harness
 *	invariant failure aborts the program, which fails the test.
 */
#include "config.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz-parsers.h"

#ifndef CORPUS
#error "CORPUS must name the seed directory"
#endif

/* read_seed - whole file into a malloc'd buffer */
static unsigned char *read_seed(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	unsigned char *buf = NULL;
	struct stat st;

	if (fp == NULL)
		return NULL;
	if (fstat(fileno(fp), &st) == 0 && S_ISREG(st.st_mode) &&
	    (buf = malloc((size_t)st.st_size + 1)) != NULL)
		*len = fread(buf, 1, (size_t)st.st_size, fp);
	fclose(fp);
	return buf;
}

/* feed - the seed and each of its prefixes, each in an exact-size copy */
static size_t feed(const unsigned char *seed, size_t len)
{
	size_t step = len > 256 ? len / 256 : 1, runs = 0; /* bounded time */

	for (size_t cut = 0; cut <= len; cut += step) {
		unsigned char *copy = malloc(cut ? cut : 1);
		if (copy == NULL)
			continue;
		memcpy(copy, seed, cut);
		LLVMFuzzerTestOneInput(copy, cut);
		free(copy);
		runs++;
	}
	if ((len % step) != 0) {
		LLVMFuzzerTestOneInput(seed, len);
		runs++;
	}
	return runs;
}

int main(int argc, char **argv)
{
	const char *top = getenv("top_srcdir");
	char dir[1024], path[1400];
	struct dirent **names;
	int n, tests = 0, failed = 0;

	snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/%s",
	         argc > 1 ? argv[1]
	         : top    ? top
	                  : ".",
	         CORPUS);
	if ((n = scandir(dir, &names, NULL, alphasort)) < 0) {
		printf("not ok 1 - corpus directory %s readable\n1..1\n", dir);
		return 1;
	}
	for (int i = 0; i < n; i++) {
		unsigned char *seed;
		size_t len = 0, runs;
		if (names[i]->d_name[0] == '.') {
			free(names[i]);
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		seed = read_seed(path, &len);
		tests++;
		if (seed == NULL) {
			printf("not ok %d - %s/%s unreadable\n", tests, CORPUS, names[i]->d_name);
			failed++;
		} else {
			runs = feed(seed, len);
			printf("ok %d - %s/%s (%zu bytes, %zu runs)\n", tests, CORPUS,
			       names[i]->d_name, len, runs);
			free(seed);
		}
		fflush(stdout);
		free(names[i]);
	}
	free(names);
	if (tests == 0) {
		printf("not ok 1 - corpus %s has seeds\n", dir);
		tests = failed = 1;
	}
	printf("1..%d\n", tests);
	return failed ? 1 : 0;
}

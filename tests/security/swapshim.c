/*
 * swapshim.c - LD_PRELOAD helper of test-socket-swap.sh (not installed).
 *	Wraps bind(): right after a Unix socket named in SV_SWAP_PATHS
 *	(colon-separated) was bound, it moves the socket away and puts a
 *	symlink to SV_SWAP_TARGET in its place, as a local user who owns
 *	the socket's directory could do at that moment.  Any later root
 *	chmod/chown by path then lands on the target file.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

typedef int (*bind_fn)(int, const struct sockaddr *, socklen_t);

/* listed - is path one of the colon-separated entries of list */
static int listed(const char *list, const char *path)
{
	size_t n = strlen(path);

	for (const char *p = list; p && *p;) {
		const char *end = strchr(p, ':');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len == n && strncmp(p, path, n) == 0)
			return 1;
		p = end ? end + 1 : NULL;
	}
	return 0;
}

int bind(int fd, const struct sockaddr *sa, socklen_t len)
{
	static bind_fn real;
	const char *paths = getenv("SV_SWAP_PATHS"), *target = getenv("SV_SWAP_TARGET");
	char moved[sizeof(((struct sockaddr_un *)0)->sun_path) + 8];
	int rc;

	if (real == NULL)
		real = (bind_fn)dlsym(RTLD_NEXT, "bind");
	rc = real(fd, sa, len);
	if (rc == 0 && sa->sa_family == AF_UNIX && paths && target) {
		const char *path = ((const struct sockaddr_un *)sa)->sun_path;
		if (listed(paths, path)) {
			snprintf(moved, sizeof(moved), "%s.moved", path);
			if (rename(path, moved) == 0 && symlink(target, path) == 0)
				fprintf(stderr, "swapshim: %s is now a symlink to %s\n", path,
				        target);
		}
	}
	return rc;
}

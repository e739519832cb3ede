/*
 * cli_control.c - the sesverify commands that ask the running milter over
 *	its ControlSocket: cache list|show|refresh|forget|stats and stats.
 *	Owns the client side: connecting, sending one request line, reading
 *	the whole answer and turning its first line into an exit status.
 *	Does not own the protocol: ctlproto.h (shared with the milter's
 *	control.c) defines the verbs, the answer prefixes, the limits and
 *	how a "unix:" socket spec is read.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli.h"
#include "ctlproto.h"

#define CTL_TIMEOUT_S 30 /* per read and write */

/* cli_ctl_open - see cli.h */
int cli_ctl_open(const char *path, int timeout_s)
{
	struct sockaddr_un sun;
	struct timeval tv = {timeout_s, 0};
	int fd, e;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1); /* fits: sv_unix_socket_path checked */
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* ctl_connect - connect to the socket at path; -1 with a message */
static int ctl_connect(const char *path)
{
	int fd = cli_ctl_open(path, CTL_TIMEOUT_S);

	if (fd < 0)
		cli_warn(
		    "cache: cannot connect to control socket %s: %s (is sesverify-milter running?)",
		    path, strerror(errno));
	return fd;
}

/* ctl_read_all - the whole answer (the server closes after it) */
static char *ctl_read_all(int fd, const char *path)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap), *nb;
	ssize_t r;

	if (!buf) {
		cli_warn("out of memory");
		return NULL;
	}
	for (;;) {
		if (len + 1 >= cap) {
			if (cap >= CTL_REPLY_MAX) {
				cli_warn("cache: answer from %s larger than %d bytes", path,
				         CTL_REPLY_MAX);
				free(buf);
				return NULL;
			}
			nb = realloc(buf, cap * 2);
			if (!nb) {
				cli_warn("out of memory");
				free(buf);
				return NULL;
			}
			buf = nb;
			cap *= 2;
		}
		r = read(fd, buf + len, cap - len - 1);
		if (r == 0)
			break;
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			cli_warn("cache: reading from control socket %s: %s", path,
			         errno == EAGAIN ? "timed out" : strerror(errno));
			free(buf);
			return NULL;
		}
		len += (size_t)r;
	}
	buf[len] = 0;
	if (memchr(buf, 0, len)) {
		cli_warn("cache: malformed answer from %s (NUL byte)", path);
		free(buf);
		return NULL;
	}
	return buf;
}

/* ctl_write_all - send one request line */
static int ctl_write_all(int fd, const char *line, const char *path)
{
	size_t off = 0, len = strlen(line);
	ssize_t w;

	while (off < len) {
		w = send(fd, line + off, len - off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			cli_warn("cache: writing to control socket %s: %s", path, strerror(errno));
			return -1;
		}
		off += (size_t)w;
	}
	return 0;
}

/* ctl_status - interpret the first line; print the body */
static int ctl_status(char *reply, const char *path)
{
	char *nl = strchr(reply, '\n'), *body = nl ? nl + 1 : reply + strlen(reply);
	const char *arg;

	if (nl)
		*nl = 0;
	if (nl && nl > reply && nl[-1] == '\r')
		nl[-1] = 0;
	switch (ctl_reply_kind(reply, &arg)) {
	case CTL_REPLY_OK:
		fputs(body, stdout);
		return EXIT_OKAY;
	case CTL_REPLY_NOTFOUND:
		fputs(body, stdout);
		fprintf(stderr, "%s: %s: not in the cache\n", cli_progname, *arg ? arg : "domain");
		return EXIT_FAILED;
	case CTL_REPLY_ERR:
		fputs(body, stdout);
		cli_warn("cache: %s", *arg ? arg : "error");
		return EXIT_TROUBLE;
	default:
		cli_warn("cache: malformed answer from %s: '%.60s'", path, reply);
		return EXIT_TROUBLE;
	}
}

/* ctl_request - one line to ControlSocket; print the answer's body */
static int ctl_request(const sv_config *cfg, const char *line)
{
	const char *spec = cfg->control_socket ? cfg->control_socket : CTL_SOCKET_DEFAULT;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *reply;
	int fd, rc;

	if (!*spec) {
		cli_warn("cache: no ControlSocket configured");
		return EXIT_TROUBLE;
	}
	if (sv_unix_socket_path(spec, path, sizeof(path), NULL, 0) != 0) {
		cli_warn("cache: ControlSocket %s: want unix:PATH, local:PATH or /PATH, "
		         "the path shorter than %zu octets",
		         spec, sizeof(path));
		return EXIT_TROUBLE;
	}
	fd = ctl_connect(path);
	if (fd < 0)
		return EXIT_TROUBLE;
	if (ctl_write_all(fd, line, path) != 0) {
		close(fd);
		return EXIT_TROUBLE;
	}
	shutdown(fd, SHUT_WR);
	reply = ctl_read_all(fd, path);
	close(fd);
	if (!reply)
		return EXIT_TROUBLE;
	if (!*reply) {
		cli_warn("cache: control socket %s closed without an answer", path);
		free(reply);
		return EXIT_TROUBLE;
	}
	rc = ctl_status(reply, path);
	free(reply);
	return rc;
}

/* cmd_cache - "cache VERB [DOMAIN]": the verbs of ctlproto.h that have a json form */
int cmd_cache(const sv_config *cfg, const opts *o)
{
	char line[SV_DOMAIN_MAX + 64], dom[SV_DOMAIN_MAX + 1] = "";
	const char *why = NULL;
	const ctl_verb *v;

	if (o->nargs < 1 || (v = ctl_verb_find(o->args[0])) == NULL || !v->json)
		return cli_usage("cache: want list, show, refresh, forget or stats");
	if (o->nargs != 1 + v->domain)
		return cli_usage(v->domain ? "cache: this command takes one DOMAIN"
		                           : "cache: this command takes no DOMAIN");
	if (v->domain && sv_domain_normalize(o->args[1], dom, &why) != 0) {
		cli_warn("cache %s: bad domain '%s': %s", v->name, o->args[1],
		         why ? why : "invalid domain name");
		return EXIT_USAGE;
	}
	snprintf(line, sizeof(line), "%s%s%s%s\n", v->name, dom[0] ? " " : "", dom,
	         o->json ? " " CTL_JSON : "");
	return ctl_request(cfg, line);
}

/* cmd_stats - "stats [--json | --prometheus]": the counters, or the metrics text */
int cmd_stats(const sv_config *cfg, const opts *o)
{
	if (o->nargs != 0)
		return cli_usage("stats: takes no argument");
	if (o->json && o->prometheus)
		return cli_usage("stats: --json or --prometheus, not both");
	return ctl_request(cfg, o->prometheus ? "metrics\n"
	                        : o->json     ? "stats " CTL_JSON "\n"
	                                      : "stats\n");
}

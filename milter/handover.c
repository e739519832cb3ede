/*
 * handover.c - the configuration travels from the supervisor to the worker.
 *	The worker runs as UserID and may not read a root-owned 0600
 *	configuration or CredentialsFile, so the root supervisor reads both,
 *	validates them and hands their text to the worker over a socketpair;
 *	the worker parses the same text (reading SkipDomains @FILE and
 *	checking CAFile as itself) and answers whether it applies it.  The
 *	supervisor keeps a configuration for restarted workers only once the
 *	worker said yes, so that the two never run different ones.
 *	Owns the socketpair, the frame format and both ends' steps; does not
 *	own parsing (confref.c, lib/config.c) nor signals (supervisor.c).
 *
 *	Frame: struct frame, then conf_len octets of configuration text and
 *	cred_len octets of credentials file text.  Answer: one octet, '0'
 *	applied or '1' refused (the worker logged why).
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "confref.h"
#include "handover.h"
#include "mlog.h"

#define FRAME_MAGIC 0x53565231u        /* "SVR1" */
#define CONF_MAX    (2u * 1024 * 1024) /* above the parser's own 1 MiB */
#define CRED_MAX    (128u * 1024)      /* above credentials.c's 64 KiB */
#define ANSWER_MS   10000              /* the worker's parse, not its engine switch */

struct frame {
	uint32_t magic;
	uint32_t conf_len;
	uint32_t cred_len;
	uint32_t mode;     /* of the configuration file */
	uint32_t has_cred; /* a CredentialsFile is in use */
};

static int fds[2] = {-1, -1}; /* [0] the supervisor's end, [1] the worker's */

/* drain - discard what waits on fd (leftovers of a dead worker or a late answer) */
static void drain(int fd)
{
	char junk[4096];

	while (recv(fd, junk, sizeof(junk), MSG_DONTWAIT) > 0)
		;
}

/* prefork - the supervisor forks a worker: nothing stale for the new one */
static void prefork(void)
{
	if (fds[1] >= 0)
		drain(fds[1]);
}

/* handover_init - the socketpair, before the first worker; 0 or -1 */
int handover_init(void)
{
	struct timeval tv = {.tv_sec = ANSWER_MS / 1000};

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0) {
		mlog(SV_LOG_ERR, "socketpair: %s", strerror(errno));
		return -1;
	}
	setsockopt(fds[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fds[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	pthread_atfork(prefork, NULL, NULL);
	return 0;
}

/* handover_worker_fd - in the worker: its end, to poll for frames */
int handover_worker_fd(void)
{
	/* without the supervisor's end here, the supervisor's death is a hang-up */
	if (fds[0] >= 0) {
		close(fds[0]);
		fds[0] = -1;
	}
	return fds[1];
}

/* xfer - send or receive a whole buffer, within the socket timeouts; 0 or -1 */
static int xfer(int fd, void *p, size_t len, bool out)
{
	char *c = p;

	while (len > 0) {
		ssize_t n = out ? send(fd, c, len, MSG_NOSIGNAL) : recv(fd, c, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		c += n;
		len -= (size_t)n;
	}
	return 0;
}

/* send_all - the whole buffer; 0 or -1 */
static int send_all(int fd, const void *p, size_t len)
{
	return xfer(fd, (void *)p, len, true);
}

/* recv_all - the whole buffer; 0 or -1 */
static int recv_all(int fd, void *p, size_t len)
{
	return xfer(fd, p, len, false);
}

/* credentials_text - the CredentialsFile text cfg uses, NULL if none; -1 on error */
static int credentials_text(const sv_config *cfg, char **text)
{
	char err[512];

	*text = NULL;
	if (cfg->credentials_file == NULL || cfg->secret_id || cfg->secret_key)
		return 0;
	if ((*text = sv_credentials_load_text(cfg->credentials_file, err, sizeof(err))) == NULL) {
		mlog(SV_LOG_ERR, "%s:0: CredentialsFile: %s", conf_path, err);
		return -1;
	}
	return 0;
}

/* handover_boot - at start: the CredentialsFile read here, for every worker */
void handover_boot(const sv_config *cfg)
{
	char *cred;

	if (credentials_text(cfg, &cred) < 0) {
		mlog(SV_LOG_WARNING, "the worker will try to read the CredentialsFile itself");
		return;
	}
	if (cred && sv_credentials_preload(cfg->credentials_file, cred) < 0)
		mlog(SV_LOG_ERR, "out of memory keeping the CredentialsFile");
	sv_credentials_text_free(cred);
}

/* ask_worker - send the frame, wait for the answer: 0 applied, 1 refused, -1 no answer */
static int ask_worker(const char *text, size_t len, mode_t mode, const char *cred)
{
	struct frame f = {FRAME_MAGIC, (uint32_t)len, cred ? (uint32_t)strlen(cred) : 0,
	                  (uint32_t)mode, cred != NULL};
	struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
	char answer = 0;

	drain(fds[0]);
	if (send_all(fds[0], &f, sizeof(f)) < 0 || send_all(fds[0], text, len) < 0 ||
	    (cred && send_all(fds[0], cred, f.cred_len) < 0)) {
		mlog(SV_LOG_ERR, "reload: cannot hand the configuration to the worker: %s",
		     strerror(errno));
		return -1;
	}
	while (poll(&pfd, 1, ANSWER_MS) < 0 && errno == EINTR)
		;
	if (recv(fds[0], &answer, 1, MSG_DONTWAIT) != 1) {
		mlog(SV_LOG_ERR, "reload: the worker did not answer within %d s", ANSWER_MS / 1000);
		return -1;
	}
	return answer == '0' ? 0 : 1;
}

/*
 * handover_reload - the supervisor's SIGHUP/SIGUSR1: read and validate the
 *	files as root, hand them to the worker (pid, 0: none runs), and on
 *	its yes make them the configuration of restarted workers (*boot).
 */
void handover_reload(pid_t worker, sv_config **boot)
{
	sv_config *cfg = NULL;
	char *text = NULL, *cred = NULL;
	size_t len = 0;
	mode_t mode = 0;
	int errors, rc = 0;

	errors = conf_read(conf_path, &text, &len, &mode, CONF_LOG);
	if (errors == 0)
		errors = conf_load_text(conf_path, text, len, mode, &cfg, CONF_LOG);
	if (errors == 0 && credentials_text(cfg, &cred) < 0)
		errors = 1;
	if (errors > 0) {
		conf_reload_failed(errors);
	} else if (worker > 0 && (rc = ask_worker(text, len, mode, cred)) != 0) {
		if (rc < 0) {
			/* it may still apply it later: a new worker starts from ours */
			mlog(SV_LOG_ERR, "reload: restarting the worker so that it runs the "
			                 "configuration kept here");
			kill(worker, SIGTERM);
		}
		mlog(SV_LOG_ERR,
		     "reload: the worker did not apply %s; keeping the old "
		     "configuration",
		     conf_path);
	} else {
		if (sv_credentials_preload(cred ? cfg->credentials_file : NULL, cred) < 0)
			mlog(SV_LOG_ERR, "out of memory keeping the CredentialsFile");
		sv_config_free(*boot);
		*boot = cfg;
		cfg = NULL;
	}
	sv_config_free(cfg);
	if (text) {
		explicit_bzero(text, len);
		free(text);
	}
	sv_credentials_text_free(cred);
}

/*
 * handover_check - the worker's view of a configuration text: parse it as
 *	this process (SkipDomains @FILE read with its rights) and check that
 *	CAFile is readable; number of errors.  Also -n's check as UserID.
 */
int handover_check(const char *text, size_t len, mode_t mode, sv_config **out, int how)
{
	sv_config *cfg = NULL;
	int errors = conf_load_text(conf_path, text, len, mode, &cfg, how);

	*out = NULL;
	if (errors > 0)
		return errors;
	if (cfg->ca_file && access(cfg->ca_file, R_OK) < 0) {
		char msg[1024];
		snprintf(msg, sizeof(msg), "%s:0: CAFile %s: %s (uid %ld)", conf_path, cfg->ca_file,
		         strerror(errno), (long)geteuid());
		if (how == CONF_STDERR)
			fprintf(stderr, "%s\n", msg);
		else
			mlog(SV_LOG_ERR, "%s", msg);
		sv_config_free(cfg);
		return 1;
	}
	*out = cfg;
	return 0;
}

/* handover_take - the worker: one frame from the supervisor, applied or refused */
void handover_take(void)
{
	struct frame f;
	sv_config *cfg = NULL;
	char *text = NULL, *cred = NULL, answer = '1';
	int errors = 1;

	if (recv_all(fds[1], &f, sizeof(f)) < 0 || f.magic != FRAME_MAGIC ||
	    f.conf_len > CONF_MAX || f.cred_len > CRED_MAX ||
	    (text = malloc(f.conf_len + 1)) == NULL || (cred = malloc(f.cred_len + 1)) == NULL ||
	    recv_all(fds[1], text, f.conf_len) < 0 || recv_all(fds[1], cred, f.cred_len) < 0) {
		mlog(SV_LOG_ERR, "reload: bad configuration hand-over from the supervisor");
		drain(fds[1]);
	} else {
		text[f.conf_len] = 0;
		cred[f.cred_len] = 0;
		errors = handover_check(text, f.conf_len, (mode_t)f.mode, &cfg, CONF_LOG);
		if (errors > 0)
			conf_reload_failed(errors);
		else if (sv_credentials_preload(f.has_cred ? cfg->credentials_file : NULL,
		                                f.has_cred ? cred : NULL) < 0)
			errors = 1;
		else
			answer = '0';
	}
	if (send_all(fds[1], &answer, 1) < 0)
		mlog(SV_LOG_WARNING, "reload: cannot answer the supervisor: %s", strerror(errno));
	if (errors == 0)
		conf_reload(cfg); /* takes cfg */
	else
		sv_config_free(cfg);
	if (text) {
		explicit_bzero(text, f.conf_len);
		free(text);
	}
	if (cred) {
		explicit_bzero(cred, f.cred_len);
		free(cred);
	}
}

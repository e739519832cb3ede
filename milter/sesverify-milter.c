/*
 * sesverify-milter.c - main program of the sesverify milter daemon.
 *	Owns the command line (-c -f -n -p -V), the start-up order and the
 *	worker's life: open the milter socket and the ControlSocket (as root
 *	when started as root), drop to UserID, start the engine, serve until
 *	SIGTERM, then drain and save the cache snapshot.  The supervisor
 *	(supervisor.c) runs the worker; see sesverify-milter(8).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#include "control.h"
#include "metrics.h"
#include "confref.h"
#include "ctlproto.h"
#include "daemon.h"
#include "handover.h"
#include "milterfuncs.h"
#include "mlog.h"
#include "sesverify-milter.h"
#include "supervisor.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif

sv_engine *milter_engine;
bool milter_foreground;

static sv_config *boot_cfg; /* supervisor: the last good config */
static pthread_t reload_thread;
static int reload_pipe[2] = {-1, -1}; /* wakes the reload thread at stop */

/* usage - the synopsis on stderr */
static void usage(void)
{
	fprintf(stderr, "usage: %s [-c FILE] [-f] [-n] [-p SOCKET] [-V]\n", MILTER_NAME);
}

/*
 * harden - keep the API key out of reach of other processes of the same
 *	user: no core dumps and no ptrace attach (PR_SET_DUMPABLE 0, which
 *	also makes /proc/PID/{environ,mem,...} root-only), and the
 *	TENCENTCLOUD_* secrets moved from the environment into memory
 *	excluded from dumps (children never inherit them).
 */
static int harden(void)
{
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		fprintf(stderr, "%s: prctl(PR_SET_DUMPABLE): %s\n", MILTER_NAME, strerror(errno));
	if (sv_credentials_capture_env() < 0) {
		fprintf(stderr, "%s: out of memory\n", MILTER_NAME);
		return -1;
	}
	return 0;
}

/*
 * check_credentials_file - for -n: a CredentialsFile the worker would
 *	refuse (missing, group/world readable, malformed) is a configuration
 *	error now, not a worker that cannot start later.  Inline keys are
 *	checked by the config parser.  Without either, the environment (the
 *	worker's, e.g. a systemd unit's Environment=) must hold a complete
 *	key: a milter with no credentials at all could only defer mail, so
 *	the packaged unit's ExecStartPre (-n) refuses to start it.
 */
static int check_credentials_file(const sv_config *cfg)
{
	char err[512];

	if (cfg->secret_id || cfg->secret_key)
		return 0;
	if (sv_credentials_check(cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: %s%s\n", conf_path,
		        cfg->credentials_file ? "CredentialsFile: " : "", err);
		return -1;
	}
	return 0;
}

/*
 * check_as_user - for -n as root with UserID: what the worker reads with
 *	the user's rights (SkipDomains @FILE at a reload, CAFile) must be
 *	readable by that user.  A child takes the user's ids and parses the
 *	text that root read; 0, or -1 when it reported errors.
 */
static int check_as_user(const sv_config *cfg)
{
	char name[256], *text = NULL;
	sv_config *as_user = NULL;
	size_t len = 0;
	mode_t mode = 0;
	uid_t uid;
	gid_t gid;
	pid_t pid;
	int status = 0;

	if (cfg->user_id == NULL || *cfg->user_id == 0 || geteuid() != 0)
		return 0;
	if (daemon_user_lookup(cfg->user_id, &uid, &gid, name, sizeof(name)) < 0)
		return -1; /* logged: the worker would refuse to run */
	if (uid == 0)
		return 0; /* "UserID root": the worker refuses to run, and says why */
	if (conf_read(conf_path, &text, &len, &mode, CONF_STDERR) > 0)
		return -1;
	fflush(NULL);
	if ((pid = fork()) == 0) {
		if (setgid(gid) < 0 || initgroups(name, gid) < 0 || setuid(uid) < 0) {
			fprintf(stderr, "%s: cannot switch to UserID %s: %s\n", conf_path,
			        cfg->user_id, strerror(errno));
			_exit(1);
		}
		if (handover_check(text, len, mode, &as_user, CONF_STDERR) > 0) {
			fprintf(stderr,
			        "%s: the worker runs as UserID %s and could not read the above\n",
			        conf_path, cfg->user_id);
			_exit(1);
		}
		sv_config_free(as_user);
		_exit(0);
	}
	explicit_bzero(text, len);
	free(text);
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* supervisor_reload - SIGHUP/SIGUSR1: read the files as root, hand them over */
static void supervisor_reload(pid_t worker)
{
	handover_reload(worker, &boot_cfg);
}

/* supervisor_poke - wake the stopping worker's listener: connect once, close */
static void supervisor_poke(void)
{
	const char *spec = boot_cfg ? boot_cfg->socket : NULL;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	char host[256], *at;
	const char *port;
	int fd;

	if (spec == NULL)
		return;
	if (sv_unix_socket_path(spec, sun.sun_path, sizeof(sun.sun_path), NULL, 0) == 0) {
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0) {
			(void)connect(fd, (struct sockaddr *)&sun, sizeof(sun));
			close(fd);
		}
		return;
	}
	/* inet:PORT@HOST / inet6:PORT@HOST; without a host, the loopback */
	if (strncmp(spec, "inet:", 5) == 0) {
		hints.ai_family = AF_INET;
		port = spec + 5;
	} else if (strncmp(spec, "inet6:", 6) == 0) {
		hints.ai_family = AF_INET6;
		port = spec + 6;
	} else {
		return;
	}
	snprintf(host, sizeof(host), "%s", port);
	at = strchr(host, '@');
	if (at)
		*at++ = 0;
	if (at && *at == '[') {
		at++;
		at[strcspn(at, "]")] = 0;
	}
	if (getaddrinfo(at && *at ? at : NULL, host, &hints, &ai) != 0)
		return;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		(void)connect(fd, ai->ai_addr, ai->ai_addrlen);
		close(fd);
	}
	freeaddrinfo(ai);
}

/* reload_main - the worker's reload thread: configurations from the supervisor */
static void *reload_main(void *arg)
{
	struct pollfd pfd[2] = {{.fd = handover_worker_fd(), .events = POLLIN},
	                        {.fd = reload_pipe[0], .events = POLLIN}};

	(void)arg;
	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			mlog(SV_LOG_ERR, "reload thread: poll: %s", strerror(errno));
			break;
		}
		if (pfd[1].revents)
			break;
		if (pfd[0].revents & POLLIN)
			handover_take();
		else if (pfd[0].revents)
			break; /* the supervisor is gone */
	}
	return NULL;
}

/*
 * own_socket - give the Unix socket just bound to UserID; -1 is fatal
 *	The socket's directory belongs to UserID, so that user could swap a
 *	symlink in between the bind and here: no root operation follows the
 *	path.  The mode (0660) came from the umask at bind time; the owner is
 *	set through an O_PATH descriptor of the last component, opened with
 *	O_NOFOLLOW, after checking that it is the socket root just created.
 */
static int own_socket(const char *spec, const char *user_id)
{
	char path[256], name[256];
	struct stat st;
	uid_t uid;
	gid_t gid;
	int fd, rc = -1;

	if (sv_unix_socket_path(spec, path, sizeof(path), NULL, 0) != 0 || user_id == NULL ||
	    *user_id == 0 || geteuid() != 0)
		return 0;
	if (daemon_user_lookup(user_id, &uid, &gid, name, sizeof(name)) < 0)
		return -1;
	if ((fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		mlog(SV_LOG_ERR, "socket %s: %s; refusing to run", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode) || st.st_uid != geteuid() ||
	    st.st_nlink != 1) {
		mlog(
		    SV_LOG_ERR,
		    "%s is not the socket just created (replaced since the bind?); refusing to run",
		    path);
	} else {
		if (fchownat(fd, "", uid, gid, AT_EMPTY_PATH) < 0)
			mlog(SV_LOG_WARNING, "chown %s: %s", path, strerror(errno));
		rc = 0;
	}
	close(fd);
	return rc;
}

/* worker_open - milter socket, ControlSocket, MetricsSocket; -1 is fatal */
static int worker_open(const sv_config *cfg, int *control_fd, int *metrics_fd)
{
	char err[512];

	*control_fd = *metrics_fd = -1;
	if (smfi_register(*milter_desc()) != MI_SUCCESS) {
		mlog(SV_LOG_ERR, "smfi_register failed");
		return -1;
	}
	/* Unix sockets are born mode 0660: nothing chmods them by path */
	umask(0117);
	if (smfi_setconn(cfg->socket) != MI_SUCCESS || smfi_opensocket(1) != MI_SUCCESS) {
		mlog(SV_LOG_ERR, "cannot listen on milter socket %s", cfg->socket);
		return -1;
	}
	if (own_socket(cfg->socket, cfg->user_id) < 0)
		return -1;
	if (cfg->control_socket && *cfg->control_socket) {
		*control_fd = control_open(cfg->control_socket, err, sizeof(err));
		if (*control_fd < 0) {
			mlog(SV_LOG_ERR, "%s", err);
			return -1;
		}
		if (own_socket(cfg->control_socket, cfg->user_id) < 0)
			return -1;
	}
	if (cfg->metrics_socket &&
	    (*metrics_fd = metrics_open(cfg->metrics_socket, err, sizeof(err))) < 0) {
		mlog(SV_LOG_ERR, "%s", err);
		return -1;
	}
	umask(007);
	return 0;
}

/* worker_stop - after smfi_main: drain, stop threads, save the snapshot */
static void worker_stop(const char *control_socket)
{
	char path[256];

	/* a message waiting for an unknown domain (UnknownWait may be minutes)
	 * gets its tempfail now instead of holding the stop */
	if (milter_engine)
		sv_engine_wake_waiters(milter_engine);
	milter_drain(10000);
	control_stop();
	metrics_stop();
	if (sv_unix_socket_path(control_socket, path, sizeof(path), NULL, 0) == 0)
		unlink(path);
	if (write(reload_pipe[1], "x", 1) < 0)
		mlog(SV_LOG_WARNING, "cannot wake the reload thread: %s", strerror(errno));
	pthread_join(reload_thread, NULL);
	if (milter_engine) {
		sv_engine_free(milter_engine); /* stops workers, writes CacheFile */
		milter_engine = NULL;
		mlog(SV_LOG_INFO, "cache engine stopped, snapshot saved");
	}
}

/* worker - the child process: everything that talks to the MTA */
static int worker(void *arg)
{
	sv_config *cfg = boot_cfg;
	char err[512], *control_socket = NULL;
	int control_fd, metrics_fd, rc;

	(void)arg;
	boot_cfg = NULL;
	conf_install(cfg); /* the current config now owns cfg */
	umask(007);
	if (worker_open(cfg, &control_fd, &metrics_fd) < 0)
		return WORKER_EXIT_FATAL;
	if (daemon_drop(cfg->user_id) < 0)
		return WORKER_EXIT_FATAL;
	if (sv_library_init() < 0) {
		mlog(SV_LOG_ERR, "library initialisation failed");
		return WORKER_EXIT_FATAL;
	}
	milter_engine = sv_engine_new(cfg, err, sizeof(err));
	if (milter_engine == NULL) {
		mlog(SV_LOG_ERR, "cache engine: %s", err);
		return WORKER_EXIT_FATAL;
	}
	conf_engine_pin();
	if (supervisor_last_death.tv_sec || supervisor_last_death.tv_nsec) {
		/* the dead worker may have used this second's ApiRate budget */
		sv_engine_api_spent(milter_engine, &supervisor_last_death);
		mlog(SV_LOG_INFO, "restarted worker: no API request until a second after the "
		                  "previous worker died");
	}
	if (sv_engine_start(milter_engine) < 0)
		mlog(SV_LOG_WARNING, "cache engine start-up was incomplete (see above)");
	if (control_fd >= 0 && control_start(control_fd, milter_engine) < 0)
		return WORKER_EXIT_FATAL;
	if (metrics_fd >= 0) {
		if (metrics_start(metrics_fd, milter_engine, err, sizeof(err)) < 0) {
			mlog(SV_LOG_ERR, "%s", err);
			return WORKER_EXIT_FATAL;
		}
		mlog(SV_LOG_INFO, "metrics: GET /metrics on %s", cfg->metrics_socket);
	}
	if (pipe2(reload_pipe, O_CLOEXEC) < 0) {
		mlog(SV_LOG_ERR, "pipe: %s", strerror(errno));
		return WORKER_EXIT_FATAL;
	}
	if ((rc = pthread_create(&reload_thread, NULL, reload_main, NULL)) != 0) {
		mlog(SV_LOG_ERR, "pthread_create: %s", strerror(rc));
		return WORKER_EXIT_FATAL;
	}
	if (cfg->control_socket)
		control_socket = strdup(cfg->control_socket);
	mlog(SV_LOG_NOTICE, "%s %s ready on %s (Mode %s)", MILTER_NAME, PACKAGE_VERSION,
	     cfg->socket, cfg->mode == SV_MODE_MONITOR ? "monitor" : "enforce");
	rc = smfi_main();
	mlog(SV_LOG_NOTICE, "stopping");
	worker_stop(control_socket);
	free(control_socket);
	conf_shutdown();
	sv_library_cleanup();
	mlog(SV_LOG_NOTICE, "stopped");
	return rc == MI_SUCCESS ? 0 : 1;
}

int main(int argc, char **argv)
{
	bool check_only = false;
	sv_config *cfg;
	int ch, rc;

	conf_path = SYSCONFDIR "/sesverify-milter.conf";
	while ((ch = getopt(argc, argv, "c:fnp:Vh")) != -1) {
		switch (ch) {
		case 'c':
			conf_path = optarg;
			break;
		case 'f':
			milter_foreground = true;
			break;
		case 'n':
			check_only = true;
			break;
		case 'p':
			conf_socket_arg = optarg;
			break;
		case 'V':
			printf("%s %s (libsesverify %s)\n", MILTER_NAME, PACKAGE_VERSION,
			       sv_version());
			return 0;
		default:
			usage();
			return 2;
		}
	}
	if (optind != argc) {
		usage();
		return 2;
	}
	if (harden() < 0)
		return 1;
	/* a control client or an MTA that hangs up must not kill the worker */
	signal(SIGPIPE, SIG_IGN);
	if (conf_load(conf_path, &cfg, CONF_STDERR) > 0)
		return 1;
	if (check_only) {
		rc = check_credentials_file(cfg) < 0 || check_as_user(cfg) < 0;
		sv_config_free(cfg);
		return rc;
	}
	mlog_open(cfg, milter_foreground);
	if (!milter_foreground && daemon_detach() < 0) {
		mlog(SV_LOG_ERR, "cannot detach: %s", strerror(errno));
		return 1;
	}
	if (daemon_pidfile_write(cfg->pid_file) < 0) {
		sv_config_free(cfg);
		return 1;
	}
	if (handover_init() < 0) {
		sv_config_free(cfg);
		return 1;
	}
	handover_boot(cfg);
	boot_cfg = cfg;
	rc = supervise(worker, NULL, supervisor_reload, supervisor_poke);
	daemon_pidfile_remove(boot_cfg ? boot_cfg->pid_file : NULL);
	sv_config_free(boot_cfg);
	return rc;
}

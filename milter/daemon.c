/*
 * daemon.c - the Unix daemon chores of sesverify-milter.
 *	Owns detaching from the terminal, the PidFile, and dropping root to
 *	UserID (user[:group]).  Does not own sockets or signals.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "mlog.h"

/* daemon_detach - fork twice, new session, stdio on /dev/null */
int daemon_detach(void)
{
	pid_t pid;
	int fd;

	pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	if (setsid() < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	if (chdir("/") < 0)
		return -1;
	fd = open("/dev/null", O_RDWR);
	if (fd < 0)
		return -1;
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	if (fd > 2)
		close(fd);
	return 0;
}

/* daemon_pidfile_write - our pid and a newline; 0 or -1 */
int daemon_pidfile_write(const char *path)
{
	char buf[32];
	int fd, len;

	if (path == NULL || *path == 0)
		return 0;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		mlog(SV_LOG_ERR, "PidFile %s: %s", path, strerror(errno));
		return -1;
	}
	len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (write(fd, buf, (size_t)len) != len) {
		mlog(SV_LOG_ERR, "PidFile %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* daemon_pidfile_remove - only when it still holds our pid */
void daemon_pidfile_remove(const char *path)
{
	char buf[32] = "";
	FILE *fp;

	if (path == NULL || *path == 0 || (fp = fopen(path, "r")) == NULL)
		return;
	if (fgets(buf, sizeof(buf), fp) && atol(buf) == (long)getpid())
		unlink(path);
	fclose(fp);
}

/* daemon_user_lookup - "user[:group]" to ids; 0 or -1 (logged) */
int daemon_user_lookup(const char *spec, uid_t *uid, gid_t *gid, char *name, size_t namelen)
{
	char user[256];
	const char *colon = strchr(spec, ':');
	struct passwd *pw;
	struct group *gr;

	snprintf(user, sizeof(user), "%.*s", colon ? (int)(colon - spec) : (int)strlen(spec), spec);
	pw = getpwnam(user);
	if (pw == NULL) {
		mlog(SV_LOG_ERR, "UserID %s: no such user", user);
		return -1;
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	snprintf(name, namelen, "%s", pw->pw_name);
	if (colon) {
		gr = getgrnam(colon + 1);
		if (gr == NULL) {
			mlog(SV_LOG_ERR, "UserID %s: no such group %s", spec, colon + 1);
			return -1;
		}
		*gid = gr->gr_gid;
	}
	return 0;
}

/* daemon_drop - become UserID for good; -1 means "do not go on" */
int daemon_drop(const char *spec)
{
	char name[256];
	uid_t uid;
	gid_t gid;

	if (spec == NULL || *spec == 0)
		return 0;
	if (daemon_user_lookup(spec, &uid, &gid, name, sizeof(name)) < 0)
		return -1;
	/* UserID is there to leave root: naming root itself is a mistake */
	if (uid == 0) {
		mlog(SV_LOG_ERR, "UserID %s is root; refusing to run as root", spec);
		return -1;
	}
	if (geteuid() != 0) {
		if (geteuid() != uid)
			mlog(SV_LOG_WARNING, "not started as root: staying uid %ld, not UserID %s",
			     (long)geteuid(), spec);
		return 0;
	}
	if (setgid(gid) < 0 || initgroups(name, gid) < 0 || setuid(uid) < 0) {
		mlog(SV_LOG_ERR, "cannot switch to UserID %s: %s", spec, strerror(errno));
		return -1;
	}
	/* paranoia: root must be gone for good, real and effective ids alike */
	if (setuid(0) == 0 || geteuid() == 0 || getuid() != uid || getegid() != gid ||
	    getgid() != gid) {
		mlog(SV_LOG_ERR, "UserID %s: still able to regain root; refusing to run", spec);
		return -1;
	}
	mlog(SV_LOG_INFO, "running as %s (uid %ld, gid %ld)", name, (long)uid, (long)gid);
	return 0;
}

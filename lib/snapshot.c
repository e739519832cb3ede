/*
 * snapshot.c - writes and reads CacheFile (format in snapshot.h).
 *	Owns the file format, its strict parser and the atomic write.  It
 *	does not decide when to save (engine.c does) and never trusts the
 *	file: every record is validated before it reaches the cache.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "snapshot.h"

#define MAX_FILE (512u * 1024 * 1024) /* refuse absurd files */
#define DAY_MS   (24LL * 3600 * 1000)

/* fnv64 - FNV-1a 64 over len bytes */
static uint64_t fnv64(const char *p, size_t len)
{
	uint64_t h = 14695981039346656037ULL;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
	return h;
}

/* put_field - TAB then s, escaped; plain runs are appended in one piece */
static void put_field(sv_buf *b, const char *s)
{
	size_t run;

	sv_buf_append(b, "\t", 1);
	while (s && *s) {
		if ((run = strcspn(s, "\\\t\n\r")) > 0) {
			sv_buf_append(b, s, run);
			s += run;
			continue;
		}
		sv_buf_append(b,
		              *s == '\\'   ? "\\\\"
		              : *s == '\t' ? "\\t"
		              : *s == '\n' ? "\\n"
		                           : "\\r",
		              2);
		s++;
	}
}

/* put_num - TAB then a non-negative decimal (no printf: this runs under a shard lock) */
static void put_num(sv_buf *b, int64_t v)
{
	char tmp[24], *p = tmp + sizeof(tmp);

	if (v < 0)
		v = 0;
	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	*--p = '\t';
	sv_buf_append(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

struct fmt_ctx {
	sv_buf *b;
	size_t n;
	int64_t shift; /* cache clock to Unix ms */
};

/* put_time - TAB then a cache-clock time as Unix ms (0 stays "never") */
static void put_time(sv_buf *b, int64_t t, int64_t shift)
{
	put_num(b, t ? t + shift : 0);
}

/* format_one - one D line and its A lines */
static void format_one(const char *domain, const sv_cache_rec *r, void *arg)
{
	struct fmt_ctx *fc = arg;
	sv_buf *b = fc->b;

	if (r->state != SV_STATE_VERIFIED && r->state != SV_STATE_UNVERIFIED &&
	    r->state != SV_STATE_NOT_EXIST)
		return;
	sv_buf_puts(b, "D");
	put_field(b, domain);
	put_field(b, sv_state_name(r->state));
	put_num(b, r->flags & SV_REC_PERSIST_MASK);
	put_time(b, r->fetched_at, fc->shift);
	put_time(b, r->expires_at, fc->shift);
	put_time(b, r->api_checked_at, fc->shift);
	put_num(b, r->failures);
	put_field(b, r->request_id);
	put_field(b, r->error_code);
	put_field(b, r->error_message);
	put_num(b, (int64_t)r->nattrs);
	sv_buf_append(b, "\n", 1);
	for (size_t i = 0; i < r->nattrs; i++) {
		sv_buf_puts(b, "A");
		put_field(b, r->attrs[i].type);
		put_field(b, r->attrs[i].send_domain);
		put_field(b, r->attrs[i].expected);
		put_field(b, r->attrs[i].current);
		sv_buf_append(b, r->attrs[i].status ? "\t1\n" : "\t0\n", 3);
	}
	fc->n++;
}

/* sv_snapshot_format_ex - the whole file image into out */
int sv_snapshot_format_ex(sv_cache *c, sv_buf *out, int64_t now, const sv_snapshot_ctx *x,
                          size_t *nrec)
{
	struct fmt_ctx fc = {out, 0, x ? x->shift : 0};

	sv_buf_printf(out, "%s\t%d\t%" PRId64, SV_SNAPSHOT_MAGIC, SV_SNAPSHOT_VERSION,
	              now + fc.shift);
	if (x && x->account && x->account[0])
		put_field(out, x->account);
	sv_buf_append(out, "\n", 1);
	sv_cache_walk(c, format_one, &fc);
	sv_buf_printf(out, "END\t%zu\t%016" PRIx64 "\n", fc.n, fnv64(out->data, out->len));
	if (nrec)
		*nrec = fc.n;
	return sv_buf_failed(out) ? -1 : 0;
}

/* sv_snapshot_format - sv_snapshot_format_ex with times as they are, no account */
int sv_snapshot_format(sv_cache *c, sv_buf *out, int64_t now, size_t *nrec)
{
	return sv_snapshot_format_ex(c, out, now, NULL, nrec);
}

/* write_all - write len bytes or fail */
static int write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* fsync_dir - make the rename durable */
static void fsync_dir(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd;

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return;
	fsync(fd);
	close(fd);
}

/* sv_snapshot_save - sv_snapshot_save_ex with times as they are, no account */
int sv_snapshot_save(sv_cache *c, const char *path, int64_t now, size_t *nrec, char *err,
                     size_t errlen)
{
	return sv_snapshot_save_ex(c, path, now, NULL, nrec, err, errlen);
}

/* sv_snapshot_save_ex - atomically replace path with the cache's contents */
int sv_snapshot_save_ex(sv_cache *c, const char *path, int64_t now, const sv_snapshot_ctx *x,
                        size_t *nrec, char *err, size_t errlen)
{
	sv_buf b;
	char tmp[PATH_MAX];
	int fd = -1, rc = -1;

	tmp[0] = 0;
	if (errlen)
		err[0] = 0; /* callers may print err after a success */
	sv_buf_init(&b, 0);
	if (sv_snapshot_format_ex(c, &b, now, x, nrec) < 0) {
		snprintf(err, errlen, "%s: out of memory formatting the snapshot", path);
		goto out;
	}
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmpXXXXXX", path) >= sizeof(tmp)) {
		snprintf(err, errlen, "%s: path too long", path);
		goto out;
	}
	if ((fd = mkstemp(tmp)) < 0) {
		snprintf(err, errlen, "%s: cannot create temporary file: %s", tmp, strerror(errno));
		tmp[0] = 0;
		goto out;
	}
	if (fchmod(fd, 0600) < 0 || write_all(fd, b.data, b.len) < 0 || fsync(fd) < 0) {
		snprintf(err, errlen, "%s: write: %s", tmp, strerror(errno));
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		snprintf(err, errlen, "%s: close: %s", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		snprintf(err, errlen, "rename %s to %s: %s", tmp, path, strerror(errno));
		goto out;
	}
	tmp[0] = 0;
	fsync_dir(path);
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (rc < 0 && tmp[0])
		unlink(tmp);
	sv_buf_free(&b);
	return rc;
}

/* ------------------------------------------------------------------ */

/* unescape - decode a field in place; -1 on a bad escape */
static int unescape(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (*s != '\\') {
			*w++ = *s;
			continue;
		}
		switch (*++s) {
		case '\\':
			*w++ = '\\';
			break;
		case 't':
			*w++ = '\t';
			break;
		case 'n':
			*w++ = '\n';
			break;
		case 'r':
			*w++ = '\r';
			break;
		default:
			return -1;
		}
	}
	*w = 0;
	return 0;
}

/* split - cut line at TABs into exactly n fields, unescaped; -1 otherwise */
static int split(char *line, char **f, int n)
{
	int i = 0;

	f[i++] = line;
	for (char *p = line; *p; p++) {
		if (*p != '\t')
			continue;
		if (i == n)
			return -1;
		*p = 0;
		f[i++] = p + 1;
	}
	if (i != n)
		return -1;
	for (i = 0; i < n; i++)
		if (unescape(f[i]) < 0)
			return -1;
	return 0;
}

/* num - strict unsigned decimal up to 18 digits */
static int num(const char *s, int64_t *v)
{
	int64_t x = 0;
	int n = 0;

	for (; *s; s++, n++) {
		if (*s < '0' || *s > '9' || n >= 18)
			return -1;
		x = x * 10 + (*s - '0');
	}
	if (n == 0)
		return -1;
	*v = x;
	return 0;
}

/* check_file - whole-file rules: magic, version, END line, count, checksum */
static int check_file(const char *buf, size_t len, size_t *body, char *err, size_t errlen)
{
	static const char magic[] = SV_SNAPSHOT_MAGIC "\t";
	const char *end, *p;
	char last[128];
	int64_t count, ver;
	size_t dlines = 0;
	uint64_t sum;
	char *f[3];

	if (len < sizeof(magic) - 1 || memcmp(buf, magic, sizeof(magic) - 1) != 0)
		return snprintf(err, errlen, "not a sesverify cache file (bad magic)"), -1;
	if (memchr(buf, 0, len) != NULL)
		return snprintf(err, errlen, "corrupt (NUL byte)"), -1;
	p = buf + sizeof(magic) - 1;
	for (ver = 0; p < buf + len && *p >= '0' && *p <= '9' && ver < 1000000; p++)
		ver = ver * 10 + (*p - '0');
	if (p == buf + sizeof(magic) - 1 || p >= buf + len || (*p != '\t' && *p != '\n'))
		return snprintf(err, errlen, "corrupt header"), -1;
	if (ver != SV_SNAPSHOT_VERSION)
		return snprintf(err, errlen, "unsupported format version %" PRId64 " (this is %d)",
		                ver, SV_SNAPSHOT_VERSION),
		       -1;
	if (buf[len - 1] != '\n')
		return snprintf(err, errlen, "truncated (no final newline)"), -1;
	for (end = buf + len - 1; end > buf && end[-1] != '\n'; end--)
		;
	/* the length test first: a last line shorter than "END\t" must not be read past */
	if (end == buf || (size_t)(buf + len - end) >= sizeof(last) ||
	    (size_t)(buf + len - end) < 5 || memcmp(end, "END\t", 4) != 0)
		return snprintf(err, errlen, "truncated (no END line)"), -1;
	memcpy(last, end, (size_t)(buf + len - end) - 1);
	last[buf + len - end - 1] = 0;
	if (split(last, f, 3) < 0 || num(f[1], &count) < 0 || strlen(f[2]) != 16)
		return snprintf(err, errlen, "corrupt END line"), -1;
	sum = fnv64(buf, (size_t)(end - buf));
	if (strtoull(f[2], NULL, 16) != sum || strspn(f[2], "0123456789abcdef") != 16)
		return snprintf(err, errlen, "corrupt (checksum mismatch)"), -1;
	for (p = buf; p < end; p++)
		if ((p == buf || p[-1] == '\n') && p + 1 < end && p[0] == 'D' && p[1] == '\t')
			dlines++;
	if ((int64_t)dlines != count)
		return snprintf(err, errlen, "corrupt (%zu records, END says %" PRId64 ")", dlines,
		                count),
		       -1;
	*body = (size_t)(end - buf);
	return 0;
}

struct rec_ctx {
	char domain[SV_DOMAIN_MAX + 1];
	sv_cache_rec rec;
	size_t want; /* attributes announced */
	int active, bad;
};

/* from_file - a Unix-ms time of the file on the cache clock (0 stays "never") */
static int64_t from_file(int64_t t, int64_t shift)
{
	return t ? t - shift : 0;
}

/* parse_d - a D line into ctx; -1 when invalid.  now is the file's (wall) time */
static int parse_d(char *line, int64_t now, int64_t shift, struct rec_ctx *rc)
{
	char *f[12], norm[SV_DOMAIN_MAX + 1];
	const char *why;
	int64_t flags, fa, ea, aa, fl, na;
	sv_state st;

	if (split(line, f, 12) < 0)
		return -1;
	if (sv_domain_normalize(f[1], norm, &why) < 0 || strcmp(norm, f[1]) != 0)
		return -1;
	if (sv_state_parse(f[2], &st) < 0 ||
	    (st != SV_STATE_VERIFIED && st != SV_STATE_UNVERIFIED && st != SV_STATE_NOT_EXIST))
		return -1;
	if (num(f[3], &flags) < 0 || num(f[4], &fa) < 0 || num(f[5], &ea) < 0 ||
	    num(f[6], &aa) < 0 || num(f[7], &fl) < 0 || num(f[11], &na) < 0)
		return -1;
	if (fa > now + DAY_MS || aa > now + DAY_MS || ea > now + 400 * DAY_MS || na > SV_ATTR_MAX ||
	    fl > 65535 || flags > 255)
		return -1;
	if (strlen(f[8]) >= SV_REQID_MAX || strlen(f[9]) >= SV_ECODE_MAX || strlen(f[10]) > 4096)
		return -1;
	snprintf(rc->domain, sizeof(rc->domain), "%s", f[1]);
	rc->rec.state = st;
	rc->rec.flags = (unsigned)flags & SV_REC_PERSIST_MASK;
	rc->rec.fetched_at = from_file(fa, shift);
	rc->rec.expires_at = from_file(ea, shift);
	rc->rec.api_checked_at = from_file(aa, shift);
	rc->rec.failures = (unsigned)fl;
	snprintf(rc->rec.request_id, sizeof(rc->rec.request_id), "%s", f[8]);
	snprintf(rc->rec.error_code, sizeof(rc->rec.error_code), "%s", f[9]);
	if (f[10][0] && (rc->rec.error_message = strdup(f[10])) == NULL)
		return -1;
	if (na > 0 && (rc->rec.attrs = calloc((size_t)na, sizeof(sv_attr))) == NULL)
		return -1;
	rc->want = (size_t)na;
	return 0;
}

/* parse_a - an A line appended to the current record; -1 when invalid */
static int parse_a(char *line, struct rec_ctx *rc)
{
	char *f[6];
	sv_attr *a;
	size_t tl;

	if (rc->rec.nattrs >= rc->want || split(line, f, 6) < 0)
		return -1;
	tl = strlen(f[1]);
	if (tl == 0 || tl >= sizeof(a->type) || strspn(f[1], "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != tl)
		return -1;
	if ((f[5][0] != '0' && f[5][0] != '1') || f[5][1] != 0)
		return -1;
	if (strlen(f[2]) > SV_DOMAIN_MAX || strlen(f[3]) > 8192 || strlen(f[4]) > 8192)
		return -1;
	a = &rc->rec.attrs[rc->rec.nattrs];
	memcpy(a->type, f[1], tl + 1);
	a->status = f[5][0] == '1';
	a->send_domain = strdup(f[2]);
	a->expected = strdup(f[3]);
	a->current = strdup(f[4]);
	rc->rec.nattrs++;
	if (!a->send_domain || !a->expected || !a->current)
		return -1;
	return 0;
}

/*
 * bound_times - sane bounds after the wall-to-monotonic conversion: a
 *	record written while the wall clock was ahead (or read after it was
 *	stepped back) was not fetched in the future and lives no longer than
 *	its TTL from now.  A clock stepped forward meanwhile only ages it.
 */
static void bound_times(sv_cache_rec *r, int64_t now, const sv_cache_ttl *t)
{
	int64_t ttl = sv_cache_ttl_for(t, r->state);

	if (r->fetched_at > now)
		r->fetched_at = now;
	if (r->api_checked_at > now)
		r->api_checked_at = now;
	if (ttl > 0 && r->expires_at > now + ttl)
		r->expires_at = now + ttl;
}

/* finish - hand a complete, valid record to put; reset ctx */
static void finish(struct rec_ctx *rc, int64_t now, const sv_cache_ttl *t, sv_snapshot_put_fn put,
                   void *arg, sv_snapshot_stats *st)
{
	const char *why;

	if (!rc->active)
		return;
	bound_times(&rc->rec, now, t);
	if (rc->bad || rc->rec.nattrs != rc->want || sv_cache_rec_valid(&rc->rec, &why) < 0)
		st->bad++;
	else if (!sv_cache_servable(&rc->rec, now, t))
		st->expired++;
	else if (put(rc->domain, &rc->rec, arg) == 0)
		st->loaded++;
	else
		st->bad++;
	sv_cache_rec_clear(&rc->rec);
	rc->active = rc->bad = 0;
	rc->want = 0;
}

/* check_lines - every body line is D or A, no A before the first D: these
 * reject the whole file, so they are found before any record is put */
static int check_lines(const char *buf, size_t pos, size_t body, char *err, size_t errlen)
{
	int seen_d = 0;

	while (pos < body) {
		const char *p = buf + pos, *nl = memchr(p, '\n', body - pos);
		size_t ll = (size_t)(nl - p);
		if (ll < 2 || p[1] != '\t' || (p[0] != 'D' && p[0] != 'A'))
			return snprintf(err, errlen, "corrupt (unknown line type)"), -1;
		if (p[0] == 'A' && !seen_d)
			return snprintf(err, errlen, "corrupt (attribute line without a record)"),
			       -1;
		seen_d |= p[0] == 'D';
		pos += ll + 1;
	}
	return 0;
}

/*
 * same_account - the header line (hlen bytes) names account as its 4th
 *	field, or names none (written before accounts were recorded, or by a
 *	tool): that file is taken as the current account's
 */
static int same_account(const char *hdr, size_t hlen, const char *account)
{
	const char *p = hdr, *end = hdr + hlen;
	size_t alen = strlen(account);

	for (int tabs = 0; tabs < 3; tabs++) {
		if ((p = memchr(p, '\t', (size_t)(end - p))) == NULL)
			return tabs == 2;
		p++;
	}
	return (size_t)(end - p) == alen && memcmp(p, account, alen) == 0;
}

/* sv_snapshot_load_buffer - sv_snapshot_load_buffer_ex: times as they are, any account */
int sv_snapshot_load_buffer(const char *buf, size_t len, int64_t now, const sv_cache_ttl *t,
                            sv_snapshot_put_fn put, void *arg, sv_snapshot_stats *st, char *err,
                            size_t errlen)
{
	return sv_snapshot_load_buffer_ex(buf, len, now, NULL, t, put, arg, st, err, errlen);
}

/* sv_snapshot_load_buffer_ex - validate an image, then put each good record */
int sv_snapshot_load_buffer_ex(const char *buf, size_t len, int64_t now, const sv_snapshot_ctx *x,
                               const sv_cache_ttl *t, sv_snapshot_put_fn put, void *arg,
                               sv_snapshot_stats *st, char *err, size_t errlen)
{
	struct rec_ctx rc;
	size_t body, pos;
	char *line = NULL;
	size_t cap = 0;
	int64_t shift = x ? x->shift : 0;
	int rcode = -1;

	memset(st, 0, sizeof(*st));
	memset(&rc, 0, sizeof(rc));
	if (errlen)
		err[0] = 0; /* callers may print err after a success */
	if (check_file(buf, len, &body, err, errlen) < 0)
		return -1;
	pos = (size_t)((const char *)memchr(buf, '\n', body) - buf) + 1; /* skip header */
	if (x && x->account && !same_account(buf, pos - 1, x->account))
		return snprintf(err, errlen,
		                "written for another account (SecretId, Region or Endpoint "
		                "changed): its answers are not used"),
		       -1;
	if (check_lines(buf, pos, body, err, errlen) < 0)
		return -1;
	while (pos < body) {
		const char *nl = memchr(buf + pos, '\n', body - pos);
		size_t ll = (size_t)(nl - (buf + pos));
		if (ll + 1 > cap) {
			char *nb = realloc(line, ll + 1);
			if (!nb) {
				snprintf(err, errlen, "out of memory");
				goto out;
			}
			line = nb;
			cap = ll + 1;
		}
		memcpy(line, buf + pos, ll);
		line[ll] = 0;
		pos += ll + 1;
		if (line[0] == 'D' && line[1] == '\t') {
			finish(&rc, now, t, put, arg, st);
			rc.active = 1;
			if (parse_d(line, now + shift, shift, &rc) < 0)
				rc.bad = 1;
		} else if (line[0] == 'A' && line[1] == '\t') {
			if (!rc.active) {
				snprintf(err, errlen, "corrupt (attribute line without a record)");
				goto out;
			}
			if (!rc.bad && parse_a(line, &rc) < 0)
				rc.bad = 1;
		} else {
			snprintf(err, errlen, "corrupt (unknown line type)");
			goto out;
		}
	}
	finish(&rc, now, t, put, arg, st);
	rcode = 0;
out:
	sv_cache_rec_clear(&rc.rec);
	free(line);
	return rcode;
}

/* sv_snapshot_load - sv_snapshot_load_ex: times as they are, any account */
int sv_snapshot_load(const char *path, int64_t now, const sv_cache_ttl *t, sv_snapshot_put_fn put,
                     void *arg, sv_snapshot_stats *st, char *err, size_t errlen)
{
	return sv_snapshot_load_ex(path, now, NULL, t, put, arg, st, err, errlen);
}

/* sv_snapshot_load_ex - read path and load it; a missing file is not an error */
int sv_snapshot_load_ex(const char *path, int64_t now, const sv_snapshot_ctx *x,
                        const sv_cache_ttl *t, sv_snapshot_put_fn put, void *arg,
                        sv_snapshot_stats *st, char *err, size_t errlen)
{
	struct stat sb;
	char *buf = NULL;
	size_t got = 0;
	int fd, rc = -1;

	memset(st, 0, sizeof(*st));
	if (errlen)
		err[0] = 0; /* callers may print err after a success */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_size > (off_t)MAX_FILE) {
		snprintf(err, errlen, "%s: not a regular file of sane size", path);
		goto out;
	}
	if ((buf = malloc((size_t)sb.st_size + 1)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	while (got < (size_t)sb.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)sb.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	if (sv_snapshot_load_buffer_ex(buf, got, now, x, t, put, arg, st, err, errlen) < 0) {
		char tmp[256];
		snprintf(tmp, sizeof(tmp), "%s", err);
		snprintf(err, errlen, "%s: %s", path, tmp);
		goto out;
	}
	rc = 0;
out:
	free(buf);
	close(fd);
	return rc;
}

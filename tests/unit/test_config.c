/* test_config.c - the configuration module: defaults, every key, every error */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "config_int.h"
#include "tap.h"

#define SECRET "sesverify-test-secret-DO-NOT-LOG-0123456789"

static char tmpdir[256];
static sv_buf msgs; /* reported messages, one per line */

/* collect - report callback: append one message */
static void collect(const char *message, void *arg)
{
	(void)arg;
	sv_buf_printf(&msgs, "%s\n", message);
}

/* load_text - load a buffer named "t.conf"; returns error count */
static int load_text(const char *text, sv_config **cfg)
{
	sv_buf_reset(&msgs);
	return sv_config_load_buffer("t.conf", text, strlen(text), 0, cfg, collect, NULL);
}

/* write_file - create tmpdir/name with mode; full path in path */
static void write_file(const char *name, const char *text, mode_t mode, char *path, size_t len)
{
	FILE *fp;

	snprintf(path, len, "%s/%s", tmpdir, name);
	fp = fopen(path, "w");
	if (fp == NULL) {
		perror(path);
		exit(1);
	}
	fputs(text, fp);
	fclose(fp);
	chmod(path, mode);
}

/* test_durations - sv_duration_parse and _format */
static void test_durations(void)
{
	static const struct {
		const char *in;
		int64_t ms; /* -1: refused */
	} t[] = {
	    {"0", 0},
	    {"5", 5000},
	    {"5s", 5000},
	    {"250ms", 250},
	    {"1m", 60000},
	    {"2h", 7200000},
	    {"1d", 86400000},
	    {"0ms", 0},
	    {"", -1},
	    {"s", -1},
	    {"5 s", -1},
	    {" 5s", -1},
	    {"5S", -1},
	    {"-5s", -1},
	    {"+5s", -1},
	    {"5.5s", -1},
	    {"5sec", -1},
	    {"5mm", -1},
	    {"1h30m", -1},
	    {"5s ", -1},
	    {"106751991168d", -1},
	    {"9223372036854775807ms", INT64_MAX},
	    {"9223372036854775808ms", -1},
	};
	char buf[64];
	int64_t ms;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int rc = sv_duration_parse(t[i].in, &ms);
		if (t[i].ms < 0)
			is_int(rc, -1, "duration \"%s\" refused", t[i].in);
		else
			ok(rc == 0 && ms == t[i].ms, "duration \"%s\" = %lld ms", t[i].in,
			   (long long)t[i].ms);
	}
	is_int(sv_duration_parse(NULL, &ms), -1, "duration NULL refused");
	sv_duration_format(300000, buf, sizeof(buf));
	is_str(buf, "5m", "format 5m");
	sv_duration_format(1500, buf, sizeof(buf));
	is_str(buf, "1500ms", "format 1500ms");
	sv_duration_format(0, buf, sizeof(buf));
	is_str(buf, "0s", "format 0s");
	sv_duration_format(2 * 86400000LL, buf, sizeof(buf));
	is_str(buf, "2d", "format 2d");
}

/* test_defaults - DESIGN.md's table */
static void test_defaults(void)
{
	sv_config *c = sv_config_defaults();
	char *dump = NULL;
	size_t dlen = 0;
	FILE *fp;

	ok(c != NULL, "defaults allocated");
	if (c == NULL)
		return;
	is_str(c->socket, "unix:/run/sesverify/milter.sock", "default Socket");
	is_str(c->control_socket, "unix:/run/sesverify/control.sock", "default ControlSocket");
	is_str(c->region, "ap-guangzhou", "default Region");
	is_str(c->endpoint, "https://ses.tencentcloudapi.com", "default Endpoint");
	ok(c->ca_file == NULL, "default CAFile: system store");
	ok(c->secret_id == NULL && c->secret_key == NULL && c->token == NULL, "no default secrets");
	ok(c->credentials_file == NULL, "default CredentialsFile unset");
	is_int(c->api_rate, 20, "default ApiRate");
	is_int(c->api_timeout, 5000, "default ApiTimeout");
	ok(c->nameservers == NULL, "default Nameserver: /etc/resolv.conf");
	is_int(c->dns_timeout, 2000, "default DnsTimeout");
	is_str(c->spf_include, "include:qcloudmail.com", "default SpfInclude");
	is_str(c->cache_file, "/var/lib/sesverify/cache", "default CacheFile");
	is_int(c->verified_ttl, 3600000, "default VerifiedTTL");
	is_int(c->unverified_ttl, 300000, "default UnverifiedTTL");
	is_int(c->not_exist_ttl, 3600000, "default NotExistTTL");
	is_int(c->error_ttl, 60000, "default ErrorTTL");
	is_int(c->max_api_age, 86400000, "default MaxApiAge");
	is_int(c->max_stale, 86400000, "default MaxStale");
	is_int(c->max_entries, 100000, "default MaxEntries");
	is_int(c->refresh_workers, 4, "default RefreshWorkers");
	ok(c->warm_up, "default WarmUp yes");
	is_int(c->list_interval, 300000, "default ListInterval 5m");
	is_int(c->mode, SV_MODE_ENFORCE, "default Mode");
	is_int(c->check_from, SV_CHECK_ENVELOPE | SV_CHECK_HEADER, "default CheckFrom");
	is_int(c->outgoing, SV_OUT_AUTH | SV_OUT_INTERNAL, "default Outgoing");
	ok(c->daemon_names == NULL, "no default daemon names");
	is_int(c->n_internal_hosts, 2, "default InternalHosts: 2 networks");
	ok(c->skip_domains == NULL, "default SkipDomains empty");
	is_int(c->unknown_action, SV_UNKNOWN_WAIT, "default UnknownAction");
	is_int(c->unknown_wait, 5000, "default UnknownWait");
	is_int(c->error_action, SV_ERROR_TEMPFAIL, "default ErrorAction");
	ok(c->pid_file == NULL && c->user_id == NULL, "default PidFile, UserID unset");
	is_str(c->syslog_facility, "mail", "default SyslogFacility");
	is_int(c->log_level, SV_LOG_INFO, "default LogLevel");
	ok(c->path == NULL, "defaults have no path");

	fp = open_memstream(&dump, &dlen);
	sv_config_dump(c, fp);
	fclose(fp);
	is_str(dump,
	       "Socket           unix:/run/sesverify/milter.sock\n"
	       "ControlSocket    unix:/run/sesverify/control.sock\n"
	       "MetricsSocket    (not set)\n"
	       "Region           ap-guangzhou\n"
	       "Endpoint         https://ses.tencentcloudapi.com\n"
	       "CAFile           (not set)\n"
	       "SecretId         (not set)\n"
	       "SecretKey        (not set)\n"
	       "SessionToken     (not set)\n"
	       "CredentialsFile  (not set)\n"
	       "ApiRate          20\n"
	       "ApiTimeout       5s\n"
	       "Redis            (not set)\n"
	       "RedisPrefix      sesverify:\n"
	       "RedisTimeout     250ms\n"
	       "RedisDownApiRate 5\n"
	       "ApiRateKey       (not set)\n"
	       "Nameserver       /etc/resolv.conf\n"
	       "DnsTimeout       2s\n"
	       "SpfInclude       include:qcloudmail.com\n"
	       "CacheFile        /var/lib/sesverify/cache\n"
	       "VerifiedTTL      1h\n"
	       "UnverifiedTTL    5m\n"
	       "NotExistTTL      1h\n"
	       "ErrorTTL         1m\n"
	       "MaxApiAge        1d\n"
	       "MaxStale         1d\n"
	       "MaxEntries       100000\n"
	       "RefreshWorkers   4\n"
	       "WarmUp           yes\n"
	       "ListInterval     5m\n"
	       "Mode             enforce\n"
	       "CheckFrom        envelope,header\n"
	       "Outgoing         auth,internal\n"
	       "InternalHosts    127.0.0.0/8,::1/128\n"
	       "SkipDomains      (not set)\n"
	       "UnknownAction    wait\n"
	       "UnknownWait      5s\n"
	       "ErrorAction      tempfail\n"
	       "PidFile          (not set)\n"
	       "UserID           (not set)\n"
	       "SyslogFacility   mail\n"
	       "LogLevel         info\n",
	       "dump of the defaults");
	free(dump);
	sv_config_free(c);
	c = NULL;
}

/* test_every_key - a file setting every key to a non-default value */
static void test_every_key(void)
{
	static const char text[] =
	    "\xef\xbb\xbf# all keys, odd spellings\r\n"
	    "socket inet:8891@127.0.0.1\r\n"
	    "CONTROLSOCKET unix:/tmp/ctl.sock\n"
	    "MetricsSocket inet6:9167@::1\n"
	    "  Region   ap-hongkong   \n"
	    "Endpoint https://127.0.0.1:8443/path # trailing comment\n"
	    "CAFile /etc/ssl/x#y.pem\n"
	    "SecretId AKIDsesverifytest0000000000000000000\n"
	    "SecretKey \"" SECRET "\"\n"
	    "SessionToken \"tok\\\"en\" # quoted with escape\n"
	    "CredentialsFile /etc/sesverify/credentials\n"
	    "ApiRate 1000\n"
	    "ApiTimeout 250ms\n"
	    "Nameserver 127.0.0.1@5353, ::1@53 192.0.2.1\n"
	    "DnsTimeout 1\n"
	    "SpfInclude SPF.Example.COM\n"
	    "CacheFile /var/tmp/c\n"
	    "VerifiedTTL 2h\n"
	    "UnverifiedTTL 1m\n"
	    "NotExistTTL 1d\n"
	    "ErrorTTL 30s\n"
	    "MaxApiAge 7d\n"
	    "MaxStale 0\n"
	    "MaxEntries 5\n"
	    "RefreshWorkers 64\n"
	    "WarmUp off\n"
	    "ListInterval 20s\n"
	    "Mode MONITOR\n"
	    "CheckFrom header\n"
	    "Outgoing daemon:ORIGINATING, auth daemon:MSA\n"
	    "InternalHosts 10.0.0.0/8 192.168.1.77/24,[2001:db8::]/32 ::ffff:0:0/96\n"
	    "SkipDomains B.example, a.example bücher.example a.example\n"
	    "UnknownAction accept\n"
	    "UnknownWait 0\n"
	    "ErrorAction reject\n"
	    "PidFile /run/x.pid\n"
	    "UserID milter:mail\n"
	    "SyslogFacility LOCAL3\n"
	    "LogLevel debug\n";
	sv_config *c = NULL;
	int n = load_text(text, &c);

	is_int(n, 0, "every key: no errors");
	if (n)
		diag("%s", msgs.data);
	if (c == NULL)
		return;
	is_str(c->path, "t.conf", "path recorded");
	is_str(c->socket, "inet:8891@127.0.0.1", "Socket");
	is_str(c->control_socket, "unix:/tmp/ctl.sock", "ControlSocket");
	is_str(c->metrics_socket, "inet6:9167@::1", "MetricsSocket");
	is_str(c->region, "ap-hongkong", "Region trimmed");
	is_str(c->endpoint, "https://127.0.0.1:8443/path", "Endpoint, trailing comment cut");
	is_str(c->ca_file, "/etc/ssl/x#y.pem", "CAFile: '#' inside a word is data");
	is_str(c->secret_id, "AKIDsesverifytest0000000000000000000", "SecretId");
	is_str(c->secret_key, SECRET, "SecretKey quoted");
	is_str(c->token, "tok\"en", "SessionToken with escaped quote");
	is_str(c->credentials_file, "/etc/sesverify/credentials", "CredentialsFile");
	is_int(c->api_rate, 1000, "ApiRate");
	is_int(c->api_timeout, 250, "ApiTimeout");
	is_str(c->nameservers, "127.0.0.1@5353,::1@53,192.0.2.1", "Nameserver list normalised");
	is_int(c->dns_timeout, 1000, "DnsTimeout bare number = seconds");
	is_str(c->spf_include, "include:spf.example.com", "SpfInclude normalised");
	is_str(c->cache_file, "/var/tmp/c", "CacheFile");
	is_int(c->verified_ttl, 7200000, "VerifiedTTL");
	is_int(c->unverified_ttl, 60000, "UnverifiedTTL");
	is_int(c->not_exist_ttl, 86400000, "NotExistTTL");
	is_int(c->error_ttl, 30000, "ErrorTTL");
	is_int(c->max_api_age, 7 * 86400000LL, "MaxApiAge");
	is_int(c->max_stale, 0, "MaxStale 0");
	is_int(c->max_entries, 5, "MaxEntries");
	is_int(c->refresh_workers, 64, "RefreshWorkers");
	ok(!c->warm_up, "WarmUp off");
	is_int(c->list_interval, 20000, "ListInterval 20s");
	is_int(c->mode, SV_MODE_MONITOR, "Mode case-insensitive");
	is_int(c->check_from, SV_CHECK_HEADER, "CheckFrom header");
	is_int(c->outgoing, SV_OUT_AUTH | SV_OUT_DAEMON, "Outgoing bits");
	ok(c->daemon_names && c->daemon_names[0] && c->daemon_names[1] && !c->daemon_names[2] &&
	       strcmp(c->daemon_names[0], "ORIGINATING") == 0 &&
	       strcmp(c->daemon_names[1], "MSA") == 0,
	   "Outgoing daemon names");
	is_int(c->n_internal_hosts, 4, "InternalHosts: 4 networks");
	ok(c->internal_hosts[1].family == AF_INET && c->internal_hosts[1].prefix == 24 &&
	       c->internal_hosts[1].addr[3] == 0,
	   "host bits cleared (192.168.1.77/24)");
	ok(c->skip_domains && strcmp(c->skip_domains[0], "a.example") == 0 &&
	       strcmp(c->skip_domains[1], "b.example") == 0 &&
	       strcmp(c->skip_domains[2], "xn--bcher-kva.example") == 0 && !c->skip_domains[3],
	   "SkipDomains normalised, sorted, distinct");
	ok(sv_config_skip_domain(c, "a.example") &&
	       sv_config_skip_domain(c, "xn--bcher-kva.example") &&
	       !sv_config_skip_domain(c, "c.example"),
	   "sv_config_skip_domain");
	is_int(c->unknown_action, SV_UNKNOWN_ACCEPT, "UnknownAction");
	is_int(c->unknown_wait, 0, "UnknownWait 0");
	is_int(c->error_action, SV_ERROR_REJECT, "ErrorAction");
	is_str(c->pid_file, "/run/x.pid", "PidFile");
	is_str(c->user_id, "milter:mail", "UserID");
	is_str(c->syslog_facility, "local3", "SyslogFacility lower-cased");
	is_int(c->log_level, SV_LOG_DEBUG, "LogLevel");

	{
		char *dump = NULL;
		size_t dlen = 0;
		FILE *fp = open_memstream(&dump, &dlen);
		sv_config_dump(c, fp);
		fclose(fp);
		ok(dump && strstr(dump, "SecretKey        (set)\n") &&
		       strstr(dump, "SessionToken     (set)\n") && !strstr(dump, SECRET) &&
		       !strstr(dump, "tok\"en"),
		   "dump shows secrets as (set) only");
		ok(dump && strstr(dump, "Outgoing         auth,daemon:ORIGINATING,daemon:MSA\n") &&
		       strstr(dump, "InternalHosts    10.0.0.0/8,192.168.1.0/24,2001:db8::/32,"
		                    "::ffff:0.0.0.0/96\n"),
		   "dump of lists");
		free(dump);
	}
	sv_config_free(c);
	c = NULL;
}

/* test_errors - each kind of error with its exact message */
static void test_errors(void)
{
	static const struct {
		const char *text, *want;
	} t[] = {
	    {"Bogus 1\n", "t.conf:1: unknown key \"Bogus\"\n"},
	    {"\n\nMode=enforce\n", "t.conf:3: unknown key \"Mode=enforce\"\n"},
	    {"Mode\n", "t.conf:1: Mode: missing value\n"},
	    {"Mode   # nothing\n", "t.conf:1: Mode: missing value\n"},
	    {"Mode \"\"\n", "t.conf:1: Mode: missing value\n"},
	    {"Mode enforce\nmode monitor\n",
	     "t.conf:2: Mode: duplicate key (first set on line 1)\n"},
	    {"Mode maybe\n", "t.conf:1: Mode: bad value \"maybe\" (expected enforce or monitor)\n"},
	    {"UnknownAction later\n",
	     "t.conf:1: UnknownAction: bad value \"later\" (expected wait, "
	     "tempfail or accept)\n"},
	    {"ErrorAction drop\n", "t.conf:1: ErrorAction: bad value \"drop\" (expected tempfail, "
	                           "accept or reject)\n"},
	    {"LogLevel error\n", "t.conf:1: LogLevel: bad value \"error\" (expected err, warning, "
	                         "notice, info or debug)\n"},
	    {"CheckFrom envelope,body\n",
	     "t.conf:1: CheckFrom: bad value \"body\" (expected envelope or header)\n"},
	    {"CheckFrom ,\n", "t.conf:1: CheckFrom: empty\n"},
	    {"WarmUp maybe\n", "t.conf:1: WarmUp: bad value \"maybe\" (expected yes or no)\n"},
	    {"ApiTimeout 5x\n", "t.conf:1: ApiTimeout: bad duration \"5x\" (expected a number with "
	                        "unit ms, s, m, h or d)\n"},
	    {"ApiTimeout 10m\n", "t.conf:1: ApiTimeout: 10m out of range 100ms..5m\n"},
	    {"UnknownWait 1h\n", "t.conf:1: UnknownWait: 1h out of range 0s..5m\n"},
	    {"ListInterval 500ms\n", "t.conf:1: ListInterval: 500ms out of range 1s..1d\n"},
	    {"ListInterval 2d\n", "t.conf:1: ListInterval: 2d out of range 1s..1d\n"},
	    {"VerifiedTTL 0\n", "t.conf:1: VerifiedTTL: 0 out of range 1s..30d\n"},
	    {"ApiRate 0\n", "t.conf:1: ApiRate: 0 out of range 1..1000\n"},
	    {"ApiRate 1001\n", "t.conf:1: ApiRate: 1001 out of range 1..1000\n"},
	    {"ApiRate -1\n",
	     "t.conf:1: ApiRate: bad number \"-1\" (expected a whole number 1..1000)\n"},
	    {"ApiRate 99999999999999999999\n", "t.conf:1: ApiRate: bad number "
	                                       "\"99999999999999999999\" (expected a whole "
	                                       "number 1..1000)\n"},
	    {"MaxEntries 0\n", "t.conf:1: MaxEntries: 0 out of range 1..100000000\n"},
	    {"RefreshWorkers 65\n", "t.conf:1: RefreshWorkers: 65 out of range 1..64\n"},
	    {"InternalHosts 10.0.0.0/33\n",
	     "t.conf:1: InternalHosts: bad CIDR \"10.0.0.0/33\": prefix length out of range\n"},
	    {"InternalHosts 10.0.0/8\n",
	     "t.conf:1: InternalHosts: bad CIDR \"10.0.0/8\": bad address\n"},
	    {"InternalHosts ::1/x, 10.1.1.1/, fe80::/129\n",
	     "t.conf:1: InternalHosts: bad CIDR \"::1/x\": bad prefix length\n"
	     "t.conf:1: InternalHosts: bad CIDR \"10.1.1.1/\": bad prefix length\n"
	     "t.conf:1: InternalHosts: bad CIDR \"fe80::/129\": prefix length out of range\n"},
	    {"Socket tcp:25\n", "t.conf:1: Socket: bad socket \"tcp:25\" (expected unix:PATH, "
	                        "inet:PORT@HOST or inet6:PORT@HOST)\n"},
	    {"Socket inet:70000@127.0.0.1\n",
	     "t.conf:1: Socket: bad port in \"inet:70000@127.0.0.1\" (expected 1..65535)\n"},
	    {"Socket inet:@127.0.0.1\n",
	     "t.conf:1: Socket: bad port in \"inet:@127.0.0.1\" (expected 1..65535)\n"},
	    {"Socket inet:25@::1\n", "t.conf:1: Socket: bad host in \"inet:25@::1\" (expected an "
	                             "IPv4 address or a host name)\n"},
	    {"Socket unix:relative.sock\n",
	     "t.conf:1: Socket: socket path must be absolute in \"unix:relative.sock\"\n"},
	    {"MetricsSocket inet:9167@localhost\n",
	     "t.conf:1: MetricsSocket: bad socket \"inet:9167@localhost\" (the address must be an "
	     "IPv4 literal, not a name)\n"},
	    {"MetricsSocket inet:9167\n", "t.conf:1: MetricsSocket: bad socket \"inet:9167\" "
	                                  "(expected a port 1-65535, then @ADDRESS)\n"},
	    {"MetricsSocket unix:/run/m.sock\n",
	     "t.conf:1: MetricsSocket: bad socket \"unix:/run/m.sock\" (expected inet:PORT@IPv4 or "
	     "inet6:PORT@IPv6)\n"},
	    {"ControlSocket inet:25\n", "t.conf:1: ControlSocket: bad socket \"inet:25\" (expected "
	                                "unix:PATH)\n"},
	    {"Endpoint http://ses.tencentcloudapi.com\n",
	     "t.conf:1: Endpoint: must be an https:// URL (TLS cannot be turned off), not "
	     "\"http://ses.tencentcloudapi.com\"\n"},
	    {"Endpoint https://host:0/\n", "t.conf:1: Endpoint: bad URL \"https://host:0/\" "
	                                   "(expected https://HOST[:PORT][/PATH])\n"},
	    {"Endpoint https://user@host/\n", "t.conf:1: Endpoint: bad URL \"https://user@host/\" "
	                                      "(expected https://HOST[:PORT][/PATH])\n"},
	    {"SkipDomains good.example, bad_, 1.2.3.4\n",
	     "t.conf:1: SkipDomains: bad domain \"bad_\": domain has a single label\n"
	     "t.conf:1: SkipDomains: bad domain \"1.2.3.4\": IP address, not a domain\n"},
	    {"SkipDomains a.example @x\n",
	     "t.conf:1: SkipDomains: @FILE must be the whole value, not one list item\n"},
	    {"Nameserver 8.8.8.8:53\n", "t.conf:1: Nameserver: bad server \"8.8.8.8:53\" (expected "
	                                "ADDR[@PORT] or /etc/resolv.conf)\n"},
	    {"Nameserver /etc/other.conf\n", "t.conf:1: Nameserver: bad server \"/etc/other.conf\" "
	                                     "(expected ADDR[@PORT] or /etc/resolv.conf)\n"},
	    {"SpfInclude include:\n", "t.conf:1: SpfInclude: bad domain \"\": empty domain\n"},
	    {"Region AP_Guangzhou\n", "t.conf:1: Region: bad region \"AP_Guangzhou\" (expected a "
	                              "name such as ap-guangzhou)\n"},
	    {"CacheFile var/cache\n",
	     "t.conf:1: CacheFile: bad path \"var/cache\" (expected an absolute path)\n"},
	    {"UserID root:\n",
	     "t.conf:1: UserID: bad user \"root:\" (expected USER or USER:GROUP)\n"},
	    {"SyslogFacility mial\n", "t.conf:1: SyslogFacility: unknown syslog facility \"mial\" "
	                              "(expected mail, daemon, local0..local7, ...)\n"},
	    {"Outgoing auth, inbound\n", "t.conf:1: Outgoing: bad value \"inbound\" (expected "
	                                 "auth, internal, daemon:NAME or all)\n"},
	    {"Outgoing daemon:\n", "t.conf:1: Outgoing: bad value \"daemon:\" (expected auth, "
	                           "internal, daemon:NAME or all)\n"},
	    {"Mode \"enforce\n", "t.conf:1: Mode: unterminated quoted value\n"},
	    {"Mode \"enforce\" x\n", "t.conf:1: Mode: text after the closing quote\n"},
	    {"SecretId AKIDx\n", "t.conf:1: SecretId: set without SecretKey\n"},
	    {"\nSecretKey abc\n", "t.conf:2: SecretKey: set without SecretId\n"},
	    {"SessionToken abc\n", "t.conf:1: SessionToken: set without SecretId and SecretKey\n"},
	    {"Mode enf\x01orce\n",
	     "t.conf:1: Mode: bad value \"enf\\x01orce\" (expected enforce or monitor)\n"},
	    /* bytes >= 0x80 (invalid UTF-8 here) are escaped as well */
	    {"Mode enf\xff\xc3orce\n", "t.conf:1: Mode: bad value \"enf\\xff\\xc3orce\" (expected "
	                               "enforce or monitor)\n"},
	    {"M\xc3\xb6"
	     "de enforce\n",
	     "t.conf:1: unknown key \"M\\xc3\\xb6de\"\n"},
	    {"Region "
	     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
	     "t.conf:1: Region: bad region \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	     "aaaaaaaaaaa...\" (expected a name such as ap-guangzhou)\n"},
	};
	static sv_config untouched; /* *out must not be written on failure */
	sv_config *c;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int n, lines = 0;
		c = &untouched;
		n = load_text(t[i].text, &c);
		for (const char *p = t[i].want; *p; p++)
			lines += *p == '\n';
		is_str(msgs.data ? msgs.data : "", t[i].want, "error message for case %zu", i);
		ok(n == lines && c == &untouched, "case %zu: %d error(s), *out untouched", i,
		   lines);
	}

	/* NUL byte and over-long line (not expressible as C strings above) */
	{
		static const char nul[] = "Mode enforce\nRegion ap\0x\nApiRate 5\n";
		char *big = malloc(5000);
		if (big == NULL)
			exit(1);
		sv_buf_reset(&msgs);
		is_int(sv_config_load_buffer("t.conf", nul, sizeof(nul) - 1, 0, &c, collect, NULL),
		       1, "NUL byte: one error");
		is_str(msgs.data, "t.conf:2: NUL byte in line\n", "NUL byte message");
		memset(big, 'x', 4999);
		memcpy(big, "Region ", 7);
		big[4999] = 0;
		is_int(load_text(big, &c), 1, "long line: one error");
		is_str(msgs.data, "t.conf:1: line longer than 4096 bytes\n", "long line message");
		free(big);
	}
}

/* test_many_errors - every error of a file, in order, with the right lines */
static void test_many_errors(void)
{
	static const char text[] = "# several mistakes\n"
	                           "Mode strict\n"
	                           "ApiRate 0\n"
	                           "Frobnicate yes\n"
	                           "\n"
	                           "InternalHosts 10.0.0.0/8, 300.1.1.1\n"
	                           "Mode enforce\n"
	                           "DnsTimeout 2 s\n"
	                           "Endpoint http://x\n"
	                           "Socket inet:99999@localhost\n"
	                           "LogLevel info\n";
	sv_config *c = NULL;
	int n = load_text(text, &c);

	is_int(n, 8, "eight errors counted");
	ok(c == NULL, "no config on errors");
	is_str(msgs.data,
	       "t.conf:2: Mode: bad value \"strict\" (expected enforce or monitor)\n"
	       "t.conf:3: ApiRate: 0 out of range 1..1000\n"
	       "t.conf:4: unknown key \"Frobnicate\"\n"
	       "t.conf:6: InternalHosts: bad CIDR \"300.1.1.1\": bad address\n"
	       "t.conf:7: Mode: duplicate key (first set on line 2)\n"
	       "t.conf:8: DnsTimeout: bad duration \"2 s\" (expected a number with unit ms, s, m, "
	       "h or d)\n"
	       "t.conf:9: Endpoint: must be an https:// URL (TLS cannot be turned off), not "
	       "\"http://x\"\n"
	       "t.conf:10: Socket: bad port in \"inet:99999@localhost\" (expected 1..65535)\n",
	       "all errors reported in order");
}

/* test_secrets - secret values never appear in messages */
static void test_secrets(void)
{
	sv_config *c = NULL;
	char path[512];

	load_text("SecretId AKIDsesverifytest0000000000000000000\n"
	          "SecretKey \"" SECRET " with blank\"\n",
	          &c);
	ok(msgs.data && strstr(msgs.data, "SecretKey: contains blanks") &&
	       !strstr(msgs.data, "sesverify-test-secret"),
	   "bad SecretKey reported without its value");
	load_text("SecretId \"AKIDsesverifytest0000000000000000000 x\"\nSecretKey " SECRET "\n",
	          &c);
	ok(msgs.data && strstr(msgs.data, "SecretId: contains blanks") &&
	       !strstr(msgs.data, "AKIDsesverifytest") && !strstr(msgs.data, SECRET),
	   "bad SecretId reported without its value");
	load_text("SecretId AKIDx\nSecretKey " SECRET "\nSecretKey " SECRET "\n", &c);
	ok(msgs.data && strstr(msgs.data, "duplicate key") && !strstr(msgs.data, SECRET),
	   "duplicate SecretKey reported without its value");

	/* mode check on a real file */
	write_file("secret.conf",
	           "SecretId AKIDsesverifytest0000000000000000000\nSecretKey " SECRET "\n", 0644,
	           path, sizeof(path));
	sv_buf_reset(&msgs);
	is_int(sv_config_load(path, &c, collect, NULL), 1, "0644 file with SecretKey: one error");
	{
		char want[700];
		snprintf(
		    want, sizeof(want),
		    "%s: contains SecretKey but is readable by group/others (mode 0644); chmod "
		    "600\n",
		    path);
		is_str(msgs.data, want, "mode error message");
	}
	chmod(path, 0640);
	sv_buf_reset(&msgs);
	is_int(sv_config_load(path, &c, collect, NULL), 1, "0640 file with SecretKey refused");
	chmod(path, 0600);
	sv_buf_reset(&msgs);
	is_int(sv_config_load(path, &c, collect, NULL), 0, "0600 file with SecretKey accepted");
	ok(c && c->secret_key && strcmp(c->secret_key, SECRET) == 0, "secret loaded");
	sv_config_free(c);
	c = NULL;
	write_file("nosecret.conf", "Mode monitor\n", 0644, path, sizeof(path));
	is_int(sv_config_load(path, &c, collect, NULL), 0, "0644 file without secrets accepted");
	sv_config_free(c);
	c = NULL;
}

/* test_files - missing file, @FILE lists */
static void test_files(void)
{
	sv_config *c;
	char path[512], list[512], want[2048];

	c = NULL;

	sv_buf_reset(&msgs);
	snprintf(path, sizeof(path), "%s/missing.conf", tmpdir);
	is_int(sv_config_load(path, &c, collect, NULL), 1, "missing file: one error");
	snprintf(want, sizeof(want), "%s: cannot read: No such file or directory\n", path);
	is_str(msgs.data, want, "missing file message");
	sv_buf_reset(&msgs);
	is_int(sv_config_load(tmpdir, &c, collect, NULL), 1, "directory refused");
	snprintf(want, sizeof(want), "%s: cannot read: not a regular file\n", tmpdir);
	is_str(msgs.data, want, "directory message");

	write_file("skip.list",
	           "# skipped domains\n"
	           "Example.ORG\n"
	           "\n"
	           "  bücher.example   # trailing comment\n"
	           "example.org\n",
	           0644, list, sizeof(list));
	write_file("skip.conf", "SkipDomains @skip.list\n", 0644, path, sizeof(path));
	sv_buf_reset(&msgs);
	is_int(sv_config_load(path, &c, collect, NULL), 0, "@FILE relative to the config file");
	ok(c && c->skip_domains && strcmp(c->skip_domains[0], "example.org") == 0 &&
	       strcmp(c->skip_domains[1], "xn--bcher-kva.example") == 0 && !c->skip_domains[2],
	   "@FILE domains normalised and distinct");
	sv_config_free(c);
	c = NULL;

	write_file("bad.list", "good.example\nbad..example\ntwo.example three.example\n[1.2.3.4]\n",
	           0644, list, sizeof(list));
	write_file("badskip.conf", "Mode monitor\nSkipDomains @bad.list\n", 0644, path,
	           sizeof(path));
	sv_buf_reset(&msgs);
	is_int(sv_config_load(path, &c, collect, NULL), 3, "@FILE: three errors");
	snprintf(want, sizeof(want),
	         "%s:2: bad domain \"bad..example\": empty label in domain\n"
	         "%s:3: one domain per line, not \"two.example three.example\"\n"
	         "%s:4: bad domain \"[1.2.3.4]\": address literal, not a domain\n",
	         list, list, list);
	is_str(msgs.data, want, "@FILE errors name that file and line");

	write_file("nolist.conf", "SkipDomains @/nonexistent/list\n", 0644, path, sizeof(path));
	sv_buf_reset(&msgs);
	is_int(sv_config_load(path, &c, collect, NULL), 1, "@FILE missing: one error");
	snprintf(want, sizeof(want),
	         "%s:1: SkipDomains: cannot read /nonexistent/list: No such file or directory\n",
	         path);
	is_str(msgs.data, want, "@FILE missing message");

	sv_buf_reset(&msgs);
	is_int(sv_config_load_buffer("fuzz", "SkipDomains @/etc/hosts\n", 23, SV_CONFIG_NO_FILES,
	                             &c, collect, NULL),
	       1, "NO_FILES refuses @FILE");
	is_str(msgs.data, "fuzz:1: SkipDomains: @FILE lists are not allowed here\n",
	       "NO_FILES message");
}

/* sa4, sa6 - build socket addresses */
static struct sockaddr_storage sa4(const char *a)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof(ss));
	s->sin_family = AF_INET;
	inet_pton(AF_INET, a, &s->sin_addr);
	return ss;
}

static struct sockaddr_storage sa6(const char *a)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	s->sin6_family = AF_INET6;
	inet_pton(AF_INET6, a, &s->sin6_addr);
	return ss;
}

/* test_cidr - parse and match, v4, v6, mapped */
static void test_cidr(void)
{
	sv_cidr l[4];
	struct sockaddr_storage ss;
	static const struct {
		const char *addr;
		int want;
	} m[] = {
	    {"10.1.2.3", 1},      {"11.0.0.1", 0},        {"192.168.5.255", 1},
	    {"192.168.6.0", 0},   {"::ffff:10.9.9.9", 1}, {"::ffff:11.9.9.9", 0},
	    {"2001:db8:1::5", 1}, {"2001:db9::1", 0},     {"::1", 1},
	    {"::2", 0},           {"fe80::1", 0},
	};

	ok(sv_cidr_parse("10.0.0.0/8", &l[0]) == 0 && l[0].family == AF_INET && l[0].prefix == 8,
	   "parse 10.0.0.0/8");
	ok(sv_cidr_parse("192.168.5.7/23", &l[1]) == 0 && l[1].addr[2] == 4 && l[1].addr[3] == 0,
	   "parse /23 clears host bits");
	ok(sv_cidr_parse("2001:db8::/32", &l[2]) == 0 && l[2].family == AF_INET6 &&
	       l[2].prefix == 32,
	   "parse 2001:db8::/32");
	ok(sv_cidr_parse("::1", &l[3]) == 0 && l[3].prefix == 128, "bare v6 is /128");
	ok(sv_cidr_parse("[::1]/128", &l[3]) == 0 && l[3].prefix == 128, "bracketed v6");
	{
		sv_cidr one;
		ok(sv_cidr_parse("127.0.0.1", &one) == 0 && one.prefix == 32, "bare v4 is /32");
		is_int(sv_cidr_parse("", &one), -1, "empty refused");
		is_int(sv_cidr_parse("1.2.3.4/33", &one), -1, "v4 /33 refused");
		is_int(sv_cidr_parse("1.2.3.4/-1", &one), -1, "negative prefix refused");
		is_int(sv_cidr_parse("1.2.3.4/ 8", &one), -1, "blank in prefix refused");
		is_int(sv_cidr_parse("host.example", &one), -1, "host name refused");
		is_int(sv_cidr_parse(NULL, &one), -1, "NULL refused");
		ok(sv_cidr_parse("0.0.0.0/0", &one) == 0, "0.0.0.0/0");
		ss = sa4("203.0.113.9");
		ok(sv_cidr_match(&one, 1, (struct sockaddr *)&ss), "/0 matches all IPv4");
	}
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		ss = strchr(m[i].addr, ':') ? sa6(m[i].addr) : sa4(m[i].addr);
		is_int(sv_cidr_match(l, 4, (struct sockaddr *)&ss), m[i].want, "match %s",
		       m[i].addr);
	}
	is_int(sv_cidr_match(l, 4, NULL), 0, "NULL address never matches");
	{
		struct sockaddr un = {.sa_family = AF_UNIX};
		is_int(sv_cidr_match(l, 4, &un), 0, "AF_UNIX never matches");
	}
}

/* read_all - a whole small file, or NULL */
static char *read_all(const char *path)
{
	FILE *fp = fopen(path, "r");
	sv_buf b;
	char chunk[4096];
	size_t n;

	if (fp == NULL)
		return NULL;
	sv_buf_init(&b, 0);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		sv_buf_append(&b, chunk, n);
	fclose(fp);
	return b.data;
}

/* test_sample_and_man - sample loads (as is and uncommented), covers every key */
/* test_inet_spec - MetricsSocket's address, as the milter binds it */
static void test_inet_spec(void)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char err[256], a[INET6_ADDRSTRLEN];

	is_int(sv_inet_spec_parse("inet:9167@127.0.0.2", &ss, &len, err, sizeof(err)), 0,
	       "inet:9167@127.0.0.2 parses");
	is_int(ss.ss_family, AF_INET, "IPv4 family");
	is_int(ntohs(((struct sockaddr_in *)&ss)->sin_port), 9167, "IPv4 port");
	inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, a, sizeof(a));
	is_str(a, "127.0.0.2", "IPv4 address");
	is_int((int)len, (int)sizeof(struct sockaddr_in), "IPv4 length");
	is_int(sv_inet_spec_parse("inet6:65535@2001:db8::1", &ss, &len, err, sizeof(err)), 0,
	       "inet6:65535@2001:db8::1 parses");
	is_int(ss.ss_family, AF_INET6, "IPv6 family");
	is_int(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), 65535, "IPv6 port");
	inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, a, sizeof(a));
	is_str(a, "2001:db8::1", "IPv6 address");
	is_int(sv_inet_spec_parse("inet:65536@127.0.0.1", &ss, &len, err, sizeof(err)), -1,
	       "port 65536 refused");
	is_int(sv_inet_spec_parse("inet:-1@127.0.0.1", &ss, &len, err, sizeof(err)), -1,
	       "a signed port refused");
	is_int(sv_inet_spec_parse("inet:80@127.0.0.1 ", &ss, &len, err, sizeof(err)), -1,
	       "trailing blank refused");
}

static void test_sample_and_man(void)
{
	const char *top = getenv("top_srcdir");
	char path[1024], out[512];
	char *sample, *man;
	sv_buf unc;
	sv_config *c = NULL;

	snprintf(path, sizeof(path), "%s/contrib/sesverify-milter.conf.sample", top ? top : ".");
	sample = read_all(path);
	ok(sample != NULL, "sample file readable (%s)", path);
	if (sample == NULL)
		return;
	sv_buf_reset(&msgs);
	is_int(sv_config_load(path, &c, collect, NULL), 0, "sample as shipped loads");
	sv_config_free(c);
	c = NULL;

	/* uncomment every "#Key value" line */
	sv_buf_init(&unc, 0);
	for (char *line = sample, *nl; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		if (nl == NULL)
			nl = line + strlen(line) - 1;
		if (line[0] == '#' && line[1] >= 'A' && line[1] <= 'Z')
			sv_buf_append(&unc, line + 1, (size_t)(nl - line));
		else
			sv_buf_append(&unc, line, (size_t)(nl - line + 1));
		if (nl[0] == 0 || nl[1] == 0)
			break;
	}
#ifndef HAVE_HIREDIS
	/* a build without Redis support refuses the Redis key (test_redis_url) */
	char *redis_line = strstr(unc.data, "\nRedis ");
	if (redis_line)
		redis_line[1] = '#';
#endif
	write_file("sample.conf", unc.data, 0600, out, sizeof(out));
#ifndef HAVE_HIREDIS
	if (redis_line)
		redis_line[1] = 'R';
#endif
	sv_buf_reset(&msgs);
	is_int(sv_config_load(out, &c, collect, NULL), 0, "uncommented sample loads");
	if (msgs.len)
		diag("%s", msgs.data);
	for (size_t i = 0; sv_config_key_name(i); i++) {
		char needle[64];
		snprintf(needle, sizeof(needle), "\n%s ", sv_config_key_name(i));
		ok(strstr(unc.data, needle) != NULL, "sample sets %s", sv_config_key_name(i));
	}
	if (c) {
		/* what the shipped defaults say must be what the code says */
		sv_config *d = sv_config_defaults();
		ok(c->api_rate == d->api_rate && c->api_timeout == d->api_timeout &&
		       c->verified_ttl == d->verified_ttl && c->max_entries == d->max_entries &&
		       c->refresh_workers == d->refresh_workers && c->mode == d->mode &&
		       c->check_from == d->check_from && c->outgoing == d->outgoing &&
		       c->unknown_wait == d->unknown_wait && strcmp(c->socket, d->socket) == 0 &&
		       strcmp(c->endpoint, d->endpoint) == 0 && c->nameservers == NULL,
		   "uncommented sample states the defaults");
		sv_config_free(d);
	}
	sv_config_free(c);
	c = NULL;

	/* a broken copy: report what the loader prints (documented in the issue) */
	write_file("broken.conf",
	           "Mode enforcing\nApiRate 50000\nSocket inet:port@host\nUnknownWait 5 s\n", 0644,
	           out, sizeof(out));
	sv_buf_reset(&msgs);
	is_int(sv_config_load(out, &c, collect, NULL), 4, "broken config: 4 errors");
	diag("broken config output:\n%s", msgs.data);
	sv_buf_free(&unc);
	free(sample);

	snprintf(path, sizeof(path), "%s/milter/sesverify-milter.conf.5", top ? top : ".");
	man = read_all(path);
	ok(man != NULL, "man page readable");
	for (size_t i = 0; man && sv_config_key_name(i); i++) {
		char needle[64];
		snprintf(needle, sizeof(needle), ".B %s\n", sv_config_key_name(i));
		ok(strstr(man, needle) != NULL, "man page documents %s", sv_config_key_name(i));
	}
	free(man);
}

/* cleanup - remove the temporary directory */
static void cleanup(void)
{
	char cmd[400];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		diag("could not remove %s", tmpdir);
}

int main(void)
{
	const char *t = getenv("TMPDIR");

	snprintf(tmpdir, sizeof(tmpdir), "%s/test_config.XXXXXX", t && *t ? t : "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	sv_buf_init(&msgs, 0);
	test_durations();
	test_defaults();
	test_every_key();
	test_errors();
	test_many_errors();
	test_secrets();
	test_files();
	test_cidr();
	test_inet_spec();
	test_sample_and_man();
	sv_buf_free(&msgs);
	cleanup();
	return tap_done();
}

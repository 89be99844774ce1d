// SPDX-License-Identifier: Apache-2.0
/*
 * main.c — sluice-controller's command line (DESIGN.md §9): read the configuration
 * file and the flags over it, check them, bind the metrics endpoint, start the
 * controller service, tell the service manager it is ready (Type=notify), wait for
 * SIGTERM or SIGINT, stop it cleanly; SIGHUP reloads the TLS certificate, key and CA
 * without dropping a stream. --insecure is for local development: it is refused on an
 * address other than loopback unless --insecure-allow-remote says so too.
 * Exit status: 0 after a clean stop, 1 when the environment is wrong (database
 * locked or missing its directory, address in use, unreadable TLS files), 2 for a
 * usage error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cert.h"
#include "common/config_file.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/metrics_http.h"
#include "common/notify.h"
#include "common/options.h"
#include "common/rpc.h"
#include "controller.h"
#include "manual.h"

#define PROG "sluice-controller"
#define DEFAULT_LISTEN "127.0.0.1:7443"
#define DEFAULT_CONFIG "/etc/sluice/controller.yaml"

enum opt_id {
	OPT_HELP = 'h',
	OPT_LISTEN = 256,
	OPT_DB,
	OPT_TLS_CERT,
	OPT_TLS_KEY,
	OPT_TLS_CA,
	OPT_INSECURE,
	OPT_INSECURE_REMOTE,
	OPT_LOG_LEVEL,
	OPT_LOG_FORMAT,
	OPT_METRICS,
	OPT_CONFIG,
	OPT_MAN,
};

/* One table drives getopt_long, --help and the configuration file's keys. */
static const struct option_def opt_defs[] = {
	{ "listen", OPT_LISTEN, "ADDR:PORT", "address for agents and sluicectl (default " DEFAULT_LISTEN ")", 0 },
	{ "db", OPT_DB, "PATH", "SQLite database file; created if absent, its directory must exist", OPTION_PATH },
	{ "tls-cert", OPT_TLS_CERT, "FILE", "the controller's certificate (PEM)", OPTION_PATH },
	{ "tls-key", OPT_TLS_KEY, "FILE", "its private key (PEM)", OPTION_PATH },
	{ "tls-ca", OPT_TLS_CA, "FILE", "CA that signs agent and operator certificates (PEM)", OPTION_PATH },
	{ "insecure", OPT_INSECURE, NULL, "plaintext without authentication: local development only (loopback --listen only)", 0 },
	{ "insecure-allow-remote", OPT_INSECURE_REMOTE, NULL, "let --insecure listen beyond loopback: anyone who reaches it controls the fleet", 0 },
	{ "log-level", OPT_LOG_LEVEL, "LEVEL", "error, warn, info (default) or debug", 0 },
	{ "log-format", OPT_LOG_FORMAT, "FORMAT", "text (default) or json: one JSON object per line with time, level, component and message", 0 },
	{ "metrics", OPT_METRICS, "ADDR:PORT", "serve Prometheus metrics at http://ADDR:PORT/metrics", 0 },
	{ "config", OPT_CONFIG, "FILE", "settings file, one key per option (default: " DEFAULT_CONFIG " when it exists); flags override it", OPTION_CLI },
	{ "help", OPT_HELP, NULL, "this text", OPTION_CLI },
	{ "man", OPT_MAN, NULL, "print the sluice-controller(8) manual page (troff)", OPTION_CLI | OPTION_HIDDEN },
};

#define N_OPTS (sizeof(opt_defs) / sizeof(opt_defs[0]))

struct config {
	const char *listen;
	const char *db;
	const char *tls_cert;
	const char *tls_key;
	const char *tls_ca;
	bool insecure;
	bool insecure_remote;
	const char *log_level;
	const char *log_format;
	const char *metrics;
	struct config_file *file; /* the configuration file's values, NULL without one */
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: " PROG " --db PATH (--tls-cert FILE --tls-key FILE --tls-ca FILE | --insecure) [options]\n"
		   "\n"
		   "Keeps sluice policy revisions in SQLite and pushes them to the agents.\n"
		   "\n");
	options__help(f, opt_defs, N_OPTS);
	fprintf(f, "\nThe configuration file (YAML) has one key per option, '_' for '-'\n"
		   "(db: /var/lib/sluice-controller/controller.db, tls_cert: ..., insecure: false).\n");
}

/* "HOST:PORT" with a port 0..65535; HOST may be "[v6]". */
static bool addr_ok(const char *s)
{
	const char *colon = strrchr(s, ':');
	char *end;
	long port;

	if (!colon || colon == s || !colon[1])
		return false;
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	return errno == 0 && *end == '\0' && port >= 0 && port <= 65535;
}

/* Is the host of "HOST:PORT" a loopback address (127.0.0.0/8, ::1, localhost)? */
static bool listen_loopback(const char *listen)
{
	const char *colon = strrchr(listen, ':');
	char host[256];
	struct in6_addr a6;
	struct in_addr a4;
	size_t n;

	if (!colon)
		return false;
	n = (size_t)(colon - listen);
	if (n >= 2 && listen[0] == '[' && listen[n - 1] == ']') {
		listen++;
		n -= 2;
	}
	if (n >= sizeof(host))
		return false;
	memcpy(host, listen, n);
	host[n] = '\0';
	if (strcmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6) ||
		       (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
	return false;
}

/* Checks the flags; on error prints one line and returns false. */
static bool check_config(const struct config *cfg)
{
	int n_tls = !!cfg->tls_cert + !!cfg->tls_key + !!cfg->tls_ca;

	if (!cfg->db) {
		pr_err("--db PATH is required: the SQLite database file (e.g. --db /var/lib/sluice/controller.db)");
		return false;
	}
	if (!addr_ok(cfg->listen)) {
		pr_err("--listen '%s' is not ADDR:PORT (e.g. 127.0.0.1:7443 or [::]:7443)", cfg->listen);
		return false;
	}
	if (cfg->metrics && !addr_ok(cfg->metrics)) {
		pr_err("--metrics '%s' is not ADDR:PORT (e.g. 127.0.0.1:9464)", cfg->metrics);
		return false;
	}
	if (cfg->insecure && n_tls) {
		pr_err("--insecure and the --tls-* flags exclude each other; pick one");
		return false;
	}
	if (!cfg->insecure && n_tls != 3) {
		pr_err("give all of --tls-cert, --tls-key and --tls-ca, or --insecure for local development");
		return false;
	}
	if (cfg->insecure_remote && !cfg->insecure) {
		pr_err("--insecure-allow-remote only goes with --insecure; with TLS, any --listen address is allowed");
		return false;
	}
	if (cfg->insecure && !cfg->insecure_remote && !listen_loopback(cfg->listen)) {
		pr_err("--insecure refused on --listen %s: without TLS anyone who reaches it controls the fleet; use --tls-cert/--tls-key/--tls-ca (deploy/pki.sh makes them), listen on 127.0.0.1, or add --insecure-allow-remote if you really mean it",
		       cfg->listen);
		return false;
	}
	return true;
}

/* The TLS files exist, parse, belong together and are valid now; on error prints one
 * line and returns false. */
static bool check_tls_files(const struct config *cfg)
{
	const char *files[] = { cfg->tls_cert, cfg->tls_key, cfg->tls_ca };
	const char *names[] = { "--tls-cert", "--tls-key", "--tls-ca" };
	char why[1024];

	if (cfg->insecure)
		return true;
	for (int i = 0; i < 3; i++) {
		if (access(files[i], R_OK) != 0) {
			pr_err("%s '%s': %s", names[i], files[i], strerror(errno));
			return false;
		}
	}
	if (cert__check_files(cfg->tls_cert, cfg->tls_key, cfg->tls_ca, NULL, why, sizeof(why))) {
		pr_err("%s", why);
		return false;
	}
	return true;
}

/* Applies one setting from a flag or the configuration file. Always 0: the values are
 * checked once every source is in (check_config). */
static int set_opt(void *ctx, int id, const char *val, bool in_file)
{
	struct config *cfg = ctx;

	(void)in_file;
	switch (id) {
	case OPT_LISTEN: cfg->listen = val; break;
	case OPT_DB: cfg->db = val; break;
	case OPT_TLS_CERT: cfg->tls_cert = val; break;
	case OPT_TLS_KEY: cfg->tls_key = val; break;
	case OPT_TLS_CA: cfg->tls_ca = val; break;
	case OPT_INSECURE: cfg->insecure = true; break;
	case OPT_INSECURE_REMOTE: cfg->insecure_remote = true; break;
	case OPT_LOG_LEVEL: cfg->log_level = val; break;
	case OPT_LOG_FORMAT: cfg->log_format = val; break;
	case OPT_METRICS: cfg->metrics = val; break;
	default: break; /* --config: read before the flags */
	}
	return 0;
}

/*
 * The configuration file (--config FILE, or DEFAULT_CONFIG when it exists), then the
 * flags over it. -1 to go on, or the exit status: 0 after --help, 1 for an unreadable
 * file, 2 for a usage error.
 */
static int parse_args(int argc, char **argv, struct config *cfg)
{
	struct option longopts[N_OPTS + 1];
	const char *config = DEFAULT_CONFIG;
	bool config_given = false;
	enum log_level level;
	enum log_format format;
	char err[1024];
	int opt, ret;

	options__longopts(opt_defs, N_OPTS, longopts);
	/* First pass: only --help and --config, so the file is read before the flags. */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (opt == OPT_HELP) {
			usage(stdout);
			return 0;
		}
		if (opt == OPT_MAN) {
			options__man(stdout, &controller_manual, opt_defs, N_OPTS);
			return 0;
		}
		if (opt == OPT_CONFIG) {
			config = optarg;
			config_given = true;
		}
	}
	ret = config_file__load(config, config_given, &cfg->file, err, sizeof(err));
	if (ret) {
		pr_err("%s%s", err, config_given ? "" : " (fix it, or give another with --config FILE)");
		return ret == -EINVAL ? 2 : 1;
	}
	ret = options__apply_file(cfg->file, opt_defs, N_OPTS, set_opt, cfg);
	if (ret)
		return ret == -ENOMEM ? 1 : 2;

	optind = 0; /* glibc: start over */
	opterr = 1;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (opt == '?') { /* getopt printed what is wrong */
			fprintf(stderr, "Try '" PROG " --help'.\n");
			return 2;
		}
		set_opt(cfg, opt, optarg, false);
	}
	if (optind < argc) {
		pr_err("unexpected argument '%s'; see " PROG " --help", argv[optind]);
		return 2;
	}
	if (cfg->log_level) {
		if (log__parse_level(cfg->log_level, &level)) {
			pr_err("--log-level '%s': use error, warn, info or debug", cfg->log_level);
			return 2;
		}
		log__init(PROG, level);
	}
	if (cfg->log_format) {
		if (log__parse_format(cfg->log_format, &format)) {
			pr_err("--log-format '%s': use text or json", cfg->log_format);
			return 2;
		}
		log__set_format(format);
	}
	return check_config(cfg) ? -1 : 2;
}

int main(int argc, char **argv)
{
	struct config cfg = { .listen = DEFAULT_LISTEN };
	struct rpc_tls tls;
	struct controller_opts opts = { 0 };
	struct controller *c = NULL;
	struct metrics *metrics = NULL;
	struct metrics_http *mhttp = NULL;
	char err[1024];
	sigset_t sigs;
	int ret, sig = 0;
	bool rpc_up = false;

	/* One malloc arena, set before any thread exists. With one per thread, the gRPC
	 * core's threads (keepalive timers, executor) and the server thread each kept free
	 * memory of their own: at 10,000 agents the heap held ~14 MB free, ~5 MB with one
	 * arena (tests/bench/run.sh fanout). The controller's work runs on one thread anyway. */
	mallopt(M_ARENA_MAX, 1);
	log__init(PROG, LOG_INFO);
	ret = parse_args(argc, argv, &cfg);
	if (ret >= 0)
		goto out;
	ret = 1;
	if (!check_tls_files(&cfg))
		goto out;

	/* Block the stop signals before any thread starts, so every thread inherits the
	 * mask and only sigwait() below sees them. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* Metrics first: a bad --metrics address fails before the database is touched. */
	if (cfg.metrics) {
		metrics = metrics__new();
		mhttp = metrics ? metrics_http__start(metrics, cfg.metrics, err, sizeof(err)) : NULL;
		if (!mhttp) {
			pr_err("%s", metrics ? err : "--metrics: out of memory");
			goto out;
		}
	}
	tls = (struct rpc_tls){ .cert_file = cfg.tls_cert, .key_file = cfg.tls_key, .ca_file = cfg.tls_ca };
	opts.listen = cfg.listen;
	opts.db_path = cfg.db;
	opts.tls = cfg.insecure ? NULL : &tls;
	opts.metrics = metrics;
	rpc__init();
	rpc_up = true;
	c = controller__start(&opts, err, sizeof(err));
	if (!c) {
		pr_err("%s", err);
		goto out;
	}
	/* Warnings after a successful start, so a failed start says one line only. */
	if (cfg.insecure)
		pr_warn("--insecure: plaintext gRPC, no authentication, anyone who reaches %s can change policy; local development only",
			cfg.listen);
	if (cfg.metrics)
		pr_info("metrics at http://%s/metrics", cfg.metrics);
	snprintf(err, sizeof(err), "READY=1\nSTATUS=serving on %s", cfg.listen);
	notify__send(err);
	for (;;) {
		if (sigwait(&sigs, &sig) != 0)
			continue;
		if (sig != SIGHUP)
			break;
		if (cfg.insecure) {
			pr_info("SIGHUP: no TLS files to reload under --insecure");
			continue;
		}
		if (controller__reload_tls(c, err, sizeof(err)))
			pr_err("SIGHUP: %s", err);
	}
	pr_info("%s: stopping", strsignal(sig));
	notify__send("STOPPING=1");
	ret = 0;
out:
	controller__stop(c);
	if (rpc_up)
		rpc__shutdown();
	metrics_http__stop(mhttp);
	metrics__free(metrics);
	config_file__free(cfg.file);
	if (c)
		pr_info("stopped");
	return ret;
}

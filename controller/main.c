// SPDX-License-Identifier: Apache-2.0
/*
 * main.c — sluice-controller's command line (DESIGN.md §9): parse and check the flags,
 * start the controller service, wait for SIGTERM or SIGINT, stop it cleanly.
 * Exit status: 0 after a clean stop, 1 when the environment is wrong (database
 * locked or missing its directory, address in use, unreadable TLS files), 2 for a
 * usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/rpc.h"
#include "controller.h"

#define PROG "sluice-controller"
#define DEFAULT_LISTEN "127.0.0.1:7443"

struct config {
	const char *listen;
	const char *db;
	const char *tls_cert;
	const char *tls_key;
	const char *tls_ca;
	bool insecure;
	const char *log_level;
	const char *metrics;
};

enum { OPT_LISTEN = 256, OPT_DB, OPT_TLS_CERT, OPT_TLS_KEY, OPT_TLS_CA, OPT_INSECURE, OPT_LOG_LEVEL, OPT_METRICS };

static const struct option long_opts[] = {
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "db", required_argument, NULL, OPT_DB },
	{ "tls-cert", required_argument, NULL, OPT_TLS_CERT },
	{ "tls-key", required_argument, NULL, OPT_TLS_KEY },
	{ "tls-ca", required_argument, NULL, OPT_TLS_CA },
	{ "insecure", no_argument, NULL, OPT_INSECURE },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "metrics", required_argument, NULL, OPT_METRICS },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: " PROG " --db PATH (--tls-cert FILE --tls-key FILE --tls-ca FILE | --insecure) [options]\n"
		"\n"
		"Keeps sluice policy revisions in SQLite and pushes them to the agents.\n"
		"\n"
		"  --listen ADDR:PORT   address for agents and sluicectl (default " DEFAULT_LISTEN ")\n"
		"  --db PATH            SQLite database file; created if absent, its directory must exist\n"
		"  --tls-cert FILE      the controller's certificate (PEM)\n"
		"  --tls-key FILE       its private key (PEM)\n"
		"  --tls-ca FILE        CA that signs agent and operator certificates (PEM)\n"
		"  --insecure           plaintext without authentication: local development only\n"
		"  --log-level LEVEL    error, warn, info (default) or debug\n"
		"  --metrics ADDR:PORT  Prometheus metrics endpoint (not yet implemented)\n"
		"  -h, --help           this text\n");
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
	return true;
}

/* The TLS files exist and are readable; on error prints one line and returns false. */
static bool check_tls_files(const struct config *cfg)
{
	const char *files[] = { cfg->tls_cert, cfg->tls_key, cfg->tls_ca };
	const char *names[] = { "--tls-cert", "--tls-key", "--tls-ca" };

	for (int i = 0; !cfg->insecure && i < 3; i++) {
		if (access(files[i], R_OK) != 0) {
			pr_err("%s '%s': %s", names[i], files[i], strerror(errno));
			return false;
		}
	}
	return true;
}

static int parse_args(int argc, char **argv, struct config *cfg)
{
	enum log_level level;
	int opt;

	while ((opt = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		switch (opt) {
		case OPT_LISTEN:
			cfg->listen = optarg;
			break;
		case OPT_DB:
			cfg->db = optarg;
			break;
		case OPT_TLS_CERT:
			cfg->tls_cert = optarg;
			break;
		case OPT_TLS_KEY:
			cfg->tls_key = optarg;
			break;
		case OPT_TLS_CA:
			cfg->tls_ca = optarg;
			break;
		case OPT_INSECURE:
			cfg->insecure = true;
			break;
		case OPT_LOG_LEVEL:
			if (log__parse_level(optarg, &level)) {
				pr_err("--log-level '%s': use error, warn, info or debug", optarg);
				return 2;
			}
			log__init(PROG, level);
			break;
		case OPT_METRICS:
			cfg->metrics = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default: /* getopt printed what is wrong */
			fprintf(stderr, "Try '" PROG " --help'.\n");
			return 2;
		}
	}
	if (optind < argc) {
		pr_err("unexpected argument '%s'; see " PROG " --help", argv[optind]);
		return 2;
	}
	return check_config(cfg) ? -1 : 2;
}

int main(int argc, char **argv)
{
	struct config cfg = { .listen = DEFAULT_LISTEN };
	struct rpc_tls tls;
	struct controller_opts opts = { 0 };
	struct controller *c;
	char err[1024];
	sigset_t sigs;
	int ret, sig = 0;

	log__init(PROG, LOG_INFO);
	ret = parse_args(argc, argv, &cfg);
	if (ret >= 0)
		return ret;
	if (!check_tls_files(&cfg))
		return 1;

	/* Block the stop signals before any thread starts, so every thread inherits the
	 * mask and only sigwait() below sees them. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	tls = (struct rpc_tls){ .cert_file = cfg.tls_cert, .key_file = cfg.tls_key, .ca_file = cfg.tls_ca };
	opts.listen = cfg.listen;
	opts.db_path = cfg.db;
	opts.tls = cfg.insecure ? NULL : &tls;
	rpc__init();
	c = controller__start(&opts, err, sizeof(err));
	if (!c) {
		pr_err("%s", err);
		rpc__shutdown();
		return 1;
	}
	/* Warnings after a successful start, so a failed start says one line only. */
	if (cfg.insecure)
		pr_warn("--insecure: plaintext gRPC, no authentication, anyone who reaches %s can change policy; local development only",
			cfg.listen);
	if (cfg.metrics)
		pr_warn("--metrics %s: not yet implemented; no metrics are served", cfg.metrics);
	while (sigwait(&sigs, &sig) != 0)
		;
	pr_info("%s: stopping", strsignal(sig));
	controller__stop(c);
	rpc__shutdown();
	pr_info("stopped");
	return 0;
}

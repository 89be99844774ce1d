// SPDX-License-Identifier: Apache-2.0
/*
 * main.c — sluice-agent: the command line (DESIGN.md §9), its checks, and the startup
 * order that keeps the datapath from ever running without policy:
 *
 *   1. options and environment checked (exit 2 usage, 1 environment), state dir locked;
 *   2. dp__open: adopt what a previous agent pinned, or load and attach afresh;
 *   3. the last acknowledged policy from the state dir is applied before the controller
 *      is contacted — unless the datapath was adopted, in which case its pinned maps
 *      already hold that revision and it is not reloaded;
 *   4. the session runs (and the admin socket answers) until SIGTERM or SIGINT;
 *   5. dp__close, which leaves the programs attached: enforcement outlives the agent.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <net/if.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "admin.h"
#include "common/log.h"
#include "common/rpc.h"
#include "datapath.h"
#include "session.h"
#include "state.h"

#define PROG "sluice-agent"
#define MAX_IFACES 64
#define MAX_LABELS 64
#define MAX_NODE_ID 253
#define DEFAULT_PIN_ROOT "/sys/fs/bpf/sluice"
#define DEFAULT_STATE_ROOT "/var/lib/sluice"
#define ADMIN_SOCKET_NAME "admin.sock"

#define EXIT_USAGE 2
#define EXIT_ENV 1

enum opt_id {
	OPT_HELP = 'h',
	OPT_CONTROLLER = 256,
	OPT_NODE_ID,
	OPT_LABEL,
	OPT_IFACE,
	OPT_XDP_MODE,
	OPT_PIN_DIR,
	OPT_STATE_DIR,
	OPT_TLS_CERT,
	OPT_TLS_KEY,
	OPT_TLS_CA,
	OPT_INSECURE,
	OPT_ADMIN_SOCKET,
	OPT_METRICS,
	OPT_LOG_LEVEL,
};

/* One table drives getopt_long and --help. */
static const struct opt_def {
	const char *name;
	int id;
	const char *arg; /* NULL: a flag */
	const char *help;
} opt_defs[] = {
	{ "controller", OPT_CONTROLLER, "ADDR:PORT", "controller to connect to (required)" },
	{ "node-id", OPT_NODE_ID, "NAME", "this node's name, [A-Za-z0-9._-] (required; with mTLS it must be the certificate CN)" },
	{ "label", OPT_LABEL, "K=V", "a label the controller's selectors match; repeatable" },
	{ "iface", OPT_IFACE, "IFNAME", "interface to inspect with XDP; repeatable, at least one" },
	{ "xdp-mode", OPT_XDP_MODE, "MODE", "native, generic or auto (default: auto, native where the driver can)" },
	{ "pin-dir", OPT_PIN_DIR, "DIR", "bpffs directory for pinned programs, links and maps (default: " DEFAULT_PIN_ROOT "/NODE)" },
	{ "state-dir", OPT_STATE_DIR, "DIR", "where the last acknowledged policy is kept (default: " DEFAULT_STATE_ROOT "/NODE)" },
	{ "tls-cert", OPT_TLS_CERT, "FILE", "this agent's certificate (PEM)" },
	{ "tls-key", OPT_TLS_KEY, "FILE", "its private key (PEM)" },
	{ "tls-ca", OPT_TLS_CA, "FILE", "CA that signed the controller's certificate (PEM)" },
	{ "insecure", OPT_INSECURE, NULL, "plaintext, unauthenticated connection: local development only" },
	{ "admin-socket", OPT_ADMIN_SOCKET, "PATH", "Unix socket answering \"status\" (default: STATE-DIR/" ADMIN_SOCKET_NAME ")" },
	{ "metrics", OPT_METRICS, "ADDR:PORT", "serve metrics (not yet implemented)" },
	{ "log-level", OPT_LOG_LEVEL, "LEVEL", "error, warn, info or debug (default: info)" },
	{ "help", OPT_HELP, NULL, "show this help and exit" },
};

#define N_OPTS (sizeof(opt_defs) / sizeof(opt_defs[0]))

struct config {
	const char *controller;
	const char *node_id;
	struct session_label labels[MAX_LABELS];
	char *label_mem[MAX_LABELS]; /* strdup'd "K\0V" the labels point into */
	size_t n_labels;
	const char *ifaces[MAX_IFACES];
	size_t n_ifaces;
	enum dp_xdp_mode xdp_mode;
	char pin_dir[PATH_MAX];
	char state_dir[PATH_MAX];
	char admin_socket[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct rpc_tls tls;
	bool insecure;
	const char *metrics;
	enum log_level log_level;
};

static atomic_bool stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&stop_requested, true);
}

static void print_help(void)
{
	printf("Usage: %s --controller ADDR:PORT --node-id NAME --iface IFNAME [OPTION]...\n\n"
	       "Enforces the controller's policy with XDP on this node's interfaces, keeps the last\n"
	       "acknowledged policy in force while the controller is away, and reports status.\n\n",
	       PROG);
	for (size_t i = 0; i < N_OPTS; i++) {
		char left[40];

		snprintf(left, sizeof(left), "--%s%s%s", opt_defs[i].name, opt_defs[i].arg ? " " : "",
			 opt_defs[i].arg ? opt_defs[i].arg : "");
		printf("  %-26s %s\n", left, opt_defs[i].help);
	}
	printf("\nGive either all three --tls-* flags or --insecure.\n"
	       "Exit status: 0 after SIGTERM/SIGINT (XDP programs stay attached), 1 when the\n"
	       "environment is wrong (no BPF, missing interface, unwritable state dir), 2 on usage errors.\n");
}

/* ---- validation ------------------------------------------------------------------ */

static bool chars_ok(const char *s, const char *extra)
{
	for (; *s; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      strchr(extra, *s)))
			return false;
	}
	return true;
}

/* "host:port", "1.2.3.4:port" or "[v6]:port", port 1..65535. */
static bool addr_port_ok(const char *s)
{
	const char *colon = strrchr(s, ':');
	char *end;
	long port;

	if (!colon || colon == s)
		return false;
	if (s[0] == '[' && colon[-1] != ']')
		return false;
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	return colon[1] && !*end && !errno && port >= 1 && port <= 65535;
}

static int add_label(struct config *c, const char *arg)
{
	const char *eq = strchr(arg, '=');
	char *mem;

	if (c->n_labels == MAX_LABELS) {
		pr_err("--label: more than %d labels; keep the ones your selectors use", MAX_LABELS);
		return -EINVAL;
	}
	if (!eq || eq == arg) {
		pr_err("--label '%s': expected KEY=VALUE, e.g. --label env=prod", arg);
		return -EINVAL;
	}
	mem = strdup(arg);
	if (!mem)
		return -ENOMEM;
	mem[eq - arg] = '\0';
	if (!chars_ok(mem, "._/-") || !chars_ok(mem + (eq - arg) + 1, "._-")) {
		pr_err("--label '%s': keys use [A-Za-z0-9._/-], values [A-Za-z0-9._-]", arg);
		free(mem);
		return -EINVAL;
	}
	for (size_t i = 0; i < c->n_labels; i++) {
		if (strcmp(c->labels[i].key, mem) == 0) {
			pr_err("--label '%s': label '%s' is given twice; give each key once", arg, mem);
			free(mem);
			return -EINVAL;
		}
	}
	c->label_mem[c->n_labels] = mem;
	c->labels[c->n_labels].key = mem;
	c->labels[c->n_labels].value = mem + (eq - arg) + 1;
	c->n_labels++;
	return 0;
}

static int add_iface(struct config *c, const char *arg)
{
	if (c->n_ifaces == MAX_IFACES) {
		pr_err("--iface: more than %d interfaces", MAX_IFACES);
		return -EINVAL;
	}
	if (!arg[0] || strlen(arg) >= IF_NAMESIZE || strchr(arg, '/') || strchr(arg, ' ')) {
		pr_err("--iface '%s' is not an interface name (1-%d characters, no '/' or spaces)", arg,
		       IF_NAMESIZE - 1);
		return -EINVAL;
	}
	for (size_t i = 0; i < c->n_ifaces; i++) {
		if (strcmp(c->ifaces[i], arg) == 0) {
			pr_err("--iface '%s' is given twice; give each interface once", arg);
			return -EINVAL;
		}
	}
	c->ifaces[c->n_ifaces++] = arg;
	return 0;
}

static int set_path(char *dst, size_t size, const char *opt, const char *arg)
{
	if (!arg[0] || strlen(arg) >= size) {
		pr_err("--%s: '%s' is %s", opt, arg, arg[0] ? "too long" : "empty");
		return -EINVAL;
	}
	memcpy(dst, arg, strlen(arg) + 1);
	return 0;
}

/* Parses and checks argv against the table. 0, EXIT_USAGE, or -1 after --help. */
static int parse_args(int argc, char **argv, struct config *c)
{
	struct option longopts[N_OPTS + 1];
	const char *xdp_mode = "auto", *log_level = "info";
	int opt, err = 0;

	memset(longopts, 0, sizeof(longopts));
	for (size_t i = 0; i < N_OPTS; i++) {
		longopts[i].name = opt_defs[i].name;
		longopts[i].has_arg = opt_defs[i].arg ? required_argument : no_argument;
		longopts[i].val = opt_defs[i].id;
	}
	opterr = 0;
	while (!err && (opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (opt) {
		case OPT_HELP:
			print_help();
			return -1;
		case OPT_CONTROLLER: c->controller = optarg; break;
		case OPT_NODE_ID: c->node_id = optarg; break;
		case OPT_LABEL: err = add_label(c, optarg); break;
		case OPT_IFACE: err = add_iface(c, optarg); break;
		case OPT_XDP_MODE: xdp_mode = optarg; break;
		case OPT_PIN_DIR: err = set_path(c->pin_dir, sizeof(c->pin_dir), "pin-dir", optarg); break;
		case OPT_STATE_DIR: err = set_path(c->state_dir, sizeof(c->state_dir), "state-dir", optarg); break;
		case OPT_TLS_CERT: c->tls.cert_file = optarg; break;
		case OPT_TLS_KEY: c->tls.key_file = optarg; break;
		case OPT_TLS_CA: c->tls.ca_file = optarg; break;
		case OPT_INSECURE: c->insecure = true; break;
		case OPT_ADMIN_SOCKET:
			err = set_path(c->admin_socket, sizeof(c->admin_socket), "admin-socket", optarg);
			break;
		case OPT_METRICS: c->metrics = optarg; break;
		case OPT_LOG_LEVEL: log_level = optarg; break;
		case ':':
			pr_err("option '%s' needs a value (see --help)", argv[optind - 1]);
			return EXIT_USAGE;
		default:
			pr_err("unknown option '%s' (see --help)", argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (err)
		return EXIT_USAGE;
	if (optind < argc) {
		pr_err("unexpected argument '%s': every setting is an option (see --help)", argv[optind]);
		return EXIT_USAGE;
	}

	if (log__parse_level(log_level, &c->log_level)) {
		pr_err("--log-level '%s': use error, warn, info or debug", log_level);
		return EXIT_USAGE;
	}
	if (strcmp(xdp_mode, "auto") == 0)
		c->xdp_mode = DP_XDP_AUTO;
	else if (strcmp(xdp_mode, "native") == 0)
		c->xdp_mode = DP_XDP_NATIVE;
	else if (strcmp(xdp_mode, "generic") == 0)
		c->xdp_mode = DP_XDP_GENERIC;
	else {
		pr_err("--xdp-mode '%s': use native, generic or auto", xdp_mode);
		return EXIT_USAGE;
	}
	if (!c->controller) {
		pr_err("--controller is required: where the controller listens, e.g. --controller 10.0.0.1:7443");
		return EXIT_USAGE;
	}
	if (!addr_port_ok(c->controller)) {
		pr_err("--controller '%s': expected ADDR:PORT with a port 1-65535, e.g. 10.0.0.1:7443 or [fd00::1]:7443",
		       c->controller);
		return EXIT_USAGE;
	}
	if (!c->node_id) {
		pr_err("--node-id is required: this node's name, e.g. --node-id gw-1");
		return EXIT_USAGE;
	}
	if (!c->node_id[0] || strlen(c->node_id) > MAX_NODE_ID || !chars_ok(c->node_id, "._-")) {
		pr_err("--node-id '%s': use 1-%d characters from [A-Za-z0-9._-]", c->node_id, MAX_NODE_ID);
		return EXIT_USAGE;
	}
	if (c->n_ifaces == 0) {
		pr_err("--iface is required: name at least one interface to inspect, e.g. --iface eth0");
		return EXIT_USAGE;
	}
	if (c->insecure && (c->tls.cert_file || c->tls.key_file || c->tls.ca_file)) {
		pr_err("--insecure and --tls-* exclude each other: drop one");
		return EXIT_USAGE;
	}
	if (!c->insecure && !(c->tls.cert_file && c->tls.key_file && c->tls.ca_file)) {
		pr_err("missing %s: give --tls-cert, --tls-key and --tls-ca, or --insecure for local development",
		       !c->tls.cert_file ? "--tls-cert" : !c->tls.key_file ? "--tls-key" : "--tls-ca");
		return EXIT_USAGE;
	}
	if (c->metrics && !addr_port_ok(c->metrics)) {
		pr_err("--metrics '%s': expected ADDR:PORT, e.g. 127.0.0.1:9464", c->metrics);
		return EXIT_USAGE;
	}

	/* Defaults that depend on the node id and the state dir. */
	if (!c->pin_dir[0] &&
	    (size_t)snprintf(c->pin_dir, sizeof(c->pin_dir), "%s/%s", DEFAULT_PIN_ROOT, c->node_id) >= sizeof(c->pin_dir))
		return EXIT_USAGE; /* cannot happen: the node id is short */
	if (!c->state_dir[0])
		snprintf(c->state_dir, sizeof(c->state_dir), "%s/%s", DEFAULT_STATE_ROOT, c->node_id);
	if (!c->admin_socket[0] && (size_t)snprintf(c->admin_socket, sizeof(c->admin_socket), "%s/%s", c->state_dir,
						    ADMIN_SOCKET_NAME) >= sizeof(c->admin_socket)) {
		pr_err("--state-dir '%s' is too long for the default admin socket path; give a shorter --admin-socket",
		       c->state_dir);
		return EXIT_USAGE;
	}
	return 0;
}

/* ---- environment ------------------------------------------------------------------- */

/* mkdir -p with mode for the directories it makes. 0 or -errno. */
static int mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];

	if (strlen(path) >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, strlen(path) + 1);
	for (char *p = buf + 1;; p++) {
		if (*p == '/' || *p == '\0') {
			char saved = *p;

			*p = '\0';
			if (mkdir(buf, mode) < 0 && errno != EEXIST)
				return -errno;
			*p = saved;
			if (!saved)
				break;
		}
	}
	return 0;
}

/* Checks what options cannot: interfaces, TLS files, the state dir. 0 or EXIT_ENV. */
static int check_environment(const struct config *c, int *lock_fd)
{
	const char *files[][2] = { { "--tls-cert", c->tls.cert_file }, { "--tls-key", c->tls.key_file },
				   { "--tls-ca", c->tls.ca_file } };
	struct stat st;
	int err;

	for (size_t i = 0; i < c->n_ifaces; i++) {
		if (if_nametoindex(c->ifaces[i]) == 0) {
			pr_err("--iface '%s': no such interface here (see `ip link`)", c->ifaces[i]);
			return EXIT_ENV;
		}
	}
	for (size_t i = 0; i < 3 && !c->insecure; i++) {
		if (access(files[i][1], R_OK) < 0) {
			pr_err("%s %s: %s", files[i][0], files[i][1], strerror(errno));
			return EXIT_ENV;
		}
	}
	err = mkdir_p(c->state_dir, 0700);
	if (!err && (stat(c->state_dir, &st) < 0 || !S_ISDIR(st.st_mode)))
		err = -ENOTDIR;
	if (!err && access(c->state_dir, W_OK | X_OK) < 0)
		err = -errno;
	if (err) {
		pr_err("--state-dir %s: cannot use it: %s; give a writable --state-dir", c->state_dir, strerror(-err));
		return EXIT_ENV;
	}
	*lock_fd = state__lock_dir(c->state_dir);
	if (*lock_fd == -EWOULDBLOCK) {
		pr_err("--state-dir %s is in use by another sluice-agent; stop it, or give this one its own --state-dir",
		       c->state_dir);
		return EXIT_ENV;
	}
	if (*lock_fd < 0) {
		pr_err("--state-dir %s: cannot lock %s: %s", c->state_dir, STATE_LOCK_FILE, strerror(-*lock_fd));
		return EXIT_ENV;
	}
	return 0;
}

/* ---- datapath wiring ------------------------------------------------------------------ */

/* The session (and the startup restore) reach the datapath only through these. */
static int op_apply(void *ctx, const Sluice__V1__Policy *p, char *err, size_t errlen)
{
	return dp__apply(ctx, p, err, errlen);
}

static int op_fill_status(void *ctx, Sluice__V1__Status *st)
{
	return dp__fill_status(ctx, st);
}

static uint32_t op_capacity(void *ctx)
{
	return dp__rule_capacity(ctx);
}

static const struct session_dp_ops dp_ops = {
	.apply = op_apply,
	.fill_status = op_fill_status,
	.capacity = op_capacity,
};

static void install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* A second signal takes the default action: a stuck agent can still be stopped. */
	sa.sa_flags = (int)SA_RESETHAND;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int main(int argc, char **argv)
{
	struct config c;
	struct dp_opts dpo;
	struct session_opts so;
	struct session *session = NULL;
	struct admin *admin = NULL;
	struct dp *dp = NULL;
	char hash[STATE_HASH_MAX];
	uint64_t rev;
	int lock_fd = -1, ret, err;
	bool rpc_up = false;

	memset(&c, 0, sizeof(c));
	log__init(PROG, LOG_INFO);
	ret = parse_args(argc, argv, &c);
	if (ret) {
		ret = ret < 0 ? 0 : ret;
		goto cleanup;
	}
	log__init(PROG, c.log_level);
	install_signals();
	ret = check_environment(&c, &lock_fd);
	if (ret)
		goto cleanup;
	if (c.insecure)
		pr_warn("INSECURE: --insecure: the controller connection is plaintext and unauthenticated; anyone on the path can read or push policy. Use --tls-cert/--tls-key/--tls-ca outside local development");
	if (c.metrics)
		pr_warn("--metrics %s: not yet implemented; no metrics are served", c.metrics);

	ret = EXIT_ENV;
	memset(&dpo, 0, sizeof(dpo));
	dpo.pin_dir = c.pin_dir;
	dpo.ifaces = c.ifaces;
	dpo.n_ifaces = c.n_ifaces;
	dpo.mode = c.xdp_mode;
	dp = dp__open(&dpo);
	if (!dp)
		goto cleanup; /* dp__open said what is wrong */
	state__restore(c.state_dir, dp__adopted(dp), op_apply, dp, &rev, hash);

	rpc__init();
	rpc_up = true;
	memset(&so, 0, sizeof(so));
	so.controller = c.controller;
	so.tls = c.insecure ? NULL : &c.tls;
	so.node_id = c.node_id;
	so.labels = c.labels;
	so.n_labels = c.n_labels;
	so.ifaces = c.ifaces;
	so.n_ifaces = c.n_ifaces;
	so.state_dir = c.state_dir;
	so.dp = &dp_ops;
	so.dp_ctx = dp;
	so.applied_revision = rev;
	so.applied_hash = hash;
	session = session__new(&so);
	if (!session) {
		pr_err("cannot start the session: %s", strerror(errno));
		goto cleanup;
	}
	admin = admin__start(c.admin_socket, session);
	if (!admin)
		pr_warn("--admin-socket %s: %s; status is not served locally", c.admin_socket, strerror(errno));

	pr_info("node %s enforcing on %zu interface%s, revision %llu live; connecting to %s", c.node_id,
		c.n_ifaces, c.n_ifaces == 1 ? "" : "s", (unsigned long long)rev, c.controller);
	err = session__run(session, &stop_requested);
	ret = err ? EXIT_ENV : 0;
	if (!err)
		pr_info("stopping; the XDP programs stay attached and keep enforcing the live policy");

cleanup:
	admin__stop(admin);
	session__free(session);
	dp__close(dp);
	if (rpc_up)
		rpc__shutdown();
	if (lock_fd >= 0)
		close(lock_fd);
	for (size_t i = 0; i < c.n_labels; i++)
		free(c.label_mem[i]);
	return ret;
}

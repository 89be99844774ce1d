// SPDX-License-Identifier: Apache-2.0
/*
 * main.c — sluice-agent: the command line (DESIGN.md §9), its checks, and the startup
 * order that keeps the datapath from ever running without policy:
 *
 *   1. options (the configuration file, then the flags) and environment checked (exit 2
 *      usage, 1 environment), state dir locked, metrics endpoint bound;
 *   2. dp__open: adopt what a previous agent pinned, or load and attach afresh;
 *   3. the last acknowledged policy from the state dir is applied before the controller
 *      is contacted — unless the datapath was adopted, in which case its pinned maps
 *      already hold that revision and it is not reloaded;
 *   4. capabilities the running agent does not use are dropped (privs.h);
 *   5. the session runs (and the admin socket and metrics endpoint answer) until SIGTERM or
 *      SIGINT; the service manager hears READY=1 when it starts (Type=notify); SIGHUP
 *      reloads the TLS files for the next connection without touching stream or datapath;
 *   6. dp__close, which leaves the programs attached: enforcement outlives the agent.
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
#include "agent_metrics.h"
#include "common/config_file.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/metrics_http.h"
#include "common/notify.h"
#include "common/options.h"
#include "common/rpc.h"
#include "datapath.h"
#include "manual.h"
#include "monitor.h"
#include "privs.h"
#include "session.h"
#include "state.h"

#define PROG "sluice-agent"
#define MAX_IFACES 64
#define MAX_LABELS 64
#define MAX_NODE_ID 253
#define DEFAULT_PIN_ROOT "/sys/fs/bpf/sluice"
#define DEFAULT_STATE_ROOT "/var/lib/sluice"
#define ADMIN_SOCKET_NAME "admin.sock"
#define DEFAULT_CONFIG "/etc/sluice/agent.yaml"

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
	OPT_LOG_FORMAT,
	OPT_CONFIG,
	OPT_MAN,
	OPT_RULE_CAPACITY,
	OPT_REWRITE_FIB,
	OPT_RELOAD_PROGRAMS,
};

/* One table drives getopt_long, --help and the configuration file's keys. */
static const struct option_def opt_defs[] = {
	{ "controller", OPT_CONTROLLER, "ADDR:PORT", "controller to connect to (required)", 0 },
	{ "node-id", OPT_NODE_ID, "NAME", "this node's name, [A-Za-z0-9._-] (required; with mTLS it must be the certificate CN)", 0 },
	{ "label", OPT_LABEL, "K=V", "a label the controller's selectors match; repeatable", OPTION_LIST | OPTION_MAP },
	{ "iface", OPT_IFACE, "IFNAME", "interface to inspect with XDP; repeatable, at least one", OPTION_LIST },
	{ "xdp-mode", OPT_XDP_MODE, "MODE", "native, generic or auto (default: auto, native where the driver can)", 0 },
	{ "pin-dir", OPT_PIN_DIR, "DIR", "bpffs directory for pinned programs, links and maps (default: " DEFAULT_PIN_ROOT "/NODE)", OPTION_PATH },
	{ "state-dir", OPT_STATE_DIR, "DIR", "where the last acknowledged policy is kept (default: " DEFAULT_STATE_ROOT "/NODE)", OPTION_PATH },
	{ "tls-cert", OPT_TLS_CERT, "FILE", "this agent's certificate (PEM)", OPTION_PATH },
	{ "tls-key", OPT_TLS_KEY, "FILE", "its private key (PEM)", OPTION_PATH },
	{ "tls-ca", OPT_TLS_CA, "FILE", "CA that signed the controller's certificate (PEM)", OPTION_PATH },
	{ "insecure", OPT_INSECURE, NULL, "plaintext, unauthenticated connection: local development only", 0 },
	{ "admin-socket", OPT_ADMIN_SOCKET, "PATH", "Unix socket answering \"status\" (default: STATE-DIR/" ADMIN_SOCKET_NAME ")", OPTION_PATH },
	{ "metrics", OPT_METRICS, "ADDR:PORT", "serve Prometheus metrics at http://ADDR:PORT/metrics", 0 },
	{ "log-level", OPT_LOG_LEVEL, "LEVEL", "error, warn, info or debug (default: info)", 0 },
	{ "log-format", OPT_LOG_FORMAT, "FORMAT", "text (default) or json: one JSON object per line with time, level, component, node, revision and message", 0 },
	{ "rule-capacity", OPT_RULE_CAPACITY, "N", "hold at most N rules (default and maximum: the datapath's build limit); a policy with more is refused", 0 },
	{ "reload-programs", OPT_RELOAD_PROGRAMS, NULL, "load this build's XDP programs even when the pinned ones are identical and swap them into the pinned links (what an upgrade does); the maps, and so policy, counters and conntrack, stay", 0 },
	{ "rewrite-fib", OPT_REWRITE_FIB, NULL, "forward routed (translated) packets from XDP with a FIB lookup and redirect where the kernel knows the route and neighbour, instead of through the stack; on veth, only when the egress peer runs XDP too", 0 },
	{ "config", OPT_CONFIG, "FILE", "settings file, one key per option (default: " DEFAULT_CONFIG " when it exists); flags override it", OPTION_CLI },
	{ "help", OPT_HELP, NULL, "show this help and exit", OPTION_CLI },
	{ "man", OPT_MAN, NULL, "print the sluice-agent(8) manual page (troff)", OPTION_CLI | OPTION_HIDDEN },
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
	const char *xdp_mode_arg;
	const char *log_level_arg;
	const char *log_format_arg;
	enum log_format log_format;
	uint32_t rule_capacity;      /* --rule-capacity; 0: the datapath's maximum */
	bool rewrite_fib;            /* --rewrite-fib */
	bool reload_programs;        /* --reload-programs */
	struct config_file *file;    /* the configuration file's values, NULL without one */
	bool labels_from_file;       /* the labels and interfaces so far came from the file: */
	bool ifaces_from_file;       /* a flag on the command line replaces them */
};

static atomic_bool stop_requested;
static atomic_bool reload_requested;

static void on_hangup(int sig)
{
	(void)sig;
	atomic_store(&reload_requested, true);
}

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
	options__help(stdout, opt_defs, N_OPTS);
	printf("\nGive either all three --tls-* flags or --insecure. The configuration file (YAML) has one\n"
	       "key per option, '_' for '-' (node_id: gw-1, iface: [eth0], label: {env: prod}).\n"
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

static int set_capacity(struct config *c, const char *arg)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno || end == arg || *end || v == 0 || v > UINT32_MAX) {
		pr_err("--rule-capacity: '%s' is not a number of rules (1 or more)", arg);
		return -EINVAL;
	}
	c->rule_capacity = (uint32_t)v;
	return 0;
}

static void clear_labels(struct config *c)
{
	for (size_t i = 0; i < c->n_labels; i++)
		free(c->label_mem[i]);
	c->n_labels = 0;
}

/*
 * Applies one setting, from a flag or from the configuration file (in_file). A label or
 * an interface given as a flag replaces those the file gave, rather than adding to them.
 * 0, or -errno after saying what is wrong.
 */
static int set_opt(void *ctx, int id, const char *val, bool in_file)
{
	struct config *c = ctx;

	switch (id) {
	case OPT_CONTROLLER: c->controller = val; return 0;
	case OPT_NODE_ID: c->node_id = val; return 0;
	case OPT_LABEL:
		if (!in_file && c->labels_from_file)
			clear_labels(c);
		c->labels_from_file = in_file;
		return add_label(c, val);
	case OPT_IFACE:
		if (!in_file && c->ifaces_from_file)
			c->n_ifaces = 0;
		c->ifaces_from_file = in_file;
		return add_iface(c, val);
	case OPT_XDP_MODE: c->xdp_mode_arg = val; return 0;
	case OPT_PIN_DIR: return set_path(c->pin_dir, sizeof(c->pin_dir), "pin-dir", val);
	case OPT_STATE_DIR: return set_path(c->state_dir, sizeof(c->state_dir), "state-dir", val);
	case OPT_TLS_CERT: c->tls.cert_file = val; return 0;
	case OPT_TLS_KEY: c->tls.key_file = val; return 0;
	case OPT_TLS_CA: c->tls.ca_file = val; return 0;
	case OPT_INSECURE: c->insecure = true; return 0;
	case OPT_ADMIN_SOCKET: return set_path(c->admin_socket, sizeof(c->admin_socket), "admin-socket", val);
	case OPT_METRICS: c->metrics = val; return 0;
	case OPT_LOG_LEVEL: c->log_level_arg = val; return 0;
	case OPT_LOG_FORMAT: c->log_format_arg = val; return 0;
	case OPT_RULE_CAPACITY: return set_capacity(c, val);
	case OPT_REWRITE_FIB: c->rewrite_fib = true; return 0;
	case OPT_RELOAD_PROGRAMS: c->reload_programs = true; return 0;
	default: return 0; /* --config: read before the flags */
	}
}

/* Reads the configuration file into c. 0, EXIT_USAGE (bad content) or EXIT_ENV (unreadable). */
static int load_file(struct config *c, const char *path, bool required)
{
	char err[1024];
	int ret;

	ret = config_file__load(path, required, &c->file, err, sizeof(err));
	if (ret) {
		pr_err("%s%s", err, required ? "" : " (fix it, or give another with --config FILE)");
		return ret == -EINVAL ? EXIT_USAGE : EXIT_ENV;
	}
	ret = options__apply_file(c->file, opt_defs, N_OPTS, set_opt, c);
	return ret == -ENOMEM ? EXIT_ENV : ret ? EXIT_USAGE : 0;
}

/*
 * Parses and checks the configuration file and argv against the table: the file first
 * (--config FILE, or DEFAULT_CONFIG when it exists), then the flags over it.
 * 0, EXIT_USAGE, EXIT_ENV, or -1 after --help.
 */
static int parse_args(int argc, char **argv, struct config *c)
{
	struct option longopts[N_OPTS + 1];
	const char *xdp_mode, *log_level, *config = DEFAULT_CONFIG;
	bool config_given = false;
	int opt, err = 0;

	options__longopts(opt_defs, N_OPTS, longopts);
	/* First pass: only --help and --config, so the file is read before the flags. */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (opt == OPT_HELP) {
			print_help();
			return -1;
		}
		if (opt == OPT_MAN) {
			options__man(stdout, &agent_manual, opt_defs, N_OPTS);
			return -1;
		}
		if (opt == OPT_CONFIG) {
			config = optarg;
			config_given = true;
		}
	}
	err = load_file(c, config, config_given);
	if (err)
		return err;

	optind = 0; /* glibc: start over */
	while (!err && (opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (opt) {
		case ':':
			pr_err("option '%s' needs a value (see --help)", argv[optind - 1]);
			return EXIT_USAGE;
		case '?':
			pr_err("unknown option '%s' (see --help)", argv[optind - 1]);
			return EXIT_USAGE;
		default:
			err = set_opt(c, opt, optarg, false);
		}
	}
	if (err)
		return EXIT_USAGE;
	if (optind < argc) {
		pr_err("unexpected argument '%s': every setting is an option (see --help)", argv[optind]);
		return EXIT_USAGE;
	}

	xdp_mode = c->xdp_mode_arg ? c->xdp_mode_arg : "auto";
	log_level = c->log_level_arg ? c->log_level_arg : "info";
	if (log__parse_level(log_level, &c->log_level)) {
		pr_err("--log-level '%s': use error, warn, info or debug", log_level);
		return EXIT_USAGE;
	}
	if (log__parse_format(c->log_format_arg ? c->log_format_arg : "text", &c->log_format)) {
		pr_err("--log-format '%s': use text or json", c->log_format_arg);
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

/* The datapath is up: keep only the capabilities a running agent uses (privs.h). Before
 * gRPC's threads and ours start, so they inherit the reduced sets. */
static void drop_privileges(void)
{
	char why[256], names[128];
	uint64_t kept;

	if (privs__drop(&kept, why, sizeof(why))) {
		pr_warn("privileges: %s; going on with the start-up capabilities", why);
		return;
	}
	privs__names(kept, names, sizeof(names));
	pr_info("privileges: kept %s; dropped every other capability", names[0] ? names : "none");
}

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
	sa.sa_handler = on_hangup;
	sa.sa_flags = 0;
	sigaction(SIGHUP, &sa, NULL);
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
	struct monitor *mon = NULL;
	struct metrics *metrics = NULL;
	struct metrics_http *mhttp = NULL;
	char hash[STATE_HASH_MAX], msg[512];
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
	log__set_format(c.log_format);
	if (log__set_context("node", c.node_id)) {
		pr_err("out of memory");
		ret = EXIT_FAILURE;
		goto cleanup;
	}
	install_signals();
	ret = check_environment(&c, &lock_fd);
	if (ret)
		goto cleanup;
	if (c.insecure)
		pr_warn("INSECURE: --insecure: the controller connection is plaintext and unauthenticated; anyone on the path can read or push policy. Use --tls-cert/--tls-key/--tls-ca outside local development");

	ret = EXIT_ENV;
	/* Bound before the datapath is touched, so a bad address changes nothing; it serves
	 * the agent's families once the session exists. */
	if (c.metrics) {
		metrics = metrics__new();
		mhttp = metrics ? metrics_http__start(metrics, c.metrics, msg, sizeof(msg)) : NULL;
		if (!mhttp) {
			pr_err("%s", metrics ? msg : "--metrics: out of memory");
			goto cleanup;
		}
	}
	memset(&dpo, 0, sizeof(dpo));
	dpo.pin_dir = c.pin_dir;
	dpo.ifaces = c.ifaces;
	dpo.n_ifaces = c.n_ifaces;
	dpo.mode = c.xdp_mode;
	dpo.rule_capacity = c.rule_capacity;
	dpo.rewrite_fib = c.rewrite_fib;
	dpo.reload_programs = c.reload_programs;
	dp = dp__open(&dpo);
	if (!dp)
		goto cleanup; /* dp__open said what is wrong */
	state__restore(c.state_dir, dp__adopted(dp), op_apply, dp, &rev, hash);
	mon = monitor__new(&(struct monitor_opts){ .dp = dp, .state_dir = c.state_dir });
	if (!mon) {
		pr_err("cannot set up the monitor: %s", strerror(errno));
		goto cleanup;
	}

	drop_privileges();
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
	so.reload_tls = &reload_requested;
	monitor__session_opts(mon, &so); /* applies go through the monitor's mitigations */
	session = session__new(&so);
	if (!session) {
		pr_err("cannot start the session: %s", strerror(errno));
		goto cleanup;
	}
	monitor__start(mon, session); /* without it only inspection in user space is missing */
	admin = admin__start(c.admin_socket, session);
	if (!admin)
		pr_warn("--admin-socket %s: %s; status is not served locally", c.admin_socket, strerror(errno));
	if (metrics) {
		err = agent_metrics__register(metrics, session);
		if (err) {
			pr_err("--metrics %s: %s", c.metrics, strerror(-err));
			goto cleanup;
		}
		pr_info("metrics at http://%s/metrics", c.metrics);
	}

	log__set_context_u64("revision", rev);
	pr_info("node %s enforcing on %zu interface%s, revision %llu live; connecting to %s", c.node_id,
		c.n_ifaces, c.n_ifaces == 1 ? "" : "s", (unsigned long long)rev, c.controller);
	/* Ready: the datapath enforces the last acknowledged policy, whatever the controller does. */
	snprintf(msg, sizeof(msg), "READY=1\nSTATUS=enforcing revision %llu; controller %s", (unsigned long long)rev,
		 c.controller);
	notify__send(msg);
	err = session__run(session, &stop_requested);
	notify__send("STOPPING=1");
	ret = err ? EXIT_ENV : 0;
	if (!err)
		pr_info("stopping; the XDP programs stay attached and keep enforcing the live policy");

cleanup:
	metrics_http__stop(mhttp); /* first: its collector reads the session */
	admin__stop(admin);
	monitor__free(mon); /* before the session: it applies mitigations through it */
	session__free(session);
	metrics__free(metrics);
	dp__close(dp);
	if (rpc_up)
		rpc__shutdown();
	if (lock_fd >= 0)
		close(lock_fd);
	clear_labels(&c);
	config_file__free(c.file);
	return ret;
}

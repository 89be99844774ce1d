/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cert.h — facts about the PEM certificates and keys sluice is given (--tls-cert,
 * --tls-key, --tls-ca), read with OpenSSL: validity, subject CN and O, whether a key
 * belongs to a certificate, and the one rule for when an expiry deserves a warning.
 * The daemons check their files with it at start and on reload (SIGHUP), before
 * gRPC ever sees them, so a bad file is refused with one clear line and the running
 * credentials stay.
 */
#ifndef SLUICE_CERT_H
#define SLUICE_CERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A certificate that expires within this many days is warned about (logs, describe agent). */
#define CERT_WARN_DAYS 7
#define CERT_WARN_SECONDS ((int64_t)CERT_WARN_DAYS * 24 * 3600)

struct cert_info {
	int64_t not_before; /* unix seconds */
	int64_t not_after;  /* unix seconds */
	char cn[256];       /* subject CN; "" when absent */
	char org[256];      /* subject O; "" when absent */
	bool is_ca;         /* basicConstraints CA:TRUE */
};

/*
 * Reads the first certificate of the PEM file at path into *out. 0, or -errno with one
 * line in err naming the file (-EINVAL: no PEM certificate in it).
 */
int cert__read(const char *path, struct cert_info *out, char *err, size_t errlen);

/*
 * Checks a certificate, its key and a CA file the way a daemon is about to use them:
 * each parses, the key is the certificate's, the CA file holds at least one certificate
 * and the certificate is valid now. Fills *info (may be NULL) with the certificate's
 * facts. 0, or -errno with one line in err (-EKEYREJECTED: key and certificate do not
 * match; -EKEYEXPIRED: expired or not yet valid).
 */
int cert__check_files(const char *cert_file, const char *key_file, const char *ca_file, struct cert_info *info,
		      char *err, size_t errlen);

/* Whole days from now to not_after, rounded down (negative once expired). */
int64_t cert__days_left(int64_t not_after, int64_t now);

/* True when not_after (0: unknown) is less than CERT_WARN_DAYS after now, or past. */
bool cert__expires_soon(int64_t not_after, int64_t now);

/*
 * Logs a warning when the certificate (what: "the controller's certificate '/etc/...'")
 * expires within CERT_WARN_DAYS of now, an error when it has expired. Returns true when
 * it logged.
 */
bool cert__warn_expiry(const char *what, int64_t not_after, int64_t now);

#endif

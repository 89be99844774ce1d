// SPDX-License-Identifier: Apache-2.0
/*
 * cert.c — see cert.h. Every file is opened once, parsed with OpenSSL, and closed; the
 * OpenSSL error queue is cleared before returning so a later TLS handshake never
 * reports our leftovers.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/cert.h"
#include "common/log.h"

/* An encrypted key must never make us prompt on a terminal: no passphrase, no key. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return 0;
}

static void ssl_reason(char *buf, size_t len)
{
	unsigned long e = ERR_peek_last_error();

	if (e)
		ERR_error_string_n(e, buf, len);
	else
		snprintf(buf, len, "no PEM data");
	ERR_clear_error();
}

static int asn1_unix(const ASN1_TIME *t, int64_t *out)
{
	struct tm tm;

	if (!t || !ASN1_TIME_to_tm(t, &tm))
		return -EINVAL;
	*out = (int64_t)timegm(&tm);
	return 0;
}

static void name_entry(X509_NAME *name, int nid, char *dst, size_t len)
{
	unsigned char *utf8 = NULL;
	int idx, n;

	dst[0] = '\0';
	idx = X509_NAME_get_index_by_NID(name, nid, -1);
	if (idx < 0)
		return;
	n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx)));
	if (n >= 0)
		snprintf(dst, len, "%.*s", n, (const char *)utf8);
	OPENSSL_free(utf8);
}

/* Opens path as a BIO; NULL with err filled. */
static BIO *open_file(const char *what, const char *path, char *err, size_t errlen, int *rc)
{
	BIO *bio = BIO_new_file(path, "r");

	if (!bio) {
		*rc = errno ? -errno : -EIO;
		snprintf(err, errlen, "%s '%s': %s", what, path, strerror(-*rc));
		ERR_clear_error();
	}
	return bio;
}

static int read_x509(const char *what, const char *path, X509 **out, char *err, size_t errlen)
{
	char why[256];
	BIO *bio;
	int rc = 0;

	*out = NULL;
	bio = open_file(what, path, err, errlen, &rc);
	if (!bio)
		return rc;
	*out = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL);
	if (!*out) {
		ssl_reason(why, sizeof(why));
		snprintf(err, errlen, "%s '%s' holds no PEM certificate (%s)", what, path, why);
		rc = -EINVAL;
	}
	BIO_free(bio);
	return rc;
}

static int fill_info(X509 *x, struct cert_info *out, const char *path, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (asn1_unix(X509_get0_notBefore(x), &out->not_before) || asn1_unix(X509_get0_notAfter(x), &out->not_after)) {
		snprintf(err, errlen, "certificate '%s': its validity dates cannot be read", path);
		ERR_clear_error();
		return -EINVAL;
	}
	name_entry(X509_get_subject_name(x), NID_commonName, out->cn, sizeof(out->cn));
	name_entry(X509_get_subject_name(x), NID_organizationName, out->org, sizeof(out->org));
	out->is_ca = X509_check_ca(x) > 0;
	ERR_clear_error();
	return 0;
}

int cert__read(const char *path, struct cert_info *out, char *err, size_t errlen)
{
	X509 *x = NULL;
	int rc;

	if (!path || !out)
		return -EINVAL;
	rc = read_x509("certificate", path, &x, err, errlen);
	if (!rc)
		rc = fill_info(x, out, path, err, errlen);
	X509_free(x);
	return rc;
}

/* The CA file must hold at least one certificate. 0 or -errno with err. */
static int check_ca(const char *path, char *err, size_t errlen)
{
	X509 *x = NULL;
	int rc;

	rc = read_x509("CA", path, &x, err, errlen);
	X509_free(x);
	return rc;
}

static int check_key(X509 *x, const char *cert_file, const char *key_file, char *err, size_t errlen)
{
	EVP_PKEY *pkey;
	char why[256];
	BIO *bio;
	int rc = 0;

	bio = open_file("key", key_file, err, errlen, &rc);
	if (!bio)
		return rc;
	pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	BIO_free(bio);
	if (!pkey) {
		ssl_reason(why, sizeof(why));
		snprintf(err, errlen, "key '%s' holds no unencrypted PEM private key (%s)", key_file, why);
		return -EINVAL;
	}
	if (X509_check_private_key(x, pkey) != 1) {
		snprintf(err, errlen, "key '%s' does not belong to certificate '%s'; give the key made with it", key_file,
			 cert_file);
		rc = -EKEYREJECTED;
	}
	EVP_PKEY_free(pkey);
	ERR_clear_error();
	return rc;
}

int cert__check_files(const char *cert_file, const char *key_file, const char *ca_file, struct cert_info *info,
		      char *err, size_t errlen)
{
	struct cert_info ci;
	int64_t now = (int64_t)time(NULL);
	char when[32];
	struct tm tm;
	X509 *x = NULL;
	time_t t;
	int rc;

	if (!cert_file || !key_file || !ca_file) {
		snprintf(err, errlen, "a certificate, its key and a CA file are all needed");
		return -EINVAL;
	}
	rc = read_x509("certificate", cert_file, &x, err, errlen);
	if (!rc)
		rc = fill_info(x, &ci, cert_file, err, errlen);
	if (!rc)
		rc = check_key(x, cert_file, key_file, err, errlen);
	if (!rc)
		rc = check_ca(ca_file, err, errlen);
	if (!rc && (now < ci.not_before || now >= ci.not_after)) {
		t = (time_t)(now < ci.not_before ? ci.not_before : ci.not_after);
		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		snprintf(err, errlen, "certificate '%s' (CN=%s) %s %s; issue a new one (deploy/pki.sh)", cert_file, ci.cn,
			 now < ci.not_before ? "is not valid before" : "expired at", when);
		rc = -EKEYEXPIRED;
	}
	if (!rc && info)
		*info = ci;
	X509_free(x);
	return rc;
}

int64_t cert__days_left(int64_t not_after, int64_t now)
{
	int64_t s = not_after - now;

	/* Round towards minus infinity: an hour past expiry is day -1, not day 0. */
	return s >= 0 ? s / 86400 : -((-s + 86399) / 86400);
}

bool cert__expires_soon(int64_t not_after, int64_t now)
{
	return not_after != 0 && not_after - now < CERT_WARN_SECONDS;
}

bool cert__warn_expiry(const char *what, int64_t not_after, int64_t now)
{
	char when[32];
	struct tm tm;
	time_t t = (time_t)not_after;

	if (!cert__expires_soon(not_after, now))
		return false;
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (not_after <= now)
		pr_err("%s expired at %s; connections that need it fail: issue a new one and reload (SIGHUP)", what,
		       when);
	else
		pr_warn("%s expires at %s, in %lld day%s (less than %d): issue a new one and reload (SIGHUP)", what, when,
			(long long)cert__days_left(not_after, now), cert__days_left(not_after, now) == 1 ? "" : "s",
			CERT_WARN_DAYS);
	return true;
}

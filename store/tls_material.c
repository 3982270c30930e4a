#include "store/tls_material.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "store/crypto.h"

static BIO *pem_bio(const char *pem)
{
    return BIO_new_mem_buf(pem, (int)strlen(pem));
}

/* Certificates in a PEM text, 0 when none parses or anything else is there. */
static int count_certs(const char *pem)
{
    BIO *b = pem_bio(pem);
    int n = 0;
    X509 *x;
    while (b && (x = PEM_read_bio_X509(b, NULL, NULL, NULL))) {
        X509_free(x);
        n++;
    }
    BIO_free(b);
    ERR_clear_error(); /* the read past the last certificate */
    return n;
}

int tls_material_check(const char *ca, const char *cert, const char *key, const char **field, char *why,
                       size_t len)
{
    const char *names[3] = {"tls_ca", "tls_client_cert", "tls_client_key"}, *vals[3] = {ca, cert, key};
    for (int i = 0; i < 3; i++)
        if (vals[i] && strlen(vals[i]) > TLS_PEM_MAX) {
            *field = names[i];
            snprintf(why, len, "%s is over %d bytes", names[i], TLS_PEM_MAX);
            return -1;
        }
    if (ca && ca[0] && count_certs(ca) == 0) {
        *field = "tls_ca";
        snprintf(why, len, "tls_ca holds no PEM certificate");
        return -1;
    }
    int have_cert = cert && cert[0], have_key = key && key[0];
    if (have_cert != have_key) {
        *field = have_cert ? "tls_client_key" : "tls_client_cert";
        snprintf(why, len, "tls_client_cert and tls_client_key go together");
        return -1;
    }
    if (!have_cert)
        return 0;
    BIO *cb = pem_bio(cert), *kb = pem_bio(key);
    X509 *x = cb ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
    EVP_PKEY *k = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
    int rc = -1;
    if (!x) {
        *field = "tls_client_cert";
        snprintf(why, len, "tls_client_cert is not a PEM certificate");
    } else if (!k) {
        *field = "tls_client_key";
        snprintf(why, len, "tls_client_key is not a PEM private key (RSA, EC or Ed25519, unencrypted)");
    } else if (X509_check_private_key(x, k) != 1) {
        *field = "tls_client_key";
        snprintf(why, len, "tls_client_key does not match tls_client_cert");
    } else {
        rc = 0;
    }
    X509_free(x);
    EVP_PKEY_free(k);
    BIO_free(cb);
    BIO_free(kb);
    ERR_clear_error();
    return rc;
}

static void hex(const unsigned char *d, unsigned n, char *out)
{
    static const char h[] = "0123456789abcdef";
    for (unsigned i = 0; i < n; i++)
        out[2 * i] = h[d[i] >> 4], out[2 * i + 1] = h[d[i] & 15];
    out[2 * n] = '\0';
}

int tls_cert_describe(const char *pem, char *subject, size_t slen, char not_after[32], char sha256[65],
                      int *expired)
{
    BIO *b = pem_bio(pem);
    X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    int rc = -1;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    struct tm tm;
    if (x && X509_digest(x, EVP_sha256(), md, &n) == 1 && ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1) {
        X509_NAME_oneline(X509_get_subject_name(x), subject, (int)slen);
        strftime(not_after, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
        hex(md, n, sha256);
        *expired = X509_cmp_current_time(X509_get0_notAfter(x)) < 0;
        rc = 0;
    }
    X509_free(x);
    BIO_free(b);
    ERR_clear_error();
    return rc;
}

int tls_ca_describe(const char *pem, int *count, char sha256[65])
{
    *count = count_certs(pem);
    return sha256_hex(pem, strlen(pem), sha256);
}

/*
 * The one place Coffer touches OpenSSL 3 libcrypto.
 *
 * Swift imports most of libcrypto directly. What it cannot call safely lives
 * here as small static inline helpers:
 *   - anything built from OSSL_PARAM: the parameter-name macros import into
 *     Swift as String, and an OSSL_PARAM built from a Swift String keeps a
 *     dangling pointer to a temporary C string. Here the names are C string
 *     literals with static lifetime.
 *   - variadic or macro-only API (EVP_PKEY_Q_keygen, EVP_CIPHER_CTX_ctrl
 *     constants used from Swift are plain ints and import fine).
 */
#ifndef COFFER_OPENSSL_SHIM_H
#define COFFER_OPENSSL_SHIM_H

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <openssl/opensslv.h>
#include <string.h>

/* GCM control codes, re-exported as constants Swift can see as Int32. */
static const int COFFER_EVP_CTRL_GCM_SET_IVLEN = EVP_CTRL_GCM_SET_IVLEN;
static const int COFFER_EVP_CTRL_GCM_GET_TAG = EVP_CTRL_GCM_GET_TAG;
static const int COFFER_EVP_CTRL_GCM_SET_TAG = EVP_CTRL_GCM_SET_TAG;

/* HKDF-SHA256 (RFC 5869). mode: EVP_KDF_HKDF_MODE_EXTRACT_AND_EXPAND (0),
 * _EXTRACT_ONLY (1: out is the PRK, 32 bytes) or _EXPAND_ONLY (2: ikm is the PRK).
 * Returns 1 on success. */
static const int COFFER_HKDF_EXTRACT_AND_EXPAND = EVP_KDF_HKDF_MODE_EXTRACT_AND_EXPAND;
static const int COFFER_HKDF_EXTRACT_ONLY = EVP_KDF_HKDF_MODE_EXTRACT_ONLY;
static const int COFFER_HKDF_EXPAND_ONLY = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
static inline int coffer_hkdf_sha256(int mode, const unsigned char *ikm, size_t ikm_len,
                                     const unsigned char *salt, size_t salt_len,
                                     const unsigned char *info, size_t info_len,
                                     unsigned char *out, size_t out_len) {
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    if (kdf == NULL) return 0;
    EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(kdf);
    EVP_KDF_free(kdf);
    if (ctx == NULL) return 0;
    /* OpenSSL rejects a NULL pointer for empty octet strings; point at a byte. */
    static const unsigned char empty = 0;
    OSSL_PARAM params[6];
    int i = 0;
    params[i++] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
    params[i++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
    params[i++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
                                                    (void *)(ikm_len ? ikm : &empty), ikm_len);
    if (salt_len > 0)
        params[i++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len);
    params[i++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
                                                    (void *)(info_len ? info : &empty), info_len);
    params[i] = OSSL_PARAM_construct_end();
    int ok = EVP_KDF_derive(ctx, out, out_len, params);
    EVP_KDF_CTX_free(ctx);
    return ok == 1;
}

/* A reusable HMAC-SHA256 context keyed once; NULL on failure. */
static inline EVP_MAC_CTX *coffer_hmac_sha256_new(const unsigned char *key, size_t key_len) {
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (mac == NULL) return NULL;
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac);
    if (ctx == NULL) return NULL;
    static const unsigned char empty = 0;
    OSSL_PARAM params[2];
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    if (EVP_MAC_init(ctx, key_len ? key : &empty, key_len, params) != 1) {
        EVP_MAC_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

/* One MAC over data with a context from coffer_hmac_sha256_new; out holds 32 bytes. */
static inline int coffer_hmac_sha256_run(EVP_MAC_CTX *ctx, const unsigned char *data, size_t len,
                                         unsigned char *out) {
    /* Re-initialising with a NULL key keeps the key set at creation. */
    if (EVP_MAC_init(ctx, NULL, 0, NULL) != 1) return 0;
    if (len > 0 && EVP_MAC_update(ctx, data, len) != 1) return 0;
    size_t out_len = 0;
    if (EVP_MAC_final(ctx, out, &out_len, 32) != 1) return 0;
    return out_len == 32;
}

/* The 32-byte public key of a 32-byte raw private key of `type` (EVP_PKEY_ED25519, EVP_PKEY_X25519). */
static inline int coffer_raw_public_key(int type, const unsigned char *private_key, unsigned char *public_key) {
    EVP_PKEY *pkey = EVP_PKEY_new_raw_private_key(type, NULL, private_key, 32);
    if (pkey == NULL) return 0;
    size_t len = 32;
    int ok = EVP_PKEY_get_raw_public_key(pkey, public_key, &len);
    EVP_PKEY_free(pkey);
    return ok == 1 && len == 32;
}

/* Ed25519 key pair from a 32-byte seed: writes the 32-byte public key. */
static inline int coffer_ed25519_public_from_seed(const unsigned char *seed, unsigned char *public_key) {
    return coffer_raw_public_key(EVP_PKEY_ED25519, seed, public_key);
}

/* Ed25519 signature (RFC 8032, pure): writes 64 bytes. */
static inline int coffer_ed25519_sign(const unsigned char *seed, const unsigned char *msg, size_t msg_len,
                                      unsigned char *signature) {
    EVP_PKEY *pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
    if (pkey == NULL) return 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = 0;
    if (md != NULL && EVP_DigestSignInit(md, NULL, NULL, NULL, pkey) == 1) {
        size_t sig_len = 64;
        static const unsigned char empty = 0;
        ok = EVP_DigestSign(md, signature, &sig_len, msg_len ? msg : &empty, msg_len) == 1 && sig_len == 64;
    }
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(pkey);
    return ok;
}

/* Ed25519 verification: 1 valid, 0 invalid or error. */
static inline int coffer_ed25519_verify(const unsigned char *public_key, const unsigned char *msg, size_t msg_len,
                                        const unsigned char *signature) {
    EVP_PKEY *pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, public_key, 32);
    if (pkey == NULL) return 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = 0;
    if (md != NULL && EVP_DigestVerifyInit(md, NULL, NULL, NULL, pkey) == 1) {
        static const unsigned char empty = 0;
        ok = EVP_DigestVerify(md, signature, 64, msg_len ? msg : &empty, msg_len) == 1;
    }
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(pkey);
    return ok;
}

/* X25519 (RFC 7748): the 32-byte public key of a 32-byte private key. */
static inline int coffer_x25519_public(const unsigned char *private_key, unsigned char *public_key) {
    return coffer_raw_public_key(EVP_PKEY_X25519, private_key, public_key);
}

/* X25519 shared secret of a private and a peer's public key: writes 32 bytes.
 * Fails (0) when the result is all zeros (a low-order public key, RFC 7748 §6.1). */
static inline int coffer_x25519_derive(const unsigned char *private_key, const unsigned char *peer_public,
                                       unsigned char *shared) {
    EVP_PKEY *own = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, private_key, 32);
    EVP_PKEY *peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, peer_public, 32);
    EVP_PKEY_CTX *ctx = own ? EVP_PKEY_CTX_new(own, NULL) : NULL;
    int ok = 0;
    size_t len = 32;
    if (ctx && peer && EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_derive_set_peer(ctx, peer) == 1
        && EVP_PKEY_derive(ctx, shared, &len) == 1 && len == 32) {
        ok = 1;
    }
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(peer);
    EVP_PKEY_free(own);
    return ok;
}

/* The newest OpenSSL error as text, for messages; buf must hold len bytes. */
static inline void coffer_last_error(char *buf, size_t len) {
    unsigned long code = ERR_get_error();
    if (code == 0) {
        strncpy(buf, "no OpenSSL error recorded", len);
        buf[len - 1] = 0;
    } else {
        ERR_error_string_n(code, buf, len);
    }
    ERR_clear_error();
}

#endif

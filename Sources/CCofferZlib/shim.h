/* zlib, for the collector's gzip request bodies (RudderStack's SDKs gzip every batch). */
#ifndef COFFER_ZLIB_SHIM_H
#define COFFER_ZLIB_SHIM_H
#include <zlib.h>

/* inflateInit2 is a macro; gzip framing is windowBits 15 + 16. */
static inline int coffer_inflate_init_gzip(z_stream *stream) {
    return inflateInit2(stream, 15 + 16);
}
#endif

/*
 * kv_shim.h — a small plain-C surface over libvips for Karyon.
 *
 * libvips' public API is variadic (optional arguments as NULL-terminated name/value pairs), which
 * Swift cannot call. These wrappers take fixed arguments, keep glib and vips types out of this
 * header, and report errors into a caller-supplied buffer. Only KaryonImaging/IO includes this.
 */
#ifndef KV_SHIM_H
#define KV_SHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Loaders Karyon allows; the file's magic bytes choose one, never its extension. */
typedef enum {
    KV_LOADER_PNG = 1,
    KV_LOADER_JPEG = 2,
    KV_LOADER_TIFF = 3,
} kv_loader;

/** Sample types of decoded pixels. */
typedef enum {
    KV_SAMPLE_UINT8 = 1,
    KV_SAMPLE_UINT16 = 2,
    KV_SAMPLE_FLOAT32 = 3,
    KV_SAMPLE_OTHER = 99,
} kv_sample;

typedef struct {
    int width;
    int height;
    int bands;
    int sample;        /* kv_sample */
    int bits;          /* bits per sample as stored by vips: 8, 16, 32, 64 */
    int pages;         /* pages in the file (TIFF), 1 otherwise */
    int is_cmyk;       /* 1 when the decoded bands are CMYK(A) */
    double xres_ppmm;  /* horizontal resolution in pixels per millimetre, 0 when unknown */
    double yres_ppmm;
} kv_header;

/** Opaque handle to a lazily opened image. */
typedef struct kv_image kv_image;

/**
 * Initialises libvips once per process (idempotent, thread-safe) and applies the untrusted-input
 * policy: every loader and saver is blocked except PNG, JPEG and TIFF; operations libvips marks as
 * untrusted are blocked; the operation cache is disabled. Returns 0 on success.
 */
int kv_init(char *err, size_t errlen);

/**
 * Sets how many threads libvips uses to compute one image (vips_concurrency_set); 0 restores its
 * default (the number of cores). Initialises libvips first. Returns 0 on success.
 */
int kv_set_threads(int threads, char *err, size_t errlen);

/**
 * Opens `path` (a file) or `buf`/`len` (memory, not copied: libvips reads it lazily, so it must
 * stay valid and unchanged until `kv_close`) with the given
 * loader, for sequential access (pixels are computed as `kv_decode` asks for them, top to bottom,
 * with no intermediate copy of the whole image). Only the header is read. `page` selects a TIFF page (0-based). `fail_on_error` makes
 * decoding stop on any error or truncation instead of filling with grey.
 */
int kv_open_file(const char *path, int loader, int page, kv_image **out, char *err, size_t errlen);
int kv_open_buffer(const void *buf, size_t len, int loader, int page, kv_image **out,
                   char *err, size_t errlen);

/** Fills `hdr` from the opened image's header. No pixel is decoded. */
void kv_get_header(const kv_image *image, kv_header *hdr);

/**
 * Decodes all pixels into `dst` (interleaved, row-major, `dstlen` bytes exactly
 * width·height·bands·bytes-per-sample). CMYK is converted to sRGB first when `convert_cmyk` is 1
 * (then the caller sizes dst for 3 bands, or 4 with alpha). `in_caller` 1 decodes strip by strip
 * in the calling thread, 0 through libvips' thread pool, -1 chooses: the calling thread when
 * libvips is set to one thread. Either way an image is read once, top to bottom. Returns 0 on
 * success.
 */
int kv_decode(kv_image *image, int convert_cmyk, int in_caller, void *dst, size_t dstlen, char *err, size_t errlen);

void kv_close(kv_image *image);

/** Encoders. */
typedef enum {
    KV_SAVE_PNG = 1,
    KV_SAVE_TIFF = 2,
} kv_saver;

/**
 * Encodes interleaved pixels (`sample` UINT8, UINT16 or FLOAT32 (TIFF only); 1–4 bands) into a
 * newly allocated buffer returned in `out`/`outlen`; free it with kv_free. `compression`: for PNG
 * 0–9, for TIFF 0 = none, 1 = deflate, 2 = LZW. `pixels_per_mm` > 0 records the resolution (PNG pHYs,
 * TIFF resolution tags); 0 leaves it unset.
 */
int kv_encode(const void *pixels, int width, int height, int bands, int sample, int saver,
              int compression, double pixels_per_mm, void **out, size_t *outlen, char *err, size_t errlen);

/**
 * Resizes interleaved pixels with libvips' resize (Lanczos3 for shrinking and bicubic for
 * enlarging), writing into `dst` of dst_width × dst_height × bands.
 */
int kv_resize(const void *pixels, int width, int height, int bands, int sample,
              void *dst, int dst_width, int dst_height, char *err, size_t errlen);

void kv_free(void *p);

/** libvips version string, e.g. "8.14.1". */
const char *kv_version(void);

/**
 * 1 when the processor runs x86-64-v3 code (AVX2, FMA, BMI1/2), which Karyon's pixel loops are
 * compiled for on x86-64; always 1 on other architectures. Compiled without those instructions,
 * so it is safe to call first.
 */
int kv_cpu_has_x86_64_v3(void);

#ifdef __cplusplus
}
#endif

#endif

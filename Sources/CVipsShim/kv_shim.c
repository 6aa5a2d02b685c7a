/*
 * kv_shim.c — plain-C wrappers around libvips for Karyon. See kv_shim.h.
 *
 * Untrusted-input policy (libvips "Security" guide, https://www.libvips.org/API/current/Using-vipsthumbnail.html
 * and vips_block_untrusted_set): loaders are called by name after sniffing magic bytes in Swift, all
 * other loaders are blocked, operations marked untrusted are blocked, and decoding uses
 * fail_on = VIPS_FAIL_ON_ERROR so truncated or corrupt data fails instead of being grey-filled.
 */
#include "kv_shim.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <vips/vips.h>

struct kv_image {
    VipsImage *image; /* a memory load reads the caller's bytes lazily, until kv_close */
};

static pthread_once_t kv_once = PTHREAD_ONCE_INIT;
static int kv_init_status = -1;
static char kv_init_error[512];

static void kv_take_error(char *err, size_t errlen, const char *context) {
    if (err == NULL || errlen == 0) {
        vips_error_clear();
        return;
    }
    const char *message = vips_error_buffer();
    size_t n = strlen(message);
    /* Drop the trailing newline libvips appends, and keep only the first line. */
    const char *nl = strchr(message, '\n');
    if (nl != NULL) n = (size_t)(nl - message);
    if (n == 0) {
        snprintf(err, errlen, "%s", context);
    } else {
        snprintf(err, errlen, "%s: %.*s", context, (int)n, message);
    }
    vips_error_clear();
}

/* libvips also logs warnings (e.g. "error in tile 0 x 8") through GLib; the same failures reach
 * callers as error messages, so the log lines are dropped rather than printed on stderr. */
static void kv_quiet_log(const gchar *domain, GLogLevelFlags level, const gchar *message, gpointer data) {
    (void)domain; (void)level; (void)message; (void)data;
}

static void kv_do_init(void) {
    if (VIPS_INIT("karyon") != 0) {
        const char *message = vips_error_buffer();
        snprintf(kv_init_error, sizeof kv_init_error, "libvips failed to start: %s", message);
        vips_error_clear();
        kv_init_status = -1;
        return;
    }
    g_log_set_handler("VIPS", G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO, kv_quiet_log, NULL);
    /* Never serve a decoded image from the cache: every call decodes what it was given. */
    vips_cache_set_max(0);
    vips_cache_set_max_mem(0);
    vips_block_untrusted_set(TRUE);
    vips_operation_block_set("VipsForeignLoad", TRUE);
    vips_operation_block_set("VipsForeignLoadPng", FALSE);
    vips_operation_block_set("VipsForeignLoadJpeg", FALSE);
    vips_operation_block_set("VipsForeignLoadTiff", FALSE);
    kv_init_status = 0;
}

int kv_init(char *err, size_t errlen) {
    pthread_once(&kv_once, kv_do_init);
    if (kv_init_status != 0 && err != NULL && errlen > 0) {
        snprintf(err, errlen, "%s", kv_init_error);
    }
    return kv_init_status;
}

int kv_set_threads(int threads, char *err, size_t errlen) {
    if (kv_init(err, errlen) != 0) return -1;
    vips_concurrency_set(threads);
    return 0;
}

const char *kv_version(void) {
    return vips_version_string();
}

static int kv_finish_open(VipsImage *image, kv_image **out, char *err, size_t errlen, const char *context) {
    if (image == NULL) {
        kv_take_error(err, errlen, context);
        return -1;
    }
    kv_image *handle = g_malloc0(sizeof *handle);
    handle->image = image;
    *out = handle;
    return 0;
}

int kv_open_file(const char *path, int loader, int page, kv_image **out, char *err, size_t errlen) {
    if (kv_init(err, errlen) != 0) return -1;
    VipsImage *image = NULL;
    int rc = -1;
    switch (loader) {
    case KV_LOADER_PNG:
        rc = vips_pngload(path, &image, "fail_on", VIPS_FAIL_ON_ERROR,
                          "access", VIPS_ACCESS_SEQUENTIAL, NULL);
        break;
    case KV_LOADER_JPEG:
        rc = vips_jpegload(path, &image, "fail_on", VIPS_FAIL_ON_ERROR,
                           "access", VIPS_ACCESS_SEQUENTIAL, NULL);
        break;
    case KV_LOADER_TIFF:
        rc = vips_tiffload(path, &image, "fail_on", VIPS_FAIL_ON_ERROR,
                           "access", VIPS_ACCESS_SEQUENTIAL, "page", page, NULL);
        break;
    default:
        snprintf(err, errlen, "unsupported loader %d", loader);
        return -1;
    }
    if (rc != 0) image = NULL;
    return kv_finish_open(image, out, err, errlen, "cannot read the image header");
}

int kv_open_buffer(const void *buf, size_t len, int loader, int page, kv_image **out,
                   char *err, size_t errlen) {
    if (kv_init(err, errlen) != 0) return -1;
    VipsImage *image = NULL;
    int rc = -1;
    switch (loader) {
    case KV_LOADER_PNG:
        rc = vips_pngload_buffer((void *)buf, len, &image, "fail_on", VIPS_FAIL_ON_ERROR,
                                 "access", VIPS_ACCESS_SEQUENTIAL, NULL);
        break;
    case KV_LOADER_JPEG:
        rc = vips_jpegload_buffer((void *)buf, len, &image, "fail_on", VIPS_FAIL_ON_ERROR,
                                  "access", VIPS_ACCESS_SEQUENTIAL, NULL);
        break;
    case KV_LOADER_TIFF:
        rc = vips_tiffload_buffer((void *)buf, len, &image, "fail_on", VIPS_FAIL_ON_ERROR,
                                  "access", VIPS_ACCESS_SEQUENTIAL, "page", page, NULL);
        break;
    default:
        snprintf(err, errlen, "unsupported loader %d", loader);
        return -1;
    }
    if (rc != 0) image = NULL;
    return kv_finish_open(image, out, err, errlen, "cannot read the image header");
}

static int kv_sample_of(VipsBandFormat format) {
    switch (format) {
    case VIPS_FORMAT_UCHAR: return KV_SAMPLE_UINT8;
    case VIPS_FORMAT_USHORT: return KV_SAMPLE_UINT16;
    case VIPS_FORMAT_FLOAT: return KV_SAMPLE_FLOAT32;
    default: return KV_SAMPLE_OTHER;
    }
}

void kv_get_header(const kv_image *handle, kv_header *hdr) {
    VipsImage *image = handle->image;
    memset(hdr, 0, sizeof *hdr);
    hdr->width = vips_image_get_width(image);
    hdr->height = vips_image_get_height(image);
    hdr->bands = vips_image_get_bands(image);
    VipsBandFormat format = vips_image_get_format(image);
    hdr->sample = kv_sample_of(format);
    hdr->bits = (int)(vips_format_sizeof(format) * 8);
    hdr->pages = vips_image_get_n_pages(image);
    hdr->is_cmyk = vips_image_get_interpretation(image) == VIPS_INTERPRETATION_CMYK;
    hdr->xres_ppmm = vips_image_get_xres(image);
    hdr->yres_ppmm = vips_image_get_yres(image);
}

/* Computes `image`'s pixels strip by strip in the calling thread, straight into `dst`.
 *
 * With one libvips thread, `vips_image_write_to_memory` would still run a thread pool (a worker
 * thread that hands every strip back to the caller through semaphores: a few hundred thread
 * switches per 512² PNG) and decode into a buffer of its own that is then copied. A region
 * prepared in the caller needs neither: the loader's generate function runs here, top to bottom,
 * as sequential loaders want. */
static int kv_copy_pixels(VipsImage *image, void *dst, size_t dstlen, char *err, size_t errlen) {
    size_t line = VIPS_IMAGE_SIZEOF_LINE(image);
    size_t size = line * (size_t)image->Ysize;
    if (size != dstlen) {
        snprintf(err, errlen, "the image has %zu bytes of pixels where %zu were expected", size, dstlen);
        return -1;
    }
    VipsRegion *region = vips_region_new(image);
    if (region == NULL) {
        kv_take_error(err, errlen, "the image data is truncated or corrupt");
        return -1;
    }
    const int strip = 64;
    for (int top = 0; top < image->Ysize; top += strip) {
        VipsRect rect = { 0, top, image->Xsize, VIPS_MIN(strip, image->Ysize - top) };
        if (vips_region_prepare(region, &rect) != 0) {
            g_object_unref(region);
            kv_take_error(err, errlen, "the image data is truncated or corrupt");
            return -1;
        }
        for (int y = rect.top; y < rect.top + rect.height; y++) {
            memcpy((char *)dst + (size_t)y * line, VIPS_REGION_ADDR(region, 0, y), line);
        }
    }
    g_object_unref(region);
    return 0;
}

int kv_decode(kv_image *handle, int convert_cmyk, int in_caller, void *dst, size_t dstlen, char *err, size_t errlen) {
    VipsImage *image = handle->image;
    VipsImage *converted = NULL;
    if (convert_cmyk && vips_image_get_interpretation(image) == VIPS_INTERPRETATION_CMYK) {
        if (vips_colourspace(image, &converted, VIPS_INTERPRETATION_sRGB, NULL) != 0) {
            kv_take_error(err, errlen, "cannot convert CMYK to RGB");
            return -1;
        }
        VipsImage *cast = NULL;
        if (vips_cast(converted, &cast, VIPS_FORMAT_UCHAR, NULL) != 0) {
            g_object_unref(converted);
            kv_take_error(err, errlen, "cannot convert CMYK to RGB");
            return -1;
        }
        g_object_unref(converted);
        converted = cast;
        image = converted;
    }
    int rc;
    if (in_caller == 1 || (in_caller < 0 && vips_concurrency_get() <= 1)) {
        rc = kv_copy_pixels(image, dst, dstlen, err, errlen);
    } else {
        /* Several threads: libvips' pool can compute independent tiles (a tiled TIFF) at once. */
        size_t size = 0;
        void *pixels = vips_image_write_to_memory(image, &size);
        if (pixels == NULL) {
            kv_take_error(err, errlen, "the image data is truncated or corrupt");
            rc = -1;
        } else if (size != dstlen) {
            snprintf(err, errlen, "decoded %zu bytes where %zu were expected", size, dstlen);
            rc = -1;
        } else {
            memcpy(dst, pixels, size);
            rc = 0;
        }
        g_free(pixels);
    }
    if (converted != NULL) g_object_unref(converted);
    return rc;
}

void kv_close(kv_image *handle) {
    if (handle == NULL) return;
    if (handle->image != NULL) g_object_unref(handle->image);
    g_free(handle);
}

static VipsImage *kv_wrap(const void *pixels, int width, int height, int bands, int sample,
                          char *err, size_t errlen) {
    VipsBandFormat format;
    size_t bytes;
    switch (sample) {
    case KV_SAMPLE_UINT8: format = VIPS_FORMAT_UCHAR; bytes = 1; break;
    case KV_SAMPLE_UINT16: format = VIPS_FORMAT_USHORT; bytes = 2; break;
    case KV_SAMPLE_FLOAT32: format = VIPS_FORMAT_FLOAT; bytes = 4; break;
    default:
        snprintf(err, errlen, "unsupported sample type %d", sample);
        return NULL;
    }
    size_t size = (size_t)width * (size_t)height * (size_t)bands * bytes;
    VipsImage *image = vips_image_new_from_memory(pixels, size, width, height, bands, format);
    if (image == NULL) {
        kv_take_error(err, errlen, "cannot wrap pixels");
        return NULL;
    }
    VipsInterpretation interpretation;
    if (bands >= 3) {
        interpretation = format == VIPS_FORMAT_USHORT ? VIPS_INTERPRETATION_RGB16 : VIPS_INTERPRETATION_sRGB;
    } else {
        interpretation = format == VIPS_FORMAT_USHORT ? VIPS_INTERPRETATION_GREY16 : VIPS_INTERPRETATION_B_W;
    }
    VipsImage *tagged = NULL;
    int rc = vips_copy(image, &tagged, "interpretation", interpretation, NULL);
    g_object_unref(image);
    if (rc != 0) {
        kv_take_error(err, errlen, "cannot wrap pixels");
        return NULL;
    }
    return tagged;
}

int kv_encode(const void *pixels, int width, int height, int bands, int sample, int saver,
              int compression, double pixels_per_mm, void **out, size_t *outlen, char *err, size_t errlen) {
    if (kv_init(err, errlen) != 0) return -1;
    VipsImage *image = kv_wrap(pixels, width, height, bands, sample, err, errlen);
    if (image == NULL) return -1;
    if (pixels_per_mm > 0) {
        VipsImage *resolved = NULL;
        int rc = vips_copy(image, &resolved, "xres", pixels_per_mm, "yres", pixels_per_mm, NULL);
        g_object_unref(image);
        if (rc != 0) {
            kv_take_error(err, errlen, "cannot set the resolution");
            return -1;
        }
        image = resolved;
    }
    int rc;
    void *buffer = NULL;
    size_t length = 0;
    if (saver == KV_SAVE_PNG) {
        int bitdepth = sample == KV_SAMPLE_UINT16 ? 16 : 8;
        rc = vips_pngsave_buffer(image, &buffer, &length, "compression", compression,
                                 "bitdepth", bitdepth, NULL);
    } else if (saver == KV_SAVE_TIFF) {
        VipsForeignTiffCompression c = VIPS_FOREIGN_TIFF_COMPRESSION_NONE;
        if (compression == 1) c = VIPS_FOREIGN_TIFF_COMPRESSION_DEFLATE;
        if (compression == 2) c = VIPS_FOREIGN_TIFF_COMPRESSION_LZW;
        rc = vips_tiffsave_buffer(image, &buffer, &length, "compression", c, NULL);
    } else {
        g_object_unref(image);
        snprintf(err, errlen, "unsupported saver %d", saver);
        return -1;
    }
    g_object_unref(image);
    if (rc != 0) {
        kv_take_error(err, errlen, "cannot encode the image");
        return -1;
    }
    *out = buffer;
    *outlen = length;
    return 0;
}

int kv_resize(const void *pixels, int width, int height, int bands, int sample,
              void *dst, int dst_width, int dst_height, char *err, size_t errlen) {
    if (kv_init(err, errlen) != 0) return -1;
    VipsImage *image = kv_wrap(pixels, width, height, bands, sample, err, errlen);
    if (image == NULL) return -1;
    VipsImage *resized = NULL;
    double hscale = (double)dst_width / (double)width;
    double vscale = (double)dst_height / (double)height;
    int rc = vips_resize(image, &resized, hscale, "vscale", vscale, NULL);
    g_object_unref(image);
    if (rc != 0) {
        kv_take_error(err, errlen, "cannot resize the image");
        return -1;
    }
    /* vips_resize rounds the output size; crop or extend by copying edges to the exact size. */
    VipsImage *exact = NULL;
    if (vips_image_get_width(resized) != dst_width || vips_image_get_height(resized) != dst_height) {
        rc = vips_embed(resized, &exact, 0, 0, dst_width, dst_height, "extend", VIPS_EXTEND_COPY, NULL);
        g_object_unref(resized);
        if (rc != 0) {
            kv_take_error(err, errlen, "cannot resize the image");
            return -1;
        }
    } else {
        exact = resized;
    }
    size_t size = 0;
    void *out = vips_image_write_to_memory(exact, &size);
    g_object_unref(exact);
    if (out == NULL) {
        kv_take_error(err, errlen, "cannot resize the image");
        return -1;
    }
    size_t expected = (size_t)dst_width * (size_t)dst_height * (size_t)bands *
                      (sample == KV_SAMPLE_UINT8 ? 1 : sample == KV_SAMPLE_UINT16 ? 2 : 4);
    if (size != expected) {
        g_free(out);
        snprintf(err, errlen, "resize produced %zu bytes where %zu were expected", size, expected);
        return -1;
    }
    memcpy(dst, out, size);
    g_free(out);
    return 0;
}

void kv_free(void *p) {
    g_free(p);
}

int kv_cpu_has_x86_64_v3(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi")
        && __builtin_cpu_supports("bmi2");
#else
    return 1;
#endif
}

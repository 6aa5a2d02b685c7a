#!/usr/bin/env python3
"""An external Karyon worker: grey-level co-occurrence (GLCM) texture with scikit-image.

It speaks the protocol of docs/external-workers.md with nothing but the standard library for HTTP
(urllib) and numpy/scikit-image for the work:

1. registers the extractor ``skimage-glcm`` (POST /api/v1/extractors) with its parameter schema
   and the four output columns it reports;
2. long-polls for jobs (POST /api/v1/worker/claim, 204 = nothing yet);
3. downloads the image with the claim's attempt token, checks its SHA-256 and decodes it;
4. computes graycomatrix/graycoprops contrast, homogeneity, energy and correlation at one
   distance, averaged over the angles 0, 45, 90 and 135 degrees, heartbeating while it works;
5. completes the job with the features (or fails it, retryable or not);
6. on SIGTERM or SIGINT finishes the job in hand, then exits.

The grey image is prepared as Karyon's built-in ``glcm`` extractor prepares it, so the numbers
agree with it: RGB(A) -> img_as_ubyte(rgb2gray(rgb)) (BT.709, then rint(255 g)); 8-bit grey as is;
16-bit grey v -> v * levels // 65536; 8-bit values v -> v * levels // 256 when levels < 256.

Usage:
    KARYON_TOKEN=kyn_... python worker.py --url http://127.0.0.1:8080 [--max-jobs N | --once]

The token is read from $KARYON_TOKEN or --token-file, never from the command line (where other
users of the machine could read it).

References:
    R. M. Haralick, K. Shanmugam, I. Dinstein, Textural features for image classification,
    IEEE Trans. SMC 3(6):610-621 (1973), doi:10.1109/TSMC.1973.4309314.
    S. van der Walt et al., scikit-image: image processing in Python, PeerJ 2:e453 (2014),
    doi:10.7717/peerj.453.
"""

import argparse
import hashlib
import io
import json
import math
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request

import numpy as np

EXTRACTOR = {
    "id": "skimage-glcm",
    "version": "1.0.0",
    "summary": "GLCM texture (scikit-image graycomatrix/graycoprops): contrast, homogeneity, energy, correlation; mean over 0/45/90/135 degrees",
    "references": [
        "R. M. Haralick, K. Shanmugam, I. Dinstein, Textural features for image classification, IEEE Trans. SMC 3(6):610-621 (1973), doi:10.1109/TSMC.1973.4309314",
        "S. van der Walt et al., scikit-image: image processing in Python, PeerJ 2:e453 (2014), doi:10.7717/peerj.453",
    ],
    "parameters": [
        {"key": "distance", "type": "integer", "default": 1, "minimum": 1, "maximum": 64, "unit": "px",
         "help": "pixel-pair distance"},
        {"key": "levels", "type": "integer", "default": 256, "minimum": 2, "maximum": 256,
         "help": "grey levels of the matrix (8-bit values v become v*levels//256)"},
        {"key": "symmetric", "type": "boolean", "default": True, "help": "count each pair in both orders"},
    ],
    "columns": ["contrast", "homogeneity", "energy", "correlation"],
}
ANGLES = [0.0, math.pi / 4, math.pi / 2, 3 * math.pi / 4]


class APIError(Exception):
    """A non-success answer: HTTP status, error code and message from the error body."""

    def __init__(self, status, code, message):
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


class Client:
    """Calls the Karyon API with a bearer token (urllib only)."""

    def __init__(self, url, token, timeout=60):
        self.base = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def request(self, method, path, body=None, headers=None, raw=False, timeout=None):
        """Returns (status, parsed JSON or bytes or None); raises APIError for 4xx/5xx."""
        data = None
        all_headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        if body is not None:
            data = json.dumps(body, allow_nan=False).encode()
            all_headers["Content-Type"] = "application/json"
        all_headers.update(headers or {})
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=all_headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout or self.timeout) as resp:
                payload = resp.read()
                if resp.status == 204 or not payload:
                    return resp.status, None
                return resp.status, payload if raw else json.loads(payload)
        except urllib.error.HTTPError as e:
            payload = e.read()
            try:
                error = json.loads(payload)["error"]
                raise APIError(e.code, error.get("code", "error"), error.get("message", "")) from None
            except (ValueError, KeyError, TypeError):
                raise APIError(e.code, "error", payload[:200].decode("utf-8", "replace")) from None


def grey_levels(image, levels):
    """Integer grey levels < levels, prepared as Karyon's glcm extractor prepares them."""
    from skimage.color import rgb2gray
    from skimage.util import img_as_ubyte

    if image.ndim == 3 and image.shape[2] in (3, 4):
        grey = img_as_ubyte(rgb2gray(image[..., :3]))
        top = 256
    elif image.ndim == 3 and image.shape[2] in (1, 2):
        grey, top = image[..., 0], (65536 if image.dtype == np.uint16 else 256)
    elif image.ndim == 2:
        grey, top = image, (65536 if image.dtype == np.uint16 else 256)
    else:
        raise ValueError(f"unsupported image shape {image.shape}")
    if grey.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"unsupported sample type {grey.dtype}; this worker reads 8- and 16-bit images")
    if levels < top:
        grey = (grey.astype(np.int64) * levels) // top
    elif int(grey.max(initial=0)) >= levels:
        raise ValueError(f"the image has grey level {int(grey.max())} but levels is {levels}")
    return grey.astype(np.uint8)  # levels <= 256 (the declared maximum)


def glcm_features(image, parameters):
    """Mean over the four angles of graycoprops' contrast, homogeneity, energy and correlation."""
    from skimage.feature import graycomatrix, graycoprops

    levels = int(parameters["levels"])
    grey = grey_levels(image, levels)
    if grey.shape[0] < 2 and grey.shape[1] < 2:
        raise ValueError("the image needs at least two pixels in a row or column")
    matrix = graycomatrix(grey, distances=[int(parameters["distance"])], angles=ANGLES, levels=levels,
                          symmetric=bool(parameters["symmetric"]), normed=False)
    features = {}
    for name in EXTRACTOR["columns"]:
        value = float(np.mean(graycoprops(matrix, name)[0]))
        features[name] = value if math.isfinite(value) else None  # not computable: null, never NaN
    return features


class Heartbeat(threading.Thread):
    """Renews the lease every lease/3 seconds while a job runs; notes when it was lost."""

    def __init__(self, client, job):
        super().__init__(daemon=True)
        self.client, self.job = client, job
        self.stopped = threading.Event()
        self.lost = False

    def run(self):
        interval = max(1.0, self.job["lease_seconds"] / 3)
        while not self.stopped.wait(interval):
            try:
                self.client.request("POST", f"/api/v1/worker/jobs/{self.job['id']}/heartbeat",
                                    {"attempt_token": self.job["attempt_token"]})
            except APIError as e:
                if e.code == "lease_lost":
                    self.lost = True
                    return
                log(f"heartbeat failed: {e}")
            except OSError as e:
                log(f"heartbeat failed: {e}")

    def stop(self):
        self.stopped.set()


def log(message):
    print(f"[skimage-glcm worker] {message}", file=sys.stderr, flush=True)


class Worker:
    def __init__(self, client, wait_seconds):
        self.client = client
        self.wait_seconds = wait_seconds
        self.stopping = False

    def request_stop(self, signum, _frame):
        log(f"signal {signum}: finishing the current job, then exiting")
        self.stopping = True

    def register(self):
        status, body = self.client.request("POST", "/api/v1/extractors", EXTRACTOR)
        log(f"registered {body['id']} {body['version']} ({'new' if status == 201 else 'already registered'})")

    def claim(self):
        """One long poll: a job, or None when none arrived within the wait."""
        _, body = self.client.request("POST", "/api/v1/worker/claim",
                                      {"extractors": [EXTRACTOR["id"]], "wait_seconds": self.wait_seconds},
                                      timeout=self.wait_seconds + 30)
        return body["job"] if body else None

    def report_failure(self, job, message, retryable):
        try:
            _, body = self.client.request("POST", f"/api/v1/worker/jobs/{job['id']}/fail",
                                          {"attempt_token": job["attempt_token"], "error": message[:2000],
                                           "retryable": retryable})
            log(f"job {job['id']} failed ({message}); it is now {body['state']}")
        except APIError as e:
            log(f"job {job['id']}: could not report the failure ({e}); the lease will expire")

    def process(self, job):
        """Runs one claimed job to completion or failure. Returns True when its result was stored."""
        log(f"job {job['id']} (attempt {job['attempt']}/{job['max_attempts']}) on image {job['image_id']}")
        if job["version"] != EXTRACTOR["version"]:
            self.report_failure(job, f"this worker runs {EXTRACTOR['id']} {EXTRACTOR['version']}, the job asks for {job['version']}",
                                retryable=False)
            return False
        heartbeat = Heartbeat(self.client, job)
        heartbeat.start()
        try:
            _, data = self.client.request("GET", job["image_url"], headers={"X-Attempt-Token": job["attempt_token"]},
                                          raw=True)
            digest = hashlib.sha256(data).hexdigest()
            if job.get("image_sha256") and digest != job["image_sha256"]:
                self.report_failure(job, f"downloaded image has SHA-256 {digest}, expected {job['image_sha256']}", retryable=True)
                return False
            import imageio.v3 as iio

            try:
                image = iio.imread(io.BytesIO(data))
                features = glcm_features(np.asarray(image), job["parameters"])
            except (ValueError, OSError) as e:  # the input will not change: retrying cannot help
                self.report_failure(job, f"cannot analyse the image: {e}", retryable=False)
                return False
        except APIError as e:
            if e.code == "lease_lost":
                log(f"job {job['id']}: lease lost while downloading; dropping it")
                return False
            self.report_failure(job, f"download failed: {e}", retryable=True)
            return False
        except Exception as e:  # a defect here: report it, let the queue retry and dead-letter
            self.report_failure(job, f"{type(e).__name__}: {e}", retryable=True)
            return False
        finally:
            heartbeat.stop()
        if heartbeat.lost:
            log(f"job {job['id']}: lease lost while computing; the result is dropped (another attempt owns the job)")
            return False
        try:
            _, body = self.client.request("POST", f"/api/v1/worker/jobs/{job['id']}/complete",
                                          {"attempt_token": job["attempt_token"], "features": features})
            log(f"job {job['id']}: {body['outcome']} {features}")
            return True
        except APIError as e:
            log(f"job {job['id']}: completion refused ({e})")
            return False

    def run(self, max_jobs=None, once=False):
        handled = 0
        backoff = 1.0
        while not self.stopping and (max_jobs is None or handled < max_jobs):
            try:
                job = self.claim()
                backoff = 1.0
            except APIError as e:
                if e.status in (401, 403, 404, 422):
                    log(f"cannot claim: {e}")
                    return 2
                log(f"claim failed: {e}; retrying in {backoff:.0f} s")
                time.sleep(backoff)
                backoff = min(backoff * 2, 60)
                continue
            except OSError as e:  # server unreachable
                log(f"claim failed: {e}; retrying in {backoff:.0f} s")
                time.sleep(backoff)
                backoff = min(backoff * 2, 60)
                continue
            if job is not None:
                self.process(job)
                handled += 1
            if once:
                break
        log(f"exiting after {handled} job(s)")
        return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("KARYON_URL", "http://127.0.0.1:8080"),
                        help="Karyon base URL (default $KARYON_URL or http://127.0.0.1:8080)")
    parser.add_argument("--token-file", help="file holding the personal API token (default: $KARYON_TOKEN)")
    parser.add_argument("--wait", type=int, default=20, choices=range(0, 31), metavar="0-30",
                        help="seconds each claim waits for a job (default 20)")
    parser.add_argument("--max-jobs", type=int, help="exit after this many jobs")
    parser.add_argument("--once", action="store_true", help="claim once (one long poll), handle that job if any, exit")
    parser.add_argument("--no-register", action="store_true", help="skip registration (the extractor is registered already)")
    args = parser.parse_args(argv)
    if args.token_file:
        with open(args.token_file, encoding="utf-8") as f:
            token = f.read().strip()
    else:
        token = os.environ.get("KARYON_TOKEN", "").strip()
    if not token:
        parser.error("set KARYON_TOKEN or pass --token-file (a personal API token, kyn_...)")
    if args.max_jobs is not None and args.max_jobs < 1:
        parser.error("--max-jobs must be at least 1")

    worker = Worker(Client(args.url, token), args.wait)
    signal.signal(signal.SIGTERM, worker.request_stop)
    signal.signal(signal.SIGINT, worker.request_stop)
    # A parent may start us with these signals blocked (the mask is inherited across exec):
    # unblock them, or a stop request would wait forever.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    try:
        if not args.no_register:
            worker.register()
    except (APIError, OSError) as e:
        log(f"registration failed: {e}")
        return 2
    return worker.run(max_jobs=args.max_jobs, once=args.once)


if __name__ == "__main__":
    sys.exit(main())

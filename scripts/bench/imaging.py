#!/usr/bin/env python3
"""Imaging benchmark: colour deconvolution, Gaussian blur and rgb2gray on a 2048² RGB field,
Karyon vs scikit-image, same pixels, same run. Prints median seconds and speed-up ratios."""
import argparse
import json
import os
import subprocess
import sys
import time

import mahotas
import numpy as np
import skimage
from skimage import color, filters, io
from skimage.feature import graycomatrix, graycoprops, local_binary_pattern

GLCM_PROPS = ["contrast", "dissimilarity", "homogeneity", "ASM", "energy", "correlation", "mean", "variance", "std", "entropy"]


def median_time(fn, repeats):
    fn()  # warm-up
    samples = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return sorted(samples)[len(samples) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--karyon-bench", required=True)
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--sigma", type=float, default=2.0)
    args = ap.parse_args()

    out = subprocess.run(
        [args.karyon_bench, "--size", str(args.size), "--repeats", str(args.repeats), "--sigma", str(args.sigma),
         "--out", ".build-bench"],
        check=True, capture_output=True, text=True)
    karyon = json.loads(out.stdout)
    rgb = io.imread(karyon["image"])
    assert rgb.shape == (args.size, args.size, 3) and rgb.dtype == np.uint8

    # Reference side. QuPath-convention deconvolution has no scikit-image function; its numpy
    # formulation (reference-facts.md) is timed as the reference for that row.
    h = np.array([0.65111, 0.70119, 0.29049]); d = np.array([0.26917, 0.56824, 0.77759])
    r = np.cross(h / np.linalg.norm(h), d / np.linalg.norm(d)); r /= np.linalg.norm(r)
    inv = np.linalg.inv(np.stack([h / np.linalg.norm(h), d / np.linalg.norm(d), r]))
    def qupath():
        od = np.maximum(0, -np.log10(np.maximum(rgb.astype(np.float64), 1) / 255.0))
        return od @ inv
    reference = {
        "deconvolution_skimage_hed": median_time(lambda: color.rgb2hed(rgb), args.repeats),
        "deconvolution_qupath_hdab": median_time(qupath, args.repeats),
        "gaussian": median_time(lambda: filters.gaussian(rgb, sigma=args.sigma, channel_axis=-1), args.repeats),
        "rgb2gray": median_time(lambda: color.rgb2gray(rgb), args.repeats),
    }
    labels = {
        "deconvolution_skimage_hed": ("colour deconvolution, H-E-DAB (skimage convention)", "skimage.color.rgb2hed"),
        "deconvolution_qupath_hdab": ("colour deconvolution, H-DAB (QuPath OD)", "numpy formula"),
        "gaussian": (f"Gaussian blur σ={args.sigma:g}, 3 channels", "skimage.filters.gaussian"),
        "rgb2gray": ("RGB → gray", "skimage.color.rgb2gray"),
    }
    print(f"\nImaging on a {args.size}×{args.size} RGB 8-bit field ({karyon['cores']} cores), median of {args.repeats} runs")
    print(f"reference: scikit-image {skimage.__version__}, numpy {np.__version__}\n")
    print(f"{'operation':52} {'reference':24} {'ref s':>8} {'karyon s':>9} {'speed-up':>9}")
    for key in labels:
        ref, ours = reference[key], karyon["seconds"][key]
        print(f"{labels[key][0]:52} {labels[key][1]:24} {ref:8.4f} {ours:9.4f} {ref / ours:8.1f}×")
    print()

    print("Texture: glcm, all ten properties, angles 0/45/90/135, d = 1, 256 levels, 8-bit gray")
    print(f"reference: graycomatrix + graycoprops (scikit-image {skimage.__version__})\n")
    print(f"{'image':14} {'ref s':>8} {'karyon s':>9} {'speed-up':>9}")
    angles = [0, np.pi / 4, np.pi / 2, 3 * np.pi / 4]
    for side, path in sorted(karyon["texture_images"].items(), key=lambda kv: int(kv[0])):
        gray = io.imread(path)
        def reference_glcm():
            P = graycomatrix(gray, [1], angles, levels=256, symmetric=True)
            return [graycoprops(P, p) for p in GLCM_PROPS]
        ref = median_time(reference_glcm, args.repeats)
        ours = karyon["seconds"][f"glcm_{side}"]
        print(f"{side + '²':14} {ref:8.4f} {ours:9.4f} {ref / ours:8.1f}×")
    print()

    print("Texture: haralick, 13 features, 4 directions + mean and range, d = 1, 256 levels, 8-bit gray")
    print(f"reference: mahotas {mahotas.__version__} features.haralick(return_mean_ptp=True, use_x_minus_y_variance=True)\n")
    print(f"{'image':14} {'ref s':>8} {'karyon s':>9} {'speed-up':>9}")
    for side, path in sorted(karyon["texture_images"].items(), key=lambda kv: int(kv[0])):
        gray = io.imread(path)
        ref = median_time(lambda: mahotas.features.haralick(gray, return_mean_ptp=True, use_x_minus_y_variance=True),
                          args.repeats)
        ours = karyon["seconds"][f"haralick_{side}"]
        print(f"{side + '²':14} {ref:8.4f} {ours:9.4f} {ref / ours:8.1f}×")
    print()

    print("Texture: lbp, method uniform, normalised histogram of the codes, 8-bit gray")
    print(f"reference: local_binary_pattern + np.histogram (scikit-image {skimage.__version__})\n")
    print(f"{'image':14} {'P, R':8} {'ref s':>8} {'karyon s':>9} {'speed-up':>9}")
    for side, path in sorted(karyon["texture_images"].items(), key=lambda kv: int(kv[0])):
        gray = io.imread(path)
        for points, radius in ((8, 1), (16, 2)):
            def reference_lbp():
                codes = local_binary_pattern(gray, points, radius, "uniform")
                return np.histogram(codes, bins=points + 2, range=(0, points + 2))[0] / codes.size
            ref = median_time(reference_lbp, args.repeats)
            ours = karyon["seconds"][f"lbp_p{points}_r{radius}_{side}"]
            print(f"{side + '²':14} {f'{points}, {radius}':8} {ref:8.4f} {ours:9.4f} {ref / ours:8.1f}×")
    print()


if __name__ == "__main__":
    sys.exit(main())

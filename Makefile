# Karyon — the two commands: `make up` runs the platform, `make test` runs the tests.
SWIFT ?= swift
DATA_DIR ?= karyon-data

.PHONY: up test bench bootstrap build release fixtures clean

bootstrap:
	@scripts/bootstrap

## Build in release mode and run the platform on the embedded default (SQLite and encrypted
## blobs under ./karyon-data, http://127.0.0.1:8080). Prints the URL and how to sign in.
up: bootstrap release
	KARYON_DATA_DIR=$(DATA_DIR) .build/release/karyon up

## Run the whole test suite (Swift Testing). The reference Python environment (.build-py/, made
## by scripts/pyenv) runs the example external worker end to end.
test: bootstrap
	@scripts/pyenv >/dev/null
	$(SWIFT) test

## Benchmarks: Karyon and the scikit-image reference side by side in one run, with ratios; the API
## under wrk; the pipeline's load test against the physical limit measured in the same run.
bench: bootstrap
	scripts/bench/run

build: bootstrap
	$(SWIFT) build

release: bootstrap
	$(SWIFT) build -c release --product karyon

## Regenerate the golden fixtures with the pinned scikit-image (see Tests/Fixtures/MANIFEST).
fixtures:
	$$(scripts/pyenv) scripts/fixtures/make_imaging_fixtures.py
	$$(scripts/pyenv) scripts/fixtures/make_texture_fixtures.py
	$$(scripts/pyenv) scripts/fixtures/make_color_fixtures.py
	$$(scripts/pyenv) scripts/fixtures/make_segmentation_fixtures.py
	$$(scripts/pyenv) scripts/fixtures/make_normalization_fixtures.py

clean:
	rm -rf .build

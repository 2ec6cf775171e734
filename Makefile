# The two commands of README.md. Both install what a fresh machine lacks first.

.PHONY: run test setup setup-s3 setup-python

setup:
	bash .ci/setup

## The S3-compatible server the S3 tests start (moto, from PyPI).
setup-s3:
	bash .ci/setup-s3

## What the Python client's tests need (grpcio, pyarrow, pandas, pytest, ...),
## pinned, in a virtual environment of their own.
setup-python:
	bash .ci/setup-python

## Start the server on the embedded defaults (./freshet-data, 127.0.0.1:50051) with the
## example applied and purchase events flowing; prints a `freshet get` to try.
run: setup
	bash examples/ecommerce/run.sh

## Run every test: the Rust workspace's, then the Python client's.
test: setup setup-s3 setup-python
	cargo test --workspace --all-targets
	cargo test --workspace --doc
	bash clients/python/test.sh

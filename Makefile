# The two commands of README.md. Both install what a fresh machine lacks first.

.PHONY: run test setup setup-s3

setup:
	bash .ci/setup

## The S3-compatible server the S3 tests start (moto, from PyPI).
setup-s3:
	bash .ci/setup-s3

## Start the server on the embedded defaults (./freshet-data, 127.0.0.1:50051) with the
## example applied and purchase events flowing; prints a `freshet get` to try.
run: setup
	bash examples/ecommerce/run.sh

## Run every test of the workspace.
test: setup setup-s3
	cargo test --workspace --all-targets
	cargo test --workspace --doc

# The two commands of README.md. Both install what a fresh machine lacks first.

.PHONY: run test setup

setup:
	bash .ci/setup

## Start the server on the embedded defaults (./freshet-data, 127.0.0.1:50051) with the
## example applied and purchase events flowing; prints a `freshet get` to try.
run: setup
	bash examples/ecommerce/run.sh

## Run every test of the workspace.
test: setup
	cargo test --workspace --all-targets
	cargo test --workspace --doc

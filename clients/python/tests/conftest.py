"""Fixtures: the real ``freshet`` binary, started on free loopback ports in a
data directory of the test's own, and a client of it.

The binary is ``$FRESHET_BIN``, or ``debug/freshet`` under ``$CARGO_TARGET_DIR``
(default: the repository's ``target``); ``make test`` builds it first.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import freshet

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "ecommerce" / "definitions.yaml"


def freshet_binary() -> Path:
    """The freshet binary the tests run."""
    if os.environ.get("FRESHET_BIN"):
        return Path(os.environ["FRESHET_BIN"])
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return target / "debug" / "freshet"


class Server:
    """A running ``freshet serve``; ``address`` is where it listens."""

    def __init__(self, data_dir: Path, apply: Path | None = None) -> None:
        binary = freshet_binary()
        if not binary.exists():
            raise RuntimeError(f"{binary} is missing: build it with cargo build --bin freshet")
        args = [
            str(binary), "serve", "--data-dir", str(data_dir),
            "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0",
        ]
        if apply is not None:
            args += ["--apply", str(apply)]
        self.log = (data_dir.parent / f"{data_dir.name}-server.log").open("w")
        self.process = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=self.log, text=True,
            env={**os.environ, "RUST_LOG": "warn"},
        )
        assert self.process.stdout is not None
        # The server prints where it listens once it accepts calls.
        for line in self.process.stdout:
            if line.startswith("freshet listening on "):
                self.address = line.split()[-1]
                # Anything printed later is read, so the pipe never fills.
                threading.Thread(target=self.process.stdout.read, daemon=True).start()
                return
        self.process.wait()
        self.log.flush()
        raise RuntimeError(
            f"freshet serve exited ({self.process.returncode}) before listening; "
            f"see {self.log.name}"
        )

    def stop(self) -> None:
        """Stops the server and waits for it."""
        self.process.terminate()
        self.process.wait(timeout=60)
        self.log.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """A server of the test's own with the e-commerce example applied."""
    running = Server(tmp_path / "data", EXAMPLE)
    yield running
    running.stop()


@pytest.fixture
def client(server: Server) -> Iterator[freshet.Client]:
    """A client of ``server``."""
    with freshet.Client(server.address) as connected:
        yield connected


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server with the e-commerce example for a module whose tests only read."""
    running = Server(tmp_path_factory.mktemp("shared") / "data", EXAMPLE)
    yield running
    running.stop()

import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from commandcenter.accounts.tests.commandline import SCRIPT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [SCRIPT, "serve", "--port", str(port), "--no-worker", "--no-catcher"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def get_when_up(url: str, process: subprocess.Popen[str], within: float = 30) -> int:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (http only)
                return response.status
        except OSError:  # refused while the web server starts, or a slow first answer
            time.sleep(0.2)
    pytest.fail(f"{url} never answered")


def test_it_serves_the_api_under_the_web_server_and_stops_on_sigterm():
    port = free_port()
    process = serve(port)
    try:
        status = get_when_up(f"http://127.0.0.1:{port}/api/v1/openapi.json", process)
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()

    assert status == 200
    assert process.returncode == 0
    assert f"Command Center on http://127.0.0.1:{port}/" in output
    assert "Mail goes to the mail catcher" in output or "Mail goes out through" in output
    assert "Stopped." in output
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=5)


def test_it_exits_non_zero_when_a_child_dies():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        process = serve(taken.getsockname()[1])
        try:
            output, _ = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()

    assert process.returncode == 1
    assert "web stopped unexpectedly" in output

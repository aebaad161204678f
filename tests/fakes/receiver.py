"""A webhook receiver on 127.0.0.1 for the post kind: records every POST (path, headers,
body) and answers ``fail_first`` of them with 503 before accepting."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver(ThreadingHTTPServer):
    """Every request it accepted or refused, in arrival order."""

    def __init__(self, fail_first: int = 0) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fail_first = fail_first
        self.received: list[tuple[str, dict[str, str], bytes, int]] = []
        self.lock = threading.Lock()
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        """Its base URL."""
        return f"http://127.0.0.1:{self.server_address[1]}"

    def accepted(self) -> list[tuple[str, dict[str, str], bytes]]:
        """(path, headers, body) of the requests answered 2xx."""
        with self.lock:
            return [(p, h, b) for p, h, b, status in self.received if status < 300]

    def close(self) -> None:
        """Stop serving and release the port."""
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as webhook receivers are

    def do_POST(self) -> None:  # http.server calls it by this name
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        server: Receiver = self.server  # type: ignore[assignment]
        with server.lock:
            status = 503 if server.fail_first > 0 else 200
            server.fail_first -= 1
            server.received.append((self.path, dict(self.headers.items()), body, status))
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass

"""An Alertmanager-style webhook receiver on loopback, for tests: records payloads, or misbehaves.

`mode="ok"` answers 200 and keeps each payload (after failing the first `failures` posts with 503);
`"hang"` accepts the connection, reads the request and
never answers; `"trickle"` answers one header byte at a time, slower than any per-read timeout would
notice. Stopped with `close()` (every hanging handler is released).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class AlertReceiver:
    def __init__(self, mode: str = "ok", trickle_pause: float = 0.5, *, failures: int = 0) -> None:
        self.mode = mode
        self.failures = failures
        self.payloads: list[dict[str, Any]] = []
        self.attempts = 0
        self._release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.attempts += 1
                if receiver.mode == "hang":
                    receiver._release.wait(60)
                    return
                if receiver.mode == "trickle":
                    for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n":
                        if receiver._release.wait(trickle_pause):
                            return
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                    return
                if receiver.attempts <= receiver.failures:
                    self.send_response(503)
                    self.end_headers()
                    return
                receiver.payloads.append(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def alerts(self) -> list[tuple[str, str, str]]:
        """(alertname, status, endsAt) of every alert received, in order."""
        return [
            (a["labels"]["alertname"], a["status"], a["endsAt"]) for p in self.payloads for a in p["alerts"]
        ]

    def names(self) -> list[str]:
        """The alertname of every alert received, in order."""
        return [alert["labels"]["alertname"] for payload in self.payloads for alert in payload["alerts"]]

    def __enter__(self) -> AlertReceiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()

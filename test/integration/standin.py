"""A small HTTP stand-in for faults a real MLflow server cannot produce on demand.

Used only in addition to the tests against real MLflow servers: stalled
connections, truncated and oversized bodies, invalid JSON, 5xx answers, a
server without the /model-versions/get-artifact route, artifact locations with
"." and ".." segments, and Bearer tokens (MLflow's basic-auth app has no tokens).  Each path prefix picks a behaviour;
the rest of the path is the MLflow route the extension asked for.
"""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

MAX_STALL_SECONDS = 20


class StandIn:
    def __init__(self, model_dir: Path, token: str | None = None):
        self.model_dir = Path(model_dir)
        self.token = token
        self.stop = threading.Event()
        self.requests: list[tuple[str, str | None]] = []
        handler = type("Handler", (_Handler,), {"standin": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, behaviour: str) -> str:
        return f"http://127.0.0.1:{self.port}/{behaviour}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()


class _Handler(BaseHTTPRequestHandler):
    standin: StandIn
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # keep pytest output clean
        pass

    def _send(self, status: int, body: bytes, content_type="application/json", length=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def _stall(self):
        deadline = time.monotonic() + MAX_STALL_SECONDS
        while not self.standin.stop.is_set() and time.monotonic() < deadline:
            time.sleep(0.05)

    def do_GET(self):
        url = urlparse(self.path)
        behaviour, _, route = url.path.lstrip("/").partition("/")
        route = "/" + route
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.standin.requests.append((self.path, self.headers.get("Authorization")))

        if behaviour == "stall":
            self._stall()
            self.close_connection = True
        elif behaviour == "stall_body":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "100")
            self.end_headers()
            self.wfile.write(b'{"model_version": ')
            self.wfile.flush()
            self._stall()
            self.close_connection = True
        elif behaviour == "truncated":
            self._send(200, b'{"model_version": {"ver', length=1000)
            self.close_connection = True
        elif behaviour == "oversized":
            self._send_chunked(b"x" * (2 * 1024 * 1024))
        elif behaviour == "oversized_announced":
            self._send(200, b"y" * (2 * 1024 * 1024))
        elif behaviour == "redirect_file":  # a redirect to another protocol must not be followed
            self.send_response(302)
            self.send_header("Location", "file:///etc/passwd")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif behaviour == "redirect_https":  # nor from http to another scheme
            self.send_response(302)
            self.send_header("Location", f"https://127.0.0.1:{self.standin.port}/mlflow{route}")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif behaviour == "redirect_same":  # a redirect within http is followed
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.1:{self.standin.port}/mlflow{route}?{url.query}")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif behaviour == "not_json":
            self._send(200, b"<html>this is not MLflow</html>", "text/html")
        elif behaviour == "error500":
            self._send(500, b"Internal Server Error: database is locked", "text/plain")
        elif behaviour.startswith("mlflow"):
            self._mlflow(behaviour, route, query)
        else:
            self._send(404, b"unknown behaviour", "text/plain")

    def _send_chunked(self, body: bytes):
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        step = 64 * 1024
        try:
            for i in range(0, len(body), step):
                chunk = body[i : i + step]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True

    def _mlflow(self, behaviour: str, route: str, query: dict):
        """Just enough of MLflow's API to serve one READY version of a model directory."""
        if behaviour == "mlflow_token":
            expected = f"Bearer {self.standin.token}"
            if self.headers.get("Authorization") != expected:
                self._send(401, b"You are not authenticated.", "text/plain")
                return
        if route == "/api/2.0/mlflow/model-versions/get":
            version = {
                "name": query.get("name"),
                "version": query.get("version"),
                "status": "READY",
                "run_id": "0123456789abcdef0123456789abcdef",
                "source": "mlflow-artifacts:/0/0123456789abcdef0123456789abcdef/artifacts/model",
            }
            self._send(200, json.dumps({"model_version": version}).encode())
        elif route == "/model-versions/get-artifact" and behaviour not in (
                "mlflow_no_route", "mlflow_elsewhere", "mlflow_dotdot", "mlflow_dotdot_http"):
            self._file(query.get("path", ""))
        elif route == "/api/2.0/mlflow/model-versions/get-download-uri":
            if behaviour == "mlflow_elsewhere":  # another origin, as an object store would be
                location = f"http://localhost:{self.standin.port}/mlflow_elsewhere/files"
            elif behaviour == "mlflow_dotdot":  # a location that leaves its run's artifacts
                location = "mlflow-artifacts:/0/run/artifacts/model/../../../other/artifacts/model"
            elif behaviour == "mlflow_dotdot_http":
                location = f"http://127.0.0.1:{self.standin.port}/mlflow_dotdot_http/files/%2E%2E/secret"
            else:
                location = "mlflow-artifacts:/0/run/artifacts/model"
            self._send(200, json.dumps({"artifact_uri": location}).encode())
        elif route == "/api/2.0/mlflow/runs/get" and behaviour == "mlflow_dotdot":
            info = {"run_id": query.get("run_id"),
                    "artifact_uri": "mlflow-artifacts:/0/abc/artifacts/./../../secret"}
            self._send(200, json.dumps({"run": {"info": info}}).encode())
        elif route.startswith("/api/2.0/mlflow-artifacts/artifacts/0/run/artifacts/model/"):
            self._file(route.rsplit("/", 1)[1])
        elif route.startswith("/files/") and behaviour == "mlflow_elsewhere":
            self._file(route.rsplit("/", 1)[1])
        else:
            self._send(404, b"<html>Not Found</html>", "text/html")

    def _file(self, name: str):
        """A model file; the mlflow_big/_cut/_stall behaviours break model.json."""
        behaviour = self.path.lstrip("/").split("/", 1)[0]
        if name == "model.json" and behaviour == "mlflow_big":
            self._send_chunked(b" " * (2 * 1024 * 1024))
            return
        if name == "model.json" and behaviour == "mlflow_big_announced":
            self._send(200, b" " * (2 * 1024 * 1024), "application/octet-stream")
            return
        if name == "model.json" and behaviour == "mlflow_cut":
            self._send(200, b'{"kind": "lin', "application/octet-stream", length=5000)
            self.close_connection = True
            return
        if name == "model.json" and behaviour == "mlflow_stall":
            self._stall()
            self.close_connection = True
            return
        path = self.standin.model_dir / name
        if name and path.is_file() and path.parent == self.standin.model_dir:
            self._send(200, path.read_bytes(), "application/octet-stream")
        else:
            body = {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": f"No such artifact: {name}"}
            self._send(404, json.dumps(body).encode())

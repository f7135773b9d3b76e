"""Cold start of the release bridge to its first handled request, without Lambda or a handler.

A minimal Lambda Runtime API serves one function-URL event (a signed SNS Notification) to a
freshly started `sns-bridge` process; the same server answers the bridge's Lambda Invoke of the
handler at once (`{}`), so the handler's own time is excluded. Reported per run: process start →
response posted back. Signing uses a throwaway local certificate, trusted through
POSTOFFICE_LOCAL_TRUSTED_CERT as a local post office would.

Usage: python cold_start.py BINARY [RUNS]   (needs the `cryptography` package)
"""
import base64
import datetime
import http.server
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

LOCAL_CERT_URL = "https://sns.local.postoffice.invalid/SimpleNotificationService-local.pem"
TOPIC_ARN = "arn:aws:sns:eu-west-1:123456789012:postoffice-COOKING_REQUESTED"


def local_authority():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cold-start local signing")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return key, cert.public_bytes(serialization.Encoding.PEM)


def signed_notification(key):
    event_id = str(uuid.uuid4())
    now = datetime.datetime.now(datetime.timezone.utc)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"
    envelope = {
        "event": "COOKING_REQUESTED", "event_id": event_id, "household_id": "h-1",
        "device_id": "oven-1", "occurred_at": stamp, "source": "oven-1",
        "correlation_id": event_id, "schema_version": 1, "payload": {"recipe": "bread"},
    }
    message = {
        "Type": "Notification", "MessageId": str(uuid.uuid4()), "TopicArn": TOPIC_ARN,
        "Message": json.dumps(envelope), "Timestamp": stamp, "SignatureVersion": "2",
    }
    to_sign = "".join(f"{k}\n{message[k]}\n" for k in ("Message", "MessageId", "Timestamp", "TopicArn", "Type"))
    signature = key.sign(to_sign.encode(), padding.PKCS1v15(), hashes.SHA256())
    message["Signature"] = base64.b64encode(signature).decode()
    message["SigningCertURL"] = LOCAL_CERT_URL
    return json.dumps(message)


def function_url_event(body):
    return json.dumps({
        "version": "2.0", "routeKey": "$default", "rawPath": "/", "rawQueryString": "",
        "headers": {"content-type": "text/plain; charset=UTF-8", "x-amz-sns-message-type": "Notification"},
        "requestContext": {
            "accountId": "anonymous", "apiId": "bridge", "domainName": "bridge.lambda-url.eu-west-1.on.aws",
            "domainPrefix": "bridge", "requestId": "r-1", "routeKey": "$default", "stage": "$default",
            "time": "23/Nov/2026:20:00:00 +0000", "timeEpoch": 0,
            "http": {"method": "POST", "path": "/", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1",
                     "userAgent": "Amazon Simple Notification Service Agent"},
        },
        "body": body, "isBase64Encoded": False,
    }).encode()


class Emulator(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    event = b""
    done = None
    response = None

    def log_message(self, *args):
        pass

    def _reply(self, status, body, headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path.endswith("/runtime/invocation/next"):
            if Emulator.done.is_set():
                time.sleep(30)  # the process is killed first
            deadline = int(time.time() * 1000) + 15000
            self._reply(200, Emulator.event, [
                ("Lambda-Runtime-Aws-Request-Id", "r-1"),
                ("Lambda-Runtime-Deadline-Ms", str(deadline)),
                ("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:eu-west-1:123456789012:function:bridge"),
                ("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000"),
            ])
        else:
            self._reply(404, b"{}")

    def do_POST(self):
        length = int(self.headers.get("content-length", 0))
        body = self.rfile.read(length)
        if "/functions/" in self.path:  # the bridge invoking the handler
            self._reply(200, b"{}")
        elif self.path.endswith("/response") or self.path.endswith("/error"):
            self._reply(202, b"{}")
            Emulator.response = body
            Emulator.done.set()
        else:
            self._reply(202, b"{}")


class QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # each run kills the bridge mid-poll: its connection resets


def main():
    binary, runs = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 20
    key, cert_pem = local_authority()
    server = QuietServer(("127.0.0.1", 0), Emulator)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with tempfile.NamedTemporaryFile(suffix=".pem") as cert_file:
        cert_file.write(cert_pem)
        cert_file.flush()
        env = {
            "PATH": os.environ.get("PATH", ""),
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
            "AWS_LAMBDA_FUNCTION_NAME": "postoffice-kitchen-bridge",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/bridge",
            "AWS_LAMBDA_LOG_STREAM_NAME": "cold-start",
            "AWS_REGION": "eu-west-1",
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_ENDPOINT_URL_LAMBDA": f"http://127.0.0.1:{port}",
            "POSTOFFICE_HANDLER_FUNCTION": "postoffice-kitchen-handler",
            "POSTOFFICE_ALLOWED_TOPIC_ARNS": TOPIC_ARN,
            "POSTOFFICE_LOCAL_TRUSTED_CERT": cert_file.name,
        }
        timings = []
        for _ in range(runs):
            Emulator.event = function_url_event(signed_notification(key))
            Emulator.done = threading.Event()
            Emulator.response = None
            start = time.perf_counter()
            process = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if not Emulator.done.wait(10):
                process.kill()
                sys.exit("the bridge did not answer within 10 s")
            timings.append((time.perf_counter() - start) * 1000)
            process.kill()
            process.wait()
            answer = json.loads(Emulator.response)
            if answer.get("statusCode") != 200:
                sys.exit(f"first request not handled: {answer}")
    timings.sort()
    print(f"cold start to first handled request: median {statistics.median(timings):.1f} ms, "
          f"min {timings[0]:.1f} ms, max {timings[-1]:.1f} ms over {runs} runs")


if __name__ == "__main__":
    main()

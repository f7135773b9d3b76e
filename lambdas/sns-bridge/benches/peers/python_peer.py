"""PyPI aws-sns-message-validator 0.0.5 on the SNS vectors (SignatureVersion 1 only), the
certificate served from memory instead of its requests-cache session.

Usage: python python_peer.py VECTOR_DIR ITERATIONS NAME...  Prints "name µs/msg".
"""
import json
import sys
import time
from pathlib import Path

from sns_message_validator import SNSMessageValidator


class MemoryCertificates:
    def __init__(self, certificates):
        self._certificates = certificates

    def get(self, url):
        return type("Response", (), {"content": self._certificates[url]})()


def main():
    directory, iterations, names = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
    bodies = {name: (directory / f"{name}.json").read_text() for name in names}
    certificates = {
        json.loads(body)["SigningCertURL"]: (directory / f"{name}.pem").read_bytes()
        for name, body in bodies.items()
    }
    validator = SNSMessageValidator()
    validator._cert_session = MemoryCertificates(certificates)
    for name, body in bodies.items():
        for _ in range(200):
            validator.validate_message(json.loads(body))
        start = time.perf_counter_ns()
        for _ in range(iterations):
            validator.validate_message(json.loads(body))
        elapsed = time.perf_counter_ns() - start
        print(f"{name} {elapsed / iterations / 1000:.2f}")


if __name__ == "__main__":
    main()

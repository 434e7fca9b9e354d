"""The local AWS API server for tests and the dev server: moto_server, with one change.

Real DynamoDB applies each request atomically — a TransactWriteItems is serializable against
every other write. moto applies a transaction item by item and rolls back by restoring a copy
of the table, without a lock, so under a threaded server two concurrent transactions can both
pass `available >= :q` and both decrement (an oversell DynamoDB never allows), and a rollback
can erase another request's committed write. The project's concurrency tests would then fail
for moto's reasons, not ours. This launcher runs moto's own application and applies DynamoDB
requests one at a time; every other service (SQS long polls included) stays concurrent.

Usage: python moto_serial.py -H 127.0.0.1 -p PORT
"""

import argparse
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


class SerialDynamoDB:
    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB"):
            with self.lock:
                # The whole response is produced while the lock is held.
                return list(self.app(environ, start_response))
        return self.app(environ, start_response)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args()
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(
        args.host,
        args.port,
        SerialDynamoDB(app),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()

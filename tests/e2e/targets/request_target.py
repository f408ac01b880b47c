"""Target of tests/e2e/test_requests.py's version matrix (standard library only): a request
that never ends in the stdlib wsgiref server, and an asyncio task holding an ASGI-style scope
dict, both carrying secrets (a Cookie, an Authorization header, secret-named query parameters).

    python request_target.py FIFO

Truth: the wsgiref thread's tid, the port, each request as the analysis must name it, and the
secret values (that must be nowhere in a snapshot).
"""

import asyncio
import secrets
import socket
import sys
import threading
from wsgiref.simple_server import WSGIRequestHandler, make_server

from target_util import fail, write_truth

served = threading.Event()
never = threading.Event()
serving_tid = []
keep = []
SECRETS = dict((k, "%s%s" % (k.upper(), secrets.token_hex(10)))
               for k in ("cookie", "auth", "token", "api_key", "asgi_cookie"))


def hang_app(environ, start_response):
    serving_tid.append(threading.get_native_id())
    served.set()
    never.wait()  # for ever
    start_response("200 OK", [])
    return [b""]


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


async def handle(scope, started):
    started.set()
    await asyncio.Event().wait()  # for ever


def run_loop(held, started):
    # the scope is held in a list: only the task's frame has a local named "scope"
    async def main():
        # the loop keeps only a weak reference to a task: keep one, or the collector ends it
        keep.append(asyncio.ensure_future(handle(held.pop(), started)))
        await asyncio.Event().wait()
    asyncio.run(main())


def main():
    fifo = sys.argv[1]
    try:
        server = make_server("127.0.0.1", 0, hang_app, handler_class=QuietHandler)
        port = server.server_address[1]
        threading.Thread(target=server.serve_forever, name="wsgiref", daemon=True).start()
        client = socket.create_connection(("127.0.0.1", port))
        client.sendall(("GET /hang?id=7&token=%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                        "Cookie: sid=%s\r\nAuthorization: Bearer %s\r\n\r\n"
                        % (SECRETS["token"], port, SECRETS["cookie"], SECRETS["auth"])).encode())
        if not served.wait(30):
            raise RuntimeError("wsgiref never called the app")
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                 "method": "POST", "scheme": "http", "root_path": "/api", "path": "/items",
                 "query_string": ("a=1&api_key=%s" % SECRETS["api_key"]).encode(),
                 "client": ("10.0.0.7", 5555), "server": ("127.0.0.1", 8000),
                 "headers": [(b"host", b"example.test"),
                             (b"cookie", ("s=%s" % SECRETS["asgi_cookie"]).encode())]}
        started = threading.Event()
        threading.Thread(target=run_loop, args=([scope], started), name="loop",
                         daemon=True).start()
        if not started.wait(30):
            raise RuntimeError("the loop never started")
        del scope
        write_truth(fifo, {
            "wsgi_tid": serving_tid[0], "port": port, "secrets": sorted(SECRETS.values()),
            "wsgi": {"method": "GET", "path": "/hang", "query": "id=7&token=<redacted>",
                     "protocol": "HTTP/1.1", "remote_addr": "127.0.0.1",
                     "host": "127.0.0.1:%d" % port, "query_redacted": True},
            "asgi": {"method": "POST", "path": "/api/items", "query": "a=1&api_key=<redacted>",
                     "protocol": "HTTP/1.1", "remote_addr": "10.0.0.7", "host": "example.test",
                     "query_redacted": True}})
    except Exception as e:
        fail(fifo, e)
    never.wait()
    client.close()


main()

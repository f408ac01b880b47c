"""The Flask app of tests/e2e/test_requests.py, served by gunicorn (sync or gthread workers):

    gunicorn --chdir tests/e2e/targets flask_app:app

/hang waits for ever for a lock taken at import; /cpu counts primes below ?n=.
"""

import threading

from flask import Flask, request

import web_state

app = Flask(__name__)

resource_lock = threading.Lock()
resource_lock.acquire()


def wait_for_lock():
    with resource_lock:
        return "unreachable"


@app.route("/hang")
def hang():
    web_state.note("hang")
    return wait_for_lock()


@app.route("/cpu")
def cpu():
    n = min(int(request.args.get("n", "60000")), 10000000)
    web_state.note("cpu")
    return "%d\n" % web_state.cpu_intensive_task(n)


@app.route("/")
def index():
    return "ok\n"

"""A minimal ASGI app for tests/e2e/test_requests.py, served by uvicorn:

    python3 -m uvicorn --app-dir tests/e2e/targets asgi_app:app

/hang awaits an event nobody sets; /cpu counts primes below ?n= on the event loop (blocking
it, as CPU-bound code in an async view does); / answers at once.
"""

import asyncio
from urllib.parse import parse_qs

import web_state

never = None


async def wait_for_event():
    global never
    if never is None:
        never = asyncio.Event()
    await never.wait()


async def respond(send, body):
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    if scope["path"] == "/hang":
        web_state.note("hang")
        await wait_for_event()
    elif scope["path"] == "/cpu":
        n = min(int(parse_qs(scope["query_string"].decode()).get("n", ["60000"])[0]), 10000000)
        web_state.note("cpu")
        await respond(send, b"%d\n" % web_state.cpu_intensive_task(n))
    else:
        await respond(send, b"ok\n")

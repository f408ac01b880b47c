"""A one-file Django site for tests/e2e/test_requests.py, served by gunicorn:

    gunicorn --chdir tests/e2e/targets django_app:application

/hang waits for ever for a lock taken at import; /cpu counts primes below ?n=.
"""

import threading

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.http import HttpResponse
from django.urls import path

import web_state

settings.configure(DEBUG=False, ALLOWED_HOSTS=["*"], ROOT_URLCONF=__name__, SECRET_KEY="test",
                   MIDDLEWARE=[])

resource_lock = threading.Lock()
resource_lock.acquire()


def wait_for_lock():
    with resource_lock:
        return "unreachable"


def hang(request):
    web_state.note("hang")
    return HttpResponse(wait_for_lock())


def cpu(request):
    n = min(int(request.GET.get("n", "60000")), 10000000)
    web_state.note("cpu")
    return HttpResponse("%d\n" % web_state.cpu_intensive_task(n))


def index(request):
    return HttpResponse("ok\n")


urlpatterns = [path("hang", hang), path("cpu", cpu), path("", index)]
application = get_wsgi_application()

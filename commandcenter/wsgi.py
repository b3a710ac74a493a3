import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from granian.utils.proxies import wrap_wsgi_with_proxy_headers

from commandcenter.tracking.fastpath import TrackingFastPath

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "commandcenter.settings")
# The open pixel and click redirect skip the middleware stack (see tracking/fastpath.py).
django_app = TrackingFastPath(get_wsgi_application())
# Behind a reverse proxy, the client is the last address the proxy appended to
# X-Forwarded-For: for a request from a trusted proxy (TRUSTED_PROXIES), REMOTE_ADDR becomes
# that address, so sign-in throttling and tracking see the client, not the proxy.
application = wrap_wsgi_with_proxy_headers(django_app, trusted_hosts=settings.TRUSTED_PROXIES)

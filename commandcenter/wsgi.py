import os

from django.core.wsgi import get_wsgi_application

from commandcenter.tracking.fastpath import TrackingFastPath

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "commandcenter.settings")
# The open pixel and click redirect skip the middleware stack (see tracking/fastpath.py).
application = TrackingFastPath(get_wsgi_application())

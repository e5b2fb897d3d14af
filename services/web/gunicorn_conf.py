"""gunicorn settings for the web service.

The Server header carries gunicorn's real version ("gunicorn/20.1.0"), as a stock server of
its kind announces itself: the lab measures what a version scan learns, and gunicorn >= 20
hides its version by default, which leaves nmap's probe database unable to name it at all.
With a banner mode that replaces banners, the controller passes the replacement instead.
"""
import os

import gunicorn
from gunicorn.http import wsgi

wsgi.SERVER = os.environ.get("MTDLAB_BANNER") or gunicorn.SERVER_SOFTWARE

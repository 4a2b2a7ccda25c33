"""tinct's web app and HTTP API (``pip install tinct[web]``; run with ``tinct serve``).

>>> from tinct.web import create_app
>>> app = create_app(["path/to/model"], concurrency=2, queue=16)
"""

from tinct.web.app import create_app

__all__ = ["create_app"]

"""gunicorn settings for the public portal and the clerk app (docs/operations.md).

    gunicorn -c infra/deploy/gunicorn.conf.py "portal:create_app()"
    gunicorn -c infra/deploy/gunicorn.conf.py --bind 127.0.0.1:8001 --workers 2 "clerk:create_clerk_app()"

Both sit behind a reverse proxy on the same host (infra/deploy/nginx.conf), which terminates TLS;
gunicorn listens on loopback only. The app reads `$SUNSHINE_CONFIG` (the systemd units set it).
Settings: https://docs.gunicorn.org/en/stable/settings.html
"""

import multiprocessing
import os

from werkzeug.middleware.proxy_fix import ProxyFix

bind = os.environ.get("SUNSHINE_BIND", "127.0.0.1:8000")  # never a public address: the proxy is in front

# Threads in few processes: requests mostly wait on the read model or the store. Each process keeps
# its own rate-limit buckets and request-latency histogram (docs/operations.md, "Monitoring").
workers = int(os.environ.get("SUNSHINE_WORKERS", min(2 * multiprocessing.cpu_count() + 1, 9)))
worker_class = "gthread"
threads = int(os.environ.get("SUNSHINE_THREADS", 4))

# A public request never needs long (searches have a time budget); a stuck worker is restarted.
timeout = 30
graceful_timeout = 30
keepalive = 5  # the proxy keeps connections open to us
# Recycle workers now and then so no slow leak (a cache, a fragmentation) outlives a day of traffic.
max_requests = 5000
max_requests_jitter = 500

# Bounded requests: the portal caps every query parameter far below these.
limit_request_line = 4094
limit_request_fields = 50
limit_request_field_size = 8190

# Trust X-Forwarded-Proto / -For only from the proxy on this host (so `request.is_secure` is true
# behind TLS and HSTS is sent); anyone else's forwarded headers are ignored.
forwarded_allow_ips = os.environ.get("SUNSHINE_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# Access log to stdout (the journal). Path only (`%(U)s`), never the query string: searches are
# residents' words, and a query string can carry a token. No referer (the site sends no-referrer).
accesslog = "-"
errorlog = "-"
loglevel = "info"
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms "%(a)s"'

proc_name = os.environ.get("SUNSHINE_PROC_NAME", "sunshine")


def post_worker_init(worker):
    """Take the client address from the proxy's X-Forwarded-For (one proxy hop, and only when the
    request came from a trusted proxy), so per-client rate limits, the access log and the clerk
    app's audit trail see the resident's address rather than the proxy's."""
    app = worker.wsgi

    def trusted(environ, start_response):
        peer = environ.get("REMOTE_ADDR", "")
        allowed = [address.strip() for address in forwarded_allow_ips.split(",")]
        if "*" in allowed or peer in allowed:
            return proxied(environ, start_response)
        return app(environ, start_response)

    proxied = ProxyFix(app, x_for=1, x_proto=1)
    worker.wsgi = trusted

#!/usr/bin/env python3
"""Serves acme2certifier's WSGI application over HTTPS on 127.0.0.1, on a port the system
chooses, with Python's own wsgiref and ssl (no proxy in front).

    acme2certifier_https.py --cert CERT.pem --key KEY.pem --config acme_srv.cfg

It binds first and prints the directory URL as its first stdout line, so `acmeproof run
--server-url URL --wiring wiring.json` can start; then it waits (at most --config-wait
seconds) for acme_srv.cfg, written from that wiring, to appear, loads acme2certifier with it
(ACME_SRV_CONFIGFILE) and serves, one thread per connection, until killed. Connections that
arrive before the configuration are held in the listen queue.
"""

import argparse
import os
import socketserver
import ssl
import sys
import time
from wsgiref.simple_server import WSGIServer


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    """acme2certifier validates a challenge in a thread and joins it for a while: serve the
    other requests meanwhile."""

    daemon_threads = True


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cert", required=True, help="PEM certificate (and chain) for HTTPS")
    parser.add_argument("--key", required=True, help="PEM private key of --cert")
    parser.add_argument("--config", required=True, help="acme_srv.cfg (may not exist yet)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: the system chooses")
    parser.add_argument("--config-wait", type=float, default=120.0)
    args = parser.parse_args()

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)

    # Bind before the application exists: the URL is needed to start acmeproof, whose wiring
    # is needed to write the configuration.
    server = ThreadingWSGIServer((args.host, args.port), None, bind_and_activate=True)
    # The handshake happens in the connection's own thread, on its first read, so a client
    # that connects and says nothing holds only that thread.
    server.socket = context.wrap_socket(
        server.socket, server_side=True, do_handshake_on_connect=False
    )
    port = server.socket.getsockname()[1]
    print(f"https://{args.host}:{port}/directory", flush=True)

    deadline = time.monotonic() + args.config_wait
    while not os.path.exists(args.config):
        if time.monotonic() > deadline:
            sys.exit(f"no {args.config} within {args.config_wait} s")
        time.sleep(0.1)
    os.environ["ACME_SRV_CONFIGFILE"] = os.path.abspath(args.config)
    # Imported only now: the module reads its configuration when it is loaded.
    from acme2certifier.share import acme2certifier_wsgi as a2c

    server.RequestHandlerClass = a2c.get_handler_cls()
    server.set_app(a2c.application)
    # PEP 3333: wsgi.url_scheme comes from HTTPS; acme2certifier builds its URLs from it.
    server.base_environ["HTTPS"] = "on"
    print(f"serving acme2certifier with {args.config}", file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

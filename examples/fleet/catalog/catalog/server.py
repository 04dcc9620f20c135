"""HTTP API: GET /products and GET /products/{id}.

Run it with `python3 -m catalog.server --port 8080`.
"""

import argparse
import json
import logging
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .data import SEED_PRODUCTS

log = logging.getLogger("catalog")


class CatalogHandler(BaseHTTPRequestHandler):
    server_version = "catalog/1.0"

    def do_GET(self):
        path = self.path.split("?", 1)[0].rstrip("/")
        products = self.server.products
        if path == "/products":
            self._send_json(HTTPStatus.OK, {"products": [p.to_dict() for p in products]})
            return
        if path.startswith("/products/"):
            product_id = path[len("/products/"):]
            for product in products:
                if product.id == product_id:
                    self._send_json(HTTPStatus.OK, product.to_dict())
                    return
            self._send_json(HTTPStatus.NOT_FOUND, {"error": f"product {product_id!r} not found"})
            return
        self._send_json(HTTPStatus.NOT_FOUND, {"error": f"no route for {path or '/'}"})

    def _send_json(self, status, body):
        payload = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format, *args):  # noqa: A002 (signature fixed by the base class)
        log.info("%s - %s", self.address_string(), format % args)


def make_server(host="127.0.0.1", port=8080, products=None):
    """Build (but do not start) a server; port 0 picks a free port."""
    server = ThreadingHTTPServer((host, port), CatalogHandler)
    server.products = list(SEED_PRODUCTS if products is None else products)
    return server


def main(argv=None):
    parser = argparse.ArgumentParser(description="Serve the product catalog.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    server = make_server(args.host, args.port)
    log.info("catalog listening on http://%s:%d", *server.server_address[:2])
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()

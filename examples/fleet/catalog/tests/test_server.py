import json
import threading
import unittest
import urllib.error
import urllib.request

from catalog.server import make_server


class CatalogServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = make_server("127.0.0.1", 0)
        cls.thread = threading.Thread(
            target=cls.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        cls.thread.start()
        host, port = cls.server.server_address[:2]
        cls.base_url = f"http://{host}:{port}"

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        cls.server.server_close()
        cls.thread.join(timeout=5)

    def get(self, path):
        with urllib.request.urlopen(self.base_url + path, timeout=5) as response:
            return response.status, response.headers["Content-Type"], json.load(response)

    def test_list_products(self):
        status, content_type, body = self.get("/products")
        self.assertEqual(status, 200)
        self.assertEqual(content_type, "application/json")
        ids = [product["id"] for product in body["products"]]
        self.assertEqual(ids, ["sku-1001", "sku-1002", "sku-1003", "sku-1004", "sku-1005"])

    def test_get_one_product(self):
        status, _, product = self.get("/products/sku-1001")
        self.assertEqual(status, 200)
        self.assertEqual(
            product,
            {"id": "sku-1001", "name": "Ceramic Pour-Over Dripper", "price": 12.5, "currency": "USD"},
        )

    def test_unknown_product_is_a_json_404(self):
        with self.assertRaises(urllib.error.HTTPError) as caught:
            self.get("/products/sku-0000")
        error = caught.exception
        self.assertEqual(error.code, 404)
        self.assertEqual(error.headers["Content-Type"], "application/json")
        self.assertEqual(json.load(error), {"error": "product 'sku-0000' not found"})
        error.close()


if __name__ == "__main__":
    unittest.main()
